"""Per-sensor normalisation of cell scores, learned on held-out (calibration) scores."""

from __future__ import annotations

import warnings

import numpy as np

NORMALISATIONS: tuple[str, ...] = ("robust", "standard")


class SensorNormaliser:
    """Centre and scale each sensor's cell scores so that sensors are comparable.

    ``"robust"`` uses the median and the inter-quartile range (divided by 1.349, the IQR of a
    standard normal), ``"standard"`` the mean and standard deviation. A sensor whose calibration
    scores barely vary (e.g. a constant sensor) gets the scale ``relative_floor`` times the
    median scale of the other sensors, so any change of it stands out without dividing by zero.

    Parameters
    ----------
    method : {"robust", "standard"}, default="robust"
    relative_floor : float, default=0.1
        Smallest scale, as a fraction of the median scale over sensors.

    Attributes
    ----------
    centre_ : ndarray of shape (n_sensors,)
    scale_ : ndarray of shape (n_sensors,)
    """

    def __init__(self, method: str = "robust", relative_floor: float = 0.1) -> None:
        if method not in NORMALISATIONS:
            raise ValueError(f"Unknown normalisation {method!r}; choose one of {NORMALISATIONS}.")
        self.method = method
        self.relative_floor = relative_floor

    def fit(self, scores: np.ndarray) -> SensorNormaliser:
        """Learn the statistics from calibration cell scores ``(n_rows, n_sensors)``, NaN unscored.

        Sensors without any calibration score get centre 0 and scale 1 (with a warning).
        """
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2:
            raise ValueError(f"scores must be 2-D (n_rows, n_sensors), got shape {scores.shape}.")
        present = ~np.isnan(scores)
        counts = present.sum(axis=0)
        empty = counts == 0
        if empty.any():
            warnings.warn(
                f"Sensor(s) {np.flatnonzero(empty).tolist()} have no calibration score; their "
                "scores are not normalised.",
                stacklevel=2,
            )
        filled = np.where(present, scores, np.nan)
        centre = np.zeros(scores.shape[1])
        scale = np.ones(scores.shape[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if self.method == "robust":
                q25, q50, q75 = np.nanpercentile(filled[:, ~empty], [25, 50, 75], axis=0)
                centre[~empty] = q50
                scale[~empty] = (q75 - q25) / 1.349
            else:
                centre[~empty] = np.nanmean(filled[:, ~empty], axis=0)
                scale[~empty] = np.nanstd(filled[:, ~empty], axis=0)
        positive = scale[~empty][scale[~empty] > 1e-12]
        reference = float(np.median(positive)) if positive.size else 1.0
        floor = max(self.relative_floor * reference, 1e-12)
        self.centre_ = centre
        self.scale_ = np.where(empty, 1.0, np.maximum(scale, floor))
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Normalise ``(..., n_sensors)`` cell scores; NaN stays NaN."""
        return (np.asarray(scores, dtype=np.float64) - self.centre_) / self.scale_
