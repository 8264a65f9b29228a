"""Evaluate models on data with known values.

Imputers: hide some observed cells, impute them, score them (:func:`evaluate_on_hidden_cells`).
Only cells that were observed and then hidden are scored, so a score never includes a value the
model saw. Detectors: scores and flags from one sampling pass (:func:`score_once`). Used by
``tsdiff evaluate`` and ``tsdiff demo``; the metrics themselves are in :mod:`tsdiff.metrics`.
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

    Uses :func:`tsdiff.data.interpolation.interpolate_series` (the interpolation tsdiff blends
    with). A ``DatetimeIndex`` is interpolated in real time, any other index by position; leading
    and trailing gaps take the nearest value, and a column without any value in a series its mean
    over all series.
    """
    from tsdiff.data.interpolation import interpolate_series

    frame = X.astype(np.float64)
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    index = frame.index
    if isinstance(index, pd.MultiIndex):
        groups = pd.factorize(index.get_level_values(0))[0]
        times = index.get_level_values(-1)
    else:
        groups = np.zeros(len(frame), dtype=np.int64)
        times = index
    out = np.empty_like(values)
    fallback = frame.mean().to_numpy(dtype=np.float64)  # NaN for a column with no value at all
    for code in np.unique(groups):
        rows = np.flatnonzero(groups == code)
        stamps = (
            times[rows].asi8.astype(np.float64)
            if isinstance(times, pd.DatetimeIndex)
            else np.arange(len(rows), dtype=np.float64)
        )
        block = values[rows]
        empty = np.isnan(block).all(axis=0)
        filled = interpolate_series(block, stamps)
        filled[:, empty] = np.broadcast_to(fallback, filled.shape)[:, empty]
        out[rows] = filled
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def evaluate_on_hidden_cells(
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
        ``mae``, ``rmse``, ``crps``, ``coverage`` and ``interval_width`` (of the ``coverage``
        interval), ``n_targets``, ``fraction``, ``coverage_level``, and the baseline's scores.
    """
    hidden, mask = hide_observed(X, fraction, random_state)
    truth = X.to_numpy(dtype=np.float64, na_value=np.nan)
    samples = np.asarray(imputer.sample(hidden, n_samples=n_samples))
    result: dict[str, Any] = metrics.imputation_report(truth, samples, mask, coverage)
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


def score_once(detector: Any, X: Any) -> tuple[np.ndarray, np.ndarray]:
    """Scores and 0/1 flags of every row of ``X`` from a single sampling pass
    (``detector.detect(X)``), flattened in row order.

    Returns
    -------
    scores : ndarray of float, shape (n_rows,)
        NaN for rows without any observed value.
    flags : ndarray of int, shape (n_rows,)
    """
    result = detector.detect(X)
    return (
        np.asarray(result.scores, dtype=np.float64).reshape(-1),
        np.asarray(result.labels, dtype=np.int64).reshape(-1),
    )
