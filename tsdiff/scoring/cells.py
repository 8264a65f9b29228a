"""Cell scores: how unlikely an observed value is under the imputation samples drawn for it."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

CELL_SCORES: tuple[str, ...] = ("nll", "error")

#: Constraints of the parameters every sampling scorer has (declared once): samples and steps
#: per pass, the cell score and its spread floor, the stride between scored windows.
SCORER_PARAMETER_CONSTRAINTS: dict[str, list[Any]] = {
    "n_samples": [Interval(Integral, 1, None, closed="left")],
    "sampling_steps": [Interval(Integral, 1, None, closed="left")],
    "cell_score": [StrOptions(set(CELL_SCORES))],
    "std_floor": [Interval(Real, 0, None, closed="neither")],
    "stride": [None, Interval(Integral, 1, None, closed="left")],
}

_LOG_2PI = float(np.log(2.0 * np.pi))


def gaussian_nll(samples: np.ndarray, values: np.ndarray, std_floor: float = 0.1) -> np.ndarray:
    """Negative log-likelihood of ``values`` under a Gaussian fitted to ``samples``.

    With few samples the spread is uncertain, so the variance is ``s^2 + std_floor^2`` where
    ``s`` is the unbiased sample standard deviation: a cell whose samples agree exactly still
    gets a finite, well-scaled score, and one outlying sample cannot make it tiny.

    Parameters
    ----------
    samples : ndarray of shape (n_samples, ...)
        Imputation draws for each cell (standardised units).
    values : ndarray of shape (...)
        The observed values of the same cells.
    std_floor : float, default=0.1
        Added (in quadrature) to the sample spread; in the units of ``values``.

    Returns
    -------
    ndarray of shape (...)
        ``0.5 * log(2 pi var) + 0.5 * (value - mean)^2 / var``.
    """
    if std_floor <= 0:
        raise ValueError(f"std_floor must be > 0, got {std_floor}.")
    samples = np.asarray(samples, dtype=np.float64)
    if samples.shape[1:] != np.shape(values):
        raise ValueError(f"samples shape {samples.shape} must be (n_samples, *{np.shape(values)}).")
    mean = samples.mean(axis=0)
    var = samples.var(axis=0, ddof=1) if samples.shape[0] > 1 else np.zeros_like(mean)
    var = var + std_floor**2
    return 0.5 * (_LOG_2PI + np.log(var)) + 0.5 * (np.asarray(values) - mean) ** 2 / var


def standardised_error(
    samples: np.ndarray, values: np.ndarray, std_floor: float = 0.1
) -> np.ndarray:
    """Absolute distance of ``values`` from the sample median, in units of the sample spread.

    The spread is the sample standard deviation with ``std_floor`` added in quadrature, as in
    :func:`gaussian_nll`; this score ignores the ``log(var)`` term of the likelihood.
    """
    if std_floor <= 0:
        raise ValueError(f"std_floor must be > 0, got {std_floor}.")
    samples = np.asarray(samples, dtype=np.float64)
    if samples.shape[1:] != np.shape(values):
        raise ValueError(f"samples shape {samples.shape} must be (n_samples, *{np.shape(values)}).")
    centre = np.median(samples, axis=0)
    var = samples.var(axis=0, ddof=1) if samples.shape[0] > 1 else np.zeros_like(centre)
    return np.abs(np.asarray(values) - centre) / np.sqrt(var + std_floor**2)


def cell_scores(
    samples: np.ndarray, values: np.ndarray, method: str = "nll", std_floor: float = 0.1
) -> np.ndarray:
    """Score cells by ``method``: ``"nll"`` (:func:`gaussian_nll`) or ``"error"``
    (:func:`standardised_error`)."""
    if method == "nll":
        return gaussian_nll(samples, values, std_floor)
    if method == "error":
        return standardised_error(samples, values, std_floor)
    raise ValueError(f"Unknown cell score {method!r}; choose one of {CELL_SCORES}.")
