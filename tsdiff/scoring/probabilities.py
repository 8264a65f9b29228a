"""Outlier probabilities and prediction confidence from scores (PyOD's conventions)."""

from __future__ import annotations

import numpy as np
from scipy.special import erf
from scipy.stats import binom


def outlier_probability(
    scores: np.ndarray, training_scores: np.ndarray, method: str = "linear"
) -> np.ndarray:
    """Probability of being an outlier, from where ``scores`` lie among ``training_scores``.

    Parameters
    ----------
    scores : ndarray
        Scores to convert (higher = more anomalous); NaN stays NaN.
    training_scores : ndarray
        Scores of the (mostly normal) data the detector was calibrated on.
    method : {"linear", "unify"}, default="linear"
        ``"linear"`` min-max scales by the range of ``training_scores``; ``"unify"`` maps the
        standardised score through the Gaussian error function (Kriegel et al., 2011).

    Returns
    -------
    ndarray
        Same shape as ``scores``, in [0, 1].
    """
    train = np.asarray(training_scores, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if method == "linear":
        span = max(float(train.max() - train.min()), 1e-12)
        return np.clip((scores - train.min()) / span, 0.0, 1.0)
    if method == "unify":
        std = max(float(train.std()), 1e-12)
        return np.clip(erf((scores - train.mean()) / (std * np.sqrt(2.0))), 0.0, 1.0)
    raise ValueError(f"method must be 'linear' or 'unify', got {method!r}.")


def prediction_confidence(
    scores: np.ndarray, flags: np.ndarray, training_scores: np.ndarray, n_alarms: int
) -> np.ndarray:
    """ExCeeD confidence in each flag (Perini et al., 2020).

    The probability that the flag would stay the same with more calibration data: a score's
    rank among the ``n`` training scores gives a Bayesian estimate of its outlier probability,
    and the confidence is the binomial probability that at most ``n - n_alarms`` of ``n`` draws
    fall below it (flagged steps), or its complement (unflagged steps).

    Parameters
    ----------
    scores : ndarray of shape (n_steps,)
    flags : ndarray of shape (n_steps,)
        1 for flagged steps.
    training_scores : ndarray
        Calibration scores.
    n_alarms : int
        How many calibration scores lie above the threshold (at least 1 is used).

    Returns
    -------
    ndarray
        In [0, 1]; NaN where ``scores`` is NaN.
    """
    train = np.sort(np.asarray(training_scores, dtype=np.float64))
    n = train.size
    below = np.searchsorted(train, np.nan_to_num(scores, nan=-np.inf), side="right")
    posterior = (1.0 + below) / (2.0 + n)
    confidence = 1.0 - binom.cdf(n - max(int(n_alarms), 1), n, posterior)
    confidence = np.where(np.asarray(flags) == 1, confidence, 1.0 - confidence)
    return np.where(np.isnan(scores), np.nan, confidence)
