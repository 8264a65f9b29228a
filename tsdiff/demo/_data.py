"""The demo's data: the held-out period, the hidden cells and the multivariate baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tsdiff.demo._common import DEMO_PERIOD, OUTAGES, QUICK_ROWS, QUICK_TRAIN_ROWS


def demo_period(quick: bool = False) -> pd.DataFrame:
    """The held-out stretch of the Beijing PM data the demo imputes (ground truth)."""
    from tsdiff.datasets import load_beijing_pm

    data = load_beijing_pm("test")
    data = data.loc[(data.index >= DEMO_PERIOD[0]) & (data.index < DEMO_PERIOD[1])]
    return data.iloc[:QUICK_ROWS] if quick else data


def hide_for_demo(
    data: pd.DataFrame,
    fraction: float,
    seed: int,
    outages: tuple[tuple[str, int], ...] = OUTAGES,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Hide ``fraction`` of the observed cells at random plus block outages of single stations.

    Each outage hides the observed cells of both columns of one station (``<station>.PM2.5``,
    ``<station>.PM10``) over its length, at a seeded start (outages of different stations may
    overlap in time).

    Returns
    -------
    hidden : DataFrame
        ``data`` with the hidden cells set to NaN (the imputer's input).
    mask : ndarray of bool
        Every hidden cell (all observed in ``data``).
    outage_mask : ndarray of bool
        The hidden cells of the outages.
    blocks : list of dict
        ``station``, ``hours``, ``start`` (time stamp) and row range of each outage.
    """
    from tsdiff.evaluation import hide_observed

    hidden, mask = hide_observed(data, fraction, seed)
    observed = ~np.isnan(data.to_numpy(dtype=np.float64))
    outage_mask = np.zeros_like(mask)
    rng = np.random.default_rng(seed + 1)
    columns = list(data.columns)
    blocks: list[dict[str, Any]] = []
    for station, hours in outages:
        cols = [columns.index(c) for c in columns if c.split(".")[0] == station]
        if not cols or len(data) < 2 * hours + 48:
            continue
        start = int(rng.integers(24, len(data) - hours - 24))
        for j in cols:
            rows = np.arange(start, start + hours)
            rows = rows[observed[rows, j]]
            outage_mask[rows, j] = True
        blocks.append(
            {
                "station": station,
                "hours": hours,
                "start": str(data.index[start]),
                "rows": [start, start + hours],
            }
        )
    mask |= outage_mask
    values = data.to_numpy(dtype=np.float64).copy()
    values[mask] = np.nan
    hidden = pd.DataFrame(values, index=data.index, columns=data.columns)
    return hidden, mask, outage_mask, blocks


def multivariate_baseline(hidden: pd.DataFrame, quick: bool = False) -> np.ndarray:
    """scikit-learn's ``IterativeImputer`` fitted on the training years plus ``hidden``.

    Cross-sectional (each row from the other columns of the same hour), like tsdiff given the
    same history; returns the filled values of ``hidden``'s rows.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    from tsdiff.datasets import load_beijing_pm

    history = load_beijing_pm("train").iloc[-(QUICK_TRAIN_ROWS if quick else 2160) :]
    both = np.vstack([history.to_numpy(dtype=np.float64), hidden.to_numpy(dtype=np.float64)])
    imputer = IterativeImputer(max_iter=10, random_state=0, tol=1e-3)
    with warnings.catch_warnings():  # "did not converge" at max_iter is expected and harmless
        warnings.simplefilter("ignore", ConvergenceWarning)
        filled = imputer.fit_transform(both)
    return np.asarray(filled[-len(hidden) :], dtype=np.float64)
