"""Noise schedules and samplers against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tsdiff.diffusion import DDIMSampler, DDPMSampler, NoiseSchedule, make_betas, make_sampler


def test_quad_schedule_is_csdi_squared_linspace() -> None:
    betas = make_betas("quad", 50, 1e-4, 0.5)
    expected = np.linspace(1e-4**0.5, 0.5**0.5, 50) ** 2
    np.testing.assert_allclose(betas.numpy(), expected, rtol=1e-12)
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.5)


def test_linear_schedule() -> None:
    np.testing.assert_allclose(
        make_betas("linear", 10, 0.01, 0.2).numpy(), np.linspace(0.01, 0.2, 10)
    )


def test_cosine_schedule_matches_nichol_dhariwal() -> None:
    steps, s = 20, 0.008
    betas = make_betas("cosine", steps).numpy()

    def alpha_bar(t: float) -> float:
        return math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2

    for t in range(steps):
        assert betas[t] == pytest.approx(min(1 - alpha_bar(t + 1) / alpha_bar(t), 0.999), rel=1e-10)
    schedule = NoiseSchedule(steps, "cosine")
    # Up to the clipped last step, abar_t is the closed form alpha_bar(t + 1) / alpha_bar(0).
    np.testing.assert_allclose(
        schedule.alphas_cumprod.numpy()[:-1],
        [alpha_bar(t + 1) / alpha_bar(0) for t in range(steps - 1)],
        rtol=1e-9,
    )
    assert betas[-1] == pytest.approx(0.999)


def test_unknown_schedule_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown schedule 'sqrt'"):
        make_betas("sqrt", 10)


def test_add_noise_formula() -> None:
    schedule = NoiseSchedule(50, "quad")
    x0 = torch.randn(3, 2, 5)
    noise = torch.randn(3, 2, 5)
    steps = torch.tensor([0, 10, 49])
    noisy = schedule.add_noise(x0, noise, steps)
    for i, t in enumerate(steps.tolist()):
        abar = schedule.alphas_cumprod[t].item()
        torch.testing.assert_close(noisy[i], abar**0.5 * x0[i] + (1 - abar) ** 0.5 * noise[i])


def test_set_timesteps_spacing_and_bounds() -> None:
    sampler = DDIMSampler(NoiseSchedule(50))
    sampler.set_timesteps(5)
    assert sampler.timesteps.tolist() == [49, 37, 24, 12, 0]
    sampler.set_timesteps(50)
    assert sampler.timesteps.tolist() == list(range(49, -1, -1))
    with pytest.raises(ValueError, match="between 1 and the 50 training steps"):
        sampler.set_timesteps(51)
    with pytest.raises(ValueError, match="not one of the sampler's timesteps"):
        sampler.set_timesteps(5)
        sampler.step(torch.zeros(1), 48, torch.zeros(1))


def test_ddim_eta_one_all_steps_equals_ddpm_step_by_step() -> None:
    schedule = NoiseSchedule(50)
    ddpm, ddim = DDPMSampler(schedule), DDIMSampler(schedule, eta=1.0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 7, generator=generator)
    for t in ddpm.timesteps.tolist():
        eps = torch.randn(4, 7, generator=generator)
        z = torch.randn(4, 7, generator=generator)
        a = ddpm.step(eps, t, x, noise=z).prev_sample
        b = ddim.step(eps, t, x, noise=z).prev_sample
        torch.testing.assert_close(a, b)
        # DDPM's posterior (Ho et al. eq. 6-7) written out independently.
        beta, abar = schedule.betas[t].item(), schedule.alphas_cumprod[t].item()
        abar_prev = schedule.alphas_cumprod[t - 1].item() if t > 0 else 1.0
        mean = (x - beta / (1 - abar) ** 0.5 * eps) / (1 - beta) ** 0.5
        sigma = (beta * (1 - abar_prev) / (1 - abar)) ** 0.5
        torch.testing.assert_close(a, mean + sigma * z, rtol=1e-5, atol=1e-5)
        x = a


def _gaussian_eps(schedule: NoiseSchedule, mu: float, std: float):  # type: ignore[no-untyped-def]
    """The exact noise predictor when x0 ~ N(mu, std^2)."""

    def predict(x: torch.Tensor, t: int) -> torch.Tensor:
        abar = schedule.alphas_cumprod[t].item()
        return (x - abar**0.5 * mu) * (1 - abar) ** 0.5 / (abar * std**2 + 1 - abar)

    return predict


def _run(sampler: DDIMSampler, predict, n: int = 20000, seed: int = 1) -> torch.Tensor:  # type: ignore[no-untyped-def]
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=generator, dtype=torch.float64)
    for t in sampler.timesteps.tolist():
        x = sampler.step(predict(x, t), t, x, generator=generator).prev_sample
    return x


def test_ddpm_matches_the_analytic_gaussian_chain() -> None:
    """With x0 ~ N(mu, s^2) and the exact eps, each DDPM step is linear-Gaussian, so the law of
    the final sample follows from Ho et al.'s update by a scalar recursion."""
    schedule = NoiseSchedule(50, "quad")
    mu, std = 1.5, 0.4
    mean, var = 0.0, 1.0
    for t in range(49, -1, -1):
        beta, abar = schedule.betas[t].item(), schedule.alphas_cumprod[t].item()
        abar_prev = schedule.alphas_cumprod[t - 1].item() if t > 0 else 1.0
        c = (1 - abar) ** 0.5 / (abar * std**2 + 1 - abar)
        k = beta / (1 - abar) ** 0.5
        a = (1 - k * c) / (1 - beta) ** 0.5
        b = k * c * abar**0.5 * mu / (1 - beta) ** 0.5
        mean, var = a * mean + b, a**2 * var + beta * (1 - abar_prev) / (1 - abar)
    x = _run(DDPMSampler(schedule), _gaussian_eps(schedule, mu, std))
    assert x.mean().item() == pytest.approx(mean, abs=0.01)
    assert x.std().item() == pytest.approx(var**0.5, rel=0.02)


@pytest.mark.parametrize(
    ("name", "eta", "steps"),
    [("ddpm", 0.0, 1000), ("ddim", 1.0, 1000), ("ddim", 0.0, 1000), ("ddpm", 0.0, 250)],
)
def test_samplers_recover_gaussian_statistics_on_a_fine_schedule(
    name: str, eta: float, steps: int
) -> None:
    schedule = NoiseSchedule(1000, "linear", 1e-4, 0.02)
    mu, std = 1.5, 0.4
    sampler = make_sampler(name, schedule, eta=eta)
    sampler.set_timesteps(steps)
    x = _run(sampler, _gaussian_eps(schedule, mu, std))
    assert x.mean().item() == pytest.approx(mu, abs=0.02)
    assert x.std().item() == pytest.approx(std, rel=0.05)


def test_ddpm_and_full_ddim_eta1_statistics_agree() -> None:
    schedule = NoiseSchedule(50, "quad")
    predict = _gaussian_eps(schedule, -0.5, 0.8)
    results = []
    for sampler in (DDPMSampler(schedule), DDIMSampler(schedule, eta=1.0)):
        x = _run(sampler, predict, seed=7)
        results.append((x.mean().item(), x.std().item()))
    assert results[0] == pytest.approx(results[1], rel=1e-9)


def test_negative_eta_rejected() -> None:
    with pytest.raises(ValueError, match="eta must be >= 0"):
        DDIMSampler(NoiseSchedule(10), eta=-0.1)
