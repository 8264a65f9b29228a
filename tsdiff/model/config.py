"""``ModelConfig``: the architecture, noise schedule and sampling noise of a diffusion model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

_SCHEDULES = ("quad", "linear", "cosine")
_CONDITION_FILLS = ("linear", "zero")

#: ``NoiseSchedule`` argument -> the field that sets it.
_SCHEDULE_ARGUMENTS = {
    "num_train_timesteps": "diffusion_steps",
    "schedule": "schedule",
    "beta_start": "beta_start",
    "beta_end": "beta_end",
}
#: Fields passed to ``CSDIDenoiser`` under their own names (besides sizes and schedule).
_NETWORK_FIELDS = (
    "channels",
    "n_layers",
    "n_heads",
    "diffusion_embedding_dim",
    "time_embedding_dim",
    "feature_embedding_dim",
    "dropout",
    "condition_fill",
)


@dataclass(frozen=True)
class ModelConfig:
    """What the score network and its diffusion process look like.

    The settings users rarely change, gathered in one object so the estimators keep a short
    signature. Pass it as ``model=`` to :class:`~tsdiff.TSDiffImputer` or
    :class:`~tsdiff.TSDiffAnomalyDetector`; a ``dict`` with some of these keys works too
    (missing keys take the estimator's default).

    Parameters
    ----------
    channels : int, default=64
        Width of the residual stream.
    n_layers : int, default=4
        Residual blocks.
    n_heads : int, default=8
        Attention heads of the time and feature transformers (must divide ``channels``).
    diffusion_embedding_dim : int, default=128
        Width of the diffusion-step embedding (even).
    time_embedding_dim : int, default=128
        Width of the sinusoidal time-stamp embedding (even).
    feature_embedding_dim : int, default=16
        Width of the learned per-sensor embedding.
    dropout : float, default=0.1
        Dropout inside the transformers, in [0, 1).
    condition_fill : {"linear", "zero"}, default="linear"
        How gaps of the conditioning input are filled before the network sees them: ``"zero"``
        as CSDI, ``"linear"`` interpolation in time (as PriSTI), which the network corrects.
    prior_skip : bool, default=True
        Predict the noise as the posterior mean under a Gaussian prior around the conditioning
        channel plus a learned residual (see ``docs/design.md``); keeps few-step sampling of a
        briefly trained network stable.
    edge_anchors : bool, default=True
        Give each window, per sensor, its last observation before and first after it, so the
        linear fill interpolates a gap across a window edge as on the whole series.
    diffusion_steps : int, default=50
        Training diffusion steps.
    schedule : {"quad", "linear", "cosine"}, default="quad"
        Noise schedule; ``"quad"`` is CSDI's.
    beta_start, beta_end : float, default=1e-4, 0.5
        End points of the ``"quad"`` and ``"linear"`` schedules, in (0, 1).
    eta : float, default=0.0
        Noise scale of the DDIM sampler (0: deterministic after the first draw; 1: as DDPM).
    """

    channels: int = 64
    n_layers: int = 4
    n_heads: int = 8
    diffusion_embedding_dim: int = 128
    time_embedding_dim: int = 128
    feature_embedding_dim: int = 16
    dropout: float = 0.1
    condition_fill: str = "linear"
    prior_skip: bool = True
    edge_anchors: bool = True
    diffusion_steps: int = 50
    schedule: str = "quad"
    beta_start: float = 1e-4
    beta_end: float = 0.5
    eta: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when a setting is out of range."""
        for name in (
            "channels",
            "n_layers",
            "n_heads",
            "diffusion_steps",
            "feature_embedding_dim",
            "diffusion_embedding_dim",
            "time_embedding_dim",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {value!r}.")
        for name in ("diffusion_embedding_dim", "time_embedding_dim"):
            if getattr(self, name) % 2:
                raise ValueError(f"ModelConfig.{name} must be even, got {getattr(self, name)}.")
        if self.channels % self.n_heads:
            raise ValueError(
                f"ModelConfig.channels ({self.channels}) must be divisible by n_heads "
                f"({self.n_heads}); change one of them."
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout!r}.")
        if self.condition_fill not in _CONDITION_FILLS:
            raise ValueError(
                f"ModelConfig.condition_fill must be one of {_CONDITION_FILLS}, got "
                f"{self.condition_fill!r}."
            )
        if self.schedule not in _SCHEDULES:
            raise ValueError(
                f"ModelConfig.schedule must be one of {_SCHEDULES}, got {self.schedule!r}."
            )
        for name in ("beta_start", "beta_end"):
            value = getattr(self, name)
            if not 0.0 < float(value) < 1.0:
                raise ValueError(f"ModelConfig.{name} must be in (0, 1), got {value!r}.")
        if self.schedule != "cosine" and self.beta_start >= self.beta_end:
            raise ValueError(
                f"ModelConfig.beta_start ({self.beta_start}) must be below beta_end "
                f"({self.beta_end})."
            )
        if not float(self.eta) >= 0.0:
            raise ValueError(f"ModelConfig.eta must be >= 0, got {self.eta!r}.")
        for name in ("prior_skip", "edge_anchors"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"ModelConfig.{name} must be True or False.")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-safe ``dict``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], base: ModelConfig | None = None) -> ModelConfig:
        """Build from a ``dict``; keys not given take ``base``'s values (default: the defaults).

        Raises
        ------
        ValueError
            If a key is not a ``ModelConfig`` field.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(
                f"Unknown ModelConfig setting(s) {unknown}; valid ones are {sorted(fields)}."
            )
        start = base if base is not None else cls()
        return dataclasses.replace(start, **values)

    def schedule_config(self) -> dict[str, Any]:
        """Keyword arguments of :class:`tsdiff.diffusion.NoiseSchedule` for this model."""
        return {argument: getattr(self, field) for argument, field in _SCHEDULE_ARGUMENTS.items()}

    def network_config(self) -> dict[str, Any]:
        """Keyword arguments of :class:`tsdiff.model.CSDIDenoiser` (besides sizes and schedule)."""
        return {name: getattr(self, name) for name in _NETWORK_FIELDS}


#: The detector's network: small and quick to sample, trained without the prior skip.
DETECTOR_MODEL = ModelConfig(
    channels=32,
    n_layers=2,
    n_heads=1,
    diffusion_steps=10,
    beta_end=0.8,
    eta=1.0,
    prior_skip=False,
    edge_anchors=False,
)
