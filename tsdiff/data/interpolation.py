"""Linear interpolation of series in time (numpy), the baseline tsdiff blends with."""

from __future__ import annotations

import numpy as np


def interpolate_series(values: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Fill NaN cells of ``(n_steps, n_columns)`` by linear interpolation in real time.

    Before the first and after the last observation the nearest observed value is used; a column
    with no observation becomes 0 (the column mean for standardised data). Observed cells are
    returned unchanged. The loop runs over columns, never over time steps.
    """
    filled = values.copy()
    for column in range(values.shape[1]):
        observed = ~np.isnan(values[:, column])
        if observed.all():
            continue
        if not observed.any():
            filled[:, column] = 0.0
            continue
        filled[~observed, column] = np.interp(
            timestamps[~observed], timestamps[observed], values[observed, column]
        )
    return filled
