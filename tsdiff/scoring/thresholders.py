"""Thresholders: a label-free alarm threshold learned on scores of normal data.

Each thresholder is fitted on the time-step scores of calibration data (``threshold_``) and
gives the threshold for a scored series with :meth:`threshold_for`. With ``drift=True`` that
threshold is raised by how far the series' median score sits above the calibration median
(:func:`~tsdiff.scoring.drift_adjusted_threshold`), for series whose sensors left their
training range as a whole.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from tsdiff.scoring.thresholds import drift_adjusted_threshold, pot_threshold, quantile_threshold


class _Thresholder(BaseEstimator):
    """Shared fitting and drift logic; subclasses implement :meth:`_threshold`."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {"drift": ["boolean"]}
    drift: bool

    def _threshold(self, scores: np.ndarray) -> tuple[float, str]:
        raise NotImplementedError

    def validate(self) -> None:
        """Check the parameters (raises ``ValueError``/``TypeError`` naming the parameter)."""
        self._validate_params()

    def fit(self, scores: np.ndarray) -> _Thresholder:
        """Learn ``threshold_`` from time-step scores of normal data (NaN ignored).

        Returns
        -------
        self
        """
        self.validate()
        values = np.asarray(scores, dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        if values.size < 2:
            raise ValueError(
                f"The calibration data gave {values.size} finite score(s); a threshold needs "
                "many. Pass longer normal data for calibration."
            )
        self.threshold_, self.method_ = self._threshold(values)
        self.calibration_median_ = float(np.median(values))
        return self

    def threshold_for(self, scores: np.ndarray) -> float:
        """The threshold for one scored series (``threshold_``, raised for drift if enabled)."""
        if not hasattr(self, "threshold_"):
            raise ValueError(f"{type(self).__name__} is not fitted.")
        if not self.drift:
            return float(self.threshold_)
        return drift_adjusted_threshold(
            self.threshold_, scores, np.array([self.calibration_median_])
        )


class POT(_Thresholder):
    """Peaks-over-threshold (SPOT): extrapolate the calibration tail to an alarm risk.

    Falls back to the ``1 - risk`` quantile when the tail fit fails (too few excesses).

    Parameters
    ----------
    risk : float, default=0.002
        Probability that a normal time step scores above the threshold, in (0, 1).
    level : float, default=0.98
        Quantile above which the tail is fitted, in (0, 1).
    drift : bool, default=False
        Raise each series' threshold by its median score's rise over calibration.

    Attributes
    ----------
    threshold_ : float
    method_ : {"pot", "quantile"}
        How the threshold was set (``"quantile"``: the tail fit failed).
    calibration_median_ : float
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_Thresholder._parameter_constraints,
        "risk": [Interval(Real, 0, 1, closed="neither")],
        "level": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(self, risk: float = 0.002, level: float = 0.98, drift: bool = False) -> None:
        self.risk = risk
        self.level = level
        self.drift = drift

    def _threshold(self, scores: np.ndarray) -> tuple[float, str]:
        try:
            return pot_threshold(scores, self.risk, self.level), "pot"
        except ValueError:
            rate = min(max(self.risk, 1.0 / scores.size), 0.5)
            return quantile_threshold(scores, rate), "quantile"


class Contamination(_Thresholder):
    """The threshold above which a fraction ``rate`` of calibration scores lie (PyOD style).

    Parameters
    ----------
    rate : float, default=0.01
        Expected fraction of anomalous time steps, in (0, 0.5].
    drift : bool, default=False
        Raise each series' threshold by its median score's rise over calibration.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_Thresholder._parameter_constraints,
        "rate": [Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(self, rate: float = 0.01, drift: bool = False) -> None:
        self.rate = rate
        self.drift = drift

    def _threshold(self, scores: np.ndarray) -> tuple[float, str]:
        return quantile_threshold(scores, float(self.rate)), "contamination"


class FixedThreshold(_Thresholder):
    """A threshold given by the user (fitting only records the calibration median).

    Parameters
    ----------
    value : float
        The threshold on the detector's time-step scores.
    drift : bool, default=False
        Raise each series' threshold by its median score's rise over calibration.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_Thresholder._parameter_constraints,
        "value": [Interval(Real, None, None, closed="neither")],
    }

    def __init__(self, value: float = 0.0, drift: bool = False) -> None:
        self.value = value
        self.drift = drift

    def _threshold(self, scores: np.ndarray) -> tuple[float, str]:
        return float(self.value), "fixed"
