"""Evaluate an imputer on data with known values: hide some, impute them, score them.

Only cells that were observed and then hidden are scored, so a score never includes a value the
model saw. Used by ``tsdiff evaluate``, ``tsdiff demo`` and
:func:`tsdiff.tracking.evaluate_imputation`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tsdiff import metrics


def hide_observed(
    X: pd.DataFrame, fraction: float = 0.1, random_state: int | None = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Hide a random fraction of the observed cells of ``X``.

    Parameters
    ----------
    X : DataFrame
        Numeric frame (any index, including a ``(series, time)`` MultiIndex).
    fraction : float, default=0.1
        Fraction of the observed cells to hide, in (0, 1).
    random_state : int or None, default=0
        Seed of the choice.

    Returns
    -------
    hidden : DataFrame
        ``X`` (as float) with the chosen cells set to NaN.
    mask : ndarray of bool, shape ``X.shape``
        True at the hidden cells (the evaluation targets).

    Raises
    ------
    ValueError
        If ``fraction`` is not in (0, 1) or no cell would be hidden.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}.")
    values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    observed = ~np.isnan(values)
    rng = np.random.default_rng(random_state)
    mask = observed & (rng.random(values.shape) < fraction)
    if not mask.any():
        raise ValueError(
            f"No observed cell was hidden (the data has {int(observed.sum())} observed cells); "
            "use more data or a larger fraction."
        )
    hidden = X.astype(np.float64).mask(mask)
    return hidden, mask


def linear_interpolation(X: pd.DataFrame) -> pd.DataFrame:
    """Baseline: fill gaps by linear interpolation in time, per series and column.

    A ``DatetimeIndex`` is interpolated in real time, any other index by position; leading and
    trailing gaps take the nearest value, and a column without any value in a series its mean
    over all series.
    """

    def fill(frame: pd.DataFrame) -> pd.DataFrame:
        index = frame.index
        if isinstance(index, pd.MultiIndex):
            index = index.get_level_values(-1)
        method = "time" if isinstance(index, pd.DatetimeIndex) else "linear"
        work = frame.copy()
        if method == "time":
            work.index = index
            filled = work.interpolate(method="time", limit_direction="both")
            filled.index = frame.index
        else:
            filled = work.reset_index(drop=True).interpolate(
                method="linear", limit_direction="both"
            )
            filled.index = frame.index
        return filled

    frame = X.astype(np.float64)
    if isinstance(frame.index, pd.MultiIndex):
        codes = pd.factorize(frame.index.get_level_values(0))[0]
        out = frame.copy()
        for code in range(int(codes.max()) + 1):
            rows = np.flatnonzero(codes == code)
            out.iloc[rows] = fill(frame.iloc[rows]).to_numpy()
    else:
        out = fill(frame)
    return out.fillna(frame.mean())


def imputation_scores(
    truth: np.ndarray, samples: np.ndarray, mask: np.ndarray, coverage: float = 0.9
) -> dict[str, float]:
    """MAE and RMSE of the sample median, CRPS and interval coverage on the ``mask`` cells.

    Parameters
    ----------
    truth : ndarray of shape S
    samples : ndarray of shape (n_samples, *S)
    mask : ndarray of bool, shape S
    coverage : float, default=0.9
        Probability of the central interval whose empirical coverage is reported.
    """
    median = np.median(samples, axis=0)
    lower, upper = metrics.interval_from_samples(samples, coverage)
    return {
        "mae": metrics.mae(truth, median, mask),
        "rmse": metrics.rmse(truth, median, mask),
        "crps": metrics.crps(truth, samples, mask),
        "coverage": metrics.coverage(truth, lower, upper, mask),
    }


def evaluate_imputation(
    imputer: Any,
    X: pd.DataFrame,
    *,
    fraction: float = 0.1,
    random_state: int | None = 0,
    coverage: float = 0.9,
    n_samples: int | None = None,
    baseline: bool = True,
    return_samples: bool = False,
) -> dict[str, Any]:
    """Hide ``fraction`` of the observed cells of ``X``, impute them with ``imputer``, score them.

    Parameters
    ----------
    imputer : fitted TSDiffImputer
    X : DataFrame
        Data whose observed values serve as truth (columns as in ``fit``).
    fraction : float, default=0.1
        Fraction of observed cells hidden (seeded by ``random_state``).
    random_state : int or None, default=0
    coverage : float, default=0.9
        Level of the reported interval coverage.
    n_samples : int, optional
        Samples drawn (default ``imputer.n_samples``).
    baseline : bool, default=True
        Also score linear interpolation (``linear_mae``, ``linear_rmse``).
    return_samples : bool, default=False
        Also return ``"samples"``, ``"hidden"`` (input frame) and ``"mask"`` (for plots).

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``crps``, ``coverage`` (of the ``coverage`` interval), ``n_targets``,
        ``fraction``, ``coverage_level``, and the baseline's scores.
    """
    hidden, mask = hide_observed(X, fraction, random_state)
    truth = X.to_numpy(dtype=np.float64, na_value=np.nan)
    samples = np.asarray(imputer.sample(hidden, n_samples=n_samples))
    result: dict[str, Any] = imputation_scores(truth, samples, mask, coverage)
    result.update(
        {
            "n_targets": int(mask.sum()),
            "fraction": float(fraction),
            "coverage_level": float(coverage),
        }
    )
    if baseline:
        linear = linear_interpolation(hidden).to_numpy()
        result["linear_mae"] = metrics.mae(truth, linear, mask)
        result["linear_rmse"] = metrics.rmse(truth, linear, mask)
    if return_samples:
        result.update({"samples": samples, "hidden": hidden, "mask": mask})
    return result
