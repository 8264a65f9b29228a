"""Shapes and masking invariants of the score network and the training loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_denoiser

from tsdiff.data.masking import (
    condition_mask,
    historical_condition_mask,
    random_condition_mask,
    strip_condition_mask,
)
from tsdiff.diffusion import NoiseSchedule
from tsdiff.model import CSDIDenoiser, interpolate_along_time
from tsdiff.scoring.masks import complementary_masks
from tsdiff.training.module import masked_noise_loss


def _net(fill: str = "linear", features: int = 5) -> CSDIDenoiser:
    wider = {"channels": 16, "n_layers": 2, "n_heads": 2, "diffusion_embedding_dim": 16}
    net = tiny_denoiser(features, condition_fill=fill, **wider)
    # The output layer starts at zero (as CSDI); give it weights so outputs depend on inputs.
    torch.nn.init.normal_(net.output.weight, std=0.5)
    return net.eval()


def _batch(
    b: int = 3, k: int = 5, length: int = 12
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    values = torch.randn(b, k, length, generator=g)
    mask = (torch.rand(b, k, length, generator=g) > 0.4).float()
    stamps = torch.arange(length, dtype=torch.float32).expand(b, length)
    return values, mask, stamps


def test_output_shape_and_published_size() -> None:
    net = CSDIDenoiser(36, 50)  # published defaults
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(413_000, rel=0.02)
    values, mask, stamps = _batch(2, 36, 36)
    out = net(
        torch.randn(2, 36, 36), torch.tensor([0, 49]), net.encode_context(values, mask, stamps)
    )
    assert out.shape == (2, 36, 36)


@pytest.mark.parametrize("fill", ["linear", "zero"])
def test_noisy_input_at_conditioned_cells_is_ignored(fill: str) -> None:
    net = _net(fill)
    values, mask, stamps = _batch()
    context = net.encode_context(values, mask, stamps)
    noisy = torch.randn(values.shape)
    changed = noisy + 100.0 * mask  # only conditioned cells change
    steps = torch.tensor([3, 20, 40])
    torch.testing.assert_close(net(noisy, steps, context), net(changed, steps, context))
    # ...while a change at a target cell does change the output.
    target = (mask == 0).nonzero()[0]
    bumped = noisy.clone()
    bumped[tuple(target)] += 5.0
    assert not torch.allclose(net(noisy, steps, context), net(bumped, steps, context))


def test_values_at_unconditioned_cells_do_not_reach_the_model() -> None:
    net = _net("linear")
    values, mask, stamps = _batch()
    hidden_changed = torch.where(mask > 0, values, values + 50.0)
    noisy, steps = torch.randn(values.shape), torch.tensor([1, 2, 3])
    a = net(noisy, steps, net.encode_context(values, mask, stamps))
    b = net(noisy, steps, net.encode_context(hidden_changed, mask, stamps))
    torch.testing.assert_close(a, b)


def test_repeats_share_context_exactly() -> None:
    net = _net()
    values, mask, stamps = _batch()
    repeats = 4
    noisy = torch.randn(3 * repeats, 5, 12)
    steps = torch.randint(0, 50, (3 * repeats,))
    shared = net(noisy, steps, net.encode_context(values, mask, stamps), repeats=repeats)
    expanded = net.encode_context(
        values.repeat_interleave(repeats, 0),
        mask.repeat_interleave(repeats, 0),
        stamps.repeat_interleave(repeats, 0),
    )
    torch.testing.assert_close(shared, net(noisy, steps, expanded), rtol=1e-5, atol=1e-5)


def test_loss_only_counts_target_cells() -> None:
    """The loss gradient w.r.t. the predicted noise is zero at conditioned and unobserved cells."""
    net = _net()
    values, mask, stamps = _batch(4, 5, 12)
    observed = mask > 0
    captured: dict[str, torch.Tensor] = {}

    def hook(module: torch.nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        output.retain_grad()
        captured["out"] = output

    handle = net.register_forward_hook(hook)
    torch.manual_seed(3)
    g = torch.Generator().manual_seed(5)
    loss, n_targets = masked_noise_loss(
        net,
        NoiseSchedule(50),
        {"values": values, "observed": observed, "timestamps": stamps},
        "random",
        g,
    )
    loss.backward()
    handle.remove()
    grad = captured["out"].grad
    assert grad is not None
    # Recreate the same conditioning mask to know which cells were targets.
    cond = condition_mask(observed, "random", torch.Generator().manual_seed(5))
    target = observed & ~cond
    assert int(target.sum()) == int(n_targets) > 0
    assert torch.all(grad[~target] == 0)
    assert torch.any(grad[target] != 0)


def test_condition_masks_are_subsets_of_observed() -> None:
    observed = torch.rand(64, 6, 20, generator=torch.Generator().manual_seed(0)) > 0.3
    for strategy in ("random", "historical", "mix"):
        cond = condition_mask(observed, strategy, torch.Generator().manual_seed(1))
        assert torch.all(~cond | observed)
        assert (observed & ~cond).sum() > 0
    with pytest.raises(ValueError, match="Unknown target strategy"):
        condition_mask(observed, "sideways")


def test_strip_masks_hide_exactly_one_scoring_mask_per_window() -> None:
    hide = torch.from_numpy(complementary_masks(3, 12, n_masks=3, strip_length=2))
    observed = torch.rand(600, 3, 12, generator=torch.Generator().manual_seed(0)) > 0.2
    cond = strip_condition_mask(observed, hide, torch.Generator().manual_seed(1))
    assert torch.all(~cond | observed)
    # Each window's hidden cells are the observed cells of one scoring mask, chosen evenly.
    picks = []
    for b in range(len(observed)):
        matches = [
            m for m in range(3) if torch.equal(observed[b] & ~cond[b], observed[b] & hide[m])
        ]
        assert len(matches) == 1
        picks.append(matches[0])
    assert np.bincount(picks, minlength=3).min() > 150
    with pytest.raises(ValueError, match="hide_masks must have shape"):
        strip_condition_mask(observed, hide[:, :2])
    with pytest.raises(ValueError, match="needs hide_masks"):
        condition_mask(observed, "strips")
    # "strips_mix": about half the windows get a strip mask.
    mixed = condition_mask(observed, "strips_mix", torch.Generator().manual_seed(2), hide)
    as_strip = [
        any(torch.equal(observed[b] & ~mixed[b], observed[b] & hide[m]) for m in range(3))
        for b in range(len(observed))
    ]
    assert 0.4 < np.mean(as_strip) < 0.6


def test_random_mask_ratio_is_uniform_per_window() -> None:
    observed = torch.ones(4000, 4, 25, dtype=torch.bool)
    hidden = 1.0 - random_condition_mask(observed, torch.Generator().manual_seed(0)).float().mean(
        dim=(1, 2)
    )
    assert hidden.mean().item() == pytest.approx(0.5, abs=0.02)
    assert np.histogram(hidden.numpy(), bins=5, range=(0, 1))[0].min() > 600


def test_historical_mask_borrows_another_windows_gaps() -> None:
    observed = torch.ones(2, 3, 10, dtype=torch.bool)
    observed[1, :, 4:7] = False  # window 1 has a block gap
    cond = historical_condition_mask(observed, torch.Generator().manual_seed(0))
    assert torch.equal(cond[0], observed[1])  # window 0 gets window 1's gap as targets


def test_interpolation_matches_numpy_on_irregular_times() -> None:
    g = torch.Generator().manual_seed(0)
    values = torch.randn(2, 3, 15, generator=g, dtype=torch.float64)
    mask = (torch.rand(2, 3, 15, generator=g) > 0.5).double()
    mask[1, 2] = 0  # a row with no observation
    stamps = torch.cumsum(torch.rand(2, 15, generator=g, dtype=torch.float64) + 0.2, dim=1)
    filled = interpolate_along_time(values * mask, mask, stamps)
    for b in range(2):
        for k in range(3):
            obs = mask[b, k].bool().numpy()
            if not obs.any():
                assert torch.all(filled[b, k] == 0)
                continue
            expected = np.interp(
                stamps[b].numpy(), stamps[b].numpy()[obs], values[b, k].numpy()[obs]
            )
            np.testing.assert_allclose(filled[b, k].numpy(), expected, rtol=1e-10, atol=1e-10)


def test_interpolation_with_anchors_matches_whole_series_interpolation() -> None:
    from tsdiff.data import SeriesSet, build_window_store
    from tsdiff.model import Anchors

    rng = np.random.default_rng(1)
    n = 60
    values = rng.standard_normal((n, 3))
    values[rng.random((n, 3)) < 0.5] = np.nan
    values[20:34, 0] = np.nan  # a gap across the window edge at 24
    values[0, :] = values[-1, :] = 1.0  # observed ends: no extrapolation on the whole series
    stamps = np.cumsum(rng.random(n) + 0.5)
    store = build_window_store(SeriesSet([values], [stamps]), [values], 12, 12)
    ids = np.arange(store.n_windows)
    window_values, observed, window_stamps = store.gather(ids)
    anchors = Anchors(*(torch.from_numpy(a) for a in store.anchors(ids)))
    mask = torch.from_numpy(observed.astype(np.float64))
    filled = interpolate_along_time(
        torch.from_numpy(window_values.astype(np.float64)) * mask,
        mask,
        torch.from_numpy(window_stamps.astype(np.float64)),
        anchors,
    ).numpy()
    for k in range(3):
        obs = ~np.isnan(values[:, k])
        expected = np.interp(stamps, stamps[obs], values[obs, k])
        got = filled[:, k, :].reshape(-1)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    without = interpolate_along_time(
        torch.from_numpy(window_values.astype(np.float64)) * mask,
        mask,
        torch.from_numpy(window_stamps.astype(np.float64)),
    ).numpy()
    assert not np.allclose(
        without[:, 0, :].reshape(-1),
        np.interp(stamps, stamps[~np.isnan(values[:, 0])], values[~np.isnan(values[:, 0]), 0]),
        atol=1e-3,
    )


def test_cpu_dropout_keeps_one_minus_p_and_preserves_the_mean() -> None:
    from tsdiff.model.blocks import dropout

    torch.manual_seed(0)
    x = torch.ones(1_000_003)
    out = dropout(x, 0.1, True)
    kept = (out > 0).double().mean().item()
    assert abs(kept - 0.9) < 2e-3
    assert abs(out.double().mean().item() - 1.0) < 3e-3
    assert torch.equal(dropout(x, 0.1, False), x)
    torch.manual_seed(5)
    first = dropout(x[:100], 0.5, True)
    torch.manual_seed(5)
    assert torch.equal(first, dropout(x[:100], 0.5, True))


def _prior_net() -> CSDIDenoiser:
    net = tiny_denoiser(prior_skip=True)
    net.prior_variance.fill_(0.3)
    return net.eval()


def test_prior_skip_takes_alpha_bar_from_the_caller() -> None:
    """The network holds no schedule: the Gaussian-prior term uses the alpha_bar it is given."""
    net = _prior_net()
    values, mask, stamps = _batch(2, 5, 12)
    context = net.encode_context(values, mask, stamps)
    noisy = torch.randn(2, 5, 12)
    steps = torch.tensor([3, 40])
    schedule = NoiseSchedule(50)
    abar = schedule.alpha_bar(steps)
    out = net(noisy, steps, context, alpha_bar=abar)
    # The output layer starts at zero, so the prediction is exactly the prior term.
    a = abar.view(2, 1, 1)
    prior = (1 - a).sqrt() * (noisy - a.sqrt() * context.condition) / (a * 0.3 + 1 - a)
    torch.testing.assert_close(out, prior)
    # Another schedule's alpha_bar changes the prior term: nothing is baked into the network.
    other = NoiseSchedule(50, "linear", 1e-4, 0.2).alpha_bar(steps)
    assert not torch.allclose(net(noisy, steps, context, alpha_bar=other), out)
    with pytest.raises(ValueError, match="pass alpha_bar"):
        net(noisy, steps, context)
    # Without prior_skip, alpha_bar is not needed.
    assert _net()(noisy, steps, _net().encode_context(values, mask, stamps)).shape == (2, 5, 12)


def test_state_dict_has_no_schedule_and_round_trips() -> None:
    net = _prior_net()
    state = net.state_dict()
    assert "alphas_cumprod" not in state and "prior_variance" in state
    fresh = tiny_denoiser(dropout=0.1, prior_skip=True)
    fresh.load_state_dict(state, strict=True)
    assert torch.equal(fresh.prior_variance, net.prior_variance)
