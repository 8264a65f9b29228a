"""Reverse-diffusion samplers with a ``set_timesteps`` / ``step`` interface (diffusers' shape).

The samplers know the noise schedule and nothing else: the caller runs the network and passes its
noise prediction to :meth:`~DDIMSampler.step`. Attributes follow diffusers' schedulers:
``num_train_timesteps``, ``num_inference_steps``, ``timesteps``.

DDIM and DDPM share one update rule, the generalised DDIM posterior (Song et al., 2021)::

    x0_hat   = (x_t - sqrt(1 - abar_t) * eps) / sqrt(abar_t)
    sigma_t  = eta * sqrt((1 - abar_prev) / (1 - abar_t)) * sqrt(1 - abar_t / abar_prev)
    x_prev   = sqrt(abar_prev) * x0_hat + sqrt(1 - abar_prev - sigma_t^2) * eps + sigma_t * z

With ``eta = 1`` and every training step this is exactly DDPM's ancestral step (Ho et al., 2020),
whose posterior variance is ``beta_t (1 - abar_{t-1}) / (1 - abar_t)``; :class:`DDPMSampler` is
that case, also on a sub-sequence of steps.

:class:`DPMSolverMultistepSampler` is DPM-Solver++ 2M (Lu et al., 2022), the second-order
multistep solver of the probability-flow ODE in data-prediction form (diffusers'
``DPMSolverMultistepScheduler`` with ``solver_order=2``, ``algorithm_type="dpmsolver++"``,
``solver_type="midpoint"``, ``lower_order_final=True``). With ``alpha = sqrt(abar)``,
``sigma = sqrt(1 - abar)``, ``lambda = log(alpha / sigma)`` and ``h = lambda_s - lambda_t``::

    first order (= DDIM):  x_s = sigma_s / sigma_t * x_t - alpha_s * (exp(-h) - 1) * D
    second order:          D = x0_t + (x0_t - x0_prev) / (2 r),  r = h_prev / h

where ``x0_prev`` is the data prediction of the previous step. The first step and the last one
(down to ``abar = 1``) are first order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tsdiff.diffusion.schedules import NoiseSchedule

SAMPLERS: tuple[str, ...] = ("ddim", "ddpm", "dpmpp_2m")
TIMESTEP_SPACINGS: tuple[str, ...] = ("linspace", "trailing")
# Spacing each sampler uses when none is given (python -m benchmarks.impute_aqi36 --sampler-table).
DEFAULT_TIMESTEP_SPACING: dict[str, str] = {
    "ddim": "linspace",
    "ddpm": "linspace",
    "dpmpp_2m": "trailing",
}


@dataclass
class SamplerStepOutput:
    """Result of one reverse step.

    Attributes
    ----------
    prev_sample : torch.Tensor
        ``x_{t_prev}``, the input of the next step.
    pred_original_sample : torch.Tensor
        The current estimate of ``x_0``.
    """

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


def spaced_timesteps(
    num_train_timesteps: int, num_inference_steps: int, spacing: str = "linspace"
) -> torch.Tensor:
    """Decreasing training steps visited by a sampler with ``num_inference_steps`` steps.

    Parameters
    ----------
    num_train_timesteps : int
        ``T``, the number of training steps.
    num_inference_steps : int
        Between 1 and ``T``.
    spacing : {"linspace", "trailing"}
        ``"linspace"``: evenly from ``T - 1`` down to 0 (the last network call is at step 0).
        ``"trailing"``: ``round(T - i T / n) - 1`` for ``i = 0 .. n-1`` (diffusers' trailing
        spacing): starts at ``T - 1`` and stops ``T / n - 1`` steps above 0, so no network call is
        spent on the almost noise-free step 0.

    Returns
    -------
    torch.Tensor
        Int64 tensor of shape ``(num_inference_steps,)``, strictly decreasing.
    """
    total = num_train_timesteps
    if not 1 <= num_inference_steps <= total:
        raise ValueError(
            f"num_inference_steps must be between 1 and the {total} training steps, "
            f"got {num_inference_steps}."
        )
    if spacing == "linspace":
        grid = np.linspace(total - 1, 0, num_inference_steps).round()
    elif spacing == "trailing":
        grid = np.round(np.arange(total, 0, -total / num_inference_steps)) - 1
    else:
        raise ValueError(
            f"Unknown timestep spacing {spacing!r}; choose one of {TIMESTEP_SPACINGS}."
        )
    return torch.from_numpy(grid.astype(np.int64))


class DDIMSampler:
    """Denoising diffusion implicit model sampler.

    Parameters
    ----------
    schedule : NoiseSchedule
        The schedule the network was trained with.
    eta : float, default=0.0
        Scale of the fresh noise at each step: 0 is deterministic DDIM, 1 is DDPM-like.
    timestep_spacing : {"linspace", "trailing"}, default="linspace"
        How :meth:`set_timesteps` picks the steps, see :func:`spaced_timesteps`.

    Attributes
    ----------
    num_train_timesteps : int
        Steps of the training schedule.
    num_inference_steps : int
        Steps set by :meth:`set_timesteps` (all training steps until it is called).
    timesteps : torch.Tensor
        The decreasing steps to visit.
    """

    def __init__(
        self, schedule: NoiseSchedule, eta: float = 0.0, timestep_spacing: str = "linspace"
    ) -> None:
        if eta < 0:
            raise ValueError(f"eta must be >= 0, got {eta}.")
        if timestep_spacing not in TIMESTEP_SPACINGS:
            raise ValueError(
                f"Unknown timestep spacing {timestep_spacing!r}; choose one of {TIMESTEP_SPACINGS}."
            )
        self.schedule = schedule
        self.eta = eta
        self.timestep_spacing = timestep_spacing
        self.num_train_timesteps = schedule.num_train_timesteps
        self.set_timesteps(self.num_train_timesteps)

    @property
    def draws_noise(self) -> bool:
        """Whether :meth:`step` adds fresh noise (``eta > 0``)."""
        return self.eta > 0

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Choose ``num_inference_steps`` steps from ``T - 1`` downwards and reset any state.

        Parameters
        ----------
        num_inference_steps : int
            Between 1 and the number of training steps.
        """
        self.timesteps = spaced_timesteps(
            self.num_train_timesteps, num_inference_steps, self.timestep_spacing
        )
        self.num_inference_steps = num_inference_steps
        steps = self.timesteps.tolist()
        self._prev = {t: (steps[i + 1] if i + 1 < len(steps) else -1) for i, t in enumerate(steps)}
        self._reset_state()

    def _reset_state(self) -> None:
        """Forget what earlier steps left behind (multistep samplers)."""

    def _previous(self, timestep: int) -> int:
        t = int(timestep)
        if t not in self._prev:
            raise ValueError(
                f"timestep {t} is not one of the sampler's timesteps; call set_timesteps."
            )
        return self._prev[t]

    def _alpha_bar(self, t: int) -> float:
        return 1.0 if t < 0 else float(self.schedule.alphas_cumprod[t])

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
    ) -> SamplerStepOutput:
        """Take one reverse step from ``timestep`` to the next step in :attr:`timesteps`.

        Parameters
        ----------
        model_output : torch.Tensor
            The network's noise prediction ``eps`` for ``sample`` at ``timestep``.
        timestep : int
            The current step, an element of :attr:`timesteps`.
        sample : torch.Tensor
            ``x_t``.
        generator : torch.Generator, optional
            Source of the fresh noise (ignored when ``noise`` is given or ``eta == 0``).
        noise : torch.Tensor, optional
            Explicit fresh noise, for tests and reproducibility.
        """
        t = int(timestep)
        return self._update(model_output, t, self._previous(t), sample, generator, noise)

    def _update(
        self,
        eps: torch.Tensor,
        t: int,
        t_prev: int,
        sample: torch.Tensor,
        generator: torch.Generator | None,
        noise: torch.Tensor | None,
        /,
    ) -> SamplerStepOutput:
        """The step from ``t`` to ``t_prev`` (-1: clean data)."""
        abar_t = self._alpha_bar(t)
        abar_prev = self._alpha_bar(t_prev)
        pred_x0 = (sample - (1.0 - abar_t) ** 0.5 * eps) / abar_t**0.5
        variance = (1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev)
        sigma = self.eta * max(variance, 0.0) ** 0.5
        direction = max(1.0 - abar_prev - sigma**2, 0.0) ** 0.5
        prev = abar_prev**0.5 * pred_x0 + direction * eps
        if sigma > 0:
            if noise is None:
                noise = torch.randn(
                    sample.shape, generator=generator, device=sample.device, dtype=sample.dtype
                )
            prev = prev + sigma * noise
        return SamplerStepOutput(prev_sample=prev, pred_original_sample=pred_x0)


class DDPMSampler(DDIMSampler):
    """Ancestral DDPM sampler (Ho et al., 2020).

    With every training step (the default) each step draws from the true posterior
    ``q(x_{t-1} | x_t, x0_hat)``; with fewer steps it uses the same posterior between the chosen
    steps (the ``eta = 1`` case of DDIM).

    Parameters
    ----------
    schedule : NoiseSchedule
        The schedule the network was trained with.
    timestep_spacing : {"linspace", "trailing"}, default="linspace"
        How :meth:`set_timesteps` picks the steps.
    """

    def __init__(self, schedule: NoiseSchedule, timestep_spacing: str = "linspace") -> None:
        super().__init__(schedule, eta=1.0, timestep_spacing=timestep_spacing)


class DPMSolverMultistepSampler(DDIMSampler):
    """DPM-Solver++ 2M: second-order multistep ODE solver in data-prediction form.

    Deterministic; one network call per step, and at equal calls far closer to the exact
    probability-flow ODE solution than DDIM with few steps. The network's noise prediction is
    converted to a prediction of ``x_0`` before the update (see the module docstring). Steps must
    be taken in order after :meth:`set_timesteps`, which clears the stored previous prediction.

    Parameters
    ----------
    schedule : NoiseSchedule
        The schedule the network was trained with.
    timestep_spacing : {"linspace", "trailing"}, default="trailing"
        How :meth:`set_timesteps` picks the steps; trailing spacing spends no call on step 0.
    """

    def __init__(self, schedule: NoiseSchedule, timestep_spacing: str = "trailing") -> None:
        super().__init__(schedule, eta=0.0, timestep_spacing=timestep_spacing)

    def _reset_state(self) -> None:
        self._last: tuple[float, torch.Tensor] | None = None  # (lambda, x0) of the last step

    def _coefficients(self, t: int) -> tuple[float, float, float]:
        """``alpha``, ``sigma`` and ``lambda = log(alpha / sigma)`` at step ``t`` (-1: clean)."""
        abar = self._alpha_bar(t)
        alpha, sigma = abar**0.5, max(1.0 - abar, 0.0) ** 0.5
        lam = math.inf if sigma == 0.0 else math.log(alpha) - math.log(sigma)
        return alpha, sigma, lam

    def _update(
        self, eps: torch.Tensor, t: int, t_prev: int, sample: torch.Tensor, /, *_: Any
    ) -> SamplerStepOutput:
        """One DPM-Solver++ 2M update from ``t`` to ``t_prev``; steps must come in order.

        ``generator`` and ``noise`` of :meth:`step` are unused: the solver is deterministic.
        """
        alpha_t, sigma_t, lam_t = self._coefficients(t)
        alpha_s, sigma_s, lam_s = self._coefficients(t_prev)
        pred_x0 = (sample - sigma_t * eps) / alpha_t
        derivative = pred_x0
        if self._last is not None and t_prev >= 0:
            lam_last, x0_last = self._last
            ratio = (lam_t - lam_last) / (lam_s - lam_t)
            derivative = pred_x0 + (pred_x0 - x0_last) / (2.0 * ratio)
        if t_prev < 0:  # down to abar = 1: x_s is the (first-order) data prediction itself
            prev = derivative
        else:
            h = lam_s - lam_t
            prev = (sigma_s / sigma_t) * sample - alpha_s * math.expm1(-h) * derivative
        self._last = (lam_t, pred_x0)
        return SamplerStepOutput(prev_sample=prev, pred_original_sample=pred_x0)


def make_sampler(
    name: str,
    schedule: NoiseSchedule,
    eta: float = 0.0,
    timestep_spacing: str | None = None,
) -> DDIMSampler:
    """Build a sampler by name.

    Parameters
    ----------
    name : {"ddim", "ddpm", "dpmpp_2m"}
    schedule : NoiseSchedule
        The training schedule.
    eta : float, default=0.0
        DDIM's noise scale (DDIM only).
    timestep_spacing : {"linspace", "trailing"}, optional
        Defaults to ``DEFAULT_TIMESTEP_SPACING[name]``.
    """
    if name not in SAMPLERS:
        raise ValueError(f"Unknown sampler {name!r}; choose one of {SAMPLERS}.")
    spacing = timestep_spacing or DEFAULT_TIMESTEP_SPACING[name]
    if name == "ddim":
        return DDIMSampler(schedule, eta=eta, timestep_spacing=spacing)
    if name == "ddpm":
        return DDPMSampler(schedule, timestep_spacing=spacing)
    return DPMSolverMultistepSampler(schedule, timestep_spacing=spacing)
