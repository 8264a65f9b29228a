"""PyOD baselines on sliding windows (flattened, or per sensor), a rolling z-score and random
scores."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.datasets import Split
from benchmarks.detect.output import MethodOutput
from tsdiff.data import NaNStandardScaler, SeriesSet, WindowStore, build_window_store, stitch
from tsdiff.scoring import SensorNormaliser, aggregate_sensors

BASELINES = ("IForest", "ECOD", "KNN", "PCA")


def fit_scaler(frames: list[pd.DataFrame]) -> tuple[NaNStandardScaler, np.ndarray]:
    """tsdiff's scaler fitted on ``frames``, and which columns are constant in them (such
    columns carry nothing for the window models; the scaler gives them a scale of 1)."""
    values = [f.to_numpy(dtype=np.float64) for f in frames]
    scaler = NaNStandardScaler().fit(values, [str(c) for c in frames[0].columns])
    stacked = np.concatenate(values)
    return scaler, np.all(stacked == stacked[:1], axis=0)


def sliding_windows(values: np.ndarray, width: int) -> tuple[np.ndarray, WindowStore]:
    """Every ``width``-step window (stride 1) of one series' ``values (n, K)``, as tsdiff's
    window store lays them out: ``(n_windows, width, K)`` float64 windows (a series shorter
    than ``width`` is edge-padded), and the store, for :func:`window_scores_to_steps`."""
    series = SeriesSet([values], [np.arange(len(values), dtype=np.float64)])
    store = build_window_store(series, [values], width, 1, anchors=False)
    padded = np.pad(values, ((0, len(store.values) - len(values)), (0, 0)), mode="edge")
    return padded[store.starts[:, None] + np.arange(width)], store


def window_scores_to_steps(store: WindowStore, scores: np.ndarray) -> np.ndarray:
    """Window scores ``(n_windows,)`` or ``(n_windows, K)`` on the time axis: each step gets the
    score of the window in which it lies closest to the centre (tsdiff's ``stitch``)."""
    table = scores.reshape(len(scores), -1)
    cells = np.broadcast_to(table[:, :, None], (*table.shape, store.length))
    steps = stitch(store, cells)[0]
    return steps[:, 0] if scores.ndim == 1 else steps


def make_pyod(name: str, seed: int) -> Any:
    """One PyOD baseline, as the benchmark configures it."""
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.pca import PCA

    if name == "IForest":
        return IForest(n_estimators=100, random_state=seed, n_jobs=1)
    if name == "ECOD":
        return ECOD()
    if name == "KNN":
        return KNN(n_neighbors=5, method="largest", n_jobs=1)
    if name == "PCA":
        return PCA(random_state=seed)
    raise ValueError(name)


def _subsample(rows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    if len(rows) <= limit:
        return rows
    keep = np.random.default_rng(seed).choice(len(rows), limit, replace=False)
    return rows[np.sort(keep)]


def run_flat(split: Split, detector: str, width: int, seed: int, max_train: int) -> MethodOutput:
    """One model on windows flattened over all (non-constant) sensors."""
    scaler, constant = fit_scaler(split.fit)
    keep = ~constant

    def flat(frame: pd.DataFrame) -> tuple[np.ndarray, WindowStore]:
        windows, store = sliding_windows(scaler.transform(frame.to_numpy())[:, keep], width)
        return windows.reshape(len(windows), -1), store

    start = time.perf_counter()
    train = np.concatenate([flat(f)[0] for f in split.fit])
    model = make_pyod(detector, seed).fit(_subsample(train, max_train, seed))
    fit_seconds = time.perf_counter() - start

    def score(frame: pd.DataFrame) -> np.ndarray:
        windows, store = flat(frame)
        raw = np.nan_to_num(model.decision_function(windows), nan=0.0)
        return window_scores_to_steps(store, raw)

    calibration = np.concatenate([score(f) for f in split.calibration])
    start = time.perf_counter()
    test = [score(f) for f in split.test]
    return MethodOutput(test, calibration, None, fit_seconds, time.perf_counter() - start)


def run_per_sensor(
    split: Split, detector: str, width: int, seed: int, max_train: int
) -> MethodOutput:
    """One model per sensor on its own windows; constant sensors score their distance from
    the constant; scores normalised on calibration (robust) and max-aggregated."""
    scaler, constant = fit_scaler(split.fit)
    fit_windows = [sliding_windows(scaler.transform(f.to_numpy()), width)[0] for f in split.fit]
    start = time.perf_counter()
    models: list[Any] = []
    for k in range(len(constant)):
        if constant[k]:
            models.append(None)
            continue
        train = np.concatenate([w[:, :, k] for w in fit_windows])
        models.append(make_pyod(detector, seed).fit(_subsample(train, max_train, seed)))
    fit_seconds = time.perf_counter() - start

    def raw(frame: pd.DataFrame) -> np.ndarray:
        values = scaler.transform(frame.to_numpy())
        windows, store = sliding_windows(values, width)
        cols = []
        for k, model in enumerate(models):
            if model is None:
                cols.append(np.abs(values[:, k]))
                continue
            scores = np.nan_to_num(model.decision_function(windows[:, :, k]), nan=0.0)
            cols.append(window_scores_to_steps(store, scores))
        return np.stack(cols, axis=1)

    return _normalised_sensor_scores(split, raw, fit_seconds)


def _normalised_sensor_scores(
    split: Split, raw: Callable[[pd.DataFrame], np.ndarray], fit_seconds: float
) -> MethodOutput:
    """Per-sensor ``raw`` scores normalised on the calibration series (robust), max-aggregated;
    the score time counts the test series only."""
    cal_raw = [raw(f) for f in split.calibration]
    normaliser = SensorNormaliser("robust").fit(np.concatenate(cal_raw))
    cal_sensors = [normaliser.transform(r) for r in cal_raw]
    calibration = np.concatenate([aggregate_sensors(s) for s in cal_sensors])
    start = time.perf_counter()
    sensors = [normaliser.transform(raw(f)) for f in split.test]
    test = [aggregate_sensors(s) for s in sensors]
    return MethodOutput(
        test, calibration, sensors, fit_seconds, time.perf_counter() - start, {}, cal_sensors
    )


def run_rolling_zscore(split: Split, width: int) -> MethodOutput:
    """|x - mean of the previous ``width`` steps| / their std, per sensor, normalised, max."""

    def raw(frame: pd.DataFrame) -> np.ndarray:
        rolling = frame.rolling(width, min_periods=2)
        mean = rolling.mean().shift(1)
        std = rolling.std().shift(1)
        z = ((frame - mean).abs() / (std + 1e-6)).to_numpy()
        return np.where(np.isnan(z), 0.0, z)

    return _normalised_sensor_scores(split, raw, 0.0)


def run_random(split: Split, seed: int) -> MethodOutput:
    """Uniform random scores (the chance level of each metric)."""
    rng = np.random.default_rng(seed)
    calibration = rng.random(sum(len(f) for f in split.calibration))
    return MethodOutput([rng.random(len(f)) for f in split.test], calibration)
