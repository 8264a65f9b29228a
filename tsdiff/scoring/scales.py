"""Multi-scale smoothing of per-sensor scores: short anomalies and sustained ones in one score."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np

from tsdiff.scoring.aggregate import smooth_scores
from tsdiff.scoring.normalise import SensorNormaliser


def smoothing_windows(smoothing: int | Sequence[int]) -> tuple[int, ...]:
    """The smoothing window lengths of an ``int`` or a sequence of them, validated.

    Raises
    ------
    ValueError
        When ``smoothing`` is empty, repeats a length or holds anything but integers >= 1.
    """
    single = isinstance(smoothing, (int, np.integer))
    values: tuple[object, ...] = (smoothing,) if single else tuple(smoothing)  # type: ignore[arg-type]
    if not values:
        raise ValueError("smoothing needs at least one window length (1 = no smoothing).")
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, Integral) or v < 1]
    if bad:
        raise ValueError(
            f"smoothing window lengths must be integers >= 1; got {bad} in {list(values)}."
        )
    if len(set(values)) != len(values):
        raise ValueError(f"smoothing repeats a window length: {list(values)}.")
    return tuple(int(v) for v in values)  # type: ignore[call-overload]


class MultiScaleSmoother:
    """Smooth per-sensor scores over several window lengths and keep the most unusual scale.

    Each scale's moving average (:func:`~tsdiff.scoring.smooth_scores`) is re-normalised per
    sensor on calibration scores (a moving average shrinks the spread of noisy scores, so raw
    smoothed scores of different lengths are not comparable), and a cell's score is the largest
    of its normalised scales. A one-step spike stands out at the short scale, a sustained small
    shift at the long ones; one scale alone trades one kind for the other.

    Parameters
    ----------
    windows : sequence of int
        Moving-average lengths (1: the scores themselves).
    method : {"standard", "robust"}, default="standard"
        Per-sensor normalisation of each scale (see :class:`SensorNormaliser`).

    Attributes
    ----------
    centre_, scale_ : ndarray of shape (n_windows, n_sensors)
        Per-scale, per-sensor normalisation learned by :meth:`fit`.
    """

    def __init__(self, windows: Sequence[int], method: str = "standard") -> None:
        self.windows = windows
        self.method = method

    def _smoothed(self, table: np.ndarray) -> list[np.ndarray]:
        table = np.asarray(table, dtype=np.float64)
        if table.ndim != 2:
            raise ValueError(f"scores must be 2-D (n_steps, n_sensors), got shape {table.shape}.")
        return [smooth_scores(table, w) for w in smoothing_windows(self.windows)]

    def fit(self, tables: Sequence[np.ndarray]) -> MultiScaleSmoother:
        """Learn each scale's normalisation from calibration scores, one table per series.

        Parameters
        ----------
        tables : sequence of ndarray of shape (n_steps, n_sensors)
            Each series is smoothed on its own (averages never cross series); NaN = unscored.

        Returns
        -------
        self : MultiScaleSmoother
        """
        if not tables:
            raise ValueError("fit needs at least one table of calibration scores.")
        per_series = [self._smoothed(t) for t in tables]
        centres, scales = [], []
        for level in range(len(per_series[0])):
            normaliser = SensorNormaliser(self.method).fit(
                np.concatenate([smoothed[level] for smoothed in per_series])
            )
            centres.append(normaliser.centre_)
            scales.append(normaliser.scale_)
        self.centre_ = np.stack(centres)
        self.scale_ = np.stack(scales)
        return self

    def transform(self, table: np.ndarray) -> np.ndarray:
        """Score ``(n_steps, n_sensors)`` at every scale; return the per-cell maximum.

        NaN where every scale is NaN (no observed value in any of the neighbourhoods).
        """
        if not hasattr(self, "centre_"):
            raise ValueError(
                "MultiScaleSmoother is not fitted; call fit(calibration_tables) first."
            )
        smoothed = np.stack(self._smoothed(table))
        if smoothed.shape[0] != self.centre_.shape[0] or smoothed.shape[2] != self.centre_.shape[1]:
            raise ValueError(
                f"Fitted for {self.centre_.shape[0]} scales and {self.centre_.shape[1]} sensors; "
                f"got {smoothed.shape[0]} scales and {smoothed.shape[2]} sensors."
            )
        normalised = (smoothed - self.centre_[:, None, :]) / self.scale_[:, None, :]
        present = ~np.isnan(normalised)
        best = np.where(present, normalised, -np.inf).max(axis=0)
        return np.where(present.any(axis=0), best, np.nan)
