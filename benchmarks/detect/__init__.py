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

# Modules, one job each: output (a method's scores, tsdiff's post-processing of them), baselines
# (PyOD, rolling z-score, random), tsdiff_method (the detector), evaluation (metrics, means),
# runner (methods on a split, seeds), report (tables, merging, saving) and cli.

from __future__ import annotations

from benchmarks.datasets import Split
from benchmarks.detect.baselines import (
    BASELINES,
    fit_scaler,
    make_pyod,
    run_flat,
    run_per_sensor,
    run_random,
    run_rolling_zscore,
    sliding_windows,
    window_scores_to_steps,
)
from benchmarks.detect.cli import main, parse_args
from benchmarks.detect.evaluation import (
    RISK,
    attribution_hits,
    evaluate,
    label_free_threshold,
    mean_over,
    mean_over_seeds,
    mean_report,
    series_report,
)
from benchmarks.detect.output import MethodOutput, smoothed, variant_label
from benchmarks.detect.report import merge_reports, save, table, tables
from benchmarks.detect.runner import methods_of, run, run_split
from benchmarks.detect.tsdiff_method import (
    detector_postprocessing,
    make_detector,
    run_tsdiff,
    score_series,
    tsdiff_overrides,
)

__all__ = [
    "BASELINES",
    "RISK",
    "MethodOutput",
    "Split",
    "attribution_hits",
    "detector_postprocessing",
    "evaluate",
    "fit_scaler",
    "label_free_threshold",
    "main",
    "make_detector",
    "make_pyod",
    "mean_over",
    "mean_over_seeds",
    "mean_report",
    "merge_reports",
    "methods_of",
    "parse_args",
    "run",
    "run_flat",
    "run_per_sensor",
    "run_random",
    "run_rolling_zscore",
    "run_split",
    "run_tsdiff",
    "save",
    "score_series",
    "series_report",
    "sliding_windows",
    "smoothed",
    "table",
    "tables",
    "tsdiff_overrides",
    "variant_label",
    "window_scores_to_steps",
]
