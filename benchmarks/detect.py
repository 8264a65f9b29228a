"""Anomaly-detection benchmark: tsdiff against PyOD baselines on SMD and SKAB, side by side.

Run ``python -m benchmarks.detect --help``; results go to ``benchmarks/results/detect.json``
(every seed of ``--seeds`` in that one file) and markdown tables are printed.

Protocol (the same for every method)
------------------------------------
* Fit on the first ``1 - CALIBRATION_FRACTION`` of each training series; the last part is never
  fitted on: it normalises per-sensor scores and sets the label-free threshold (tsdiff's rule:
  peaks-over-threshold at ``risk``, quantile fallback). Test labels are only used for metrics.
* Metrics per series (SMD machine, SKAB run): VUS-PR (TSB-AD definition, buffer ``--vus-window``),
  AUC-PR, AUC-ROC, best F1 without point adjustment (an upper bound, not a result), F1 at the
  label-free threshold, and F1 at that threshold raised by each test series' median-score drift
  over calibration (``drift_adjusted_threshold``, tsdiff's ``threshold_drift``; same rule for
  every method). Means over series are reported.
* Baselines (PyOD): IForest, ECOD, KNN, PCA on sliding windows of ``--baseline-window`` steps,
  (a) flattened over all sensors, (b) per sensor, normalised on the calibration part and
  max-aggregated; a rolling z-score (per sensor, max) and a random score. Series are
  standardised with tsdiff's scaler, windows laid out and their scores put back on the time
  axis with tsdiff's window store (each step takes the score of the window it is most central
  in), and post-processed with tsdiff's smoothing and aggregation.
* SKAB: one model per method on all 34 training parts (plus ``anomaly_free`` unless
  ``--no-anomaly-free``), scored run by run.
* Attribution (SMD): for each event of ``interpretation_label.txt``, whether one of the event's
  top-3 sensors (largest per-sensor score within the event) is a labelled sensor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.datasets import (
    CALIBRATION_FRACTION,
    SMD_MACHINES,
    DataMissing,
    Split,
    load_skab,
    load_smd,
)
from tsdiff.data import NaNStandardScaler, SeriesSet, WindowStore, build_window_store, stitch
from tsdiff.metrics import detection_report, f1_at_threshold
from tsdiff.scoring import (
    MultiScaleSmoother,
    SensorNormaliser,
    aggregate_sensors,
    drift_adjusted_threshold,
    pot_threshold,
    quantile_threshold,
    rank_sensors,
    smooth_scores,
    smoothing_windows,
)

RISK = 0.002
RESULTS = Path(__file__).resolve().parent / "results" / "detect.json"
QUICK_SKAB_RUNS = ("other_01", "other_09", "valve1_00", "valve1_08", "valve2_00", "valve2_02")
Log = Callable[[str], None]


# -- label-free threshold (the detector's rule) ---------------------------------------------
def label_free_threshold(calibration_scores: np.ndarray, risk: float = RISK) -> float:
    """Peaks-over-threshold on calibration scores, falling back to the ``1 - risk`` quantile
    (the detector's default ``threshold="auto"``)."""
    finite = calibration_scores[np.isfinite(calibration_scores)]
    try:
        return pot_threshold(finite, risk)
    except ValueError:
        return quantile_threshold(finite, min(max(risk, 1.0 / finite.size), 0.5))


# -- baselines ------------------------------------------------------------------------------
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


@dataclass
class MethodOutput:
    """Scores of one method: per test series (n,), per-sensor (n, K) if any, calibration (m,).

    ``threshold`` is the method's own label-free threshold where it sets one (tsdiff), else
    :func:`label_free_threshold` of ``calibration`` is used.
    """

    test: list[np.ndarray]
    calibration: np.ndarray
    sensors: list[np.ndarray] | None = None
    fit_seconds: float = 0.0
    score_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    calibration_sensors: list[np.ndarray] | None = None
    threshold: float | None = None


def _clip_cap(arrays: list[np.ndarray]) -> float:
    """1e6 times the median finite score magnitude over ``arrays``, at most 1e250 (1 if none
    is finite): when most scores are already ~1e308 the median alone would overflow."""
    finite = np.concatenate([np.abs(a[np.isfinite(a)]).ravel() for a in arrays])
    return min(1e6 * max(float(np.median(finite)), 1e-12), 1e250) if finite.size else 1.0


def smoothed(
    output: MethodOutput,
    windows: tuple[int, ...],
    aggregation: str = "max",
    top_k: int = 1,
    score_cap: float | None = None,
) -> MethodOutput:
    """The same scores after tsdiff's post-processing: a centred moving average of each length
    in ``windows`` (of the normalised per-sensor scores before aggregation where the method
    has them, of the per-step score otherwise); with several lengths, each one re-normalised on
    the calibration scores and the largest kept (tsdiff's ``MultiScaleSmoother``); per-sensor
    tables are then aggregated as tsdiff does (``aggregation``, ``top_k``, ``score_cap``: see
    ``aggregate_sensors``). Gives the baselines the post-processing tsdiff uses."""

    # PCA reaches 1e308 (or inf) on directions that were constant in training; in a running
    # sum such values overflow or cancel every ordinary score after them. Clip them (ranks kept
    # except among the clipped extremes; NaN stays NaN).
    cap = _clip_cap(
        [
            output.calibration,
            *output.test,
            *(output.sensors or []),
            *(output.calibration_sensors or []),
        ]
    )

    def clip(scores: np.ndarray) -> np.ndarray:
        return np.clip(scores, -cap, cap)

    if output.sensors is not None and output.calibration_sensors is not None:
        calibration_tables = [clip(s) for s in output.calibration_sensors]
        test_tables = [clip(s) for s in output.sensors]
    else:  # one column: the per-step score
        calibration_tables = [clip(output.calibration)[:, None]]
        test_tables = [clip(t)[:, None] for t in output.test]
    if len(windows) == 1:
        smooth: Any = partial(smooth_scores, window=windows[0])
    else:
        smooth = MultiScaleSmoother(windows).fit(calibration_tables).transform

    def aggregate(table: np.ndarray) -> np.ndarray:
        return aggregate_sensors(table, aggregation, top_k, score_cap)

    calibration = np.concatenate([aggregate(smooth(t)) for t in calibration_tables])
    smoothed_sensors = [smooth(t) for t in test_tables]
    test = [aggregate(t) for t in smoothed_sensors]
    sensors = None if output.sensors is None else smoothed_sensors
    return MethodOutput(test, calibration, sensors, output.fit_seconds, output.score_seconds)


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


# -- tsdiff ---------------------------------------------------------------------------------
def make_detector(seed: int, max_time: float, **params: Any) -> Any:
    """The tsdiff detector of this benchmark, untrained: the default detector (its defaults are
    this benchmark's settings, docs/benchmarks_detection.md) with a training budget and seed;
    ``params`` override its parameters."""
    from tsdiff import TSDiffAnomalyDetector

    settings: dict[str, Any] = {"random_state": seed, "verbose": False, "max_time": max_time}
    settings.update(params)
    return TSDiffAnomalyDetector(**settings)


def detector_postprocessing(detector: Any) -> dict[str, Any]:
    """The detector's smoothing and sensor aggregation, as keyword arguments of
    :func:`smoothed` (so baselines can be given the same post-processing)."""
    from tsdiff.scoring import TopK

    aggregator = detector.aggregator if detector.aggregator is not None else TopK()
    return {
        "windows": smoothing_windows(aggregator.smoothing),
        "aggregation": "max" if aggregator.k == 1 else "topk",
        "top_k": aggregator.k,
        "score_cap": aggregator.cap,
    }


def score_series(detector: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per-sensor scores ``(n, K)`` and time-step scores ``(n,)`` of one series, from one
    scoring pass."""
    result = detector.detect(frame)
    return np.asarray(result.sensor_scores, dtype=np.float64), np.asarray(
        result.scores, dtype=np.float64
    )


_REPORTED_FITTED = {  # fitted attribute -> report key
    "training_seconds_": "training_seconds",
    "n_epochs_": "epochs",
}


def run_tsdiff(split: Split, seed: int, max_time: float, params: dict[str, Any]) -> MethodOutput:
    """Fit the detector on the whole training series and score each test series."""
    import torch

    torch.manual_seed(seed)
    detector = make_detector(seed, max_time, **params)
    start = time.perf_counter()
    detector.fit(split.train if len(split.train) > 1 else split.train[0])
    fit_seconds = time.perf_counter() - start
    sensors, test = [], []
    start = time.perf_counter()
    for frame in split.test:
        table, scores = score_series(detector, frame)
        sensors.append(table)
        test.append(scores)
    score_seconds = time.perf_counter() - start
    extra: dict[str, Any] = {
        "params": {k: v for k, v in detector.get_params().items() if _jsonable(v)},
        "threshold": float(detector.threshold_),
    }
    for name, key in _REPORTED_FITTED.items():
        extra[key] = getattr(detector, name)
    extra["threshold_method"] = detector.thresholder_.method_
    extra["calibration_steps"] = int(detector.decision_scores_.size)
    calibration = detector.decision_scores_
    return MethodOutput(
        test,
        np.asarray(calibration, dtype=np.float64),
        sensors,
        fit_seconds,
        score_seconds,
        extra,
        threshold=float(detector.threshold_),
    )


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True


# -- evaluation -----------------------------------------------------------------------------
def attribution_hits(split: Split, sensors: list[np.ndarray], top: int = 3) -> dict[str, float]:
    """Share of interpretation events with a labelled sensor among the top-``top`` sensors."""
    hits, precision, total = 0, 0.0, 0
    for events, table in zip(split.interpretation, sensors, strict=True):
        for start, end, dims in events:
            order, _ = rank_sensors(table[start : end + 1])
            named = {split.columns.index(d) for d in dims}
            found = len(set(order[:top].tolist()) & named)
            hits += found > 0
            precision += found / min(top, len(named))
            total += 1
    return {
        "hit_rate": hits / total if total else float("nan"),
        "precision_at_3": precision / total if total else float("nan"),
        "events": total,
    }


def series_report(
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    calibration: np.ndarray,
    vus_window: int,
) -> dict[str, float]:
    """One series' metrics at the label-free ``threshold``, plus ``f1_drift``: the F1 at that
    threshold raised as tsdiff's ``threshold_drift`` does (the median ignores unscored steps,
    which are never flagged)."""
    filled = np.where(np.isfinite(scores), scores, np.nanmin(scores))
    report = detection_report(labels, filled, threshold, window=vus_window)
    adjusted = drift_adjusted_threshold(threshold, scores, calibration)
    report["f1_drift"] = f1_at_threshold(labels, filled, adjusted)["f1"]
    return report


def mean_report(per_series: list[dict[str, float]]) -> dict[str, Any]:
    """Means over series, and each F1 as a share of the best F1."""
    result: dict[str, Any] = {k: float(np.mean([r[k] for r in per_series])) for k in per_series[0]}
    for name in ("f1", "f1_drift"):
        result[f"{name}_ratio"] = (
            result[name] / result["best_f1"] if result["best_f1"] > 0 else float("nan")
        )
    return result


def evaluate(split: Split, output: MethodOutput, vus_window: int) -> dict[str, Any]:
    """Mean metrics of one method's scores over the split's test series."""
    threshold = output.threshold
    if threshold is None:
        threshold = label_free_threshold(output.calibration)
    per_series = [
        series_report(labels, scores, threshold, output.calibration, vus_window)
        for scores, labels in zip(output.test, split.labels, strict=True)
    ]
    result = mean_report(per_series)
    result["fit_seconds"] = output.fit_seconds
    result["score_seconds"] = output.score_seconds
    result["threshold"] = float(threshold)
    if split.interpretation and output.sensors is not None:
        result["attribution"] = attribution_hits(split, output.sensors)
    if output.extra:
        result["tsdiff"] = output.extra
    if len(per_series) > 1:
        result["per_series"] = {n: r for n, r in zip(split.test_names, per_series, strict=True)}
    return result


BASELINES = ("IForest", "ECOD", "KNN", "PCA")


def variant_label(name: str, what: str) -> str:
    """``"KNN (flat)"`` + ``"smoothed 31"`` -> ``"KNN (flat, smoothed 31)"``; a name without a
    parenthesis gets one: ``"rolling z-score (smoothed 31)"``."""
    return f"{name[:-1]}, {what})" if name.endswith(")") else f"{name} ({what})"


def tsdiff_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Detector parameters given with ``--tsdiff-param k=v`` (values parsed as JSON when they
    look like numbers, lists, booleans, null or strings in quotes)."""
    from tsdiff.config import build_component

    params: dict[str, Any] = {}
    for item in args.tsdiff_param or []:
        key, value = item.split("=", 1)
        params[key] = json.loads(value) if value[:1] in '0123456789-[{tfn"' else value
        if key in ("scorer", "aggregator", "thresholder") and isinstance(params[key], dict):
            params[key] = build_component(params[key])  # e.g. aggregator={"type":"TopK","k":3}
    return params


def methods_of(
    split: Split, args: argparse.Namespace, seed: int
) -> list[tuple[str, Callable[[], MethodOutput]]]:
    """The methods to run on ``split``, by name."""
    methods: list[tuple[str, Callable[[], MethodOutput]]] = []
    if not args.skip_tsdiff:
        overrides = tsdiff_overrides(args)
        methods.append(("tsdiff", lambda: run_tsdiff(split, seed, args.max_time, overrides)))
    if not args.only_tsdiff:
        width, limit = args.baseline_window, args.max_train_windows
        for name in BASELINES:
            methods.append((f"{name} (flat)", partial(run_flat, split, name, width, seed, limit)))
            methods.append(
                (f"{name} (per-sensor)", partial(run_per_sensor, split, name, width, seed, limit))
            )
        methods.append(("rolling z-score", partial(run_rolling_zscore, split, args.zscore_window)))
    methods.append(("random", partial(run_random, split, seed)))
    return methods


def run_split(split: Split, args: argparse.Namespace, seed: int, log: Log) -> dict[str, Any]:
    """Every method (and every post-processed variant of the baselines) on one split."""
    results: dict[str, Any] = {}
    post = detector_postprocessing(make_detector(seed, args.max_time, **tsdiff_overrides(args)))
    for name, method in methods_of(split, args, seed):
        start = time.perf_counter()
        output = method()
        variants = [(name, output)]
        baseline = name not in ("tsdiff", "random")
        for spec in args.smoothed_baselines if baseline else []:
            windows = smoothing_windows([int(w) for w in spec.split("+")])
            if windows == (1,):
                continue
            what = f"smoothed {spec}" if len(windows) == 1 else f"multi-scale {spec}"
            variants.append((variant_label(name, what), smoothed(output, windows)))
        if baseline and output.sensors is not None and args.tsdiff_postprocessed_baselines:
            # exactly tsdiff's post-processing: its smoothing, aggregation and score cap
            label = variant_label(name, "tsdiff post-processing")
            variants.append((label, smoothed(output, **post)))
        for label, out in variants:
            results[label] = r = evaluate(split, out, args.vus_window)
            log(
                f"  seed {seed} {split.name:12s} {label:34s} VUS-PR {r['vus_pr']:.3f} "
                f"AUC-PR {r['auc_pr']:.3f} AUC-ROC {r['auc_roc']:.3f} "
                f"bestF1 {r['best_f1']:.3f} F1@thr {r['f1']:.3f} F1@drift {r['f1_drift']:.3f} "
                f"fit {r['fit_seconds']:.0f}s score {r['score_seconds']:.1f}s "
                f"({time.perf_counter() - start:.0f}s)"
                + (f" attr {r['attribution']['hit_rate']:.2f}" if "attribution" in r else "")
            )
    return results


MEAN_KEYS = (
    "vus_pr",
    "auc_pr",
    "auc_roc",
    "best_f1",
    "f1",
    "f1_ratio",
    "f1_drift",
    "f1_drift_ratio",
    "fit_seconds",
    "score_seconds",
)


def mean_over(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean of each method's metrics over the SMD machines (methods run on all of them)."""
    methods = [m for m in next(iter(results.values())) if all(m in r for r in results.values())]
    out: dict[str, Any] = {}
    for method in methods:
        rows = [results[m][method] for m in results]
        out[method] = {k: float(np.mean([r[k] for r in rows])) for k in MEAN_KEYS}
        if all("attribution" in r for r in rows):
            events = sum(r["attribution"]["events"] for r in rows)
            for key in ("hit_rate", "precision_at_3"):
                out[method][f"attribution_{key}"] = (
                    sum(r["attribution"][key] * r["attribution"]["events"] for r in rows) / events
                )
    return out


def mean_over_seeds(seeds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per data set and method: the mean (and ``vus_pr_std``) of its summary over the seeds
    that ran it, with ``n_seeds``."""
    tables: dict[str, list[dict[str, Any]]] = {"smd": [], "skab": []}
    for run in seeds.values():
        if "smd" in run:
            tables["smd"].append(run["smd"]["mean"])
        if "skab" in run:
            tables["skab"].append(run["skab"]["results"])
    out: dict[str, Any] = {}
    for dataset, runs in tables.items():
        methods = sorted({m for table in runs for m in table})
        summary = {}
        for method in methods:
            rows = [table[method] for table in runs if method in table]
            summary[method] = {k: float(np.mean([r[k] for r in rows])) for k in MEAN_KEYS}
            summary[method]["vus_pr_std"] = float(np.std([r["vus_pr"] for r in rows]))
            summary[method]["n_seeds"] = len(rows)
        if summary:
            out[dataset] = summary
    return out


def table(summary: dict[str, Any], title: str) -> str:
    """A markdown table of method summaries, best VUS-PR first."""
    lines = [
        f"**{title}**",
        "",
        "| method | VUS-PR | AUC-PR | AUC-ROC | best F1 (upper bound) | F1 @ label-free thr. "
        "| F1 ratio | F1 @ drift-adj. thr. | ratio | fit s | score s | top-3 attribution |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, r in sorted(summary.items(), key=lambda kv: -kv[1]["vus_pr"]):
        attribution = f"{r['attribution_hit_rate']:.2f}" if "attribution_hit_rate" in r else "-"
        lines.append(
            f"| {method} | {r['vus_pr']:.3f} | {r['auc_pr']:.3f} | {r['auc_roc']:.3f} "
            f"| {r['best_f1']:.3f} | {r['f1']:.3f} | {r['f1_ratio']:.2f} "
            f"| {r['f1_drift']:.3f} | {r['f1_drift_ratio']:.2f} | {r['fit_seconds']:.0f} "
            f"| {r['score_seconds']:.1f} | {attribution} |"
        )
    return "\n".join(lines)


def tables(report: dict[str, Any]) -> str:
    """Markdown tables of a report: each seed's SMD and SKAB means, then the means over seeds."""
    out = []
    for seed, run in report["seeds"].items():
        if "smd" in run:
            machines = list(run["smd"]["machines"])
            title = f"seed {seed}: SMD ({', '.join(machines)}), mean over machines"
            out.append(table(run["smd"]["mean"], title))
        if "skab" in run:
            title = f"seed {seed}: SKAB ({len(run['skab']['runs'])} runs), mean over runs"
            out.append(table(run["skab"]["results"], title))
    if len(report["seeds"]) > 1:
        for dataset, summary in report.get("mean_over_seeds", {}).items():
            out.append(table(summary, f"{dataset.upper()}: mean over seeds (n_seeds per row)"))
    return "\n\n".join(out)


def merge_reports(paths: list[Path]) -> dict[str, Any]:
    """One report from several runs' files (e.g. seeds or machines run separately): per seed,
    SMD results pooled per machine and method and SKAB results per method, later files
    winning; commands and logs are kept."""
    parts = [json.loads(p.read_text()) for p in paths]
    seeds: dict[str, dict[str, Any]] = {}
    for part in parts:
        for seed, run in part["seeds"].items():
            into = seeds.setdefault(seed, {})
            for machine, methods in run.get("smd", {}).get("machines", {}).items():
                machines = into.setdefault("smd", {"machines": {}})["machines"]
                machines.setdefault(machine, {}).update(methods)
            if "skab" in run:
                skab = into.setdefault("skab", {"runs": run["skab"]["runs"], "results": {}})
                skab["results"].update(run["skab"]["results"])
    for run in seeds.values():
        if "smd" in run:
            run["smd"]["mean"] = mean_over(run["smd"]["machines"])
    return {
        "merged_from": [
            {"file": p.name, "command": r.get("command"), "seconds": r.get("seconds")}
            for p, r in zip(paths, parts, strict=True)
        ],
        "machine": parts[-1].get("machine"),
        "protocol": parts[-1].get("protocol"),
        "seeds": seeds,
        "mean_over_seeds": mean_over_seeds(seeds),
        "log": [line for r in parts for line in r.get("log", [])],
    }


def save(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=float))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.detect",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="one SMD machine, 6 SKAB runs, 120 s training"
    )
    parser.add_argument(
        "--machines", nargs="*", default=None, help=f"SMD machines (default all: {SMD_MACHINES})"
    )
    parser.add_argument(
        "--skab-runs", nargs="*", default=None, help="SKAB runs to use (default all 34)"
    )
    parser.add_argument("--skip-smd", action="store_true")
    parser.add_argument("--skip-skab", action="store_true")
    parser.add_argument("--skip-tsdiff", action="store_true", help="baselines only")
    parser.add_argument("--only-tsdiff", action="store_true", help="tsdiff and random only")
    parser.add_argument(
        "--no-anomaly-free", action="store_true", help="SKAB: do not train on anomaly_free.csv.gz"
    )
    parser.add_argument(
        "--max-time", type=float, default=240.0, help="tsdiff training budget per model (s)"
    )
    parser.add_argument(
        "--tsdiff-param",
        action="append",
        help="detector parameter overriding make_detector's, e.g. n_samples=8 (repeatable)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS threads")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="one run of everything per seed (tsdiff's training, IForest, PCA, random); all "
        "seeds go into the one output file, with their means",
    )
    parser.add_argument("--baseline-window", type=int, default=16)
    parser.add_argument(
        "--smoothed-baselines",
        nargs="+",
        default=["31", "1+31+63"],
        metavar="LENGTHS",
        help="also report every baseline after tsdiff's post-processing: a centred moving "
        "average of this many steps ('31'), or several lengths joined by '+' as tsdiff's "
        "multi-scale smoothing ('1+31+63', its default), so the comparison does not hinge on "
        "post-processing; '1' alone turns the extra rows off",
    )
    parser.add_argument(
        "--no-tsdiff-postprocessed-baselines",
        dest="tsdiff_postprocessed_baselines",
        action="store_false",
        help="do not add, for every per-sensor baseline, a row with tsdiff's whole "
        "post-processing (its smoothing, top-k aggregation and score cap)",
    )
    parser.add_argument("--zscore-window", type=int, default=60)
    parser.add_argument(
        "--max-train-windows",
        type=int,
        default=20000,
        help="baseline training windows (subsampled)",
    )
    parser.add_argument(
        "--vus-window", type=int, default=100, help="VUS buffer (TSB-AD slidingWindow)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=None,
        help="combine result files of earlier runs (seeds or machines run separately) into "
        "--output, recomputing the means; runs nothing",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.machines = args.machines or list(SMD_MACHINES[:1])
        args.skab_runs = args.skab_runs or list(QUICK_SKAB_RUNS)
        args.max_time = min(args.max_time, 120.0)
    return args


def run(args: argparse.Namespace, command: str, log: Log) -> dict[str, Any]:
    """Every seed on SMD and SKAB, saving the report after each split."""
    import torch

    started = time.perf_counter()
    report: dict[str, Any] = {
        "command": command,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": args.threads,
            "torch": torch.__version__,
        },
        "protocol": {
            "calibration_fraction": CALIBRATION_FRACTION,
            "risk": RISK,
            "vus_window": args.vus_window,
            "baseline_window": args.baseline_window,
            "zscore_window": args.zscore_window,
            "smoothed_baselines": args.smoothed_baselines,
            "tsdiff_postprocessed_baselines": args.tsdiff_postprocessed_baselines,
        },
        "seeds": {},
    }
    machines = args.machines or list(SMD_MACHINES)
    for seed in args.seeds:
        current: dict[str, Any] = {}
        report["seeds"][str(seed)] = current
        if not args.skip_smd:
            smd: dict[str, Any] = {}
            for machine in machines:
                smd[machine] = run_split(load_smd(machine), args, seed, log)
                current["smd"] = {"machines": smd, "mean": mean_over(smd)}
                save(args.output, report)
        if not args.skip_skab:
            skab = load_skab(not args.no_anomaly_free, args.skab_runs)
            current["skab"] = {
                "runs": skab.test_names,
                "results": run_split(skab, args, seed, log),
            }
            save(args.output, report)
    report["mean_over_seeds"] = mean_over_seeds(report["seeds"])
    report["seconds"] = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or merge earlier result files) and print markdown tables."""
    args = parse_args(argv)
    if args.merge:
        report = merge_reports(args.merge)
    else:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        lines: list[str] = []

        def log(line: str) -> None:
            sys.stderr.write(line + "\n")
            lines.append(line)

        command = " ".join(
            ["python -m benchmarks.detect", *(sys.argv[1:] if argv is None else argv)]
        )
        try:
            with threadpool_limits(args.threads):
                report = run(args, command, log)
        except DataMissing as err:
            sys.stderr.write(f"{err}\n")
            return 1
        report["log"] = lines
    save(args.output, report)
    sys.stdout.write(tables(report) + f"\n\nwrote {args.output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
