"""Reverse-diffusion samplers with a ``set_timesteps`` / ``step`` interface.

The samplers know the noise schedule and nothing else: the caller runs the network and passes its
noise prediction to :meth:`step`. Both samplers share one update rule, the generalised DDIM
posterior (Song et al., 2021)::

    x0_hat   = (x_t - sqrt(1 - abar_t) * eps) / sqrt(abar_t)
    sigma_t  = eta * sqrt((1 - abar_prev) / (1 - abar_t)) * sqrt(1 - abar_t / abar_prev)
    x_prev   = sqrt(abar_prev) * x0_hat + sqrt(1 - abar_prev - sigma_t^2) * eps + sigma_t * z

With ``eta = 1`` and every training step this is exactly DDPM's ancestral step (Ho et al., 2020),
whose posterior variance is ``beta_t (1 - abar_{t-1}) / (1 - abar_t)``; :class:`DDPMSampler` is
that case, also on a sub-sequence of steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tsdiff.diffusion.schedules import NoiseSchedule

SAMPLERS: tuple[str, ...] = ("ddim", "ddpm")


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


class DDIMSampler:
    """Denoising diffusion implicit model sampler.

    Parameters
    ----------
    schedule : NoiseSchedule
        The schedule the network was trained with.
    eta : float, default=0.0
        Scale of the fresh noise at each step: 0 is deterministic DDIM, 1 is DDPM-like.
    """

    def __init__(self, schedule: NoiseSchedule, eta: float = 0.0) -> None:
        if eta < 0:
            raise ValueError(f"eta must be >= 0, got {eta}.")
        self.schedule = schedule
        self.eta = eta
        self.timesteps = torch.arange(schedule.num_train_timesteps - 1, -1, -1)
        self._prev = self._previous_steps(self.timesteps)

    @property
    def num_inference_steps(self) -> int:
        """Number of reverse steps set by :meth:`set_timesteps`."""
        return len(self.timesteps)

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Choose ``num_inference_steps`` evenly spaced steps, from ``T - 1`` down to 0.

        Parameters
        ----------
        num_inference_steps : int
            Between 1 and the number of training steps.
        """
        total = self.schedule.num_train_timesteps
        if not 1 <= num_inference_steps <= total:
            raise ValueError(
                f"num_inference_steps must be between 1 and the {total} training steps, "
                f"got {num_inference_steps}."
            )
        grid = np.linspace(total - 1, 0, num_inference_steps).round().astype(np.int64)
        self.timesteps = torch.from_numpy(grid)
        self._prev = self._previous_steps(self.timesteps)

    @staticmethod
    def _previous_steps(timesteps: torch.Tensor) -> dict[int, int]:
        steps = timesteps.tolist()
        return {t: (steps[i + 1] if i + 1 < len(steps) else -1) for i, t in enumerate(steps)}

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
        if t not in self._prev:
            raise ValueError(
                f"timestep {t} is not one of the sampler's timesteps; call set_timesteps."
            )
        t_prev = self._prev[t]
        abar_t = self._alpha_bar(t)
        abar_prev = self._alpha_bar(t_prev)
        eps = model_output
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
    """

    def __init__(self, schedule: NoiseSchedule) -> None:
        super().__init__(schedule, eta=1.0)


def make_sampler(name: str, schedule: NoiseSchedule, eta: float = 0.0) -> DDIMSampler:
    """Build a sampler by name (``"ddim"`` or ``"ddpm"``); ``eta`` applies to DDIM only."""
    if name == "ddim":
        return DDIMSampler(schedule, eta=eta)
    if name == "ddpm":
        return DDPMSampler(schedule)
    raise ValueError(f"Unknown sampler {name!r}; choose one of {SAMPLERS}.")
