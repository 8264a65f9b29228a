"""Aggregators: per-sensor post-processing of cell scores and one score per time step.

An aggregator is fitted on the raw cell scores of normal (calibration) data. It normalises each
sensor's scores, smooths them over one or several time scales, and combines the sensors of a
time step into one score.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from tsdiff.scoring.aggregate import aggregate_sensors, smooth_scores
from tsdiff.scoring.normalise import NORMALISATIONS, SensorNormaliser
from tsdiff.scoring.scales import MultiScaleSmoother, smoothing_windows


class TopK(BaseEstimator):
    """Normalise and smooth each sensor's scores, then average the ``k`` largest per time step.

    Parameters
    ----------
    k : int, default=6
        Sensors averaged per time step (fewer where fewer were scored); ``k=1`` takes the
        largest sensor score.
    cap : float or None, default=50.0
        Normalised sensor scores above ``cap`` count as ``cap`` in the mean, so one sensor far
        out of range (drifted or broken) cannot outweigh the agreement of several. None: no cap.
    smoothing : int or sequence of int, default=(1, 31, 63)
        Moving-average lengths. With several, each length is normalised on the calibration
        scores and a cell takes its most unusual scale: spikes show at length 1, sustained
        shifts at the longer ones.
    normalisation : {"standard", "robust"}, default="standard"
        Per-sensor centring and scaling learned on calibration scores.

    Attributes
    ----------
    centre_, scale_ : ndarray of shape (n_sensors,)
        Per-sensor normalisation of the raw cell scores.
    smoothing_centre_, smoothing_scale_ : ndarray of shape (n_scales, n_sensors) or None
        Per-scale normalisation (None with a single smoothing length).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Interval(Integral, 1, None, closed="left")],
        "cap": [None, Interval(Real, 0, None, closed="neither")],
        "smoothing": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "normalisation": [StrOptions(set(NORMALISATIONS))],
    }

    def __init__(
        self,
        k: int = 6,
        cap: float | None = 50.0,
        smoothing: int | Sequence[int] = (1, 31, 63),
        normalisation: str = "standard",
    ) -> None:
        self.k = k
        self.cap = cap
        self.smoothing = smoothing
        self.normalisation = normalisation

    def validate(self) -> None:
        """Check the parameters (raises ``ValueError``/``TypeError`` naming the parameter)."""
        self._validate_params()
        smoothing_windows(self.smoothing)
        if self.k == 1 and self.cap is not None:
            warnings.warn(
                f"TopK(k=1, cap={self.cap}) makes every step above the cap tie; use k > 1 with a "
                "cap, or cap=None.",
                UserWarning,
                stacklevel=3,
            )

    def fit(self, raw_tables: Sequence[np.ndarray]) -> TopK:
        """Learn the per-sensor and per-scale normalisation on calibration cell scores.

        Parameters
        ----------
        raw_tables : sequence of ndarray of shape (n_steps, n_sensors)
            Raw cell scores of normal data, one table per series; NaN marks unscored cells.

        Returns
        -------
        self : TopK
        """
        self.validate()
        stacked = np.concatenate([np.asarray(t, dtype=np.float64) for t in raw_tables], axis=0)
        if np.isnan(stacked).all():
            raise ValueError("The calibration data has no observed value to score.")
        normaliser = SensorNormaliser(self.normalisation).fit(stacked)
        self.centre_, self.scale_ = normaliser.centre_, normaliser.scale_
        self.smoothing_centre_ = self.smoothing_scale_ = None
        windows = smoothing_windows(self.smoothing)
        if len(windows) > 1:
            normalised = [normaliser.transform(t) for t in raw_tables]
            smoother = MultiScaleSmoother(windows, self.normalisation).fit(normalised)
            self.smoothing_centre_ = smoother.centre_
            self.smoothing_scale_ = smoother.scale_
        return self

    def sensor_scores(self, raw: np.ndarray) -> np.ndarray:
        """Normalised, smoothed per-sensor scores of one series ``(n_steps, n_sensors)``."""
        if not hasattr(self, "centre_"):
            raise ValueError("TopK is not fitted; fit it on calibration cell scores first.")
        normaliser = SensorNormaliser(self.normalisation)
        normaliser.centre_, normaliser.scale_ = self.centre_, self.scale_
        normalised = normaliser.transform(raw)
        windows = smoothing_windows(self.smoothing)
        if len(windows) == 1:
            return smooth_scores(normalised, windows[0])
        centre = self.smoothing_centre_
        if centre is None or len(centre) != len(windows):
            raise ValueError(
                f"smoothing={self.smoothing!r} differs from the lengths the aggregator was "
                "fitted with; fit it again (TSDiffAnomalyDetector.calibrate)."
            )
        smoother = MultiScaleSmoother(windows, self.normalisation)
        smoother.centre_, smoother.scale_ = centre, np.asarray(self.smoothing_scale_)
        return smoother.transform(normalised)

    def aggregate(self, sensor_scores: np.ndarray) -> np.ndarray:
        """One score per time step ``(n_steps,)`` from :meth:`sensor_scores` (NaN: none scored)."""
        how = "max" if self.k == 1 else "topk"
        return aggregate_sensors(sensor_scores, how, int(self.k), self.cap)
