"""Tests of the pure scoring functions (no model involved)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from tsdiff import metrics
from tsdiff.data.frames import SeriesSet
from tsdiff.data.windows import build_window_store
from tsdiff.scoring import (
    MultiScaleSmoother,
    SensorNormaliser,
    aggregate_sensors,
    cell_scores,
    combine_windows,
    complementary_masks,
    drift_adjusted_threshold,
    extract_events,
    gaussian_nll,
    pot_threshold,
    quantile_threshold,
    rank_sensors,
    smooth_scores,
    smoothing_windows,
    standardised_error,
)

# -- masks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["strips", "checkerboard", "sensors"])
@pytest.mark.parametrize(("n_masks", "strip"), [(2, 1), (2, 4), (3, 2), (4, 5)])
def test_masks_hide_every_cell_exactly_once(pattern: str, n_masks: int, strip: int) -> None:
    masks = complementary_masks(5, 24, n_masks, strip, pattern)
    assert masks.shape == (n_masks, 5, 24)
    assert masks.dtype == bool
    np.testing.assert_array_equal(masks.sum(axis=0), 1)
    assert all(m.any() for m in masks)


def test_strip_masks_hide_whole_time_strips() -> None:
    masks = complementary_masks(3, 8, 2, 2, "strips")
    expected = np.array([1, 1, 0, 0, 1, 1, 0, 0], dtype=bool)
    for k in range(3):
        np.testing.assert_array_equal(masks[0, k], expected)
    checker = complementary_masks(3, 8, 2, 2, "checkerboard")
    assert not np.array_equal(checker[0, 0], checker[0, 1])  # staggered by sensor
    sensors = complementary_masks(5, 8, 2, 2, "sensors")
    np.testing.assert_array_equal(sensors[0].all(axis=1), [True, False, True, False, True])
    np.testing.assert_array_equal(sensors[1].all(axis=1), [False, True, False, True, False])
    with pytest.raises(ValueError, match="at least 6 sensors"):
        complementary_masks(5, 8, 6, 1, "sensors")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_masks": 1}, "n_masks"),
        ({"strip_length": 0}, "strip_length"),
        ({"pattern": "x"}, "pattern"),
    ],
)
def test_masks_reject_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        complementary_masks(2, 8, **kwargs)


# -- cell scores --------------------------------------------------------------------------


def test_gaussian_nll_matches_the_normal_density() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(6, 4, 5))
    values = rng.normal(size=(4, 5))
    floor = 0.2
    scale = np.sqrt(samples.var(axis=0, ddof=1) + floor**2)
    expected = -norm.logpdf(values, loc=samples.mean(axis=0), scale=scale)
    np.testing.assert_allclose(gaussian_nll(samples, values, floor), expected, rtol=1e-10)


def test_cell_scores_stay_finite_and_grow_with_the_deviation() -> None:
    samples = np.zeros((4, 3))  # identical samples: only the floor keeps the spread positive
    values = np.array([0.0, 1.0, 5.0])
    for method in ("nll", "error"):
        scores = cell_scores(samples, values, method, std_floor=0.1)
        assert np.isfinite(scores).all()
        assert scores[0] < scores[1] < scores[2]
    np.testing.assert_allclose(standardised_error(samples, values, 0.1), values / 0.1)
    one = cell_scores(np.zeros((1, 3)), values, "nll")  # a single sample works too
    assert np.isfinite(one).all()


def test_cell_scores_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        gaussian_nll(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="std_floor"):
        gaussian_nll(np.zeros((3, 2)), np.zeros(2), std_floor=0)
    with pytest.raises(ValueError, match="Unknown cell score"):
        cell_scores(np.zeros((3, 2)), np.zeros(2), "bad")


# -- normalisation, aggregation, combination -------------------------------------------------


def test_robust_normaliser_centres_scales_and_floors_constant_sensors() -> None:
    rng = np.random.default_rng(1)
    scores = np.column_stack(
        [rng.normal(5, 2, 4000), rng.normal(-1, 0.5, 4000), np.full(4000, 3.0)]
    )
    scores[:10, 0] = np.nan
    normaliser = SensorNormaliser("robust").fit(scores)
    np.testing.assert_allclose(normaliser.centre_[:2], [5, -1], atol=0.15)
    np.testing.assert_allclose(normaliser.scale_[:2], [2, 0.5], rtol=0.1)
    assert normaliser.scale_[2] == pytest.approx(0.1 * np.median(normaliser.scale_[:2]))
    out = normaliser.transform(np.array([[np.nan, -1.0, 3.0]]))
    assert np.isnan(out[0, 0]) and out[0, 1] == pytest.approx(0, abs=0.3) and out[0, 2] == 0
    standard = SensorNormaliser("standard").fit(scores)
    np.testing.assert_allclose(standard.scale_[:2], [2, 0.5], rtol=0.1)


def test_normaliser_warns_for_sensors_without_calibration_scores() -> None:
    scores = np.column_stack([np.arange(10.0), np.full(10, np.nan)])
    with pytest.warns(UserWarning, match="no calibration score"):
        normaliser = SensorNormaliser().fit(scores)
    assert normaliser.scale_[1] == 1 and normaliser.centre_[1] == 0
    with pytest.raises(ValueError, match="normalisation"):
        SensorNormaliser("bad")


def test_aggregate_sensors_max_topk_and_missing() -> None:
    scores = np.array([[1.0, 5.0, 3.0], [np.nan, 2.0, np.nan], [np.nan, np.nan, np.nan]])
    np.testing.assert_array_equal(aggregate_sensors(scores, "max"), [5.0, 2.0, np.nan])
    np.testing.assert_array_equal(aggregate_sensors(scores, "topk", top_k=2), [4.0, 2.0, np.nan])
    with pytest.raises(ValueError, match="aggregation"):
        aggregate_sensors(scores, "mean")


def test_aggregate_sensors_cap_counts_large_scores_as_the_cap() -> None:
    # one sensor far out of range vs two moderately high sensors
    scores = np.array([[1000.0, 0.0, 0.0], [40.0, 40.0, 0.0], [np.nan, 80.0, np.nan]])
    plain = aggregate_sensors(scores, "topk", top_k=2)
    np.testing.assert_allclose(plain, [500.0, 40.0, 80.0])
    capped = aggregate_sensors(scores, "topk", top_k=2, cap=50.0)
    np.testing.assert_allclose(capped, [25.0, 40.0, 50.0])  # agreement now ranks first
    assert np.isnan(scores[2, 0])  # the input is not modified
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="cap"):
            aggregate_sensors(scores, "topk", cap=bad)


def test_combine_windows_averages_overlaps_and_keeps_unscored_cells_nan() -> None:
    series = SeriesSet([np.zeros((10, 2))], [np.arange(10.0)])
    store = build_window_store(series, series.values, length=4, stride=2)  # starts 0, 2, 4, 6
    scores = np.stack([np.full((2, 4), float(w)) for w in range(store.n_windows)])
    scores[:, 1, :] = np.nan
    (combined,) = combine_windows(store, scores, "mean")
    np.testing.assert_allclose(combined[:, 0], [0, 0, 0.5, 0.5, 1.5, 1.5, 2.5, 2.5, 3, 3])
    assert np.isnan(combined[:, 1]).all()
    (centre,) = combine_windows(store, scores, "centre")
    assert centre[0, 0] == 0 and centre[9, 0] == 3
    with pytest.raises(ValueError, match="shape"):
        combine_windows(store, scores[:2])


def test_smooth_scores_is_a_centred_nan_aware_moving_average() -> None:
    x = np.array([0.0, 0.0, 3.0, 0.0, 0.0])
    np.testing.assert_allclose(smooth_scores(x, 3), [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(smooth_scores(x, 1), x)
    with_nan = np.array([1.0, np.nan, 3.0])
    np.testing.assert_allclose(smooth_scores(with_nan, 3), [1, 2, 3])
    assert smooth_scores(np.ones((4, 2)), 2).shape == (4, 2)


def test_multi_scale_smoother_keeps_each_cell_s_most_unusual_normalised_scale() -> None:
    rng = np.random.default_rng(0)
    calibration = [rng.normal(size=(500, 2)), rng.normal(size=(300, 2))]
    smoother = MultiScaleSmoother((1, 25)).fit(calibration)
    assert smoother.centre_.shape == smoother.scale_.shape == (2, 2)
    # averaging 25 independent scores shrinks their spread about 5-fold; each scale's own
    # normalisation undoes that, so both scales are on the same footing
    assert 3.5 < smoother.scale_[0, 0] / smoother.scale_[1, 0] < 7.0
    test = rng.normal(size=(400, 2))
    test[100, 0] += 8.0  # one-step spike: the short scale sees it
    test[250:350, 1] += 1.0  # sustained small shift: only the long scale sees it
    out = smoother.transform(test)
    by_scale = [
        (smooth_scores(test, w) - smoother.centre_[i]) / smoother.scale_[i]
        for i, w in enumerate((1, 25))
    ]
    np.testing.assert_allclose(out, np.maximum(*by_scale))
    assert out[100, 0] == by_scale[0][100, 0] and out[100, 0] > 6
    assert np.median(out[270:330, 1]) > 3 > np.median(by_scale[0][270:330, 1])


def test_multi_scale_smoother_ignores_nan_and_checks_shapes() -> None:
    rng = np.random.default_rng(1)
    smoother = MultiScaleSmoother([1, 3]).fit([rng.normal(size=(100, 2))])
    table = rng.normal(size=(10, 2))
    table[:, 1] = np.nan
    table[5, 0] = np.nan
    out = smoother.transform(table)
    assert np.isnan(out[:, 1]).all()  # never observed: never scored
    assert np.isfinite(out[5, 0])  # the 3-step average still has neighbours
    with pytest.raises(ValueError, match="2 sensors"):
        smoother.transform(rng.normal(size=(10, 3)))
    with pytest.raises(ValueError, match="at least one table"):
        MultiScaleSmoother([1, 3]).fit([])
    with pytest.raises(ValueError, match="not fitted"):
        MultiScaleSmoother([1, 3]).transform(table)
    with pytest.raises(ValueError, match="2-D"):
        MultiScaleSmoother([1, 3]).fit([np.zeros(10)])


@pytest.mark.parametrize(
    ("smoothing", "match"),
    [
        ((), "at least one"),
        ((1, 0), "integers >= 1"),
        ((1, 2.5), "integers >= 1"),
        ((5, 5), "repeats"),
    ],
)
def test_smoothing_windows_names_bad_lengths(smoothing: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        smoothing_windows(smoothing)


def test_smoothing_windows_accepts_an_int_or_a_sequence() -> None:
    assert smoothing_windows(31) == (31,)
    assert smoothing_windows([1, np.int64(31)]) == (1, 31)


# -- thresholds ---------------------------------------------------------------------------


def test_quantile_threshold_flags_the_requested_rate() -> None:
    scores = np.arange(1000.0)
    assert quantile_threshold(scores, 0.01) == pytest.approx(np.quantile(scores, 0.99))
    with pytest.raises(ValueError, match="rate"):
        quantile_threshold(scores, 0)


def test_pot_threshold_extrapolates_an_exponential_tail() -> None:
    scores = np.random.default_rng(2).exponential(size=20000)
    risk = 1e-4  # beyond the data's resolution: the tail fit must extrapolate
    threshold = pot_threshold(scores, risk=risk, initial_level=0.95)
    assert threshold == pytest.approx(-np.log(risk), rel=0.15)
    with pytest.raises(ValueError, match="exceed"):
        pot_threshold(np.arange(100.0), risk=1e-3, initial_level=0.99)
    with pytest.raises(ValueError, match="No finite"):
        pot_threshold(np.full(10, np.nan))


def test_drift_adjusted_threshold_follows_the_median_rise_and_never_falls() -> None:
    calibration = np.random.default_rng(3).normal(size=5000)  # median about 0
    drifted = calibration + 4.0
    drifted[:100] += 50.0  # a few anomalies do not move the median much
    adjusted = drift_adjusted_threshold(3.0, drifted, calibration)
    assert adjusted == pytest.approx(3.0 + np.median(drifted) - np.median(calibration))
    assert 6.9 < adjusted < 7.1
    assert drift_adjusted_threshold(3.0, calibration - 2.0, calibration) == 3.0
    with_nan = np.r_[drifted, np.full(50, np.nan)]
    assert drift_adjusted_threshold(3.0, with_nan, calibration) == pytest.approx(
        3.0 + np.median(drifted) - np.median(calibration)
    )
    assert drift_adjusted_threshold(3.0, np.full(5, np.nan), calibration) == 3.0
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        drift_adjusted_threshold(np.nan, drifted, calibration)
    with pytest.raises(ValueError, match="No finite calibration score"):
        drift_adjusted_threshold(3.0, drifted, np.full(5, np.nan))


# -- events -------------------------------------------------------------------------------


def test_extract_events_groups_alarms_and_ranks_sensors() -> None:
    flags = np.array([0, 1, 1, 0, 1, 0, 0, 0, 1, 0])
    scores = np.arange(10.0)
    sensors = np.zeros((10, 3))
    sensors[1:5, 2] = 9.0
    sensors[1:5, 0] = 4.0
    sensors[8, 1] = 7.0
    events = extract_events(flags, scores, sensors, max_gap=1, top_sensors=2)
    assert [(e.start, e.end, e.peak) for e in events] == [(1, 4, 4), (8, 8, 8)]
    assert events[0].sensors == [2, 0] and events[0].sensor_scores == [9.0, 4.0]
    assert events[1].sensors[0] == 1
    assert len(extract_events(flags, scores, max_gap=0)) == 3
    assert len(extract_events(flags, scores, max_gap=1, min_length=2)) == 1
    assert extract_events(np.zeros(5), np.zeros(5)) == []


def test_rank_sensors_puts_unscored_sensors_last() -> None:
    order, contribution = rank_sensors(np.array([[1.0, np.nan, 3.0], [2.0, np.nan, 0.0]]))
    assert order.tolist() == [2, 0, 1]
    assert contribution[:2].tolist() == [3.0, 2.0] and np.isnan(contribution[2])


# -- metrics ------------------------------------------------------------------------------


def _labelled(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=int)
    for start in rng.choice(n - 60, 5, replace=False):
        labels[start : start + rng.integers(1, 50)] = 1
    return labels, rng.normal(size=n) + 2.0 * labels


def test_point_metrics_on_perfect_and_informative_scores() -> None:
    labels, scores = _labelled()
    assert metrics.best_f1(labels, labels.astype(float))[0] == pytest.approx(1.0)
    assert metrics.auc_roc(labels, labels.astype(float)) == 1.0
    assert 0.8 < metrics.auc_roc(labels, scores) < 1.0
    assert metrics.auc_pr(labels, scores) > labels.mean()
    at = metrics.f1_at_threshold(labels, labels.astype(float), 0.5)
    assert (
        at["f1"] == 1.0
        and at["precision"] == 1.0
        and at["alarm_rate"] == pytest.approx(labels.mean())
    )
    f1, threshold = metrics.best_f1(labels, scores)
    assert f1 == pytest.approx(
        metrics.f1_at_threshold(labels, scores, np.nextafter(threshold, -np.inf))["f1"]
    )


def test_label_segments() -> None:
    assert metrics.label_segments(np.array([1, 1, 0, 0, 1, 0, 1])) == [(0, 1), (4, 4), (6, 6)]
    assert metrics.label_segments(np.zeros(4)) == []


def test_vus_pr_orders_perfect_informative_and_random_scores() -> None:
    labels, scores = _labelled()
    random = np.random.default_rng(5).random(len(labels))
    perfect = metrics.vus_pr(labels, labels.astype(float), window=20)
    assert (
        perfect
        > metrics.vus_pr(labels, scores, window=20)
        > metrics.vus_pr(labels, random, window=20)
    )
    assert perfect > 0.9
    report = metrics.detection_report(labels, scores, threshold=1.0, window=20)
    assert set(report) >= {"vus_pr", "auc_pr", "auc_roc", "best_f1", "f1"}


@pytest.mark.parametrize("seed", range(4))
def test_vus_pr_equals_the_tsb_ad_package(seed: int) -> None:
    basic = pytest.importorskip(
        "TSB_AD.evaluation.basic_metrics",
        reason="the reference needs `pip install --no-deps tsb-ad statsmodels`",
    )
    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 1500))
    labels = np.zeros(n, dtype=int)
    for _ in range(int(rng.integers(1, 5))):
        start = int(rng.integers(0, n))
        labels[start : start + int(rng.integers(1, 60))] = 1
    if seed == 0:
        labels[:3] = 1  # an anomaly at the very start
    if seed == 1:
        labels[-2:] = 1  # and at the very end
    scores = rng.normal(size=n) + labels * rng.uniform(0.5, 2)
    if seed % 2:
        scores = np.round(scores, 1)  # ties
    window = int(rng.integers(0, 40))
    expected = basic.generate_curve(labels, scores, window)[-1]
    assert metrics.vus_pr(labels, scores, window=window) == pytest.approx(expected, abs=1e-12)


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="both classes"):
        metrics.vus_pr(np.zeros(10), np.arange(10.0))
    with pytest.raises(ValueError, match="NaN"):
        metrics.auc_roc(np.array([0, 1]), np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        metrics.best_f1(np.array([0, 1]), np.zeros(3))
    with pytest.raises(ValueError, match="0/1"):
        metrics.auc_pr(np.array([0, 2]), np.zeros(2))
