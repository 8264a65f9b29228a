"""Anomaly-detection benchmark: tsdiff against PyOD baselines on SMD and SKAB, side by side.

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
  max-aggregated; a rolling z-score (per sensor, max) and a random score.
* SKAB: one model per method on all 34 training parts (plus ``anomaly_free`` unless
  ``--no-anomaly-free``), scored run by run.
* Attribution (SMD): for each event of ``interpretation_label.txt``, whether one of the event's
  top-3 sensors (largest per-sensor score within the event) is a labelled sensor.

Run ``python benchmarks/detect.py --help``; results go to ``benchmarks/results/detect.json``
and a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tsdiff.scoring import (  # noqa: E402
    MultiScaleSmoother,
    SensorNormaliser,
    aggregate_sensors,
    detection_report,
    drift_adjusted_threshold,
    f1_at_threshold,
    pot_threshold,
    quantile_threshold,
    rank_sensors,
    smooth_scores,
    smoothing_windows,
)

SMD_MACHINES = ("machine-1-6", "machine-2-1", "machine-2-2", "machine-3-3")
CALIBRATION_FRACTION = 0.2
RISK = 0.002


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository, or ``$TSDIFF_SHARED_DATA``."""
    env = os.environ.get("TSDIFF_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


# -- data ------------------------------------------------------------------------------------
@dataclass
class Split:
    """Training series (fit + calibration parts) and labelled test series."""

    name: str
    train: list[pd.DataFrame]
    fit: list[pd.DataFrame]
    calibration: list[pd.DataFrame]
    test: list[pd.DataFrame]
    labels: list[np.ndarray]
    test_names: list[str]
    interpretation: list[list[tuple[int, int, list[str]]]] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.fit[0].columns]


def _split_tail(
    frame: pd.DataFrame, fraction: float, min_rows: int
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    held = max(round(fraction * len(frame)), min_rows)
    if len(frame) - held < min_rows:
        return frame, None
    return frame.iloc[: len(frame) - held], frame.iloc[len(frame) - held :]


def load_smd(machine: str, min_rows: int = 32) -> Split:
    """One SMD machine: train (split into fit/calibration), test with labels, interpretation."""
    root = shared_data_dir() / "smd" / machine
    train = pd.read_csv(root / "train.csv.gz", index_col="time").astype(np.float64)
    test = pd.read_csv(root / "test.csv.gz", index_col="time")
    labels = test.pop("label").to_numpy().astype(np.int64)
    fit, calibration = _split_tail(train, CALIBRATION_FRACTION, min_rows)
    assert calibration is not None
    events = []
    for line in (root / "interpretation_label.txt").read_text().split():
        span, dims = line.split(":")
        start, end = (int(v) for v in span.split("-"))
        # ranges are 0-based test rows with an exclusive end (checked against the labels)
        events.append((start, end - 1, [f"dim{int(d):02d}" for d in dims.split(",")]))
    return Split(
        machine,
        [train],
        [fit],
        [calibration],
        [test.astype(np.float64)],
        [labels],
        [machine],
        [events],
    )


def _read_skab(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time")), name="time")
    return frame


def load_skab(
    with_anomaly_free: bool = True, runs: list[str] | None = None, min_rows: int = 32
) -> Split:
    """SKAB: every run's train part (fit/calibration by time) plus optionally ``anomaly_free``."""
    root = shared_data_dir() / "skab"
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    if runs:
        names = [n for n in names if n in runs]
    trains, fit, calibration, test, labels = [], [], [], [], []
    for name in names:
        train = _read_skab(root / name / "train.csv.gz").astype(np.float64)
        trains.append(train)
        part, held = _split_tail(train, CALIBRATION_FRACTION, min_rows)
        fit.append(part)
        if held is not None:
            calibration.append(held)
        frame = _read_skab(root / name / "test.csv.gz")
        labels.append(frame.pop("label").to_numpy().astype(np.int64))
        test.append(frame.astype(np.float64))
    if with_anomaly_free:
        free = _read_skab(root / "anomaly_free.csv.gz").astype(np.float64)
        trains.append(free)
        part, held = _split_tail(free, CALIBRATION_FRACTION, min_rows)
        fit.append(part)
        if held is not None:
            calibration.append(held)
    return Split("SKAB", trains, fit, calibration, test, labels, names)


# -- label-free threshold (the rule tsdiff uses) --------------------------------------------
def label_free_threshold(calibration_scores: np.ndarray, risk: float = RISK) -> float:
    """Peaks-over-threshold on calibration scores, falling back to the ``1 - risk`` quantile."""
    finite = calibration_scores[np.isfinite(calibration_scores)]
    try:
        return pot_threshold(finite, risk)
    except ValueError:
        return quantile_threshold(finite, min(max(risk, 1.0 / finite.size), 0.5))


# -- baselines ------------------------------------------------------------------------------
class Standardiser:
    """Column mean/std of the fit data (std 1 for constant columns, which are flagged)."""

    def __init__(self, frames: list[pd.DataFrame]) -> None:
        stacked = np.concatenate([f.to_numpy() for f in frames])
        self.mean = stacked.mean(axis=0)
        std = stacked.std(axis=0)
        self.constant = std <= 1e-8
        self.std = np.where(self.constant, 1.0, std)

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame.to_numpy() - self.mean) / self.std


def sliding(values: np.ndarray, width: int) -> np.ndarray:
    """Windows ``(n - width + 1, width, K)`` of ``values (n, K)`` (edge-padded when too short)."""
    if len(values) < width:
        values = np.concatenate([values, np.repeat(values[-1:], width - len(values), axis=0)])
    return np.lib.stride_tricks.sliding_window_view(values, width, axis=0).transpose(0, 2, 1)


def flat_windows(values: np.ndarray, width: int) -> np.ndarray:
    """Sliding windows flattened to ``(n_windows, width * K)``."""
    windows = sliding(values, width)
    return windows.reshape(len(windows), -1)


def centre_scores(window_scores: np.ndarray, n: int, width: int) -> np.ndarray:
    """Assign a window's score to its centre step and pad the edges (TSB-AD's convention)."""
    before = (width - 1) // 2
    after = n - len(window_scores) - before
    out = np.r_[
        np.full(before, window_scores[0]), window_scores, np.full(max(after, 0), window_scores[-1])
    ]
    return out[:n]


def make_pyod(name: str, seed: int) -> Any:
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
    """Scores of one method: per test series (n,), per-sensor (n, K) if any, calibration (m,)."""

    test: list[np.ndarray]
    calibration: np.ndarray
    sensors: list[np.ndarray] | None = None
    fit_seconds: float = 0.0
    score_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    calibration_sensors: list[np.ndarray] | None = None


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
    return MethodOutput(
        test, calibration, sensors, output.fit_seconds, output.score_seconds, {}, None
    )


def _subsample(rows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    if len(rows) <= limit:
        return rows
    keep = np.random.default_rng(seed).choice(len(rows), limit, replace=False)
    return rows[np.sort(keep)]


def run_flat(split: Split, detector: str, width: int, seed: int, max_train: int) -> MethodOutput:
    scale = Standardiser(split.fit)
    keep = ~scale.constant  # constant training columns carry nothing for these models
    start = time.perf_counter()
    train = np.concatenate([flat_windows(scale(f)[:, keep], width) for f in split.fit])
    model = make_pyod(detector, seed).fit(_subsample(train, max_train, seed))
    fit_seconds = time.perf_counter() - start

    def score(frame: pd.DataFrame) -> np.ndarray:
        raw = np.nan_to_num(
            model.decision_function(flat_windows(scale(frame)[:, keep], width)), nan=0.0
        )
        return centre_scores(raw, len(frame), width)

    calibration = np.concatenate([score(f) for f in split.calibration])
    start = time.perf_counter()
    test = [score(f) for f in split.test]
    return MethodOutput(test, calibration, None, fit_seconds, time.perf_counter() - start)


def run_per_sensor(
    split: Split, detector: str, width: int, seed: int, max_train: int
) -> MethodOutput:
    scale = Standardiser(split.fit)
    fit_frames = [scale(f) for f in split.fit]
    n_sensors = len(split.columns)
    start = time.perf_counter()
    models: list[Any] = []
    for k in range(n_sensors):
        if scale.constant[k]:
            models.append(None)  # scored by the distance from its constant value
            continue
        train = np.concatenate([sliding(v[:, k : k + 1], width)[:, :, 0] for v in fit_frames])
        models.append(make_pyod(detector, seed).fit(_subsample(train, max_train, seed)))
    fit_seconds = time.perf_counter() - start

    def raw(frame: pd.DataFrame) -> np.ndarray:
        values = scale(frame)
        cols = []
        for k in range(n_sensors):
            if models[k] is None:
                cols.append(np.abs(values[:, k]))
                continue
            scores = np.nan_to_num(
                models[k].decision_function(sliding(values[:, k : k + 1], width)[:, :, 0]), nan=0.0
            )
            cols.append(centre_scores(scores, len(frame), width))
        return np.stack(cols, axis=1)

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

    cal_raw = [raw(f) for f in split.calibration]
    normaliser = SensorNormaliser("robust").fit(np.concatenate(cal_raw))
    cal_sensors = [normaliser.transform(r) for r in cal_raw]
    calibration = np.concatenate([aggregate_sensors(s) for s in cal_sensors])
    start = time.perf_counter()
    sensors = [normaliser.transform(raw(f)) for f in split.test]
    return MethodOutput(
        [aggregate_sensors(s) for s in sensors],
        calibration,
        sensors,
        0.0,
        time.perf_counter() - start,
        {},
        cal_sensors,
    )


def run_random(split: Split, seed: int) -> MethodOutput:
    rng = np.random.default_rng(seed)
    calibration = rng.random(sum(len(f) for f in split.calibration))
    return MethodOutput([rng.random(len(f)) for f in split.test], calibration)


def tsdiff_params(args: argparse.Namespace, dataset: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "random_state": args.seed,
        "verbose": False,
        "max_time": args.max_time,
        "calibration_fraction": CALIBRATION_FRACTION,
        "risk": RISK,
    }
    # One configuration for both data sets (see docs/benchmarks_detection.md): window, strips
    # and top-6 aggregation were chosen on SMD machine-1-6; the detector's defaults for the
    # training targets (strips_mix) and the 31-step smoothing were chosen on machine-2-1, the
    # multi-scale smoothing (1, 31, 63) (session 4) on all four machines and SKAB, and the
    # score cap of 50 (session 5) on the same cached scores (benchmarks/detect_sweep.py).
    params.update(
        window_length=32,
        strip_length=16,
        train_stride=args.train_stride,
        aggregation="topk",
        top_k=6,
        score_cap=50.0,
        compile_network=not args.no_compile,
    )
    for item in args.tsdiff_param or []:
        key, value = item.split("=", 1)
        params[key] = json.loads(value) if value[:1] in '0123456789-[{tfn"' else value
    return params


def tsdiff_postprocessing(args: argparse.Namespace, dataset: str) -> dict[str, Any]:
    """The smoothing and sensor aggregation tsdiff runs with in this benchmark, as keyword
    arguments of :func:`smoothed` (so baselines can be given the same post-processing)."""
    from tsdiff import TSDiffAnomalyDetector

    params = {**TSDiffAnomalyDetector().get_params(), **tsdiff_params(args, dataset)}
    return {
        "windows": smoothing_windows(params["smoothing"]),
        "aggregation": params["aggregation"],
        "top_k": params["top_k"],
        "score_cap": params["score_cap"],
    }


def run_tsdiff(split: Split, args: argparse.Namespace) -> MethodOutput:
    import torch

    from tsdiff import TSDiffAnomalyDetector

    torch.manual_seed(args.seed)
    params = tsdiff_params(args, split.name if split.name == "SKAB" else "SMD")
    detector = TSDiffAnomalyDetector(**params)
    # The detector holds out its own calibration tail (same rule as the baselines' split).
    train = split.train
    start = time.perf_counter()
    detector.fit(train if len(train) > 1 else train[0])
    fit_seconds = time.perf_counter() - start
    sensors, test = [], []
    start = time.perf_counter()
    for frame in split.test:
        table = detector.feature_scores(frame).to_numpy()
        sensors.append(table)
        test.append(
            aggregate_sensors(table, detector.aggregation, detector.top_k, detector.score_cap)
        )
    score_seconds = time.perf_counter() - start
    extra = {
        "params": {
            k: v
            for k, v in detector.get_params().items()
            if k in params
            or k
            in (
                "n_samples",
                "sampling_steps",
                "channels",
                "n_layers",
                "n_heads",
                "n_masks",
                "strip_length",
                "mask_pattern",
                "cell_score",
                "smoothing",
                "inference_stride",
                "precision",
            )
        },
        "training_seconds": detector.training_seconds_,
        "epochs": detector.n_epochs_,
        "threshold": detector.threshold_,
        "threshold_method": detector.threshold_method_,
        "calibration_steps": detector.n_calibration_steps_,
    }
    output = MethodOutput(
        test, detector.calibration_scores_, sensors, fit_seconds, score_seconds, extra
    )
    output.extra["threshold_override"] = detector.threshold_
    return output


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
    threshold = output.extra.get("threshold_override")
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
        result["tsdiff"] = {k: v for k, v in output.extra.items() if k != "threshold_override"}
    if len(per_series) > 1:
        result["per_series"] = {n: r for n, r in zip(split.test_names, per_series, strict=True)}
    return result


BASELINES = ("IForest", "ECOD", "KNN", "PCA")


def variant_label(name: str, what: str) -> str:
    """``"KNN (flat)"`` + ``"smoothed 31"`` -> ``"KNN (flat, smoothed 31)"``; a name without a
    parenthesis gets one: ``"rolling z-score (smoothed 31)"``."""
    return f"{name[:-1]}, {what})" if name.endswith(")") else f"{name} ({what})"


def run_split(split: Split, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    methods: list[tuple[str, Any]] = []
    if not args.skip_tsdiff:
        methods.append(("tsdiff", lambda: run_tsdiff(split, args)))
    if not args.only_tsdiff:
        for name in BASELINES:
            methods.append(
                (
                    f"{name} (flat)",
                    lambda n=name: run_flat(
                        split, n, args.baseline_window, args.seed, args.max_train_windows
                    ),
                )
            )
            methods.append(
                (
                    f"{name} (per-sensor)",
                    lambda n=name: run_per_sensor(
                        split, n, args.baseline_window, args.seed, args.max_train_windows
                    ),
                )
            )
        methods.append(("rolling z-score", lambda: run_rolling_zscore(split, args.zscore_window)))
    methods.append(("random", lambda: run_random(split, args.seed)))
    for name, method in methods:
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
            post = tsdiff_postprocessing(args, "SKAB" if split.name == "SKAB" else "SMD")
            label = variant_label(name, "tsdiff post-processing")
            variants.append((label, smoothed(output, **post)))
        for label, out in variants:
            results[label] = evaluate(split, out, args.vus_window)
            r = results[label]
            log(
                f"  {split.name:12s} {label:34s} VUS-PR {r['vus_pr']:.3f} AUC-PR {r['auc_pr']:.3f} "
                f"AUC-ROC {r['auc_roc']:.3f} bestF1 {r['best_f1']:.3f} F1@thr {r['f1']:.3f} "
                f"F1@drift {r['f1_drift']:.3f} "
                f"fit {r['fit_seconds']:.0f}s score {r['score_seconds']:.1f}s "
                f"({time.perf_counter() - start:.0f}s)"
                + (f" attr {r['attribution']['hit_rate']:.2f}" if "attribution" in r else "")
            )
    return results


def mean_over(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean of each method's metrics over the SMD machines."""
    methods = next(iter(results.values())).keys()
    keys = (
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
    out: dict[str, Any] = {}
    for method in methods:
        rows = [results[m][method] for m in results]
        out[method] = {  # reports from before a metric was added lack it
            k: float(np.mean([r[k] for r in rows])) for k in keys if all(k in r for r in rows)
        }
        if all("attribution" in r for r in rows):
            events = sum(r["attribution"]["events"] for r in rows)
            out[method]["attribution_hit_rate"] = (
                sum(r["attribution"]["hit_rate"] * r["attribution"]["events"] for r in rows)
                / events
            )
            out[method]["attribution_precision_at_3"] = (
                sum(r["attribution"]["precision_at_3"] * r["attribution"]["events"] for r in rows)
                / events
            )
    return out


def table(summary: dict[str, Any], title: str) -> str:
    lines = [
        f"**{title}**",
        "",
        "| method | VUS-PR | AUC-PR | AUC-ROC | best F1 (upper bound) | F1 @ label-free thr. "
        "| F1 ratio | F1 @ drift-adj. thr. | ratio | fit s | score s | top-3 attribution |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    nan = float("nan")  # reports from before the drift-adjusted F1 lack it
    for method, r in sorted(summary.items(), key=lambda kv: -kv[1]["vus_pr"]):
        attribution = f"{r['attribution_hit_rate']:.2f}" if "attribution_hit_rate" in r else "-"
        lines.append(
            f"| {method} | {r['vus_pr']:.3f} | {r['auc_pr']:.3f} | {r['auc_roc']:.3f} "
            f"| {r['best_f1']:.3f} | {r['f1']:.3f} | {r['f1_ratio']:.2f} "
            f"| {r.get('f1_drift', nan):.3f} | {r.get('f1_drift_ratio', nan):.2f} "
            f"| {r['fit_seconds']:.0f} "
            f"| {r['score_seconds']:.1f} | {attribution} |"
        )
    return "\n".join(lines)


def merge_reports(paths: list[Path], output: Path) -> int:
    """One report from several runs' JSON files: SMD results pooled per machine and method
    (later files win), SKAB
    from the last file that has it; commands, machines and logs are kept per part."""
    parts = [json.loads(p.read_text()) for p in paths]
    smd: dict[str, Any] = {}
    report: dict[str, Any] = {
        "merged_from": [
            {"file": p.name, "command": r.get("command"), "seconds": r.get("seconds")}
            for p, r in zip(paths, parts, strict=True)
        ],
        "machine": parts[-1].get("machine"),
        "protocol": parts[-1].get("protocol"),
        "log": [line for r in parts for line in r.get("log", [])],
    }
    for part in parts:
        for machine, methods in part.get("smd", {}).get("machines", {}).items():
            smd.setdefault(machine, {}).update(methods)  # later files win, method by method
        if "skab" in part:
            report["skab"] = part["skab"]
    markdown = []
    if smd:
        report["smd"] = {"machines": smd, "mean": mean_over(smd)}
        markdown.append(
            table(report["smd"]["mean"], f"SMD ({len(smd)} machines: {', '.join(smd)}), mean")
        )
    if "skab" in report:
        runs = report["skab"]["runs"]
        markdown.append(table(report["skab"]["results"], f"SKAB ({len(runs)} runs), mean"))
    _save(output, report)
    print("\n\n".join(markdown))
    print(f"\nwrote {output}")
    return 0


def _save(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=float))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="one SMD machine, 6 SKAB runs, 120 s training"
    )
    parser.add_argument(
        "--machines", nargs="*", default=None, help=f"SMD machines (default all: {SMD_MACHINES})"
    )
    parser.add_argument(
        "--skab-runs", nargs="*", default=None, help="SKAB runs to score (default all 34)"
    )
    parser.add_argument("--skip-smd", action="store_true")
    parser.add_argument("--skip-skab", action="store_true")
    parser.add_argument("--skip-tsdiff", action="store_true")
    parser.add_argument("--only-tsdiff", action="store_true", help="tsdiff and random only")
    parser.add_argument(
        "--no-anomaly-free", action="store_true", help="SKAB: do not train on anomaly_free.csv.gz"
    )
    parser.add_argument(
        "--max-time", type=float, default=240.0, help="tsdiff training budget per model (s)"
    )
    parser.add_argument("--train-stride", type=int, default=2, help="tsdiff training window stride")
    parser.add_argument(
        "--no-compile", action="store_true", help="score with the eager network (no torch.compile)"
    )
    parser.add_argument(
        "--tsdiff-param", action="append", help="extra detector parameter, e.g. n_samples=8"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
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
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "detect.json"
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=None,
        help="combine result files of earlier runs (e.g. machines run separately) into "
        "--output, recomputing the SMD means; runs nothing",
    )
    args = parser.parse_args(argv)
    if args.merge:
        return merge_reports(args.merge, args.output)

    import torch

    torch.set_num_threads(args.threads)
    machines = args.machines or (list(SMD_MACHINES[:1]) if args.quick else list(SMD_MACHINES))
    skab_runs = args.skab_runs
    if args.quick:
        args.max_time = min(args.max_time, 120.0)
        skab_runs = skab_runs or [
            "other_01",
            "other_09",
            "valve1_00",
            "valve1_08",
            "valve2_00",
            "valve2_02",
        ]
    if not shared_data_dir().exists():
        print(f"data not found at {shared_data_dir()}", file=sys.stderr)
        return 1

    started = time.perf_counter()
    log_lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        log_lines.append(line)

    report: dict[str, Any] = {
        "command": "python "
        + " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])]),
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
    }
    markdown = []
    if not args.skip_smd:
        smd = {}
        for machine in machines:
            smd[machine] = run_split(load_smd(machine), args, log)
            report["smd"] = {"machines": smd, "mean": mean_over(smd)}
            _save(args.output, report)
        markdown.append(
            table(
                report["smd"]["mean"],
                f"SMD ({len(machines)} machine(s): {', '.join(machines)}), mean over machines",
            )
        )
    if not args.skip_skab:
        skab = load_skab(not args.no_anomaly_free, skab_runs)
        results = run_split(skab, args, log)
        report["skab"] = {"runs": skab.test_names, "results": results}
        _save(args.output, report)
        markdown.append(
            table(
                {m: r for m, r in results.items()},
                f"SKAB ({len(skab.test_names)} runs), mean over runs",
            )
        )
    report["seconds"] = time.perf_counter() - started
    report["log"] = log_lines
    _save(args.output, report)
    print()
    print("\n\n".join(markdown))
    print(f"\nwrote {args.output} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
