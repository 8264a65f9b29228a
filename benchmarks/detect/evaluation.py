"""Metrics of one method on a split, the label-free threshold, and means over series, machines
and seeds."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.datasets import Split
from benchmarks.detect.output import MethodOutput
from tsdiff.metrics import detection_report, f1_at_threshold
from tsdiff.scoring import drift_adjusted_threshold, pot_threshold, quantile_threshold, rank_sensors

RISK = 0.002


def label_free_threshold(calibration_scores: np.ndarray, risk: float = RISK) -> float:
    """Peaks-over-threshold on calibration scores, falling back to the ``1 - risk`` quantile
    (the detector's default ``threshold="auto"``)."""
    finite = calibration_scores[np.isfinite(calibration_scores)]
    try:
        return pot_threshold(finite, risk)
    except ValueError:
        return quantile_threshold(finite, min(max(risk, 1.0 / finite.size), 0.5))


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
