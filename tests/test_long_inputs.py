"""Long inputs: windows are sampled, stitched and reduced block by block (bounded memory), and a
long sampling run announces its expected duration."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_NETWORK

from tsdiff import TSDiffImputer
from tsdiff.api import _imputer_output
from tsdiff.data.frames import SeriesSet
from tsdiff.data.windows import build_window_store, step_owners, stitch, stitch_block
from tsdiff.inference import SamplingProgress, count_network_calls

LONG_PARAMS = {
    "window_length": 16,
    "train_stride": 8,
    "n_samples": 6,
    "sampling_steps": 2,
    "model": TINY_NETWORK,
    "max_epochs": 1,
    "batch_size": 64,
    "calibration_windows": 8,
    "trainer_kwargs": {"accelerator": "cpu"},
    "random_state": 0,
    "verbose": False,
}


def _series(lengths: list[int], n_columns: int = 3, seed: int = 0) -> SeriesSet:
    rng = np.random.default_rng(seed)
    values = []
    for n in lengths:
        v = rng.standard_normal((n, n_columns))
        v[rng.random(v.shape) < 0.3] = np.nan
        values.append(v)
    stamps = [np.arange(n, dtype=np.float64) for n in lengths]
    return SeriesSet(values=values, timestamps=stamps)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize("stride", [16, 5])
def test_stitching_block_by_block_equals_stitching_all(block: int, stride: int) -> None:
    series = _series([50, 9, 16, 33, 101])
    standardised = [np.nan_to_num(v) for v in series.values]
    store = build_window_store(series, standardised, 16, stride, False)
    outputs = np.random.default_rng(1).standard_normal((store.n_windows, 2, 3, 16))
    whole = stitch(store, outputs)
    owners = step_owners(store)
    pieced = [np.full_like(w, np.nan) for w in whole]
    covered = [np.zeros(w.shape[-2], dtype=int) for w in whole]
    for first in range(0, store.n_windows, block):
        for position, steps, picked in stitch_block(
            store, owners, first, outputs[first : first + block]
        ):
            pieced[position][..., steps, :] = picked
            covered[position][steps] += 1
    for w, p, c in zip(whole, pieced, covered, strict=True):
        np.testing.assert_array_equal(p, w)
        assert (c == 1).all()  # every step from exactly one block


@pytest.fixture(scope="module")
def long_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    t = np.arange(3000)
    values = np.stack([np.sin(t / 9 + i) for i in range(3)], axis=1)
    values = values + 0.1 * rng.standard_normal(values.shape)
    frame = pd.DataFrame(values, columns=["a", "b", "c"])
    return frame.mask(rng.random(frame.shape) < 0.2)


@pytest.fixture(scope="module")
def long_imputer(long_frame: pd.DataFrame) -> TSDiffImputer:
    return TSDiffImputer(**LONG_PARAMS).fit(long_frame.iloc[:1000])


def test_reduced_outputs_equal_reductions_of_the_samples_across_blocks(
    long_imputer: TSDiffImputer, long_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # blocks of 7 windows: the 188 windows of the frame are drawn in 27 blocks
    monkeypatch.setattr(_imputer_output, "BLOCK_BYTES", 7 * 6 * 3 * 16 * 4)
    frame = long_frame
    samples = long_imputer.sample(frame)
    filled = long_imputer.transform(frame)
    lower, upper = long_imputer.predict_interval(frame, coverage=0.8)
    np.testing.assert_allclose(filled.to_numpy(), np.median(samples, axis=0))
    np.testing.assert_allclose(lower.to_numpy(), np.quantile(samples, 0.1, axis=0))
    np.testing.assert_allclose(upper.to_numpy(), np.quantile(samples, 0.9, axis=0))
    observed = frame.notna().to_numpy()
    np.testing.assert_array_equal(filled.to_numpy()[observed], frame.to_numpy()[observed])
    assert not filled.isna().any().any()
    # blocks are seeded apart: no block repeats the first block's draws
    gaps = np.isnan(frame.to_numpy())
    spread = samples - np.median(samples, axis=0)
    first, second = spread[:, :112][:, gaps[:112]], spread[:, 112:224][:, gaps[112:224]]
    n = min(first.shape[1], second.shape[1])
    assert not np.allclose(first[:, :n], second[:, :n])


def test_transform_memory_grows_with_the_rows_not_with_the_samples(
    long_imputer: TSDiffImputer, long_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_imputer_output, "BLOCK_BYTES", 20 * 64 * 3 * 16 * 4)
    imputer = long_imputer.set_params(n_samples=64)
    peaks = []
    try:
        for n_rows in (1500, 3000):
            tracemalloc.start()
            imputer.transform(long_frame.iloc[:n_rows])
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    finally:
        imputer.set_params(n_samples=LONG_PARAMS["n_samples"])
    growth = peaks[1] - peaks[0]
    # keeping every sample of the 1500 more rows would take 64 x 1500 x 3 float64 values more
    samples_growth = 64 * 1500 * 3 * 8
    assert growth < samples_growth / 4, (peaks, samples_growth)


def test_sampling_progress_announces_a_long_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tsdiff import inference

    monkeypatch.setattr(inference, "ANNOUNCE_AFTER_SECONDS", 0.0)
    progress = SamplingProgress(10, enabled=True, what="4 samples of 3 windows")
    progress.start()
    progress.update(3)
    progress.update(7)
    progress.close()
    err = capsys.readouterr().err
    assert "4 samples of 3 windows: 10 network calls, expected to take about" in err
    assert err.count("expected to take") == 1
    assert progress.expected_seconds is not None

    quiet = SamplingProgress(10, enabled=False)
    quiet.start()
    quiet.update(10)
    quiet.close()
    assert capsys.readouterr().err == ""


def test_count_network_calls_matches_the_chunking() -> None:
    # 10 windows x 4 samples in calls of 8 window-samples: 5 calls per step
    assert count_network_calls(10, 4, 8, 3) == 15
    # more samples than a call holds: each window alone, in 2 calls per step
    assert count_network_calls(3, 12, 8, 2) == 12
