"""Noise schedules for discrete-time Gaussian diffusion.

Pure torch: nothing here knows about pandas, windows or the network.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch

ScheduleName = Literal["quad", "linear", "cosine"]
SCHEDULES: tuple[str, ...] = ("quad", "linear", "cosine")
_CONFIG_KEYS = ("num_train_timesteps", "schedule", "beta_start", "beta_end")


def make_betas(
    schedule: str,
    num_train_timesteps: int,
    beta_start: float = 1e-4,
    beta_end: float = 0.5,
    cosine_offset: float = 0.008,
) -> torch.Tensor:
    """Return the per-step noise variances ``beta_t`` of a named schedule.

    Parameters
    ----------
    schedule : {"quad", "linear", "cosine"}
        ``"quad"`` is CSDI's schedule:
        ``beta_t = linspace(sqrt(beta_start), sqrt(beta_end), T) ** 2``.
        ``"linear"`` is ``linspace(beta_start, beta_end, T)`` (Ho et al., 2020).
        ``"cosine"`` is Nichol & Dhariwal (2021): ``alpha_bar(t) = cos((t/T + s)/(1 + s) * pi/2)^2``
        with ``beta_t = 1 - alpha_bar(t+1)/alpha_bar(t)`` clipped at 0.999; ``beta_start`` and
        ``beta_end`` are not used.
    num_train_timesteps : int
        Number of diffusion steps ``T``.
    beta_start, beta_end : float
        First and last variance of the ``quad`` and ``linear`` schedules.
    cosine_offset : float
        The small offset ``s`` of the cosine schedule.

    Returns
    -------
    torch.Tensor
        Float64 tensor of shape ``(T,)``.
    """
    if num_train_timesteps < 1:
        raise ValueError(f"num_train_timesteps must be >= 1, got {num_train_timesteps}.")
    steps = num_train_timesteps
    if schedule == "quad":
        return torch.linspace(beta_start**0.5, beta_end**0.5, steps, dtype=torch.float64) ** 2
    if schedule == "linear":
        return torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    if schedule == "cosine":
        grid = torch.arange(steps + 1, dtype=torch.float64) / steps
        alpha_bar = torch.cos((grid + cosine_offset) / (1 + cosine_offset) * math.pi / 2) ** 2
        betas = 1 - alpha_bar[1:] / alpha_bar[:-1]
        return betas.clamp(max=0.999)
    raise ValueError(f"Unknown schedule {schedule!r}; choose one of {SCHEDULES}.")


class NoiseSchedule:
    """A discrete diffusion process ``q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)``.

    A config object in the manner of diffusers' schedulers: the ``__init__`` arguments are its
    whole configuration (:attr:`config`, :meth:`to_dict`), and :meth:`from_config` rebuilds an
    equal schedule. One instance is passed to training, samplers and inference.

    Parameters
    ----------
    num_train_timesteps : int, default=50
        Number of diffusion steps ``T`` used in training.
    schedule : {"quad", "linear", "cosine"}, default="quad"
        Name of the beta schedule, see :func:`make_betas`.
    beta_start, beta_end : float
        End points of the ``quad`` and ``linear`` schedules.

    Attributes
    ----------
    betas, alphas, alphas_cumprod : torch.Tensor
        Float64 tensors of shape ``(T,)``.
    """

    def __init__(
        self,
        num_train_timesteps: int = 50,
        schedule: str = "quad",
        beta_start: float = 1e-4,
        beta_end: float = 0.5,
    ) -> None:
        self.num_train_timesteps = int(num_train_timesteps)
        self.schedule = schedule
        self.beta_start = float(beta_start)
        self.beta_end = float(beta_end)
        self.betas = make_betas(schedule, self.num_train_timesteps, self.beta_start, self.beta_end)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)

    @property
    def config(self) -> dict[str, Any]:
        """The ``__init__`` arguments, enough to rebuild the schedule (JSON safe)."""
        return self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """Return the ``__init__`` arguments as a new dict."""
        return {key: getattr(self, key) for key in _CONFIG_KEYS}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NoiseSchedule:
        """Build a schedule from :attr:`config` (missing keys take their defaults).

        Raises
        ------
        TypeError
            If ``config`` has a key that is not an ``__init__`` argument.
        """
        unknown = set(config) - set(_CONFIG_KEYS)
        if unknown:
            raise TypeError(
                f"Unknown NoiseSchedule config keys {sorted(unknown)}; expected some of "
                f"{list(_CONFIG_KEYS)}."
            )
        return cls(**dict(config))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoiseSchedule):
            return NotImplemented
        return self.config == other.config

    def __hash__(self) -> int:
        return hash(tuple(self.config.items()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"NoiseSchedule({args})"

    def alpha_bar(
        self, timesteps: torch.Tensor, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """``abar_t`` of each step in ``timesteps``, on their device (the network's input).

        Parameters
        ----------
        timesteps : torch.Tensor
            Integer steps of any shape, in ``[0, T)``.
        dtype : torch.dtype, default=torch.float32
        """
        device = timesteps.device
        return self.alphas_cumprod.to(device)[timesteps].to(dtype)

    def _expand(
        self, values: torch.Tensor, timesteps: torch.Tensor, like: torch.Tensor
    ) -> torch.Tensor:
        picked = values.to(like.device)[timesteps.to(like.device)].to(like.dtype)
        return picked.reshape(picked.shape + (1,) * (like.dim() - picked.dim()))

    def add_noise(
        self, original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
    ) -> torch.Tensor:
        """Sample ``x_t = sqrt(abar_t) * x_0 + sqrt(1 - abar_t) * noise``.

        Parameters
        ----------
        original : torch.Tensor
            Clean data ``x_0`` of shape ``(B, ...)``.
        noise : torch.Tensor
            Standard normal noise, same shape as ``original``.
        timesteps : torch.Tensor
            Integer steps of shape ``(B,)`` in ``[0, T)``.
        """
        abar = self._expand(self.alphas_cumprod, timesteps, original)
        return abar.sqrt() * original + (1.0 - abar).sqrt() * noise
