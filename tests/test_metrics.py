"""tsdiff.metrics: the one home of the imputation and detection metrics."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from tsdiff import metrics
from tsdiff.evaluation import linear_interpolation


def test_package_re_exports_both_families() -> None:
    from tsdiff.metrics import detection, imputation

    for name in ("mae", "rmse", "crps", "coverage", "interval_width", "imputation_report"):
        assert getattr(metrics, name) is getattr(imputation, name)
    for name in ("auc_pr", "auc_roc", "best_f1", "f1_at_threshold", "vus_pr", "label_segments"):
        assert getattr(metrics, name) is getattr(detection, name)
    with pytest.raises(ImportError):
        importlib.import_module("tsdiff.scoring.metrics")


def test_point_metrics_only_score_masked_cells() -> None:
    truth = np.array([[1.0, 2.0], [3.0, np.nan]])
    prediction = np.array([[2.0, 2.0], [3.0, 100.0]])
    mask = np.array([[True, True], [True, False]])
    assert metrics.mae(truth, prediction, mask) == pytest.approx(1 / 3)
    assert metrics.rmse(truth, prediction, mask) == pytest.approx(np.sqrt(1 / 3))
    with pytest.raises(ValueError, match="NaN"):
        metrics.mae(truth, prediction, np.ones_like(mask))
    with pytest.raises(ValueError, match="no cell"):
        metrics.mae(truth, prediction, np.zeros_like(mask))


def test_crps_is_zero_for_a_point_mass_on_the_truth() -> None:
    truth = np.array([1.0, 2.0, 3.0])
    assert metrics.crps(truth, np.tile(truth, (5, 1))) == pytest.approx(0.0)
    assert metrics.crps(truth, np.tile(truth + 1.0, (5, 1))) > 0


def test_interval_metrics_and_report() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(50, 3)) + 5.0
    samples = truth + rng.normal(size=(200, 50, 3))
    mask = np.ones(truth.shape, dtype=bool)
    lower, upper = metrics.interval_from_samples(samples, 0.9)
    width = metrics.interval_width(truth, lower, upper, mask)
    assert 2.8 < width < 3.8  # 2 * 1.645 for a unit normal
    report = metrics.imputation_report(truth, samples, mask, coverage_level=0.9)
    assert set(report) == {"mae", "rmse", "crps", "coverage", "interval_width"}
    assert 0.8 < report["coverage"] <= 1.0
    assert report["interval_width"] == pytest.approx(width)
    with pytest.raises(ValueError, match="level"):
        metrics.interval_from_samples(samples, 1.5)


def test_detection_metrics_on_a_perfect_score() -> None:
    labels = np.zeros(200, dtype=int)
    labels[50:60] = 1
    labels[120:125] = 1
    scores = labels + 0.01 * np.arange(200) / 200
    assert metrics.label_segments(labels) == [(50, 59), (120, 124)]
    assert metrics.auc_roc(labels, scores) == pytest.approx(1.0)
    assert metrics.auc_pr(labels, scores) == pytest.approx(1.0)
    f1, threshold = metrics.best_f1(labels, scores)
    assert f1 == pytest.approx(1.0) and threshold >= 1.0
    at = metrics.f1_at_threshold(labels, scores, 0.5)
    assert at["f1"] == pytest.approx(1.0) and at["alarm_rate"] == pytest.approx(15 / 200)
    report = metrics.detection_report(labels, scores, threshold=0.5, window=10)
    assert report["vus_pr"] > 0.8 and report["f1"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="both classes"):
        metrics.auc_pr(np.zeros(10, dtype=int), np.arange(10.0))
    with pytest.raises(ValueError, match="NaN"):
        metrics.auc_pr(labels, np.where(labels == 1, np.nan, 0.0))


def test_linear_interpolation_uses_real_time_per_series() -> None:
    times = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 04:00"])
    index = pd.MultiIndex.from_arrays([["a"] * 3 + ["b"] * 3, times.append(times)])
    frame = pd.DataFrame(
        {
            "v": [0.0, np.nan, 4.0, 10.0, np.nan, np.nan],  # b: a trailing gap
            "w": [np.nan, np.nan, np.nan, 1.0, 2.0, 3.0],  # a: no value at all
        },
        index=index,
    )
    filled = linear_interpolation(frame)
    np.testing.assert_allclose(filled["v"], [0, 1, 4, 10, 10, 10])
    np.testing.assert_allclose(filled["w"], [2, 2, 2, 1, 2, 3])  # the column mean
    positional = linear_interpolation(pd.DataFrame({"v": [np.nan, 1.0, np.nan, 5.0]}))
    np.testing.assert_allclose(positional["v"], [1, 1, 3, 5])
