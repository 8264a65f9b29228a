"""How much per-window interpolation loses at window edges on AQI-36's test targets.

Compares linear interpolation over each whole test month with interpolation inside
non-overlapping 36-hour windows alone (what the conditioning fill did before window anchors).
Usage: ``PYTHONPATH=. python benchmarks/edge_interpolation.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aqi36 import load_aqi36

WINDOW = 36


def main() -> None:
    split = load_aqi36()
    whole = per_window = 0.0
    count = 0
    for frame, truth, targets in zip(
        split.test_input, split.test_truth, split.test_targets, strict=True
    ):
        values = frame.to_numpy()
        fallback = np.nanmean(values, axis=0)
        series = frame.interpolate(method="time", limit_direction="both").to_numpy()
        series = np.where(np.isnan(series), fallback, series)
        windows = np.empty_like(values)
        for start in range(0, len(values), WINDOW):
            part = frame.iloc[start : start + WINDOW]
            filled = part.interpolate(method="time", limit_direction="both").to_numpy()
            windows[start : start + WINDOW] = np.where(np.isnan(filled), 0.0, filled)
        mask = targets.astype(bool)
        expected = truth.to_numpy()
        whole += np.abs(series - expected)[mask].sum()
        per_window += np.abs(windows - expected)[mask].sum()
        count += int(mask.sum())
    print(
        f"targets {count}: whole-series MAE {whole / count:.2f}, "
        f"per-window {per_window / count:.2f}"
    )


if __name__ == "__main__":
    main()
