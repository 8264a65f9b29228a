"""Noise schedules for discrete-time Gaussian diffusion.

Pure torch: nothing here knows about pandas, windows or the network.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

ScheduleName = Literal["quad", "linear", "cosine"]
SCHEDULES: tuple[str, ...] = ("quad", "linear", "cosine")


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
        self.num_train_timesteps = num_train_timesteps
        self.schedule = schedule
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.betas = make_betas(schedule, num_train_timesteps, beta_start, beta_end)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)

    def config(self) -> dict[str, float | int | str]:
        """Return the ``__init__`` arguments, enough to rebuild the schedule."""
        return {
            "num_train_timesteps": self.num_train_timesteps,
            "schedule": self.schedule,
            "beta_start": self.beta_start,
            "beta_end": self.beta_end,
        }

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
