"""Fast checks of the detection benchmark's post-processing of baseline scores (no training):
``pytest benchmarks``."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.detect import (
    MethodOutput,
    detector_postprocessing,
    make_detector,
    smoothed,
    variant_label,
)
from tsdiff.scoring import MultiScaleSmoother, aggregate_sensors, smooth_scores


def _per_sensor_output(seed: int = 0) -> MethodOutput:
    rng = np.random.default_rng(seed)
    calibration_sensors = [rng.normal(size=(300, 3)), rng.normal(size=(200, 3))]
    sensors = [rng.normal(size=(150, 3)), rng.normal(size=(100, 3))]
    return MethodOutput(
        test=[aggregate_sensors(s) for s in sensors],
        calibration=np.concatenate([aggregate_sensors(s) for s in calibration_sensors]),
        sensors=sensors,
        calibration_sensors=calibration_sensors,
    )


def test_multi_scale_rows_use_tsdiff_s_smoother_on_the_baseline_s_own_calibration() -> None:
    output = _per_sensor_output()
    calibration_tables = list(output.calibration_sensors or [])
    test_tables = list(output.sensors or [])
    out = smoothed(output, (1, 9))
    smoother = MultiScaleSmoother((1, 9)).fit(calibration_tables)
    assert out.sensors is not None
    for got, table in zip(out.sensors, test_tables, strict=True):
        np.testing.assert_allclose(got, smoother.transform(table))
    for got, table in zip(out.test, test_tables, strict=True):
        np.testing.assert_allclose(got, aggregate_sensors(smoother.transform(table)))
    expected = [aggregate_sensors(smoother.transform(t)) for t in calibration_tables]
    np.testing.assert_allclose(out.calibration, np.concatenate(expected))


def test_single_length_on_a_flat_score_is_its_moving_average_and_huge_scores_are_clipped() -> None:
    rng = np.random.default_rng(1)
    test = rng.normal(size=200)
    test[50] = 1e308  # PCA's overflow on directions constant in training
    output = MethodOutput(test=[test], calibration=rng.normal(size=300))
    out = smoothed(output, (5,))
    assert out.sensors is None and np.isfinite(out.test[0]).all()
    # away from the clipped value, a plain moving average (unclipped, 1e308 in the running sum
    # would wipe out every score after it)
    ordinary = test.copy()
    ordinary[50] = 0.0
    far = np.r_[0:45, 56:200]
    np.testing.assert_allclose(out.test[0][far], smooth_scores(ordinary, 5)[far], atol=1e-9)
    assert out.test[0][50] == out.test[0].max()
    np.testing.assert_allclose(out.calibration, smooth_scores(output.calibration, 5))


def test_tsdiff_post_processing_rows_aggregate_like_the_detector() -> None:
    output = _per_sensor_output(2)
    out = smoothed(output, (1, 9), aggregation="topk", top_k=2, score_cap=1.5)
    smoother = MultiScaleSmoother((1, 9)).fit(list(output.calibration_sensors or []))
    for got, table in zip(out.test, output.sensors or [], strict=True):
        expected = aggregate_sensors(smoother.transform(table), "topk", 2, 1.5)
        np.testing.assert_allclose(got, expected)
        assert got.max() <= 1.5
    assert out.calibration.max() <= 1.5


def test_tsdiff_post_processing_mirrors_the_benchmark_s_detector_settings() -> None:
    from tsdiff.scoring import TopK

    post = detector_postprocessing(make_detector(0, 1.0))
    assert post["windows"] == (1, 31, 63)  # the detector's default smoothing
    assert (post["aggregation"], post["top_k"], post["score_cap"]) == ("topk", 6, 50.0)
    post = detector_postprocessing(make_detector(0, 1.0, aggregator=TopK(k=1, cap=None)))
    assert (post["aggregation"], post["top_k"], post["score_cap"]) == ("max", 1, None)


def test_variant_labels() -> None:
    assert variant_label("KNN (flat)", "smoothed 31") == "KNN (flat, smoothed 31)"
    assert variant_label("rolling z-score", "tsdiff post-processing") == (
        "rolling z-score (tsdiff post-processing)"
    )


class _DistanceModel:
    """Stands in for a PyOD model (pyod is an optional dependency): distance from the mean."""

    def fit(self, X: np.ndarray) -> _DistanceModel:
        self.mean_ = X.mean(axis=0)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return np.linalg.norm(X - self.mean_, axis=1)


def test_run_split_adds_post_processed_rows_for_baselines_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse

    import pandas as pd

    import benchmarks.detect as detect
    from benchmarks.detect import baselines, runner

    rng = np.random.default_rng(3)

    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])

    fit, calibration, test = frame(240), frame(80), frame(120)
    labels = np.zeros(120, dtype=int)
    labels[50:70] = 1
    split = detect.Split("toy", [fit], [fit], [calibration], [test], [labels], ["toy"])
    table = rng.normal(size=(120, 3))
    fake_tsdiff = MethodOutput([table.max(axis=1)], rng.normal(size=80), [table])
    monkeypatch.setattr(runner, "run_tsdiff", lambda *args: fake_tsdiff)
    monkeypatch.setattr(runner, "BASELINES", ("PCA",))
    monkeypatch.setattr(baselines, "make_pyod", lambda name, seed: _DistanceModel())
    args = argparse.Namespace(
        skip_tsdiff=False,
        only_tsdiff=False,
        baseline_window=4,
        seed=0,
        max_train_windows=1000,
        zscore_window=10,
        smoothed_baselines=["5"],
        tsdiff_postprocessed_baselines=True,
        vus_window=10,
        max_time=1.0,
        tsdiff_param=None,
    )
    results = detect.run_split(split, args, 0, log=lambda line: None)
    assert set(results) == {
        "tsdiff",
        "PCA (flat)",
        "PCA (flat, smoothed 5)",
        "PCA (per-sensor)",
        "PCA (per-sensor, smoothed 5)",
        "PCA (per-sensor, tsdiff post-processing)",
        "rolling z-score",
        "rolling z-score (smoothed 5)",
        "rolling z-score (tsdiff post-processing)",
        "random",
    }


def test_series_report_scores_the_drift_adjusted_threshold_as_the_detector_does() -> None:
    from benchmarks.detect import mean_report, series_report
    from tsdiff.metrics import f1_at_threshold

    rng = np.random.default_rng(5)
    calibration = rng.normal(size=2000)
    labels = np.zeros(1000, dtype=int)
    labels[400:450] = 1
    scores = rng.normal(size=1000) + 3.0  # the whole series drifted up by 3
    scores[400:450] += 6.0
    scores[:300] = np.nan  # unscored steps: ignored by the median, never flagged
    report = series_report(labels, scores, 2.5, calibration, vus_window=10)
    rise = np.nanmedian(scores) - np.median(calibration)
    filled = np.where(np.isfinite(scores), scores, np.nanmin(scores))
    assert report["f1_drift"] == f1_at_threshold(labels, filled, 2.5 + rise)["f1"]
    assert report["f1"] == f1_at_threshold(labels, filled, 2.5)["f1"]
    assert report["f1_drift"] > 0.9 > 0.5 > report["f1"]  # the drift flags half the series
    mean = mean_report([report, report])
    assert mean["f1_drift_ratio"] == report["f1_drift"] / report["best_f1"]


@pytest.mark.parametrize(("n", "width"), [(40, 5), (40, 16), (16, 16), (10, 16)])
def test_sliding_windows_cover_the_series_and_scores_go_to_the_window_centre(
    n: int, width: int
) -> None:
    from benchmarks.detect import sliding_windows, window_scores_to_steps

    values = np.arange(n * 2, dtype=float).reshape(n, 2)
    windows, store = sliding_windows(values, width)
    assert windows.shape == (max(n - width + 1, 1), width, 2)
    np.testing.assert_array_equal(windows[0, : min(n, width)], values[:width])
    if n < width:  # edge-padded
        np.testing.assert_array_equal(windows[0, n:], np.repeat(values[-1:], width - n, axis=0))
    else:
        np.testing.assert_array_equal(windows[-1], values[-width:])
    # a window's score is that of its first step; each step takes the window it is most
    # central in: the score of the step about half a window before it, clamped at the ends
    scores = windows[:, 0, 0].copy()
    steps = window_scores_to_steps(store, scores)
    assert steps.shape == (n,)
    expected = values[np.clip(np.arange(n) - width // 2, 0, len(scores) - 1), 0]
    np.testing.assert_array_equal(steps, expected)
    per_sensor = window_scores_to_steps(store, windows[:, 0, :])
    np.testing.assert_array_equal(per_sensor[:, 0], steps)


def test_fit_scaler_is_tsdiff_s_scaler_and_flags_constant_columns() -> None:
    import pandas as pd

    from benchmarks.detect import fit_scaler

    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame({"a": rng.normal(3, 2, 50), "b": np.full(50, 7.0)}),
        pd.DataFrame({"a": rng.normal(3, 2, 30), "b": np.full(30, 7.0)}),
    ]
    scaler, constant = fit_scaler(frames)
    assert constant.tolist() == [False, True]
    stacked = np.concatenate([f.to_numpy() for f in frames])
    out = scaler.transform(stacked)
    np.testing.assert_allclose(out[:, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(out[:, 0].std(), 1.0)
    np.testing.assert_array_equal(out[:, 1], 0.0)


class _FakeResult:
    def __init__(self, table: np.ndarray) -> None:
        self.sensor_scores = table
        self.scores = table.max(axis=1)


def test_score_series_uses_one_scoring_pass() -> None:
    import pandas as pd

    from benchmarks.detect import score_series

    table = np.random.default_rng(1).normal(size=(20, 8))
    frame = pd.DataFrame(np.zeros((20, 8)))

    class WithDetect:
        def detect(self, X: pd.DataFrame) -> _FakeResult:
            return _FakeResult(table)

        def feature_scores(self, X: pd.DataFrame) -> pd.DataFrame:  # a second pass: never used
            raise AssertionError("score_series must use the one detect() result")

    sensors, scores = score_series(WithDetect(), frame)
    np.testing.assert_array_equal(sensors, table)
    np.testing.assert_array_equal(scores, table.max(axis=1))


def _report(seed: str, machine: str, vus: float) -> dict[str, object]:
    row = {k: vus for k in ("vus_pr", "auc_pr", "auc_roc", "best_f1", "f1", "f1_drift")}
    row |= {"f1_ratio": 1.0, "f1_drift_ratio": 1.0, "fit_seconds": 1.0, "score_seconds": 1.0}
    return {"seeds": {seed: {"smd": {"machines": {machine: {"tsdiff": row}}}}}}


def test_merge_pools_machines_per_seed_and_averages_seeds(tmp_path: pytest.TempPathFactory) -> None:
    import json
    from pathlib import Path

    from benchmarks.detect import merge_reports, tables

    paths = []
    for i, (seed, machine, vus) in enumerate(
        [("0", "m1", 0.2), ("0", "m2", 0.4), ("1", "m1", 0.6), ("1", "m2", 0.6)]
    ):
        path = Path(str(tmp_path)) / f"part{i}.json"
        path.write_text(json.dumps(_report(seed, machine, vus)))
        paths.append(path)
    report = merge_reports(paths)
    assert report["seeds"]["0"]["smd"]["mean"]["tsdiff"]["vus_pr"] == pytest.approx(0.3)
    summary = report["mean_over_seeds"]["smd"]["tsdiff"]
    assert summary["vus_pr"] == pytest.approx(0.45)
    assert summary["vus_pr_std"] == pytest.approx(0.15)
    assert summary["n_seeds"] == 2
    assert "mean over seeds" in tables(report)
