"""Noise schedules and samplers against their formulas."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from tsdiff.diffusion import (
    SAMPLERS,
    DDIMSampler,
    DDPMSampler,
    NoiseSchedule,
    SamplerStepOutput,
    make_betas,
    make_sampler,
    spaced_timesteps,
)


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


def _exact_ode_map(schedule: NoiseSchedule, mu: float, std: float, x_start: torch.Tensor):  # type: ignore[no-untyped-def]
    """The probability-flow ODE from step T-1 to x_0 when x0 ~ N(mu, std^2): the flow preserves
    the Gaussian marginals and is linear, so ``(x - alpha mu) / sqrt(alpha^2 std^2 + sigma^2)`` is
    constant along it."""
    abar = schedule.alphas_cumprod[-1].item()
    return mu + std * (x_start - abar**0.5 * mu) / (abar * std**2 + 1 - abar) ** 0.5


@pytest.mark.parametrize(("spacing", "steps"), [("linspace", 4), ("trailing", 8), ("trailing", 10)])
def test_dpmpp_2m_few_steps_beats_ddim_on_a_gaussian(spacing: str, steps: int) -> None:
    """At equal network calls DPM-Solver++ 2M lands far closer to the exact ODE solution than DDIM,
    per sample and in the spread (few-step DDIM collapses the spread towards the mean).

    With 2 calls the two coincide (both steps are first order), and with trailing spacing the last
    first-order step down to abar = 1 dominates the error up to about 5 calls on this schedule.
    """
    schedule = NoiseSchedule(50, "quad")
    mu, std = 1.5, 0.4
    predict = _gaussian_eps(schedule, mu, std)
    start = torch.randn(20000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    exact = _exact_ode_map(schedule, mu, std, start)
    errors, spreads = {}, {}
    for name in ("ddim", "dpmpp_2m"):
        sampler = make_sampler(name, schedule, timestep_spacing=spacing)
        sampler.set_timesteps(steps)
        x = start.clone()
        for t in sampler.timesteps.tolist():
            x = sampler.step(predict(x, t), t, x).prev_sample
        errors[name] = (x - exact).abs().mean().item()
        spreads[name] = abs(x.std().item() - exact.std().item())
        assert x.mean().item() == pytest.approx(mu, abs=0.01)
    assert errors["dpmpp_2m"] < 0.3 * errors["ddim"]
    assert spreads["dpmpp_2m"] < 0.3 * spreads["ddim"]


def test_dpmpp_2m_first_step_and_last_step_are_ddim() -> None:
    """The first step (no history) and the last step (down to abar = 1) are first order, which
    in data-prediction form is exactly deterministic DDIM; the middle step is not."""
    schedule = NoiseSchedule(50)
    dpm = make_sampler("dpmpp_2m", schedule, timestep_spacing="trailing")
    ddim = make_sampler("ddim", schedule, timestep_spacing="trailing")
    dpm.set_timesteps(3)
    ddim.set_timesteps(3)
    assert dpm.timesteps.tolist() == ddim.timesteps.tolist() == [49, 32, 16]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    eps = [torch.randn(5, 3, generator=generator, dtype=torch.float64) for _ in range(3)]
    t0, t1, t2 = dpm.timesteps.tolist()
    a = dpm.step(eps[0], t0, x).prev_sample
    torch.testing.assert_close(a, ddim.step(eps[0], t0, x).prev_sample)
    b = dpm.step(eps[1], t1, a).prev_sample
    assert not torch.allclose(b, ddim.step(eps[1], t1, a).prev_sample)
    out = dpm.step(eps[2], t2, b)
    torch.testing.assert_close(out.prev_sample, ddim.step(eps[2], t2, b).prev_sample)
    torch.testing.assert_close(out.prev_sample, out.pred_original_sample)


def test_dpmpp_2m_second_order_step_formula() -> None:
    """The multistep update written out with diffusers' (sigma, alpha, lambda) notation."""
    schedule = NoiseSchedule(50)
    sampler = make_sampler("dpmpp_2m", schedule, timestep_spacing="linspace")
    sampler.set_timesteps(4)
    t_last, t, s = sampler.timesteps.tolist()[:3]
    x = torch.randn(6, dtype=torch.float64)
    eps_last, eps = torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    x_t = sampler.step(eps_last, t_last, x).prev_sample
    result = sampler.step(eps, t, x_t).prev_sample

    def coeffs(step: int) -> tuple[float, float, float]:
        abar = schedule.alphas_cumprod[step].item()
        return abar**0.5, (1 - abar) ** 0.5, math.log(abar**0.5) - math.log((1 - abar) ** 0.5)

    (al, sl, ll), (at, st, lt), (as_, ss, ls) = coeffs(t_last), coeffs(t), coeffs(s)
    m1 = (x - sl * eps_last) / al
    m0 = (x_t - st * eps) / at
    h, h0 = ls - lt, lt - ll
    d1 = (m0 - m1) / (h0 / h)
    expected = ss / st * x_t - as_ * (math.exp(-h) - 1) * m0 - 0.5 * as_ * (math.exp(-h) - 1) * d1
    torch.testing.assert_close(result, expected)


def test_set_timesteps_resets_multistep_state_and_trailing_spacing() -> None:
    schedule = NoiseSchedule(50)
    sampler = make_sampler("dpmpp_2m", schedule)
    assert sampler.timestep_spacing == "trailing"
    assert sampler.num_train_timesteps == 50
    sampler.set_timesteps(4)
    assert sampler.num_inference_steps == 4
    assert sampler.timesteps.tolist() == [49, 37, 24, 11]
    x = torch.randn(8, dtype=torch.float64)
    eps = torch.randn(8, dtype=torch.float64)
    first = sampler.step(eps, 49, x).prev_sample
    sampler.step(eps, 37, first)
    sampler.set_timesteps(4)
    torch.testing.assert_close(sampler.step(eps, 49, x).prev_sample, first)
    assert spaced_timesteps(50, 10, "trailing").tolist() == list(range(49, 0, -5))
    assert spaced_timesteps(50, 50, "trailing").tolist() == list(range(49, -1, -1))
    with pytest.raises(ValueError, match="Unknown timestep spacing"):
        spaced_timesteps(50, 4, "leading")
    with pytest.raises(ValueError, match="Unknown sampler"):
        make_sampler("euler", schedule)


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_follows_the_step_contract(name: str) -> None:
    sampler = make_sampler(name, NoiseSchedule(20))
    assert sampler.num_inference_steps == 20
    for n in (1, 2, 7):
        sampler.set_timesteps(n)
        steps = sampler.timesteps.tolist()
        assert len(steps) == sampler.num_inference_steps == n
        assert steps[0] == 19 and all(a > b for a, b in itertools.pairwise(steps))
        x = torch.randn(2, 3)
        for t in steps:
            out = sampler.step(torch.zeros_like(x), t, x, generator=torch.Generator())
            assert isinstance(out, SamplerStepOutput)
            assert out.prev_sample.shape == x.shape
            x = out.prev_sample
        assert torch.isfinite(x).all()


def test_noise_schedule_is_a_config_object() -> None:
    schedule = NoiseSchedule(20, "linear", 1e-3, 0.3)
    config = schedule.config
    assert (
        config
        == schedule.to_dict()
        == {
            "num_train_timesteps": 20,
            "schedule": "linear",
            "beta_start": 1e-3,
            "beta_end": 0.3,
        }
    )
    rebuilt = NoiseSchedule.from_config(config)
    assert rebuilt == schedule and rebuilt is not schedule
    assert torch.equal(rebuilt.alphas_cumprod, schedule.alphas_cumprod)
    assert NoiseSchedule.from_config({"num_train_timesteps": 20}) == NoiseSchedule(20)
    assert NoiseSchedule(20) != schedule
    assert "linear" in repr(schedule)
    with pytest.raises(TypeError, match="Unknown NoiseSchedule config keys"):
        NoiseSchedule.from_config({"diffusion_steps": 50})
    steps = torch.tensor([[0, 19], [5, 5]])
    abar = schedule.alpha_bar(steps)
    assert abar.dtype == torch.float32 and abar.shape == (2, 2)
    torch.testing.assert_close(abar[0, 1], schedule.alphas_cumprod[19].float())
