"""The tsdiff detector of the benchmark: its settings, training and scores."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.datasets import Split
from benchmarks.detect.output import MethodOutput
from tsdiff.scoring import smoothing_windows


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
