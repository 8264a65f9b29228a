"""The configuration schema: pydantic models of every section, and the detector components."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

MODEL_KINDS: dict[str, tuple[str, str]] = {
    "imputer": ("tsdiff.api.imputer", "TSDiffImputer"),
    "detector": ("tsdiff.api.detector", "TSDiffAnomalyDetector"),
}
#: Detector components by section: ``type`` name -> keys documented in the contract, used to
#: check a mapping while the class cannot be imported (else the class signature decides).
COMPONENTS: dict[str, dict[str, frozenset[str]]] = {
    "scorer": {
        "MaskedReimputationScorer": frozenset({"n_masks", "strip_length", "sampling_steps"})
    },
    "aggregator": {"TopK": frozenset({"k", "cap", "smoothing"})},
    "thresholder": {"POT": frozenset({"risk", "level"})},
    "neighbours": {
        "WindowNeighbours": frozenset({"length", "n_neighbors", "max_reference", "step"})
    },
}
COMPONENT_MODULE = "tsdiff.scoring"


class ConfigError(ValueError):
    """An invalid configuration; the message names the file, the key and what to do.

    Attributes
    ----------
    source : str
        The file (or ``"<dict>"``).
    key : str or None
        Dotted key path at fault (``"estimator.window_length"``).
    """

    def __init__(self, message: str, *, source: str = "<dict>", key: str | None = None) -> None:
        self.source = source
        self.key = key
        where = f"{source}: " + (f"{key}: " if key else "")
        super().__init__(where + message)


class _Section(BaseModel):
    """A strict mapping: unknown keys are errors, no string-to-number coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DataConfig(_Section):
    """How data files are read: the time, series and label columns, and the features."""

    time_column: str | None = None
    series_column: str | None = None
    label_column: str | None = "label"
    columns: list[str] | None = None
    time_format: str | None = None


class TrackingConfig(_Section):
    """MLflow settings of ``tsdiff fit --track`` (passed to :func:`tsdiff.tracking.autolog`)."""

    enabled: bool = False
    uri: str | None = None
    experiment_name: str = "tsdiff"
    registered_model_name: str | None = None


class EvaluateConfig(_Section):
    """Defaults of ``tsdiff evaluate`` for imputers."""

    fraction: float = Field(default=0.1, gt=0, lt=1)
    seed: int = Field(default=0, ge=0)
    coverage: float = Field(default=0.9, gt=0, lt=1)
    n_samples: int | None = Field(default=None, ge=1)


class ModelSection(_Section):
    """Fields of :class:`tsdiff.model.config.ModelConfig`; unset ones keep the estimator's."""

    channels: int = Field(default=64, ge=1)
    n_layers: int = Field(default=4, ge=1)
    n_heads: int = Field(default=8, ge=1)
    diffusion_embedding_dim: int = Field(default=128, ge=2)
    time_embedding_dim: int = Field(default=128, ge=2)
    feature_embedding_dim: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    condition_fill: Literal["linear", "zero"] = "linear"
    prior_skip: bool = True
    edge_anchors: bool = True
    diffusion_steps: int = Field(default=50, ge=1)
    schedule: Literal["quad", "linear", "cosine"] = "quad"
    beta_start: float = Field(default=1e-4, gt=0, lt=1)
    beta_end: float = Field(default=0.5, gt=0, lt=1)
    eta: float = Field(default=0.0, ge=0)


class TrainerSection(_Section):
    """Lightning ``Trainer`` settings that a YAML file can hold (-> ``trainer_kwargs``)."""

    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    num_nodes: int = Field(default=1, ge=1)
    strategy: str = "auto"
    precision: str | int = "auto"
    gradient_clip_val: float | None = Field(default=None, ge=0)
    accumulate_grad_batches: int = Field(default=1, ge=1)
    deterministic: bool | None = None
    log_every_n_steps: int = Field(default=50, ge=1)
    #: Folder for ``last.ckpt`` and the best epoch's checkpoint (relative to the working
    #: directory); resume with ``tsdiff fit --ckpt-path`` or ``fit(X, ckpt_path=...)``.
    checkpoint_dir: str | None = None


class ComponentSection(BaseModel):
    """A detector component: ``type`` (a class of :mod:`tsdiff.scoring`) and its arguments."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    section: ClassVar[str] = ""

    type: str

    @model_validator(mode="after")
    def _check_arguments(self) -> ComponentSection:
        known = COMPONENTS[self.section]
        arguments = set(self.model_extra or {})
        cls = _component_class(self.type)
        if cls is not None:
            allowed = {
                name
                for name, p in inspect.signature(cls).parameters.items()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            }
        elif self.type in known:
            allowed = set(known[self.type])
        else:
            raise ValueError(
                f"unknown {self.section} type {self.type!r}; choose one of {sorted(known)}."
            )
        unknown = sorted(arguments - allowed)
        if unknown:
            raise ValueError(
                f"{self.type} takes no argument {unknown[0]!r}; its arguments are "
                f"{sorted(allowed)}: remove the key or fix its spelling."
            )
        return self

    def spec(self) -> dict[str, Any]:
        """The mapping as given: ``{"type": name, **arguments}``."""
        return {"type": self.type, **(self.model_extra or {})}


class ScorerSection(ComponentSection):
    """``scorer:``, e.g. ``{type: MaskedReimputationScorer, n_masks: 2, strip_length: 16}``."""

    section: ClassVar[str] = "scorer"


class AggregatorSection(ComponentSection):
    """``aggregator:``, e.g. ``{type: TopK, k: 6, cap: 50.0, smoothing: [1, 31, 63]}``."""

    section: ClassVar[str] = "aggregator"


class ThresholderSection(ComponentSection):
    """``thresholder:``, e.g. ``{type: POT, risk: 0.002, level: 0.98}``."""

    section: ClassVar[str] = "thresholder"


class NeighboursSection(ComponentSection):
    """``neighbours:``, e.g. ``{type: WindowNeighbours, length: 16}``; ``neighbours: false``
    switches the component off."""

    section: ClassVar[str] = "neighbours"


class _EstimatorParams(_Section):
    """Parameters shared by both estimators."""

    window_length: int = Field(default=36, ge=2)
    max_epochs: int = Field(default=200, ge=1)
    max_time: float | None = Field(default=None, gt=0)
    batch_size: int = Field(default=16, ge=1)
    random_state: int | None = Field(default=None, ge=0, le=2**32 - 1)
    verbose: bool = True


class ImputerParams(_EstimatorParams):
    """Parameters of ``TSDiffImputer`` other than ``model`` and ``trainer_kwargs``."""

    n_samples: int = Field(default=50, ge=1)
    sampler: Literal["ddim", "ddpm", "dpmpp_2m"] = "dpmpp_2m"
    sampling_steps: int = Field(default=4, ge=1)
    target_strategy: Literal["random", "historical", "mix"] = "mix"
    train_stride: int = Field(default=1, ge=1)
    inference_stride: int | None = Field(default=None, ge=1)
    validation_fraction: float = Field(default=0.1, ge=0, lt=1)
    patience: int | None = Field(default=20, ge=0)
    learning_rate: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-6, ge=0)
    inference_batch_size: int | None = Field(default=None, ge=1)
    calibration_windows: int = Field(default=32, ge=0)


class DetectorParams(_EstimatorParams):
    """Parameters of ``TSDiffAnomalyDetector`` other than its components and settings."""

    window_length: int = Field(default=32, ge=2)
    train_stride: int = Field(default=2, ge=1)


class RunConfig(_Section):
    """A whole configuration file; see the module docstring for the layout."""

    name: str | None = None
    description: str | None = None
    kind: Literal["imputer", "detector"] = "imputer"
    estimator: ImputerParams = ImputerParams()
    model: ModelSection | None = None
    trainer: TrainerSection | None = None
    data: DataConfig = DataConfig()
    tracking: TrackingConfig = TrackingConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    _source: str = PrivateAttr("<dict>")

    @property
    def source(self) -> str:
        """The file the configuration was read from (``"<dict>"`` otherwise)."""
        return self._source


class DetectorRunConfig(RunConfig):
    """A configuration with ``kind: detector``: detector parameters and components."""

    kind: Literal["imputer", "detector"] = "detector"
    estimator: DetectorParams = DetectorParams()  # type: ignore[assignment]
    scorer: ScorerSection | None = None
    aggregator: AggregatorSection | None = None
    thresholder: ThresholderSection | None = None
    neighbours: NeighboursSection | Literal[False] | None = None


COMPONENT_SECTIONS = ("scorer", "aggregator", "thresholder", "neighbours")


def _component_class(name: str) -> type | None:
    """The class ``name`` of :mod:`tsdiff.scoring`, or None when it does not exist (yet)."""
    try:
        module = importlib.import_module(COMPONENT_MODULE)
    except ImportError:  # pragma: no cover - tsdiff.scoring is part of the package
        return None
    found = getattr(module, name, None)
    return found if isinstance(found, type) else None
