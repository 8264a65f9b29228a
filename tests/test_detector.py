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
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from tsdiff import TSDiffAnomalyDetector, TSDiffImputer
from tsdiff.metrics import vus_pr
from tsdiff.scoring import MultiScaleSmoother, rank_sensors

torch.set_num_threads(1)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

TINY: dict[str, Any] = {
    "window_length": 32,
    "strip_length": 16,
    "channels": 16,
    "n_layers": 1,
    "n_heads": 1,
    "diffusion_embedding_dim": 16,
    "time_embedding_dim": 16,
    "feature_embedding_dim": 4,
    "diffusion_steps": 10,
    "sampling_steps": 5,
    "n_samples": 3,
    "batch_size": 32,
    "verbose": False,
    "random_state": 0,
}
PERIOD = 24


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


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return sensors(1200, seed=0)


@pytest.fixture(scope="module")
def fitted(train: pd.DataFrame) -> TSDiffAnomalyDetector:
    # Staggered strips keep the other sensors partly visible at each hidden step: a tiny model
    # trained for seconds then catches a frozen sensor through the broken relation to the others
    # (with whole-window strips it extrapolates the frozen value flat and agrees with it).
    params = {**TINY, "mask_pattern": "checkerboard", "strip_length": 8}
    detector = TSDiffAnomalyDetector(max_epochs=20, patience=None, smoothing=1, **params)
    return detector.fit(train)


@pytest.fixture(scope="module")
def test_frame() -> tuple[pd.DataFrame, np.ndarray]:
    return with_anomalies(sensors(400, seed=1, start="2024-02-01"))


def test_scores_are_aligned_to_the_index(fitted: TSDiffAnomalyDetector, test_frame: tuple) -> None:
    frame, _ = test_frame
    shuffled_labels = frame.sample(frac=1.0, axis=1, random_state=0).columns
    assert list(shuffled_labels) != list(frame.columns)  # the check below is not trivial
    scores = fitted.decision_function(frame)
    assert isinstance(scores, pd.Series) and scores.index.equals(frame.index)
    assert np.isfinite(scores.to_numpy()).all()
    flags = fitted.predict(frame)
    assert flags.index.equals(frame.index) and set(np.unique(flags)) <= {0, 1}
    np.testing.assert_array_equal(
        flags.to_numpy(), (scores.to_numpy() > fitted.threshold_).astype(int)
    )
    table = fitted.feature_scores(frame)
    assert table.index.equals(frame.index) and list(table.columns) == list(frame.columns)
    # a time-step score is the largest of its row of sensor scores
    np.testing.assert_allclose(scores.to_numpy(), table.to_numpy().max(axis=1))
    with pytest.warns(UserWarning, match="changed since calibration"):
        top2 = fitted.set_params(aggregation="topk", top_k=2).decision_function(frame)
    fitted.set_params(aggregation="max", top_k=fitted.calibration_params_["top_k"])
    np.testing.assert_allclose(
        top2.to_numpy(), -np.sort(-table.to_numpy(), axis=1)[:, :2].mean(axis=1)
    )


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
    train: pd.DataFrame, fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, _ = test_frame
    # the threshold comes from the calibration scores of the held-out end of the training data
    assert fitted.threshold_method_ in ("pot", "quantile")
    assert not fitted.calibration_on_training_data_
    held_out = round(0.2 * len(train))
    assert fitted.n_calibration_steps_ == held_out
    assert np.mean(fitted.calibration_scores_ > fitted.threshold_) <= 0.02
    before = fitted.threshold_
    fitted.decision_function(frame)  # scoring test data changes nothing
    assert fitted.threshold_ == before
    with_labels = TSDiffAnomalyDetector(max_epochs=2, **TINY).fit(train, y=np.ones(len(train)))
    without = TSDiffAnomalyDetector(max_epochs=2, **TINY).fit(train)
    assert with_labels.threshold_ == pytest.approx(without.threshold_)
    # a fixed contamination flags that share of the calibration scores
    fixed = pickle.loads(pickle.dumps(without))
    fixed.set_params(contamination=0.1).refresh_threshold()
    assert fixed.threshold_method_ == "contamination"
    assert np.mean(fixed.calibration_scores_ > fixed.threshold_) == pytest.approx(0.1, abs=0.01)


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
    array_scores = fitted.decision_function(frame.to_numpy())
    assert isinstance(array_scores, np.ndarray) and array_scores.shape == (len(frame),)


def test_pickle_round_trip_gives_the_same_scores(
    fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, _ = test_frame
    copy = pickle.loads(pickle.dumps(fitted))
    pd.testing.assert_series_equal(copy.decision_function(frame), fitted.decision_function(frame))


def test_multi_scale_smoothing_is_calibrated_and_survives_save_and_load(
    fitted: TSDiffAnomalyDetector, train: pd.DataFrame, test_frame: tuple, tmp_path: Path
) -> None:
    frame, labels = test_frame
    multi = pickle.loads(pickle.dumps(fitted)).set_params(smoothing=(1, 9))
    with pytest.warns(UserWarning, match="smoothing"), pytest.raises(ValueError, match="calibrate"):
        multi.decision_function(frame)
    multi.calibrate(train.iloc[-400:])
    assert multi.smoothing_centre_.shape == (2, train.shape[1])
    scores = multi.decision_function(frame)
    table = multi.feature_scores(frame)
    # still the row maximum of the per-sensor table, which is the best scale of each cell
    np.testing.assert_allclose(scores.to_numpy(), table.to_numpy().max(axis=1))
    # and that table is the smoother, fitted on the calibration data, applied to the
    # unsmoothed normalised scores (sampling is seeded, so both passes draw the same samples)
    single = pickle.loads(pickle.dumps(multi)).set_params(smoothing=1)
    single.calibrate(train.iloc[-400:])
    smoother = MultiScaleSmoother((1, 9)).fit([single.feature_scores(train.iloc[-400:]).to_numpy()])
    np.testing.assert_allclose(smoother.centre_, multi.smoothing_centre_)
    expected = smoother.transform(single.feature_scores(frame).to_numpy())
    np.testing.assert_allclose(table.to_numpy(), expected)
    assert vus_pr(labels, scores.to_numpy()) > labels.mean() + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a list of the same lengths is not a change
        multi.set_params(smoothing=[1, 9]).decision_function(frame.iloc[:64])
    multi.save(tmp_path / "multi")
    loaded = TSDiffAnomalyDetector.load(tmp_path / "multi")
    np.testing.assert_array_equal(loaded.smoothing_scale_, multi.smoothing_scale_)
    pd.testing.assert_series_equal(
        loaded.decision_function(frame), multi.decision_function(frame), check_exact=False
    )


def test_score_cap_bounds_each_sensor_in_the_top_k_mean_only(
    fitted: TSDiffAnomalyDetector, train: pd.DataFrame, test_frame: tuple, tmp_path: Path
) -> None:
    frame, _ = test_frame
    topk = pickle.loads(pickle.dumps(fitted)).set_params(aggregation="topk", top_k=2)
    topk.calibrate(train.iloc[-400:])
    table = topk.feature_scores(frame).to_numpy()
    cap = float(np.nanquantile(table, 0.99))  # some cells lie above it
    capped = pickle.loads(pickle.dumps(topk)).set_params(score_cap=cap)
    with pytest.warns(UserWarning, match="score_cap"):
        capped.decision_function(frame.iloc[:64])  # stale: calibrated without the cap
    capped.calibrate(train.iloc[-400:])
    # the per-sensor table (attribution) is not capped ...
    np.testing.assert_allclose(capped.feature_scores(frame).to_numpy(), table)
    # ... the time-step score is the top-2 mean of its capped values
    top2 = -np.sort(-np.minimum(table, cap), axis=1)[:, :2].mean(axis=1)
    scores = capped.decision_function(frame).to_numpy()
    np.testing.assert_allclose(scores, top2)
    assert (scores <= cap).all() and (topk.decision_function(frame).to_numpy() > cap).any()
    assert capped.calibration_scores_.max() <= cap
    capped.save(tmp_path / "capped")
    loaded = TSDiffAnomalyDetector.load(tmp_path / "capped")
    assert loaded.score_cap == cap
    np.testing.assert_allclose(loaded.decision_function(frame).to_numpy(), top2)
    with pytest.warns(UserWarning, match="tie"):
        capped.set_params(aggregation="max").calibrate(train.iloc[-400:])


def test_threshold_drift_raises_the_threshold_of_each_drifted_series_only(
    fitted: TSDiffAnomalyDetector, test_frame: tuple, tmp_path: Path
) -> None:
    frame, _ = test_frame
    drifted = frame.copy()
    drifted["temp"] += 2.0  # the whole series leaves the training range of one sensor
    plain = fitted.predict(drifted)
    scores = fitted.decision_function(drifted).to_numpy()
    calibration_median = np.median(fitted.calibration_scores_)
    assert np.median(scores) > calibration_median + 1.0  # the drift is real for this model
    assert plain.mean() > 0.5  # and the calibrated threshold flags most of the series
    adjusting = pickle.loads(pickle.dumps(fitted)).set_params(threshold_drift=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the threshold_ itself is not stale
        flags = adjusting.predict(drifted)
    expected = fitted.threshold_ + np.median(scores) - calibration_median
    np.testing.assert_array_equal(flags.to_numpy(), (scores > expected).astype(int))
    assert flags.mean() < 0.5 * plain.mean()
    assert adjusting.threshold_ == fitted.threshold_  # scores and threshold_ are unchanged
    events = adjusting.predict_events(drifted)
    assert (events["peak_score"] > expected).all()
    # each series gets its own threshold: an undrifted series keeps the calibrated one
    # (its median score lies near the calibration median, so the rise is small or none)
    normal = frame.iloc[:200]
    # (sampling is seeded per call, so the same list scores alike in both calls)
    listed_scores = [s.to_numpy() for s in fitted.decision_function([drifted, normal])]
    listed = adjusting.predict([drifted, normal])
    rises = [np.median(s) - calibration_median for s in listed_scores]
    assert rises[0] > 5.0 and rises[1] < 1.0
    for flagged, scored, rise in zip(listed, listed_scores, rises, strict=True):
        own = fitted.threshold_ + max(0.0, rise)
        np.testing.assert_array_equal(flagged.to_numpy(), (scored > own).astype(int))
    adjusting.save(tmp_path / "drift")
    assert TSDiffAnomalyDetector.load(tmp_path / "drift").threshold_drift is True


def test_compiled_scoring_network_gives_the_eager_scores(
    fitted: TSDiffAnomalyDetector, test_frame: tuple
) -> None:
    frame, _ = test_frame
    # 10 windows x 2 masks x 3 samples in one network batch: the compiled path pads nothing,
    # so both paths draw the same noise
    frame = frame.iloc[:320]
    eager_detector = pickle.loads(pickle.dumps(fitted)).set_params(inference_batch_size=60)
    eager = eager_detector.decision_function(frame).to_numpy()
    compiled = eager_detector.set_params(compile_network=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = compiled.decision_function(frame).to_numpy()
    if any("torch.compile failed" in str(w.message) for w in caught):
        pytest.skip("torch.compile needs a working C++ toolchain on this machine")
    assert compiled._compiled[1] == "cpu"  # compiled without inductor's attention rewrite
    # the same computation up to bf16 rounding, which five sampling steps carry into a few cells
    difference = np.abs(scores - eager)
    assert np.median(difference) < 0.01 and difference.max() < 0.5
    assert np.corrcoef(scores, eager)[0, 1] > 0.99
    # the compiled copy is cached and not pickled
    assert compiled._scoring_network() is compiled._compiled[2]
    assert "_compiled" not in pickle.loads(pickle.dumps(compiled)).__dict__


def test_from_imputer_reuses_the_trained_network(train: pd.DataFrame, test_frame: tuple) -> None:
    frame, _ = test_frame
    params = {k: v for k, v in TINY.items() if k not in ("strip_length", "n_samples")}
    imputer = TSDiffImputer(max_epochs=3, validation_fraction=0, **params).fit(train.iloc[:900])
    detector = TSDiffAnomalyDetector.from_imputer(
        imputer, train.iloc[900:], n_samples=2, strip_length=4
    )
    assert detector.model_ is imputer.model_ and detector.scaler_ is imputer.scaler_
    assert detector.n_calibration_steps_ == 300 and detector.channels == imputer.channels
    assert np.isfinite(detector.decision_function(frame).to_numpy()).all()
    with pytest.raises(ValueError, match="channels"):
        TSDiffAnomalyDetector.from_imputer(imputer, train.iloc[900:], channels=32)
    with pytest.raises(ValueError, match="Unknown detector parameter"):
        TSDiffAnomalyDetector.from_imputer(imputer, train.iloc[900:], validation_fraction=0.1)
    with pytest.raises(NotFittedError):
        TSDiffAnomalyDetector.from_imputer(TSDiffImputer(), train)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"contamination": 0.7}, "contamination"),
        ({"threshold": "best"}, "threshold"),
        ({"strip_length": 20}, "strip_length"),
        ({"n_masks": 1}, "n_masks"),
        ({"aggregation": "mean"}, "aggregation"),
        ({"smoothing": (1, 0)}, "smoothing window lengths"),
        ({"smoothing": "31"}, "smoothing"),
        ({"score_cap": 0}, "score_cap"),
        ({"score_cap": -5.0}, "score_cap"),
        ({"threshold_drift": "yes"}, "threshold_drift"),
        ({"mask_pattern": "sensors", "n_masks": 5, "strip_length": 4}, "at least 5 sensors"),
        (
            {"mask_pattern": "sensors", "n_masks": 5, "strip_length": 4, "target_strategy": "mix"},
            "at least 5 sensors",
        ),
    ],
)
def test_bad_parameters_are_named(
    train: pd.DataFrame, params: dict, match: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tsdiff.training.fit as fit

    def no_training(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("bad parameters must fail before training")

    monkeypatch.setattr(fit, "train_denoiser", no_training)
    with pytest.raises(ValueError, match=match):
        TSDiffAnomalyDetector(**{**TINY, **params}).fit(train.iloc[:200])


def test_bad_input_is_reported(fitted: TSDiffAnomalyDetector, test_frame: tuple) -> None:
    frame, _ = test_frame
    with pytest.raises(ValueError, match="missing"):
        fitted.decision_function(frame.drop(columns="power"))
    with pytest.raises(ValueError, match="infinite"):
        fitted.decision_function(frame.replace(frame.iloc[3, 0], np.inf))
    with pytest.raises(NotFittedError):
        TSDiffAnomalyDetector().decision_function(frame)


def test_training_targets_are_the_scoring_masks(
    train: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``"strips"`` trains on exactly the masks used for scoring; the imputer refuses it."""
    import tsdiff.training.module as module
    from tsdiff.scoring.masks import complementary_masks

    seen: list[Any] = []
    original = module.masked_noise_loss

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("hide_masks", args[5] if len(args) > 5 else None))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "masked_noise_loss", spy)
    params = {**TINY, "mask_pattern": "checkerboard", "strip_length": 8, "n_masks": 3}
    TSDiffAnomalyDetector(max_epochs=1, target_strategy="strips", **params).fit(train.iloc[:300])
    expected = complementary_masks(4, 32, 3, 8, "checkerboard")
    assert seen and all(np.array_equal(np.asarray(m), expected) for m in seen)
    with pytest.raises(ValueError, match="target_strategy"):
        TSDiffImputer(target_strategy="strips", max_epochs=1).fit(train.iloc[:100])


def test_short_training_data_calibrates_on_training_data_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="calibrat"):
        detector = TSDiffAnomalyDetector(max_epochs=1, **TINY).fit(sensors(20, seed=4))
    assert detector.calibration_on_training_data_


@pytest.mark.skipif(
    not (DATA / "smd" / "machine-1-6").exists(), reason=f"SMD data not found under {DATA}"
)
def test_smd_slice_scores_labelled_anomalies_above_random() -> None:
    root = DATA / "smd" / "machine-1-6"
    train = pd.read_csv(root / "train.csv.gz", index_col="time", nrows=3000)
    test = pd.read_csv(root / "test.csv.gz", index_col="time", nrows=3000)
    labels = test.pop("label").to_numpy()
    detector = TSDiffAnomalyDetector(
        max_epochs=4,
        train_stride=4,
        aggregation="topk",
        top_k=6,
        **{**TINY, "window_length": 32, "strip_length": 16},
    ).fit(train)
    scores = detector.decision_function(test).to_numpy()
    random = np.random.default_rng(0).random(len(labels))
    assert vus_pr(labels, scores, window=20) > vus_pr(labels, random, window=20) + 0.1


EXPECTED_FAILED = {
    "check_methods_sample_order_invariance": "a row's score depends on its neighbours in time "
    "(the windows it lies in), so reordering rows changes the scores",
    "check_methods_subset_invariance": "scoring a subset of rows changes the windows, hence the "
    "context each row is imputed from",
}


@parametrize_with_checks(
    [
        TSDiffAnomalyDetector(
            window_length=6,
            strip_length=3,
            channels=8,
            n_layers=1,
            n_heads=1,
            diffusion_embedding_dim=8,
            time_embedding_dim=8,
            feature_embedding_dim=2,
            diffusion_steps=4,
            sampling_steps=2,
            n_samples=2,
            max_epochs=1,
            batch_size=16,
            verbose=False,
            random_state=0,
        )
    ],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED,
)
def test_sklearn_estimator_checks(estimator: TSDiffAnomalyDetector, check: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)
