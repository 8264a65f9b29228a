"""Label-free thresholds on anomaly scores of normal (calibration) data."""

from __future__ import annotations

import warnings

import numpy as np


def _finite(scores: np.ndarray) -> np.ndarray:
    values = np.asarray(scores, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("No finite calibration score to set a threshold on.")
    return values


def quantile_threshold(scores: np.ndarray, rate: float) -> float:
    """The ``1 - rate`` quantile of ``scores``: about a fraction ``rate`` of them lie above it.

    Parameters
    ----------
    scores : ndarray
        Scores of data assumed (mostly) normal; NaN ignored.
    rate : float
        Expected fraction of alarms, in (0, 1).
    """
    if not 0 < rate < 1:
        raise ValueError(f"rate must be in (0, 1), got {rate}.")
    return float(np.quantile(_finite(scores), 1.0 - rate))


def pot_threshold(
    scores: np.ndarray, risk: float = 1e-3, initial_level: float = 0.98, min_peaks: int = 10
) -> float:
    """Peaks-over-threshold: extrapolate the tail of ``scores`` to an alarm probability ``risk``.

    The excesses over the ``initial_level`` quantile ``t`` are fitted by a generalised Pareto
    distribution (shape ``xi``, scale ``sigma``), and the threshold is the score exceeded with
    probability ``risk`` under that tail (Siffer et al., KDD 2017)::

        z = t + sigma / xi * ((risk * n / n_peaks) ** -xi - 1)     (t - sigma * log(...) if xi = 0)

    Parameters
    ----------
    scores : ndarray
        Scores of data assumed (mostly) normal; NaN ignored.
    risk : float, default=1e-3
        Target probability that a normal score exceeds the threshold.
    initial_level : float, default=0.98
        Quantile above which the tail is fitted.
    min_peaks : int, default=10
        Fewest excesses needed for the fit.

    Raises
    ------
    ValueError
        If there are fewer than ``min_peaks`` excesses or the fit gives no finite threshold
        (callers may fall back to :func:`quantile_threshold`).
    """
    from scipy.stats import genpareto

    if not 0 < risk < 1:
        raise ValueError(f"risk must be in (0, 1), got {risk}.")
    if not 0 < initial_level < 1:
        raise ValueError(f"initial_level must be in (0, 1), got {initial_level}.")
    values = _finite(scores)
    t = float(np.quantile(values, initial_level))
    peaks = values[values > t] - t
    if peaks.size < min_peaks:
        raise ValueError(
            f"Only {peaks.size} scores exceed the {initial_level} quantile (need {min_peaks}); "
            "use more calibration data or a quantile threshold."
        )
    ratio = risk * values.size / peaks.size
    if ratio >= 1:
        return float(np.quantile(values, 1.0 - risk))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        xi, _, sigma = genpareto.fit(peaks, floc=0.0)
    if not (np.isfinite(xi) and np.isfinite(sigma) and sigma > 0):
        raise ValueError("The generalised Pareto fit of the score tail failed.")
    z = t - sigma * np.log(ratio) if abs(xi) < 1e-8 else t + sigma / xi * (ratio ** (-xi) - 1.0)
    if not np.isfinite(z):
        raise ValueError("The peaks-over-threshold extrapolation gave no finite threshold.")
    return float(z)


def drift_adjusted_threshold(
    threshold: float, scores: np.ndarray, calibration_scores: np.ndarray
) -> float:
    """Raise ``threshold`` by how far the typical score of ``scores`` sits above calibration's.

    When sensors drift away from their training range (new load, recalibrated instruments),
    the scores of normal time steps rise as a whole and a threshold set on the calibration
    scores flags most of the series. The typical level of the scored series, its median, is
    then a label-free estimate of where its normal steps lie, and the threshold moves up by the
    same amount::

        threshold + max(0, median(scores) - median(calibration_scores))

    It never moves down, so data that scores lower than calibration keeps the calibrated
    threshold. It assumes that well under half of ``scores`` is anomalous, and it fits long
    series (many times longer than an anomaly) better than short ones.

    Parameters
    ----------
    threshold : float
        The label-free threshold set on the calibration scores.
    scores : ndarray
        Time-step scores of one scored series; NaN ignored.
    calibration_scores : ndarray
        The calibration scores the threshold was set on; NaN ignored.

    Returns
    -------
    float
        The threshold for ``scores`` (``threshold`` itself when ``scores`` has no finite value).

    Raises
    ------
    ValueError
        If ``threshold`` is not a finite number, or ``calibration_scores`` has no finite value.
    """
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}.")
    values = np.asarray(scores, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float(threshold)
    rise = float(np.median(values)) - float(np.median(_finite(calibration_scores)))
    return float(threshold) + max(0.0, rise)
