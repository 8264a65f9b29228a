"""Classical baselines: scikit-learn's IterativeImputer and linear interpolation in time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from benchmarks.datasets import AQI36Split
from benchmarks.impute_aqi36.config import BenchConfig
from benchmarks.impute_aqi36.data import Standardiser, score_point
from benchmarks.impute_aqi36.resources import PeakMemory, result_row, timed


def run_iterative(config: BenchConfig, split: AQI36Split) -> list[dict[str, Any]]:
    """scikit-learn IterativeImputer (BayesianRidge) fitted on the training months."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    memory = PeakMemory()
    train = np.concatenate([f.to_numpy(np.float64) for f in split.train])
    imputer = IterativeImputer(max_iter=config.iterative_max_iter, random_state=config.seed)
    _, train_seconds, train_peak = timed(lambda: imputer.fit(train), memory)
    predictions, impute_seconds, impute_peak = timed(
        lambda: [imputer.transform(f.to_numpy(np.float64)) for f in split.test_input], memory
    )
    if any(p.shape != f.shape for p, f in zip(predictions, split.test_input, strict=True)):
        raise RuntimeError("IterativeImputer dropped a column (empty in the training months).")
    return [
        result_row(
            "iterative",
            "IterativeImputer",
            score_point(predictions, split),
            train_seconds=train_seconds,
            epochs=float(imputer.n_iter_),
            impute_seconds=impute_seconds,
            peak_rss_train_mb=train_peak,
            peak_rss_impute_mb=impute_peak,
            peak_memory_per_phase=memory.per_phase,
        )
    ]


def interpolate_linear(frame: pd.DataFrame, fallback: np.ndarray) -> np.ndarray:
    """Time interpolation of each column (held constant beyond its first and last values); a
    column with no value at all gets ``fallback`` (never the case in full test months)."""
    filled = frame.interpolate(method="time", limit_direction="both").to_numpy(np.float64)
    return np.where(np.isnan(filled), fallback, filled)


def run_linear(config: BenchConfig, split: AQI36Split) -> list[dict[str, Any]]:
    """Linear interpolation in time within each test month (training means for empty columns)."""
    memory = PeakMemory()
    fallback = Standardiser.fit(split.train).mean
    predictions, impute_seconds, impute_peak = timed(
        lambda: [interpolate_linear(f, fallback) for f in split.test_input], memory
    )
    return [
        result_row(
            "linear",
            "Linear interpolation",
            score_point(predictions, split),
            train_seconds=0.0,
            impute_seconds=impute_seconds,
            peak_rss_impute_mb=impute_peak,
            peak_memory_per_phase=memory.per_phase,
        )
    ]
