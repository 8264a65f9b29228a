"""Fast checks of the benchmark's plumbing (no training): ``pytest benchmarks``."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmarks.datasets import AQI36Split
from benchmarks.impute_aqi36 import (
    WINDOW,
    BudgetClock,
    BudgetedLoader,
    PeakMemory,
    Standardiser,
    cut_windows,
    evaluate_targets,
    pypots_samples,
    pypots_test_windows,
    render_report,
    score_point,
    score_samples,
    stitch_first,
)


def _split(n_rows: int = 100, n_cols: int = 3, seed: int = 0) -> AQI36Split:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2015-03-01", periods=n_rows, freq="h")
    truth = pd.DataFrame(rng.gamma(2.0, 30.0, (n_rows, n_cols)), index=index)
    hidden = rng.random((n_rows, n_cols)) < 0.2
    given = truth.mask(hidden)
    train = pd.DataFrame(rng.gamma(2.0, 30.0, (200, n_cols)))
    return AQI36Split([train], [train], [given], [truth], [hidden])


@pytest.mark.parametrize("n_rows", [36, 100, 108, 145])
def test_cut_and_stitch_round_trip(n_rows: int) -> None:
    values = np.arange(n_rows * 2, dtype=float).reshape(n_rows, 2)
    windows = cut_windows(values, WINDOW, WINDOW)
    assert windows.shape[1:] == (WINDOW, 2)
    assert windows[-1][-1].tolist() == values[-1].tolist()  # last window aligned to the end
    stitched = stitch_first(windows[:, None], n_rows, WINDOW, WINDOW)
    np.testing.assert_array_equal(stitched[0], values)


def test_pypots_samples_inverts_the_standardisation_and_keeps_observed_cells() -> None:
    split = _split()
    scaler = Standardiser.fit(split.train)
    windows = pypots_test_windows(split, scaler)
    truth = scaler.transform(split.test_truth[0].to_numpy())
    oracle = cut_windows(truth, WINDOW, WINDOW)[:, None].repeat(2, axis=1)  # (W, S, L, K)
    samples = pypots_samples(oracle, split, scaler, [len(w) for w in windows])
    np.testing.assert_allclose(samples[0][1], split.test_truth[0].to_numpy(), rtol=1e-12)
    assert score_samples(samples, split)["mae"] < 1e-9


def test_point_crps_is_normalised_mae() -> None:
    split = _split()
    guess = split.test_input[0].fillna(50.0).to_numpy()
    scores = score_point([guess], split)
    truth, mask = split.test_truth[0].to_numpy(), split.test_targets[0]
    expected = np.abs(guess - truth)[mask].sum() / np.abs(truth[mask]).sum()
    assert scores["crps"] == pytest.approx(expected)
    assert scores["coverage90"] is None


def test_budgeted_loader_stops_at_the_deadline_and_decays_lr() -> None:
    group: dict[str, float] = {"lr": 1.0}
    optimizer = SimpleNamespace(torch_optimizer=SimpleNamespace(param_groups=[group]))
    batches = [[np.zeros(4)] for _ in range(1000)]

    class SlowLoader:
        def __iter__(self) -> Any:
            for batch in batches:
                time.sleep(0.002)
                yield batch

    loader = BudgetedLoader(SlowLoader(), BudgetClock(0.2), optimizer, lr=1.0)
    seen = sum(1 for _ in loader)
    assert 0 < seen < len(batches)
    assert loader.truncated and loader.windows == 4 * seen
    assert group["lr"] == pytest.approx(0.01)  # both milestones passed before the deadline
    assert sum(1 for _ in loader) == 0  # later epochs yield nothing


def test_peak_memory_reads_a_positive_value() -> None:
    memory = PeakMemory()
    memory.start()
    assert memory.read() > 0


def _row(method: str, mae: float, **extra: Any) -> dict[str, Any]:
    base = {
        "method": method,
        "label": method,
        "mae": mae,
        "rmse": mae,
        "crps": 0.1,
        "coverage90": None,
        "peak_rss_mb": 100.0,
        "n_targets": 10,
    }
    return {**base, **extra}


def test_targets_and_report() -> None:
    rows = [
        _row("tsdiff-ddim", 10.0, impute_seconds=1.0, train_windows_per_second=20.0),
        _row("tsdiff-ddpm", 9.8, impute_seconds=5.0, train_windows_per_second=20.0),
        _row(
            "pypots-csdi",
            12.0,
            impute_seconds=30.0,
            train_windows_per_second=5.0,
            pure_train_windows_per_second=10.0,
        ),
        _row("iterative", 30.0),
        _row("linear", 14.5),
    ]
    targets = evaluate_targets(rows)
    assert targets["a_ddim"]["pass"] and targets["a_ddpm"]["pass"]
    assert targets["b"]["speedup"] == pytest.approx(30.0)
    assert targets["b"]["pass"]  # 30x, and 2.0 % above DDPM-50
    assert targets["c"]["ratio_vs_pure"] == pytest.approx(2.0)
    assert targets["c"]["ratio_wall"] == pytest.approx(4.0)
    results = {
        "machine": {
            "cpu_model": "x",
            "logical_cpus": 2,
            "memory_gib": 1.0,
            "gpu": None,
            "torch": "t",
            "torch_threads": 2,
            "pypots": "p",
            "sklearn": "s",
            "python": "3",
        },
        "config": {
            "test_hours": None,
            "budget_minutes": 1.0,
            "n_samples": 2,
            "ddim_steps": 10,
            "batch_size": 16,
            "precision": "32-true",
            "seed": 0,
        },
        "date": "d",
        "command": "c",
        "full_run_command": "f",
        "rows": rows,
        "targets": targets,
    }
    report = render_report(results)
    assert "| pypots-csdi | 12.00 |" in report and "PASS" in report


def test_targets_not_run_are_not_applicable() -> None:
    targets = evaluate_targets([_row("linear", 14.5)])
    assert targets["a_ddim"]["pass"] is None and targets["b"]["pass"] is None
    assert targets["c"]["pass"] is None


def test_linear_interpolation_fills_empty_columns_with_the_fallback() -> None:
    from benchmarks.impute_aqi36 import interpolate_linear

    index = pd.date_range("2015-03-01", periods=4, freq="h")
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan], "b": [np.nan] * 4}, index=index)
    filled = interpolate_linear(frame, np.array([0.0, 7.0]))
    np.testing.assert_array_equal(filled, [[1, 7], [2, 7], [3, 7], [3, 7]])
