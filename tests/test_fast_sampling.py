"""Sampling sized for a CPU: precision ``"auto"``, calls of equal size, padded calls for a
compiled network, and the compiled network itself (issue 18)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_NETWORK

from tsdiff import TSDiffAnomalyDetector, TSDiffImputer
from tsdiff.api import _imputer_output
from tsdiff.data.frames import SeriesSet
from tsdiff.data.windows import build_window_store
from tsdiff.diffusion.schedules import NoiseSchedule
from tsdiff.inference import (
    SamplingProgress,
    _chunks,
    native_bf16_cpu,
    resolve_precision,
    sample_windows,
)
from tsdiff.model.denoiser import CSDIDenoiser


def test_auto_precision_is_bf16_only_on_cpus_that_have_it() -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert resolve_precision("auto", cpu) == ("bf16-mixed" if native_bf16_cpu() else "32-true")
    assert resolve_precision("auto", gpu) == "32-true"
    for given in ("32-true", "bf16-mixed", "16-mixed"):
        assert resolve_precision(given, cpu) == given
    assert resolve_precision(32, cpu) == "32"


def test_estimators_default_to_auto_precision_and_resolve_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tsdiff import inference

    for estimator in (TSDiffImputer(), TSDiffAnomalyDetector()):
        assert estimator._trainer_settings()["precision"] == "auto"
        monkeypatch.setattr(inference, "native_bf16_cpu", lambda: True)
        estimator.set_params(trainer_kwargs={"accelerator": "cpu"})
        assert estimator._inference_precision() == "bf16-mixed"
        monkeypatch.setattr(inference, "native_bf16_cpu", lambda: False)
        assert estimator._inference_precision() == "32-true"
        estimator.set_params(trainer_kwargs={"accelerator": "cpu", "precision": "bf16-mixed"})
        assert estimator._inference_precision() == "bf16-mixed"


@pytest.mark.parametrize(
    ("n_windows", "n_samples", "batch_size", "calls"),
    [
        # 20 samples in calls of at most 12: two calls of 10, not 12 + 8
        (3, 20, 12, [(1, 10)] * 6),
        # 25 in calls of at most 12: 9 + 9 + 7 (a compiled network pads the last to 9)
        (1, 25, 12, [(1, 9), (1, 9), (1, 7)]),
        # fewer samples than a call holds: whole windows grouped, the last group smaller
        (5, 4, 8, [(2, 4), (2, 4), (1, 4)]),
    ],
)
def test_calls_split_samples_evenly(
    n_windows: int, n_samples: int, batch_size: int, calls: list[tuple[int, int]]
) -> None:
    chunks = list(_chunks(n_windows, n_samples, batch_size))
    assert [(w.stop - w.start, s.stop - s.start) for w, s in chunks] == calls
    covered = np.zeros((n_windows, n_samples), dtype=int)
    for w, s in chunks:
        covered[w, s] += 1
    assert (covered == 1).all()


def _store_and_network(n_windows: int) -> tuple[object, CSDIDenoiser, NoiseSchedule]:
    rng = np.random.default_rng(0)
    values = rng.standard_normal((n_windows * 8, 3))
    values[rng.random(values.shape) < 0.4] = np.nan
    series = SeriesSet(values=[values], timestamps=[np.arange(len(values), dtype=np.float64)])
    store = build_window_store(series, [values], 8, 8, False)
    torch.manual_seed(0)
    network = CSDIDenoiser(3, 10, **{**TINY_NETWORK, "dropout": 0.0}).eval()
    return store, network, NoiseSchedule(num_train_timesteps=10)


@pytest.mark.parametrize(("n_samples", "batch_size"), [(25, 12), (4, 8)])
@pytest.mark.parametrize("sampler", ["dpmpp_2m", "ddpm"])
def test_padded_calls_give_the_same_samples(n_samples: int, batch_size: int, sampler: str) -> None:
    store, network, schedule = _store_and_network(5)
    kwargs = {
        "n_samples": n_samples,
        "sampler": sampler,
        "sampling_steps": 3,
        "batch_size": batch_size,
        "seed": 3,
        "progress": False,
    }
    plain = sample_windows(network, schedule, store, **kwargs)
    padded = sample_windows(network, schedule, store, pad=True, **kwargs)
    np.testing.assert_allclose(padded, plain, rtol=1e-5, atol=1e-5)


def test_progress_estimate_leaves_out_the_first_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tsdiff import inference

    clock = iter([0.0, 30.0, 31.0, 32.0, 33.0, 34.0])
    monkeypatch.setattr(inference.time, "perf_counter", lambda: next(clock))
    progress = SamplingProgress(100, enabled=False)
    progress.start()  # t = 0
    progress.update(1)  # t = 30: the first call compiled the network
    for _ in range(3):
        progress.update(1)  # 1 s per call from then on
    # 30 s so far plus 96 calls left at 1 s each, not 100 calls at 8.25 s each
    assert progress.expected_seconds == pytest.approx(33.0 + 96.0)
    progress.close()


@pytest.mark.slow
def test_compiled_network_imputes_like_the_plain_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal((400, 3)).cumsum(axis=0)
    values[rng.random(values.shape) < 0.3] = np.nan
    frame = pd.DataFrame(values, columns=["a", "b", "c"])
    imputer = TSDiffImputer(
        window_length=16,
        n_samples=6,
        sampling_steps=3,
        model=TINY_NETWORK,
        max_epochs=1,
        calibration_windows=8,
        trainer_kwargs={"accelerator": "cpu", "precision": "32-true"},
        random_state=0,
        verbose=False,
    ).fit(frame)
    plain = imputer.transform(frame)
    monkeypatch.setattr(_imputer_output, "COMPILE_FROM_WORK", 0)
    compiled = imputer.transform(frame)
    from tsdiff.api._sampling import _COMPILED

    assert imputer in _COMPILED, "the long-run path compiled the network"
    np.testing.assert_allclose(compiled.to_numpy(), plain.to_numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(("n_samples", "batch_size"), [(25, 12), (4, 8)])
@pytest.mark.parametrize("sampler", ["dpmpp_2m", "ddpm"])
def test_windows_seeded_alone_sample_the_same_in_any_call(
    n_samples: int, batch_size: int, sampler: str
) -> None:
    store, network, schedule = _store_and_network(5)
    seeds = np.array([11, 12, 13, 14, 15])
    kwargs = {"sampler": sampler, "sampling_steps": 3, "progress": False}
    together = sample_windows(
        network,
        schedule,
        store,
        n_samples=n_samples,
        batch_size=batch_size,
        window_seeds=seeds,
        **kwargs,
    )
    for w in range(5):
        alone = sample_windows(
            network,
            schedule,
            store.subset(np.array([w])),
            n_samples=n_samples,
            batch_size=3,
            window_seeds=seeds[w : w + 1],
            seed=99,
            **kwargs,
        )
        np.testing.assert_allclose(alone[0], together[w], rtol=1e-4, atol=1e-4)
    # another seed gives other draws
    moved = sample_windows(
        network,
        schedule,
        store,
        n_samples=n_samples,
        batch_size=batch_size,
        window_seeds=seeds + 1,
        **kwargs,
    )
    missing = ~store.gather(np.arange(5))[1]
    assert not np.allclose(moved[:, 0][missing], together[:, 0][missing])


def test_window_seeds_must_give_one_seed_per_window() -> None:
    store, network, schedule = _store_and_network(5)
    with pytest.raises(ValueError, match=r"window_seeds has shape \(4,\), expected one seed"):
        sample_windows(
            network, schedule, store, n_samples=2, window_seeds=np.arange(4), progress=False
        )
