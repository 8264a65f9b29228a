"""Unit tests of the detector's parts: TopK, the thresholders and MaskedReimputationScorer.

No network is involved: the scorer gets a fake ``sample`` callable with known samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.base import clone

from tsdiff.data.frames import SeriesSet
from tsdiff.data.windows import WindowStore, build_window_store
from tsdiff.scoring import POT, Contamination, FixedThreshold, MaskedReimputationScorer, TopK

# -- TopK ---------------------------------------------------------------------------------------


def _raw_tables(seed: int = 0) -> list[np.ndarray]:
    """Two series of raw cell scores of three sensors with different levels and spreads."""
    rng = np.random.default_rng(seed)
    return [rng.normal([1.0, 5.0, -2.0], [1.0, 2.0, 0.5], size=(n, 3)) for n in (200, 120)]


def test_topk_normalises_each_sensor_on_the_calibration_scores() -> None:
    tables = _raw_tables()
    topk = TopK(k=2, cap=None, smoothing=1).fit(tables)
    stacked = np.concatenate(tables)
    np.testing.assert_allclose(topk.centre_, stacked.mean(axis=0))
    np.testing.assert_allclose(topk.scale_, stacked.std(axis=0))
    assert topk.smoothing_centre_ is None and topk.smoothing_scale_ is None
    raw = np.array([[1.0, 5.0, -2.0], [3.0, 9.0, np.nan]])
    expected = (raw - stacked.mean(axis=0)) / stacked.std(axis=0)
    np.testing.assert_allclose(topk.sensor_scores(raw), expected)
    # robust normalisation: median and IQR / 1.349
    robust = TopK(smoothing=1, normalisation="robust").fit(tables)
    q25, q50, q75 = np.percentile(stacked, [25, 50, 75], axis=0)
    np.testing.assert_allclose(robust.centre_, q50)
    np.testing.assert_allclose(robust.scale_, (q75 - q25) / 1.349)


def test_topk_smoothing_is_a_centred_moving_average_per_sensor() -> None:
    topk = TopK(k=1, smoothing=3).fit(_raw_tables())
    raw = np.zeros((7, 3)) + topk.centre_
    raw[3, 1] += 3.0 * topk.scale_[1]  # a spike of 3 normalised units on sensor 1
    smoothed = topk.sensor_scores(raw)
    np.testing.assert_allclose(smoothed[:, 1], [0, 0, 1, 1, 1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(smoothed[:, [0, 2]], 0.0, atol=1e-12)


def test_topk_aggregate_mean_of_the_k_largest_with_a_cap() -> None:
    table = np.array(
        [
            [1.0, 2.0, 3.0, 4.0],
            [100.0, 0.0, -1.0, np.nan],
            [np.nan, np.nan, 5.0, np.nan],
            [np.nan, np.nan, np.nan, np.nan],
        ]
    )
    np.testing.assert_allclose(
        TopK(k=2, cap=None).aggregate(table), [3.5, 50.0, 5.0, np.nan], equal_nan=True
    )
    # above the cap a sensor counts as the cap in the mean: one broken sensor cannot dominate
    np.testing.assert_allclose(
        TopK(k=2, cap=10.0).aggregate(table), [3.5, 5.0, 5.0, np.nan], equal_nan=True
    )
    # k larger than the sensors averages all scored ones
    np.testing.assert_allclose(
        TopK(k=9, cap=None).aggregate(table), [2.5, 33.0, 5.0, np.nan], equal_nan=True
    )


def test_topk_with_k1_and_no_cap_is_the_row_maximum() -> None:
    rng = np.random.default_rng(2)
    table = rng.normal(size=(50, 5))
    table[rng.random(table.shape) < 0.3] = np.nan
    table[7] = np.nan
    out = TopK(k=1, cap=None).aggregate(table)
    expected = np.full(50, np.nan)
    rows = ~np.isnan(table).all(axis=1)
    expected[rows] = np.nanmax(table[rows], axis=1)
    np.testing.assert_array_equal(out, expected)
    # with a cap, k=1 is the capped maximum
    np.testing.assert_array_equal(TopK(k=1, cap=0.5).aggregate(table), np.minimum(expected, 0.5))


def test_topk_multi_scale_needs_fit_with_the_same_lengths() -> None:
    tables = _raw_tables()
    with pytest.raises(ValueError, match="not fitted"):
        TopK().sensor_scores(tables[0])
    multi = TopK(smoothing=(1, 5)).fit(tables)
    assert multi.smoothing_centre_.shape == (2, 3) and multi.smoothing_scale_.shape == (2, 3)
    scores = multi.sensor_scores(tables[0])
    assert scores.shape == tables[0].shape and np.isfinite(scores).all()
    # a list of the same lengths is the same setting
    same = clone(multi).set_params(smoothing=[1, 5])
    same.__dict__.update({k: v for k, v in vars(multi).items() if k.endswith("_")})
    np.testing.assert_array_equal(same.sensor_scores(tables[0]), scores)
    # fitted with one length, used with two: refused until fitted again
    single = TopK(smoothing=1).fit(tables)
    single.set_params(smoothing=(1, 5))
    with pytest.raises(ValueError, match="differs from the lengths"):
        single.sensor_scores(tables[0])
    single.set_params(smoothing=(1, 9)).fit(tables)
    assert single.sensor_scores(tables[0]).shape == tables[0].shape
    with pytest.raises(ValueError, match="no observed value"):
        TopK().fit([np.full((10, 3), np.nan)])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"k": 0}, "'k' parameter"),
        ({"cap": 0}, "'cap' parameter"),
        ({"cap": -5.0}, "'cap' parameter"),
        ({"smoothing": (1, 0)}, "smoothing window lengths"),
        ({"smoothing": (3, 3)}, "repeats a window length"),
        ({"smoothing": ()}, "at least one window length"),
        ({"smoothing": "31"}, "'smoothing' parameter"),
        ({"normalisation": "minmax"}, "'normalisation' parameter"),
    ],
)
def test_topk_validate_names_the_parameter(params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TopK(**params).validate()
    with pytest.raises(ValueError, match=match):
        TopK(**params).fit(_raw_tables())


# -- thresholders -------------------------------------------------------------------------------


def test_contamination_flags_its_rate_of_the_calibration_scores() -> None:
    scores = np.random.default_rng(0).normal(size=2000)
    thresholder = Contamination(rate=0.1).fit(scores)
    assert thresholder.method_ == "contamination"
    assert thresholder.threshold_ == pytest.approx(np.quantile(scores, 0.9))
    assert np.mean(scores > thresholder.threshold_) == pytest.approx(0.1, abs=0.001)
    assert thresholder.calibration_median_ == pytest.approx(np.median(scores))


def test_fixed_threshold_is_the_given_value() -> None:
    scores = np.arange(50.0)
    thresholder = FixedThreshold(value=3.5).fit(scores)
    assert thresholder.threshold_ == 3.5 and thresholder.method_ == "fixed"
    assert thresholder.threshold_for(scores) == 3.5
    assert thresholder.calibration_median_ == pytest.approx(24.5)


def test_pot_extrapolates_the_tail_and_falls_back_to_a_quantile() -> None:
    rng = np.random.default_rng(0)
    scores = rng.exponential(size=20000)
    pot = POT(risk=1e-3, level=0.98).fit(scores)
    assert pot.method_ == "pot"
    # an exponential tail: P(score > z) = exp(-z)
    assert pot.threshold_ == pytest.approx(-np.log(1e-3), rel=0.1)
    assert pot.threshold_ > np.quantile(scores, 0.98)
    # 100 scores leave 2 peaks over the 0.98 quantile: too few to fit, so a quantile
    few = scores[:100]
    fallback = POT(risk=0.05, level=0.98).fit(few)
    assert fallback.method_ == "quantile"
    assert fallback.threshold_ == pytest.approx(np.quantile(few, 0.95))
    # the quantile rate is at least one score
    tiny_risk = POT(risk=1e-6).fit(few)
    assert tiny_risk.method_ == "quantile"
    assert tiny_risk.threshold_ == pytest.approx(np.quantile(few, 1 - 1 / few.size))


@pytest.mark.parametrize(
    "thresholder",
    [POT(drift=True), Contamination(rate=0.05, drift=True), FixedThreshold(2.0, True)],
)
def test_drift_raises_the_threshold_only_upwards(thresholder: Any) -> None:
    calibration = np.random.default_rng(1).normal(size=3000)
    thresholder = clone(thresholder).fit(calibration)
    base = thresholder.threshold_
    median = np.median(calibration)
    shifted = np.random.default_rng(2).normal(size=500) + 3.0
    assert thresholder.threshold_for(shifted) == pytest.approx(base + np.median(shifted) - median)
    assert thresholder.threshold_for(shifted - 6.0) == base  # lower scores keep it
    assert thresholder.threshold_for(np.array([np.nan, np.nan])) == base
    plain = clone(thresholder).set_params(drift=False).fit(calibration)
    assert plain.threshold_ == base and plain.threshold_for(shifted) == base


@pytest.mark.parametrize("thresholder", [POT(), Contamination(), FixedThreshold(1.0)])
def test_thresholders_need_two_finite_scores_and_a_fit(thresholder: Any) -> None:
    with pytest.raises(ValueError, match="is not fitted"):
        clone(thresholder).threshold_for(np.zeros(5))
    for scores in (np.array([1.0]), np.array([np.nan, np.inf, 2.0]), np.array([])):
        with pytest.raises(ValueError, match=r"gave \d finite score"):
            clone(thresholder).fit(scores)
    fitted = clone(thresholder).fit(np.array([np.nan, 1.0, 2.0, np.inf]))  # two finite: enough
    assert np.isfinite(fitted.threshold_)


@pytest.mark.parametrize(
    ("thresholder", "match"),
    [
        (POT(risk=0.0), "'risk' parameter"),
        (POT(risk=1.5), "'risk' parameter"),
        (POT(level=1.0), "'level' parameter"),
        (Contamination(rate=0.7), "'rate' parameter"),
        (Contamination(rate=0.0), "'rate' parameter"),
        (FixedThreshold(value=np.inf), "'value' parameter"),
        (POT(drift="yes"), "'drift' parameter"),
    ],
)
def test_thresholder_validate_names_the_parameter(thresholder: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        thresholder.validate()
    with pytest.raises(ValueError, match=match):
        clone(thresholder).fit(np.arange(100.0))


# -- MaskedReimputationScorer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "window_length", "diffusion_steps", "match"),
    [
        ({"n_masks": 1}, 16, 10, "'n_masks' parameter"),
        ({"n_samples": 0}, 16, 10, "'n_samples' parameter"),
        ({"std_floor": 0.0}, 16, 10, "'std_floor' parameter"),
        ({"stride": 0}, 16, 10, "'stride' parameter"),
        ({"mask_pattern": "rows"}, 16, 10, "'mask_pattern' parameter"),
        ({"cell_score": "l2"}, 16, 10, "'cell_score' parameter"),
        ({"strip_length": 20}, 32, 10, r"n_masks \* strip_length \(2 \* 20\) exceeds"),
        ({"n_masks": 5, "strip_length": 1}, 4, 10, r"n_masks \(5\) cannot exceed window_length"),
        ({"sampling_steps": 11}, 32, 10, r"sampling_steps \(11\) cannot exceed .*\(10\)"),
    ],
)
def test_scorer_validate_names_the_problem(
    params: dict, window_length: int, diffusion_steps: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        MaskedReimputationScorer(**params).validate(window_length, diffusion_steps)


def test_scorer_valid_settings_pass() -> None:
    MaskedReimputationScorer(strip_length=8).validate(16, 10)
    MaskedReimputationScorer(mask_pattern="sensors", n_masks=3, strip_length=99).validate(16, 5)


def _store(values: np.ndarray, length: int, stride: int) -> WindowStore:
    series = SeriesSet([values], [np.arange(len(values), dtype=np.float64)])
    return build_window_store(series, [values], length, stride, anchors=False)


class FakeSampler:
    """Samples with a known spread around zero on hidden cells and 100 on visible ones.

    Records the condition masks and the windows it was asked for.
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self, store: WindowStore, condition: np.ndarray, n_samples: int, steps: int
    ) -> np.ndarray:
        self.calls.append(
            {"starts": store.starts.copy(), "condition": condition.copy(), "n": n_samples}
        )
        self.calls[-1]["steps"] = steps
        offsets = np.linspace(-1.0, 1.0, n_samples)[None, :, None, None]  # ddof=1 variance known
        drawn = np.broadcast_to(offsets, (store.n_windows, n_samples, *condition.shape[1:]))
        return np.where(condition[:, None], 100.0, drawn).astype(np.float32)


@pytest.mark.parametrize("pattern", ["strips", "checkerboard", "sensors"])
@pytest.mark.parametrize("stride", [None, 4])
def test_scorer_hides_each_cell_once_and_scores_the_gaussian_nll(
    pattern: str, stride: int | None
) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(24, 3))
    values[5, 1] = np.nan  # a missing cell is not scored
    scorer = MaskedReimputationScorer(
        n_samples=3,
        sampling_steps=2,
        n_masks=2,
        strip_length=2,
        mask_pattern=pattern,
        std_floor=1.0,
        stride=stride,
    )
    store = _store(values, 8, stride or 8)
    sampler = FakeSampler()
    (scores,) = scorer.cell_scores(store, sampler)
    assert scores.shape == values.shape
    call = sampler.calls[0]
    assert len(sampler.calls) == 1 and call["n"] == 3 and call["steps"] == 2
    # each window is asked for once per mask; the masks of a window hide each cell once
    n_windows = store.n_windows
    np.testing.assert_array_equal(call["starts"], np.repeat(store.starts, 2))
    hidden = ~call["condition"].reshape(n_windows, 2, 3, 8)
    np.testing.assert_array_equal(hidden.sum(axis=1), 1)
    np.testing.assert_array_equal(hidden[0], scorer.masks(3, 8))
    # samples -1, 0, 1: mean 0, variance 1 (ddof=1), plus std_floor^2 = 1
    stored = np.where(np.isnan(values), np.nan, values.astype(np.float32).astype(np.float64))
    expected = 0.5 * np.log(2 * np.pi * 2.0) + 0.5 * stored**2 / 2.0
    np.testing.assert_allclose(scores, expected, rtol=1e-6, equal_nan=True)
    assert np.isnan(scores[5, 1]) and np.isfinite(np.delete(scores.ravel(), 5 * 3 + 1)).all()


def test_scorer_error_score_is_the_standardised_distance_from_the_median() -> None:
    values = np.random.default_rng(1).normal(size=(16, 2))
    scorer = MaskedReimputationScorer(
        n_samples=5, sampling_steps=1, strip_length=4, cell_score="error", std_floor=0.5
    )
    (scores,) = scorer.cell_scores(_store(values, 8, 8), FakeSampler())
    spread = np.sqrt(np.var(np.linspace(-1, 1, 5), ddof=1) + 0.25)
    np.testing.assert_allclose(scores, np.abs(values) / spread, rtol=1e-6)


def test_scorer_chunks_and_multiple_series_are_put_back_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tsdiff.scoring.scorers as scorers

    monkeypatch.setattr(scorers, "_CELLS_PER_CHUNK", 2 * 2 * 3 * 8)  # one window per chunk
    rng = np.random.default_rng(3)
    first, second = rng.normal(size=(16, 3)), rng.normal(size=(11, 3))
    series = SeriesSet([first, second], [np.arange(16.0), np.arange(11.0)])
    store = build_window_store(series, [first, second], 8, 8, anchors=False)
    scorer = MaskedReimputationScorer(n_samples=2, sampling_steps=1, strip_length=4)
    sampler = FakeSampler()
    out = scorer.cell_scores(store, sampler)
    assert len(sampler.calls) == store.n_windows > 2
    var = np.var([-1.0, 1.0], ddof=1) + 1.0
    for got, raw in zip(out, (first, second), strict=True):
        assert got.shape == raw.shape
        raw32 = raw.astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(
            got, 0.5 * np.log(2 * np.pi * var) + 0.5 * raw32**2 / var, rtol=1e-6
        )


def test_topk_warns_that_a_capped_maximum_ties() -> None:
    with pytest.warns(UserWarning, match="tie"):
        TopK(k=1, cap=5.0, smoothing=1).fit(_raw_tables())
