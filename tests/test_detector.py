"""Tests of ``TSDiffAnomalyDetector`` with tiny models on synthetic data (and a small SMD slice)."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from tsdiff import TSDiffAnomalyDetector, TSDiffImputer
from tsdiff.api._detection_result import DetectionResult
from tsdiff.data.frames import column_identity
from tsdiff.metrics import vus_pr
from tsdiff.scoring import (
    POT,
    Contamination,
    FixedThreshold,
    MaskedReimputationScorer,
    MultiScaleSmoother,
    TopK,
    rank_sensors,
)

torch.set_num_threads(1)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

MODEL: dict[str, Any] = {
    "channels": 16,
    "n_layers": 1,
    "n_heads": 1,
    "diffusion_embedding_dim": 16,
    "time_embedding_dim": 16,
    "feature_embedding_dim": 4,
    "diffusion_steps": 10,
}
TINY: dict[str, Any] = {
    "window_length": 32,
    "model": MODEL,
    "scorer": MaskedReimputationScorer(n_samples=3, sampling_steps=5, strip_length=16),
    "aggregator": TopK(k=1, cap=None, smoothing=1),
    "batch_size": 32,
    "trainer_kwargs": {"accelerator": "cpu"},
    "verbose": False,
    "random_state": 0,
}
MAX = TopK(k=1, cap=None, smoothing=1)  # the row maximum of the per-sensor table
PERIOD = 24
N_TRAIN = 1200
HELD_OUT = round(0.2 * N_TRAIN)  # the calibration part fit holds out


def sensors(n: int, seed: int, start: str = "2024-01-01") -> pd.DataFrame:
    """Four related periodic sensors with a little noise, one row per minute."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    a = np.sin(2 * np.pi * t / PERIOD)
    b = np.sin(2 * np.pi * t / PERIOD + 1.0)
    values = np.column_stack([a, b, 0.5 * (a + b), np.cos(2 * np.pi * t / 60)])
    values += 0.05 * rng.normal(size=values.shape)
    index = pd.date_range(start, periods=n, freq="min", name="time")
    return pd.DataFrame(values, index=index, columns=["flow", "pressure", "power", "temp"])


# Injected anomalies of the test frame: (kind, first row, last row, sensor).
INJECTED = [
    ("spike", 60, 61, "pressure"),
    ("level shift", 150, 157, "power"),
    ("frozen", 250, 265, "flow"),
    ("spike", 340, 341, "temp"),
]


def with_anomalies(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    out = frame.copy()
    labels = np.zeros(len(frame), dtype=int)
    for kind, first, last, sensor in INJECTED:
        rows = slice(first, last + 1)
        column = out.columns.get_loc(sensor)
        if kind == "spike":
            out.iloc[rows, column] += 4.5
        elif kind == "level shift":
            out.iloc[rows, column] += 2.0
        else:
            out.iloc[rows, column] = out.iloc[first, column]
        labels[rows] = 1
    return out, labels


def copy_of(detector: TSDiffAnomalyDetector) -> TSDiffAnomalyDetector:
    """An independent fitted copy (pickling drops the cached last result)."""
    return pickle.loads(pickle.dumps(detector))


class SamplingCounter:
    """Wraps a detector's ``_sample_windows`` to count the calls."""

    def __init__(self, detector: TSDiffAnomalyDetector) -> None:
        self.calls = 0
        original = detector._sample_windows

        def counted(*args: Any, **kwargs: Any) -> np.ndarray:
            self.calls += 1
            return original(*args, **kwargs)

        detector._sample_windows = counted  # type: ignore[method-assign]


def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import tsdiff.training.fit as fit

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("bad parameters must fail before training")

    monkeypatch.setattr(fit, "train_denoiser", refuse)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return sensors(N_TRAIN, seed=0)


@pytest.fixture(scope="module")
def held_out(train: pd.DataFrame) -> pd.DataFrame:
    """The end of the training data that fit held out for calibration."""
    return train.iloc[-HELD_OUT:]


@pytest.fixture(scope="module")
def fitted(train: pd.DataFrame) -> TSDiffAnomalyDetector:
    # Staggered strips keep the other sensors partly visible at each hidden step: a tiny model
    # trained for seconds then catches a frozen sensor through the broken relation to the others
    # (with whole-window strips it extrapolates the frozen value flat and agrees with it).
    scorer = MaskedReimputationScorer(
        n_samples=3, sampling_steps=5, strip_length=8, mask_pattern="checkerboard"
    )
    # train_stride=1 (the old detector's default): the drift test below needs a model trained on
    # every window
    detector = TSDiffAnomalyDetector(
        **{**TINY, "max_epochs": 20, "train_stride": 1, "scorer": scorer}
    )
    return detector.fit(train)


@pytest.fixture(scope="module")
def test_frame() -> tuple[pd.DataFrame, np.ndarray]:
    return with_anomalies(sensors(400, seed=1, start="2024-02-01"))


def test_scores_are_aligned_to_the_index(
    fitted: TSDiffAnomalyDetector, held_out: pd.DataFrame, test_frame: tuple
) -> None:
    frame, _ = test_frame
    scores = fitted.decision_function(frame)
    assert isinstance(scores, pd.Series) and scores.index.equals(frame.index)
    assert scores.name == "score" and np.isfinite(scores.to_numpy()).all()
    flags = fitted.predict(frame)
    assert flags.index.equals(frame.index) and set(np.unique(flags)) <= {0, 1}
    np.testing.assert_array_equal(
        flags.to_numpy(), (scores.to_numpy() > fitted.threshold_).astype(int)
    )
    table = fitted.feature_scores(frame)
    assert table.index.equals(frame.index) and list(table.columns) == list(frame.columns)
    # with TopK(k=1, cap=None) a time-step score is the largest of its row of sensor scores
    np.testing.assert_allclose(scores.to_numpy(), table.to_numpy().max(axis=1))
    # another aggregator needs a new calibration before it scores
    top2 = copy_of(fitted).set_params(aggregator=TopK(k=2, cap=None, smoothing=1))
    with pytest.raises(ValueError, match=r"aggregator changed since calibration.*calibrate"):
        top2.decision_function(frame)
    top2.calibrate(held_out)
    # calibrated on the held-out part fit used (sampling is seeded): the same sensor table
    np.testing.assert_allclose(top2.feature_scores(frame).to_numpy(), table.to_numpy())
    np.testing.assert_allclose(
        top2.decision_function(frame).to_numpy(),
        -np.sort(-table.to_numpy(), axis=1)[:, :2].mean(axis=1),
    )


def test_score_returns_one_result_that_the_other_methods_reuse(
    fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, _ = test_frame
    detector = copy_of(fitted)
    counter = SamplingCounter(detector)
    result = detector.detect(frame)
    assert isinstance(result, DetectionResult)
    sampled = counter.calls
    assert sampled >= 1 and result.seconds > 0
    pd.testing.assert_series_equal(detector.decision_function(frame), result.scores)
    pd.testing.assert_series_equal(detector.predict(frame), result.labels)
    pd.testing.assert_frame_equal(detector.feature_scores(frame), result.sensor_scores)
    pd.testing.assert_frame_equal(detector.predict_events(frame), result.events())
    pd.testing.assert_frame_equal(
        detector.predict_events(frame, max_gap=3, top_sensors=1),
        result.events(max_gap=3, top_sensors=1),
    )
    pd.testing.assert_series_equal(detector.score_samples(frame), -result.scores)
    detector.predict_proba(frame)
    detector.predict_confidence(frame)
    assert detector.detect(frame) is result
    # none of these sampled again
    assert counter.calls == sampled
    assert result.thresholds == [detector.threshold_]
    np.testing.assert_array_equal(
        result.labels.to_numpy(), (result.scores.to_numpy() > detector.threshold_).astype(int)
    )
    # an equal copy of the input is the same input
    detector.decision_function(frame.copy())
    assert counter.calls == sampled
    # other input samples again: another slice, or the same frame with one value changed
    detector.decision_function(frame.iloc[:200])
    assert counter.calls > sampled
    sampled = counter.calls
    changed = frame.copy()
    changed.iloc[10, 0] += 1.0
    detector.decision_function(changed)
    assert counter.calls > sampled


def test_pyod_attributes_after_fit(fitted: TSDiffAnomalyDetector) -> None:
    scores = fitted.decision_scores_
    assert scores.ndim == 1 and scores.size == HELD_OUT and np.isfinite(scores).all()
    assert fitted.threshold_ == fitted.thresholder_.threshold_
    assert isinstance(fitted.threshold_, float)
    np.testing.assert_array_equal(fitted.labels_, (scores > fitted.threshold_).astype(int))
    assert fitted.labels_.dtype.kind == "i"
    # fitted copies of the parts; the parameters themselves stay unfitted
    assert fitted.scorer_ is not fitted.scorer and not hasattr(fitted.aggregator, "centre_")
    assert hasattr(fitted.aggregator_, "centre_") and fitted.aggregator_.get_params() == (
        fitted.aggregator.get_params()
    )
    assert not hasattr(fitted.thresholder, "threshold_")  # None: the default POT
    assert isinstance(fitted.thresholder_, POT)


@pytest.mark.parametrize("method", ["linear", "unify"])
def test_predict_proba_is_a_monotone_probability(
    fitted: TSDiffAnomalyDetector, test_frame: tuple, method: str
) -> None:
    frame, _ = test_frame
    proba = fitted.predict_proba(frame, method=method)
    assert isinstance(proba, pd.DataFrame) and list(proba.columns) == ["normal", "anomaly"]
    assert proba.index.equals(frame.index)
    values = proba.to_numpy()
    assert ((values >= 0) & (values <= 1)).all()
    np.testing.assert_allclose(values.sum(axis=1), 1.0)
    scores = fitted.decision_function(frame).to_numpy()
    order = np.argsort(scores, kind="stable")
    assert (np.diff(values[order, 1]) >= -1e-12).all()  # non-decreasing in the score
    assert values[order[-1], 1] > values[order[0], 1]
    array = fitted.predict_proba(frame.to_numpy(), method=method)
    assert array.shape == (len(frame), 2)
    with pytest.raises(ValueError, match="method must be 'linear' or 'unify'"):
        fitted.predict_proba(frame, method="rank")


def test_predict_confidence_and_score_samples(
    fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, _ = test_frame
    gappy = frame.copy()
    gappy.iloc[200:205, :] = np.nan
    confidence = fitted.predict_confidence(gappy)
    assert isinstance(confidence, pd.Series) and confidence.index.equals(frame.index)
    assert confidence.iloc[200:205].isna().all()
    rest = confidence.drop(confidence.index[200:205]).to_numpy()
    assert ((rest >= 0) & (rest <= 1)).all()
    # sure of the flag far from the threshold: of "normal" below every calibration score ...
    scores = fitted.decision_function(gappy).to_numpy()
    flags = fitted.predict(gappy).to_numpy()
    assert confidence.to_numpy()[np.nanargmin(scores)] > 0.9
    # ... and surer of a flag the further the score lies on its side of the threshold
    valid = ~np.isnan(scores)
    for flag, direction in ((0, -1.0), (1, 1.0)):
        chosen = valid & (flags == flag)
        order = np.argsort(direction * scores[chosen], kind="stable")
        assert (np.diff(confidence.to_numpy()[chosen][order]) >= -1e-12).all()
    np.testing.assert_array_equal(
        fitted.score_samples(gappy).to_numpy(), -fitted.decision_function(gappy).to_numpy()
    )
    listed = fitted.score_samples([frame.iloc[:100], frame.iloc[100:]])
    assert isinstance(listed, list) and len(listed) == 2


def test_injected_spikes_level_shifts_and_frozen_sensors_are_found(
    fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, labels = test_frame
    scores = fitted.decision_function(frame).to_numpy()
    near = np.convolve(labels, np.ones(2 * fitted.window_length + 1), mode="same") > 0
    normal = scores[~near]
    for kind, first, last, sensor in INJECTED:
        peak = scores[first : last + 1].max()
        assert peak > np.quantile(normal, 0.99), (
            f"{kind} on {sensor} at {first} not found ({peak:.2f})"
        )
    assert vus_pr(labels, scores, window=10) > 3 * labels.mean()


def test_injected_sensor_is_ranked_first(fitted: TSDiffAnomalyDetector) -> None:
    frame = sensors(900, seed=2, start="2024-03-01")
    rng = np.random.default_rng(3)
    events = []
    for i, start in enumerate(range(30, 870, 42)):
        sensor = int(rng.integers(frame.shape[1]))
        length = int(rng.integers(1, 6))
        frame.iloc[start : start + length, sensor] += float(rng.choice([-1, 1])) * 2.5
        events.append((start, start + length - 1, sensor))
        assert i < 25
    table = fitted.feature_scores(frame).to_numpy()
    first = [rank_sensors(table[a : b + 1])[0][0] == k for a, b, k in events]
    assert np.mean(first) >= 0.8, (
        f"injected sensor ranked first in {np.mean(first):.0%} of {len(events)} events"
    )


def test_missing_cells_are_not_scored(fitted: TSDiffAnomalyDetector, test_frame: tuple) -> None:
    frame, _ = test_frame
    gappy = frame.copy()
    gappy.iloc[100:130, 1] = np.nan
    gappy.iloc[200:205, :] = np.nan
    table = fitted.feature_scores(gappy)
    assert table.iloc[100:130, 1].isna().all()
    assert table.iloc[100:130, [0, 2, 3]].notna().all().all()
    assert np.array_equal(table.isna().to_numpy(), gappy.isna().to_numpy())
    scores = fitted.decision_function(gappy)
    assert scores.iloc[200:205].isna().all() and scores.drop(scores.index[200:205]).notna().all()
    assert (fitted.predict(gappy).iloc[200:205] == 0).all()
    # a huge value hidden behind NaN cannot raise the score
    assert scores.iloc[100:130].max() < 10 * max(fitted.threshold_, 1.0)


def test_label_free_threshold_uses_no_labels(
    train: pd.DataFrame, held_out: pd.DataFrame, fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, _ = test_frame
    # the threshold comes from the calibration scores of the held-out end of the training data
    assert fitted.thresholder_.method_ in ("pot", "quantile")
    assert not fitted.calibration_on_training_data_
    assert fitted.decision_scores_.size == HELD_OUT
    assert np.mean(fitted.decision_scores_ > fitted.threshold_) <= 0.02
    before = fitted.threshold_
    fitted.decision_function(frame)  # scoring test data changes nothing
    assert fitted.threshold_ == before
    short = {**TINY, "max_epochs": 2}
    with_labels = TSDiffAnomalyDetector(**short).fit(train.iloc[:600], y=np.ones(600))
    without = TSDiffAnomalyDetector(**short).fit(train.iloc[:600])
    assert with_labels.threshold_ == pytest.approx(without.threshold_)
    # a fixed contamination flags that share of the calibration scores, once recalibrated
    fixed = copy_of(fitted).set_params(thresholder=Contamination(rate=0.1))
    with pytest.raises(ValueError, match=r"thresholder changed since calibration.*calibrate"):
        fixed.predict(frame)
    fixed.calibrate(held_out)
    assert fixed.thresholder_.method_ == "contamination"
    assert fixed.threshold_ == fixed.thresholder_.threshold_ != fitted.threshold_
    np.testing.assert_allclose(fixed.decision_scores_, fitted.decision_scores_)
    assert np.mean(fixed.decision_scores_ > fixed.threshold_) == pytest.approx(0.1, abs=0.01)
    np.testing.assert_array_equal(
        fixed.labels_, (fixed.decision_scores_ > fixed.threshold_).astype(int)
    )
    # a fixed threshold is used as given
    given = copy_of(fitted).set_params(thresholder=FixedThreshold(value=1.5)).calibrate(held_out)
    assert given.threshold_ == 1.5 and given.thresholder_.method_ == "fixed"
    np.testing.assert_array_equal(
        given.predict(frame).to_numpy(), (given.decision_function(frame).to_numpy() > 1.5)
    )


def test_changed_parts_refuse_to_score_until_calibrated(
    fitted: TSDiffAnomalyDetector, held_out: pd.DataFrame, test_frame: tuple
) -> None:
    frame, _ = test_frame
    detector = copy_of(fitted)
    for name, part in [
        ("scorer", MaskedReimputationScorer(n_samples=2, sampling_steps=5, strip_length=8)),
        ("aggregator", TopK(k=2, cap=None, smoothing=1)),
        ("thresholder", POT(risk=0.01)),
    ]:
        changed = copy_of(fitted).set_params(**{name: part})
        for method in ("detect", "decision_function", "predict", "feature_scores"):
            with pytest.raises(ValueError, match=rf"The {name} changed since calibration"):
                getattr(changed, method)(frame.iloc[:64])
    # nested parameters of a part count too, and are validated when scoring
    detector.set_params(thresholder=POT(risk=0.002, level=0.98))  # equal to the default: fine
    detector.decision_function(frame.iloc[:64])
    detector.set_params(thresholder__risk=0.01)
    with pytest.raises(ValueError, match="thresholder changed since calibration"):
        detector.decision_function(frame.iloc[:64])
    detector.set_params(thresholder__risk=2.0)
    with pytest.raises(ValueError, match="'risk' parameter"):
        detector.decision_function(frame.iloc[:64])
    detector.set_params(thresholder__risk=0.01, scorer__n_samples=0)
    with pytest.raises(ValueError, match="'n_samples' parameter"):
        detector.decision_function(frame.iloc[:64])
    detector.set_params(scorer__n_samples=fitted.scorer.n_samples)
    detector.calibrate(held_out)
    assert detector.thresholder_.risk == 0.01
    assert np.isfinite(detector.decision_function(frame.iloc[:64]).to_numpy()).all()


def test_calibrate_needs_a_window_of_rows(
    fitted: TSDiffAnomalyDetector, held_out: pd.DataFrame
) -> None:
    detector = copy_of(fitted)
    with pytest.raises(ValueError, match=r"Calibration data has 20 rows, fewer than window_length"):
        detector.calibrate(held_out.iloc[:20])
    with pytest.raises(ValueError, match="fewer than window_length"):
        detector.calibrate([held_out.iloc[:10], held_out.iloc[10:25]])
    # the failed calibration left the fitted state alone
    np.testing.assert_array_equal(detector.decision_scores_, fitted.decision_scores_)
    assert detector.threshold_ == fitted.threshold_
    with pytest.raises(NotFittedError):
        TSDiffAnomalyDetector(**TINY).calibrate(held_out)


def test_predict_events_lists_events_with_ranked_sensors(
    fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, _ = test_frame
    events = fitted.predict_events(frame, max_gap=3)
    assert list(events.columns) == [
        "start",
        "end",
        "peak",
        "peak_score",
        "n_steps",
        "sensors",
        "sensor_scores",
    ]
    assert len(events) >= 2
    assert (events["start"] <= events["peak"]).all() and (events["peak"] <= events["end"]).all()
    assert all(set(s) <= set(frame.columns) and len(s) <= 3 for s in events["sensors"])
    spike = events[(events["start"] <= frame.index[61]) & (events["end"] >= frame.index[60])]
    assert len(spike) == 1 and spike["sensors"].iloc[0][0] == "pressure"
    assert (events["peak_score"] > fitted.threshold_).all()


def test_many_series_inputs_keep_their_structure(
    fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, _ = test_frame
    parts = [frame.iloc[:200], frame.iloc[200:]]
    listed = fitted.decision_function(parts)
    assert (
        isinstance(listed, list)
        and [s.index.equals(p.index) for p in parts for s in listed].count(True) == 2
    )
    stacked = pd.concat(parts, keys=["a", "b"], names=["unit", "time"])
    multi = fitted.decision_function(stacked)
    assert multi.index.equals(stacked.index)
    np.testing.assert_allclose(multi.loc["a"].to_numpy(), listed[0].to_numpy())
    events = fitted.predict_events(stacked)
    assert "series" in events.columns and set(events["series"]) <= {"a", "b"}
    result = fitted.detect(stacked)
    assert len(result.thresholds) == 2 and isinstance(result.sensor_scores, pd.DataFrame)
    array_scores = fitted.decision_function(frame.to_numpy())
    assert isinstance(array_scores, np.ndarray) and array_scores.shape == (len(frame),)
    cube = fitted.decision_function(np.stack([parts[0].to_numpy(), parts[1].to_numpy()]))
    assert cube.shape == (2, 200)


def test_pickle_round_trip_gives_the_same_scores(
    fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, _ = test_frame
    from tsdiff.api.detector import _RUNTIME

    fitted.detect(frame)
    assert "result" in _RUNTIME[fitted]  # the cache lives off the estimator
    copy = pickle.loads(pickle.dumps(fitted))
    assert copy not in _RUNTIME  # the cached result is not pickled
    pd.testing.assert_series_equal(copy.decision_function(frame), fitted.decision_function(frame))


def test_multi_scale_smoothing_is_calibrated_and_survives_save_and_load(
    fitted: TSDiffAnomalyDetector, train: pd.DataFrame, test_frame: tuple, tmp_path: Path
) -> None:
    frame, labels = test_frame
    calibration = train.iloc[-400:]
    # the aggregator's arithmetic on the scorer's columns alone (no neighbour columns)
    multi = copy_of(fitted).set_params(
        aggregator=TopK(k=1, cap=None, smoothing=(1, 9)), neighbours=False
    )
    with pytest.raises(ValueError, match="calibrate"):
        multi.decision_function(frame)
    multi.calibrate(calibration)
    assert multi.aggregator_.smoothing_centre_.shape == (2, train.shape[1])
    scores = multi.decision_function(frame)
    table = multi.feature_scores(frame)
    # still the row maximum of the per-sensor table, which is the best scale of each cell
    np.testing.assert_allclose(scores.to_numpy(), table.to_numpy().max(axis=1))
    # and that table is the smoother, fitted on the calibration data, applied to the
    # unsmoothed normalised scores (sampling is seeded, so both passes draw the same samples)
    single = copy_of(multi).set_params(aggregator=MAX)
    single.calibrate(calibration)
    smoother = MultiScaleSmoother((1, 9)).fit([single.feature_scores(calibration).to_numpy()])
    np.testing.assert_allclose(smoother.centre_, multi.aggregator_.smoothing_centre_)
    expected = smoother.transform(single.feature_scores(frame).to_numpy())
    np.testing.assert_allclose(table.to_numpy(), expected)
    assert vus_pr(labels, scores.to_numpy()) > labels.mean() + 0.1
    multi.save(tmp_path / "multi")
    loaded = TSDiffAnomalyDetector.load(tmp_path / "multi")
    np.testing.assert_array_equal(
        loaded.aggregator_.smoothing_scale_, multi.aggregator_.smoothing_scale_
    )
    assert loaded.aggregator.smoothing == (1, 9) or list(loaded.aggregator.smoothing) == [1, 9]
    pd.testing.assert_series_equal(
        loaded.decision_function(frame), multi.decision_function(frame), check_exact=False
    )


def test_a_list_of_the_same_smoothing_lengths_is_not_a_change(
    fitted: TSDiffAnomalyDetector, held_out: pd.DataFrame, test_frame: tuple
) -> None:
    frame, _ = test_frame
    # the aggregator's arithmetic on the scorer's columns alone (no neighbour columns)
    multi = copy_of(fitted).set_params(
        aggregator=TopK(k=1, cap=None, smoothing=(1, 9)), neighbours=False
    )
    multi.calibrate(held_out)
    multi.set_params(aggregator=TopK(k=1, cap=None, smoothing=[1, 9]))
    multi.decision_function(frame.iloc[:64])


def test_score_cap_bounds_each_sensor_in_the_top_k_mean_only(
    fitted: TSDiffAnomalyDetector, train: pd.DataFrame, test_frame: tuple, tmp_path: Path
) -> None:
    frame, _ = test_frame
    calibration = train.iloc[-400:]
    topk = copy_of(fitted).set_params(aggregator=TopK(k=2, cap=None, smoothing=1), neighbours=False)
    topk.calibrate(calibration)
    table = topk.feature_scores(frame).to_numpy()
    cap = float(np.nanquantile(table, 0.99))  # some cells lie above it
    capped = copy_of(topk).set_params(aggregator=TopK(k=2, cap=cap, smoothing=1))
    with pytest.raises(ValueError, match="aggregator changed since calibration"):
        capped.decision_function(frame.iloc[:64])  # calibrated without the cap
    capped.calibrate(calibration)
    # the per-sensor table (attribution) is not capped ...
    np.testing.assert_allclose(capped.feature_scores(frame).to_numpy(), table)
    # ... the time-step score is the top-2 mean of its capped values
    top2 = -np.sort(-np.minimum(table, cap), axis=1)[:, :2].mean(axis=1)
    scores = capped.decision_function(frame).to_numpy()
    np.testing.assert_allclose(scores, top2)
    assert (scores <= cap).all() and (topk.decision_function(frame).to_numpy() > cap).any()
    assert capped.decision_scores_.max() <= cap
    capped.save(tmp_path / "capped")
    loaded = TSDiffAnomalyDetector.load(tmp_path / "capped")
    assert loaded.aggregator.cap == cap and loaded.aggregator_.cap == cap
    np.testing.assert_allclose(loaded.decision_function(frame).to_numpy(), top2)


def test_threshold_drift_raises_the_threshold_of_each_drifted_series_only(
    fitted: TSDiffAnomalyDetector, held_out: pd.DataFrame, test_frame: tuple, tmp_path: Path
) -> None:
    frame, _ = test_frame
    drifted = frame.copy()
    drifted["temp"] += 3.0  # the whole series leaves the training range of one sensor
    plain = fitted.predict(drifted)
    scores = fitted.decision_function(drifted).to_numpy()
    calibration_median = np.median(fitted.decision_scores_)
    assert np.median(scores) > calibration_median + 1.0  # the drift is real for this model
    assert plain.mean() > 0.5  # and the calibrated threshold flags most of the series
    adjusting = copy_of(fitted).set_params(thresholder=POT(drift=True))
    with pytest.raises(ValueError, match="thresholder changed since calibration"):
        adjusting.predict(drifted)
    adjusting.calibrate(held_out)
    # calibrated on the same held-out part: the same scores and threshold_
    assert adjusting.threshold_ == pytest.approx(fitted.threshold_)
    np.testing.assert_allclose(adjusting.decision_scores_, fitted.decision_scores_)
    flags = adjusting.predict(drifted)
    expected = fitted.threshold_ + np.median(scores) - calibration_median
    np.testing.assert_allclose(adjusting.detect(drifted).thresholds, [expected])
    np.testing.assert_array_equal(flags.to_numpy(), (scores > expected).astype(int))
    assert flags.mean() < 0.5 * plain.mean()
    events = adjusting.predict_events(drifted)
    assert (events["peak_score"] > expected).all()
    # each series gets its own threshold: an undrifted series keeps the calibrated one
    # (its median score lies near the calibration median, so the rise is small or none)
    normal = frame.iloc[:200]
    listed_scores = [s.to_numpy() for s in fitted.decision_function([drifted, normal])]
    listed = adjusting.predict([drifted, normal])
    rises = [np.median(s) - calibration_median for s in listed_scores]
    assert rises[0] > 5.0 and rises[1] < 1.0
    for flagged, scored, rise in zip(listed, listed_scores, rises, strict=True):
        own = fitted.threshold_ + max(0.0, rise)
        np.testing.assert_array_equal(flagged.to_numpy(), (scored > own).astype(int))
    adjusting.save(tmp_path / "drift")
    assert TSDiffAnomalyDetector.load(tmp_path / "drift").thresholder.drift is True


def test_from_imputer_reuses_the_trained_network(train: pd.DataFrame, test_frame: tuple) -> None:
    frame, _ = test_frame
    params = {k: v for k, v in TINY.items() if k not in ("scorer", "aggregator")}
    imputer = TSDiffImputer(
        max_epochs=3, validation_fraction=0, calibration_windows=0, sampling_steps=5, **params
    ).fit(train.iloc[:900])
    scorer = MaskedReimputationScorer(n_samples=2, sampling_steps=5, strip_length=4)
    detector = TSDiffAnomalyDetector.from_imputer(imputer, train.iloc[900:], scorer=scorer)
    assert detector.model_ is imputer.model_ and detector.scaler_ is imputer.scaler_
    assert detector.decision_scores_.size == 300
    assert detector.model == imputer.model_config_ and detector.model_config_.channels == 16
    assert detector.scorer_.n_samples == 2 and detector.window_length == imputer.window_length
    assert np.isfinite(detector.decision_function(frame).to_numpy()).all()
    with pytest.raises(ValueError, match=r"\['model'\] describe the imputer"):
        TSDiffAnomalyDetector.from_imputer(imputer, train.iloc[900:], model={"channels": 32})
    with pytest.raises(ValueError, match="window_length"):
        TSDiffAnomalyDetector.from_imputer(imputer, train.iloc[900:], window_length=16)
    with pytest.raises(TypeError, match="validation_fraction"):
        TSDiffAnomalyDetector.from_imputer(imputer, train.iloc[900:], validation_fraction=0.1)
    with pytest.raises(NotFittedError):
        TSDiffAnomalyDetector.from_imputer(TSDiffImputer(), train)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"thresholder": Contamination(rate=0.7)}, "'rate' parameter"),
        ({"thresholder": "best"}, "'thresholder' parameter"),
        ({"thresholder": POT(drift="yes")}, "'drift' parameter"),
        ({"scorer": MaskedReimputationScorer(strip_length=20)}, "strip_length"),
        ({"scorer": MaskedReimputationScorer(n_masks=1)}, "'n_masks' parameter"),
        ({"scorer": MaskedReimputationScorer(sampling_steps=11)}, r"sampling_steps \(11\)"),
        ({"aggregator": "mean"}, "'aggregator' parameter"),
        ({"aggregator": TopK(smoothing=(1, 0))}, "smoothing window lengths"),
        ({"aggregator": TopK(smoothing="31")}, "'smoothing' parameter"),
        ({"aggregator": TopK(cap=0)}, "'cap' parameter"),
        ({"aggregator": TopK(cap=-5.0)}, "'cap' parameter"),
        (
            {"scorer": MaskedReimputationScorer(mask_pattern="sensors", n_masks=5)},
            "at least 5 sensors",
        ),
        ({"model": {**MODEL, "channels": 0}}, r"ModelConfig\.channels"),
        ({"model": {**MODEL, "n_heads": 3}}, r"channels \(16\) must be divisible by n_heads"),
        ({"model": {**MODEL, "diffusion_step": 3}}, r"Unknown ModelConfig setting\(s\) \['diff"),
        ({"trainer_kwargs": {"accelerator": "cpu", "max_steps": 1}}, r"\['max_steps'\]"),
        ({"window_length": 1}, "'window_length' parameter"),
    ],
)
def test_bad_parameters_are_named(
    train: pd.DataFrame, params: dict, match: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_training(monkeypatch)
    with pytest.raises(ValueError, match=match):
        TSDiffAnomalyDetector(**{**TINY, **params}).fit(train.iloc[:200])


def test_parameters_are_few_and_parts_clone() -> None:
    assert len(TSDiffAnomalyDetector().get_params()) <= 13
    detector = TSDiffAnomalyDetector(**TINY, thresholder=Contamination(rate=0.05, drift=True))
    shallow = detector.get_params(deep=False)
    assert len(shallow) <= 13
    assert not {"channels", "accelerator", "contamination", "top_k", "n_masks"} & set(shallow)
    deep = detector.get_params()
    assert deep["scorer__strip_length"] == 16 and deep["thresholder__rate"] == 0.05
    copy = clone(detector)
    assert copy.get_params(deep=False).keys() == shallow.keys()
    for name in ("scorer", "aggregator", "thresholder"):
        original, cloned = getattr(detector, name), getattr(copy, name)
        assert cloned is not original and type(cloned) is type(original)
        assert cloned.get_params() == original.get_params()
    assert copy.model == detector.model and copy.trainer_kwargs == detector.trainer_kwargs
    # removed flat parameters are not accepted
    for old in ("contamination", "top_k", "strip_length", "accelerator", "target_strategy"):
        with pytest.raises(TypeError, match=old):
            TSDiffAnomalyDetector(**{old: 1})  # type: ignore[arg-type]


def test_integer_and_tuple_columns_fit_refit_and_global_random_state(
    train: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns in another order are refused for every label type; fit leaves np.random alone,
    and a failed re-fit leaves the fitted detector as it was."""
    small = {**TINY, "max_epochs": 1, "train_stride": 4}
    small["scorer"] = MaskedReimputationScorer(n_samples=2, sampling_steps=2, strip_length=16)
    numbered = train.iloc[:300].set_axis([0, 1, 2, 3], axis=1)
    np.random.seed(5)  # noqa: NPY002 - the legacy global state is what is checked
    state = np.random.get_state()  # noqa: NPY002
    detector = TSDiffAnomalyDetector(**small).fit(numbered)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]
    scores = detector.decision_function(numbered)
    with pytest.raises(ValueError, match="another order"):
        detector.decision_function(numbered[[0, 2, 1, 3]])
    with pytest.raises(ValueError, match="another order"):
        detector.predict([numbered[[3, 2, 1, 0]]])
    with pytest.raises(ValueError, match=r"missing \[3\], unexpected \[4\]"):
        detector.decision_function(numbered.set_axis([0, 1, 2, 4], axis=1))
    # a re-fit that fails leaves the previous fit in place
    import tsdiff.training.fit as fit

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("training exploded")

    decision_scores = detector.decision_scores_.copy()
    with monkeypatch.context() as patch:
        patch.setattr(fit, "train_denoiser", broken)
        with pytest.raises(RuntimeError, match="training exploded"):
            detector.fit(train.iloc[:300])  # string columns this time
    assert detector.column_ids_ == column_identity(pd.Index([0, 1, 2, 3]))
    np.testing.assert_array_equal(detector.decision_scores_, decision_scores)
    from tsdiff.api.detector import _RUNTIME

    _RUNTIME.pop(detector, None)  # sample again rather than read the cache
    pd.testing.assert_series_equal(detector.decision_function(numbered), scores)
    # tuple labels
    pairs = pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1), ("b", 2)])
    tupled = train.iloc[:300].set_axis(pairs, axis=1)
    detector.fit(tupled)
    assert np.isfinite(detector.decision_function(tupled).to_numpy()).all()
    with pytest.raises(ValueError, match="another order"):
        detector.decision_function(tupled[[("a", 2), ("a", 1), ("b", 1), ("b", 2)]])


def test_bad_input_is_reported(fitted: TSDiffAnomalyDetector, test_frame: tuple) -> None:
    frame, _ = test_frame
    with pytest.raises(ValueError, match="missing"):
        fitted.decision_function(frame.drop(columns="power"))
    with pytest.raises(ValueError, match="infinite"):
        fitted.decision_function(frame.replace(frame.iloc[3, 0], np.inf))
    with pytest.raises(ValueError, match="4 features"):
        fitted.decision_function(frame.to_numpy()[:, :3])
    with pytest.raises(NotFittedError):
        TSDiffAnomalyDetector().decision_function(frame)
    with pytest.raises(NotFittedError):
        TSDiffAnomalyDetector().detect(frame)


def test_training_targets_are_the_scoring_masks(
    train: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The detector trains on exactly the masks used for scoring; the imputer refuses them."""
    import tsdiff.training.module as module
    from tsdiff.scoring.masks import complementary_masks

    seen: list[Any] = []
    original = module.masked_noise_loss

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append((args[3], kwargs.get("hide_masks", args[5] if len(args) > 5 else None)))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "masked_noise_loss", spy)
    scorer = MaskedReimputationScorer(
        n_samples=2, sampling_steps=2, strip_length=8, n_masks=3, mask_pattern="checkerboard"
    )
    TSDiffAnomalyDetector(**{**TINY, "max_epochs": 1, "scorer": scorer}).fit(train.iloc[:300])
    expected = complementary_masks(4, 32, 3, 8, "checkerboard")
    assert seen and all(strategy == "strips_mix" for strategy, _ in seen)
    assert all(np.array_equal(np.asarray(m), expected) for _, m in seen)
    for strategy in ("strips", "strips_mix"):
        with pytest.raises(ValueError, match="target_strategy"):
            TSDiffImputer(target_strategy=strategy, max_epochs=1).fit(train.iloc[:100])


def test_short_training_data_calibrates_on_training_data_with_a_warning() -> None:
    # 40 rows: too few to hold out max(20 % of them, window_length) and train on the rest
    with pytest.warns(UserWarning, match="calibrating on the training data"):
        detector = TSDiffAnomalyDetector(**{**TINY, "max_epochs": 1}).fit(sensors(40, seed=4))
    assert detector.calibration_on_training_data_
    assert detector.decision_scores_.size == 40


def test_training_data_shorter_than_a_window_still_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    import tsdiff.training.fit as fit

    trained: list[bool] = []
    original = fit.train_denoiser

    def spy(*args: Any, **kwargs: Any) -> Any:
        trained.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(fit, "train_denoiser", spy)
    with pytest.warns(UserWarning, match="calibrat"):
        detector = TSDiffAnomalyDetector(**{**TINY, "max_epochs": 1}).fit(sensors(20, seed=4))
    assert trained and detector.calibration_on_training_data_
    assert detector.decision_scores_.size == 20


@pytest.mark.skipif(
    not (DATA / "smd" / "machine-1-6").exists(), reason=f"SMD data not found under {DATA}"
)
def test_smd_slice_scores_labelled_anomalies_above_random() -> None:
    root = DATA / "smd" / "machine-1-6"
    train = pd.read_csv(root / "train.csv.gz", index_col="time", nrows=3000)
    test = pd.read_csv(root / "test.csv.gz", index_col="time", nrows=3000)
    labels = test.pop("label").to_numpy()
    detector = TSDiffAnomalyDetector(
        **{
            **TINY,
            "max_epochs": 4,
            "train_stride": 4,
            "aggregator": TopK(k=6, cap=None, smoothing=(1, 31, 63)),
            "neighbours": False,  # the diffusion scorer on its own
        }
    ).fit(train)
    scores = detector.decision_function(test).to_numpy()
    random = np.random.default_rng(0).random(len(labels))
    assert vus_pr(labels, scores, window=20) > vus_pr(labels, random, window=20) + 0.1


CHECKED = TSDiffAnomalyDetector(
    window_length=6,
    model={
        "channels": 8,
        "n_layers": 1,
        "n_heads": 1,
        "diffusion_embedding_dim": 8,
        "time_embedding_dim": 8,
        "feature_embedding_dim": 2,
        "diffusion_steps": 4,
    },
    scorer=MaskedReimputationScorer(n_samples=2, sampling_steps=2, strip_length=3),
    max_epochs=1,
    batch_size=16,
    trainer_kwargs={"accelerator": "cpu"},
    verbose=False,
    random_state=0,
)


EXPECTED_FAILED = {
    "check_methods_sample_order_invariance": "a row's score depends on its neighbours in time "
    "(the windows it lies in), so reordering rows changes the scores",
    "check_methods_subset_invariance": "scoring a subset of rows changes the windows, hence the "
    "context each row is imputed from",
}


def test_predict_does_not_change_the_estimator_dict() -> None:
    from sklearn.utils.estimator_checks import check_dict_unchanged

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_dict_unchanged("TSDiffAnomalyDetector", CHECKED)


@parametrize_with_checks(
    [CHECKED],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED,
)
def test_sklearn_estimator_checks(estimator: TSDiffAnomalyDetector, check: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)
