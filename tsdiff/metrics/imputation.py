"""Imputation metrics as plain functions on arrays and an evaluation mask.

Every function takes ``mask`` (True where a cell is an evaluation target, i.e. a value the model
did not see but whose truth is known) and ignores all other cells, so a score can never include a
value the model was given.
"""

from __future__ import annotations

import numpy as np

CRPS_QUANTILES = np.arange(1, 20) / 20.0  # 0.05, 0.10, ..., 0.95


def _targets(truth: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    truth = np.asarray(truth, dtype=np.float64)
    if mask is None:
        mask = ~np.isnan(truth)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != truth.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the truth's {truth.shape}.")
    if not mask.any():
        raise ValueError("The evaluation mask selects no cell.")
    if np.isnan(truth[mask]).any():
        raise ValueError("The evaluation mask selects cells whose true value is NaN.")
    return mask


def mae(truth: np.ndarray, prediction: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute error over the masked cells (default: every non-NaN truth cell)."""
    mask = _targets(truth, mask)
    return float(
        np.mean(np.abs(np.asarray(prediction, dtype=np.float64)[mask] - np.asarray(truth)[mask]))
    )


def rmse(truth: np.ndarray, prediction: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Root mean squared error over the masked cells."""
    mask = _targets(truth, mask)
    diff = np.asarray(prediction, dtype=np.float64)[mask] - np.asarray(truth)[mask]
    return float(np.sqrt(np.mean(diff**2)))


def crps(
    truth: np.ndarray,
    samples: np.ndarray,
    mask: np.ndarray | None = None,
    quantiles: np.ndarray = CRPS_QUANTILES,
) -> float:
    """CSDI's normalised continuous ranked probability score.

    The CRPS is approximated by the quantile (pinball) losses at the levels 0.05, 0.10, ..., 0.95
    of the sample distribution, summed over the evaluation cells and normalised by the sum of
    absolute true values (Tashiro et al., 2021, eq. 12)::

        CRPS = mean_q [ 2 * sum_i |(q_hat_i - y_i) * (1{y_i <= q_hat_i} - q)| / sum_i |y_i| ]

    Parameters
    ----------
    truth : ndarray of shape S
        True values.
    samples : ndarray of shape (n_samples, *S)
        Draws from the predictive distribution.
    mask : ndarray of shape S, optional
        Evaluation targets (default: non-NaN truth).
    quantiles : ndarray
        Quantile levels (default 0.05 to 0.95 by 0.05, as CSDI).

    Returns
    -------
    float
        Lower is better; 0 for a point mass on the truth.
    """
    mask = _targets(truth, mask)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.shape[1:] != np.shape(truth):
        raise ValueError(f"samples shape {samples.shape} must be (n_samples, *{np.shape(truth)}).")
    y = np.asarray(truth, dtype=np.float64)[mask]
    draws = samples[:, mask]
    predicted = np.quantile(draws, quantiles, axis=0)  # (n_quantiles, n_targets)
    indicator = (y <= predicted).astype(np.float64)
    losses = 2.0 * np.abs((predicted - y) * (indicator - quantiles[:, None])).sum(axis=1)
    denominator = np.abs(y).sum()
    if denominator == 0:
        raise ValueError("CRPS normalisation is undefined: every target value is 0.")
    return float(np.mean(losses / denominator))


def coverage(
    truth: np.ndarray, lower: np.ndarray, upper: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """Fraction of masked cells whose true value lies within ``[lower, upper]``."""
    mask = _targets(truth, mask)
    y = np.asarray(truth, dtype=np.float64)[mask]
    return float(np.mean((np.asarray(lower)[mask] <= y) & (y <= np.asarray(upper)[mask])))


def interval_width(
    truth: np.ndarray, lower: np.ndarray, upper: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """Mean width ``upper - lower`` of the intervals over the masked cells.

    Read beside :func:`coverage`: a high coverage is only worth something with narrow intervals.
    """
    mask = _targets(truth, mask)
    return float(np.mean(np.asarray(upper, dtype=np.float64)[mask] - np.asarray(lower)[mask]))


def interval_from_samples(samples: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Central interval of probability ``level`` from samples along axis 0."""
    if not 0 < level < 1:
        raise ValueError(f"coverage level must be in (0, 1), got {level}.")
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(samples, [tail, 1.0 - tail], axis=0)
    return lower, upper


def imputation_report(
    truth: np.ndarray, samples: np.ndarray, mask: np.ndarray, coverage_level: float = 0.9
) -> dict[str, float]:
    """MAE and RMSE of the sample median, CRPS, interval coverage and width on the ``mask`` cells.

    Parameters
    ----------
    truth, samples : ndarray
        True values (shape ``S``) and draws (shape ``(n_samples, *S)``), as for :func:`crps`.
    mask : ndarray of bool, shape S
        Evaluation targets.
    coverage_level : float, default=0.9
        Probability of the central interval whose empirical coverage and mean width are reported.

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``crps``, ``coverage`` and ``interval_width``.
    """
    samples = np.asarray(samples, dtype=np.float64)
    median = np.median(samples, axis=0)
    lower, upper = interval_from_samples(samples, coverage_level)
    return {
        "mae": mae(truth, median, mask),
        "rmse": rmse(truth, median, mask),
        "crps": crps(truth, samples, mask),
        "coverage": coverage(truth, lower, upper, mask),
        "interval_width": interval_width(truth, lower, upper, mask),
    }
