"""``tsdiff demo``: the library's main job on bundled real data, in a few CPU minutes.

By default the demo uses the pretrained models bundled in :mod:`tsdiff.pretrained` (trained by
``tools/train_pretrained.py``); ``train=True`` (``tsdiff demo --train``) trains both live within
a time budget instead and compares its figures with the pretrained ones.

Imputation part
    Two weeks of the held-out last year of the bundled Beijing PM data (12 stations x PM2.5,
    PM10; the pretrained imputer saw only the first three years) get about 10 % of their
    observed cells hidden at random plus block outages of single stations (both columns of a
    station hidden for 24-72 hours; seeded). Only cells with ground truth are hidden, and they
    are removed from the input. tsdiff imputes them (median of the samples, 90 % interval);
    MAE, RMSE, CRPS and the coverage of the 90 % interval are reported beside linear
    interpolation and a multivariate baseline (scikit-learn's ``IterativeImputer`` fitted on
    the training years and the input), overall and on the outage cells alone.
Detection part
    The detector scores the labelled server-metrics test slice (SMD machine-1-6): AUC-ROC and
    AUC-PR (with the random-score baseline) and the F1 at the detector's own, label-free
    threshold.

Everything is written to ``out_dir``: ``imputation.png``, ``detection.png`` (drawn with
:mod:`tsdiff.plot`) and ``results.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tsdiff.demo._common import (
    DEFAULT_DETECTION_MAX_TIME,
    DEFAULT_IMPUTATION_MAX_TIME,
    DEMO_PERIOD,
    DETECTOR_PRESET,
    IMPUTER_PRESET,
    N_SAMPLES,
    OUTAGE_COLUMN,
    OUTAGES,
    QUICK_DETECTOR_PRESET,
    QUICK_IMPUTER_PRESET,
    QUICK_ROWS,
    QUICK_TRAIN_ROWS,
    fit_preset,
)
from tsdiff.demo._data import demo_period, hide_for_demo, multivariate_baseline
from tsdiff.demo._detection import detection_demo
from tsdiff.demo._imputation import imputation_demo
from tsdiff.demo._summary import comparison, print_summary

__all__ = [
    "DEFAULT_DETECTION_MAX_TIME",
    "DEFAULT_IMPUTATION_MAX_TIME",
    "DEMO_PERIOD",
    "DETECTOR_PRESET",
    "IMPUTER_PRESET",
    "N_SAMPLES",
    "OUTAGES",
    "OUTAGE_COLUMN",
    "QUICK_DETECTOR_PRESET",
    "QUICK_IMPUTER_PRESET",
    "QUICK_ROWS",
    "QUICK_TRAIN_ROWS",
    "demo_period",
    "detection_demo",
    "fit_preset",
    "hide_for_demo",
    "imputation_demo",
    "multivariate_baseline",
    "run_demo",
]


def run_demo(
    out_dir: str | Path = "tsdiff-demo",
    *,
    train: bool = False,
    max_time: float | None = None,
    seed: int = 0,
    n_samples: int | None = None,
    fraction: float = 0.1,
    detection: bool = True,
    plot: bool = True,
    quiet: bool = False,
    quick: bool = False,
) -> dict[str, Any]:
    """Run the demo and print its summary; returns the results (also in ``results.json``).

    Parameters
    ----------
    out_dir : str or Path, default="tsdiff-demo"
        Folder for ``imputation.png``, ``detection.png`` and ``results.json``.
    train : bool, default=False
        Train both models live instead of loading the pretrained ones, and compare the figures.
    max_time : float, optional
        With ``train``: the training budget per model in seconds (default 300 s for the
        imputer, 120 s for the detector).
    seed : int, default=0
        Seed of the hidden cells, training and sampling.
    n_samples : int, optional
        Imputation samples (default 16).
    fraction : float, default=0.1
        Fraction of the observed cells hidden at random.
    detection : bool, default=True
        Run the detection part.
    plot : bool, default=True
        Draw the plots.
    quiet : bool, default=False
        No progress bars or messages (the summary is still printed).
    quick : bool, default=False
        Two weeks of data (and, with ``train``, tiny models): a smoke test.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    imputation_budget = float(max_time) if max_time is not None else DEFAULT_IMPUTATION_MAX_TIME
    detection_budget = float(max_time) if max_time is not None else DEFAULT_DETECTION_MAX_TIME
    start = time.perf_counter()
    results: dict[str, Any] = {
        "settings": {
            "train": train,
            "imputation_max_time": imputation_budget if train else None,
            "detection_max_time": detection_budget if train else None,
            "seed": seed,
            "fraction": fraction,
            "quick": quick,
        }
    }
    shared: dict[str, Any] = {
        "seed": seed,
        "plot": plot,
        "quiet": quiet,
        "quick": quick,
        "train": train,
    }
    results["imputation"] = imputation_demo(
        folder, n_samples=n_samples, fraction=fraction, max_time=imputation_budget, **shared
    )
    if detection:
        results["detection"] = detection_demo(folder, max_time=detection_budget, **shared)
    else:
        results["detection_skipped"] = "--no-detection"
    if train and not quick:
        results["pretrained_comparison"] = comparison(results)
    results["total_seconds"] = round(time.perf_counter() - start, 1)
    results_file = folder / "results.json"
    results["results_file"] = str(results_file)
    results_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_summary(results)
    return results
