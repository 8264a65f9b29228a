"""NaN-aware per-column standardisation."""

from __future__ import annotations

import numpy as np

CONSTANT_TOLERANCE = 1e-12
"""A column is constant when its standard deviation is at most this times its absolute mean."""


def _names(positions: np.ndarray, labels: list[str] | None) -> list[object]:
    return [labels[i] for i in positions] if labels is not None else positions.tolist()


class NaNStandardScaler:
    """Standardise columns with statistics computed over observed cells only.

    The statistics are computed on each column divided by its largest absolute value, then scaled
    back, so neither tiny (``1e-300``) nor huge (``1e300``) magnitudes underflow or overflow.

    A column is *constant* when its spread is negligible relative to its own magnitude:
    ``std <= 1e-12 * |mean|`` (or ``std == 0``). Constant columns get a scale of
    ``min(1, |mean|)`` (1 when the mean is 0), so they pass through unchanged up to the shift and
    any model output stays small relative to the column's magnitude. The rule is relative: a
    sensor whose values are all around ``1e-13`` but vary is *not* constant and gets its own
    standard deviation as scale.

    Attributes
    ----------
    mean_ : ndarray of shape (n_columns,)
    scale_ : ndarray of shape (n_columns,)
    """

    def fit(
        self, arrays: list[np.ndarray], column_labels: list[str] | None = None
    ) -> NaNStandardScaler:
        """Compute the statistics over the rows of all ``arrays`` (each ``(n_steps, n_columns)``).

        Raises
        ------
        ValueError
            If a column has no observed value at all, naming the column.
        """
        stacked = np.concatenate(arrays, axis=0)
        counts = np.sum(~np.isnan(stacked), axis=0)
        if (counts == 0).any():
            names = _names(np.flatnonzero(counts == 0), column_labels)
            raise ValueError(
                f"Column(s) {names} have no observed value in the training data, so their scale "
                "cannot be learned; drop them or provide data where they are observed."
            )
        magnitude = np.nanmax(np.abs(stacked), axis=0)
        unit = np.where(magnitude > 0, magnitude, 1.0)
        relative = stacked / unit  # within [-1, 1]: no overflow in the squares below
        mean_rel = np.nanmean(relative, axis=0)
        std_rel = np.nanstd(relative, axis=0)
        constant = std_rel <= CONSTANT_TOLERANCE * np.abs(mean_rel)
        mean = mean_rel * unit
        std = std_rel * unit
        constant_scale = np.where(mean == 0, 1.0, np.minimum(1.0, np.abs(mean)))
        scale = np.where(constant | (std <= 0), constant_scale, std)
        bad = ~(np.isfinite(mean) & np.isfinite(scale) & (scale > 0))
        if bad.any():
            names = _names(np.flatnonzero(bad), column_labels)
            raise ValueError(
                f"Column(s) {names} cannot be standardised in float64 (their mean or spread is "
                "not a finite positive number); rescale them (e.g. divide by a power of ten) "
                "before calling."
            )
        self.mean_ = mean
        self.scale_ = scale
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardise ``(..., n_columns)`` values; NaN stays NaN."""
        return (values - self.mean_) / self.scale_

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        """Map standardised ``(..., n_columns)`` values back to original units."""
        return values * self.scale_ + self.mean_
