"""NaN-aware per-column standardisation."""

from __future__ import annotations

import numpy as np


class NaNStandardScaler:
    """Standardise columns with statistics computed over observed cells only.

    Columns with zero spread (constant sensors) get a scale of 1 so they pass through unchanged
    up to the shift.

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
            empty = np.flatnonzero(counts == 0)
            names = (
                [column_labels[i] for i in empty] if column_labels is not None else empty.tolist()
            )
            raise ValueError(
                f"Column(s) {names} have no observed value in the training data, so their scale "
                "cannot be learned; drop them or provide data where they are observed."
            )
        self.mean_ = np.nanmean(stacked, axis=0)
        std = np.nanstd(stacked, axis=0)
        self.scale_ = np.where(std > 1e-12 * np.maximum(np.abs(self.mean_), 1.0), std, 1.0)
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardise ``(..., n_columns)`` values; NaN stays NaN."""
        return (values - self.mean_) / self.scale_

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        """Map standardised ``(..., n_columns)`` values back to original units."""
        return values * self.scale_ + self.mean_
