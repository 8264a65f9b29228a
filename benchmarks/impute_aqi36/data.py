"""The AQI-36 split, windows cut and stitched back, standardisation and scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.datasets import AQI36Split, load_aqi36
from benchmarks.impute_aqi36.config import COVERAGE_LEVEL, WINDOW, BenchConfig


def load_split(config: BenchConfig) -> AQI36Split:
    """The AQI-36 split, test months cut to their first ``test_hours`` rows when set."""
    split = load_aqi36()
    hours = config.test_hours
    if hours is None:
        return split
    if hours < WINDOW:
        raise ValueError(f"--test-hours must be >= the window length {WINDOW}, got {hours}.")
    return AQI36Split(
        train=split.train,
        validation=split.validation,
        test_input=[f.iloc[:hours] for f in split.test_input],
        test_truth=[f.iloc[:hours] for f in split.test_truth],
        test_targets=[t[:hours] for t in split.test_targets],
    )


def window_starts(n_rows: int, length: int, stride: int) -> np.ndarray:
    """Starts of windows of ``length`` every ``stride`` rows, the last one aligned to the end."""
    if n_rows < length:
        raise ValueError(f"series of {n_rows} rows is shorter than the window {length}.")
    starts = np.arange(0, n_rows - length + 1, stride)
    if starts[-1] != n_rows - length:
        starts = np.append(starts, n_rows - length)
    return starts


def cut_windows(values: np.ndarray, length: int, stride: int) -> np.ndarray:
    """``(n_windows, length, n_columns)`` windows of a ``(n_rows, n_columns)`` array."""
    starts = window_starts(len(values), length, stride)
    return np.stack([values[s : s + length] for s in starts])


def stitch_first(windows: np.ndarray, n_rows: int, length: int, stride: int) -> np.ndarray:
    """Inverse of :func:`cut_windows` for ``(n_windows, S, length, K)``: each row from the first
    window that covers it (so the end-aligned last window only contributes its new rows)."""
    starts = window_starts(n_rows, length, stride)
    out = np.empty((windows.shape[1], n_rows, windows.shape[3]), dtype=np.float64)
    covered = 0
    for window, start in zip(windows, starts, strict=True):
        first = covered - start
        out[:, covered : start + length] = window[:, first:]
        covered = start + length
    return out


@dataclass
class Standardiser:
    """Per-column mean and standard deviation of the training months (NaN-aware)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, frames: list[pd.DataFrame]) -> Standardiser:
        """Statistics of all rows of ``frames``."""
        values = np.concatenate([f.to_numpy(np.float64) for f in frames])
        std = np.nanstd(values, axis=0)
        return cls(np.nanmean(values, axis=0), np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardised copy (NaN stays NaN)."""
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Back to original units."""
        return values * self.std + self.mean


def _stack_truth(split: AQI36Split) -> tuple[np.ndarray, np.ndarray]:
    truth = np.concatenate([t.to_numpy(np.float64) for t in split.test_truth])
    mask = np.concatenate(split.test_targets)
    return truth, mask


def score_samples(samples: list[np.ndarray], split: AQI36Split) -> dict[str, float]:
    """MAE and RMSE of the sample median, CRPS, and 90 % interval coverage on the targets.

    ``samples`` holds one ``(n_samples, n_rows, n_columns)`` array per test month.
    """
    from tsdiff.metrics import imputation_report

    truth, mask = _stack_truth(split)
    report = imputation_report(truth, np.concatenate(samples, axis=1), mask, COVERAGE_LEVEL)
    return {
        **{key: report[key] for key in ("mae", "rmse", "crps")},
        "coverage90": report["coverage"],
        "n_targets": int(mask.sum()),
    }


def score_point(predictions: list[np.ndarray], split: AQI36Split) -> dict[str, Any]:
    """Scores of a point imputation; its CRPS is that of a point mass, which the quantile CRPS
    reduces to ``sum |error| / sum |truth|`` (a normalised MAE); coverage is undefined."""
    scores: dict[str, Any] = score_samples([p[None] for p in predictions], split)
    scores["coverage90"] = None
    return scores
