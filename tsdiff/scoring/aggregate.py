"""Combine cell scores: overlapping windows into series, sensors into one score per time step."""

from __future__ import annotations

import warnings

import numpy as np

from tsdiff.data.windows import WindowStore, stitch

AGGREGATIONS: tuple[str, ...] = ("max", "topk")
WINDOW_COMBINATIONS: tuple[str, ...] = ("mean", "centre")


def combine_windows(
    store: WindowStore, window_scores: np.ndarray, how: str = "mean"
) -> list[np.ndarray]:
    """Put per-window cell scores back on each series' time axis.

    Parameters
    ----------
    store : WindowStore
        The windows (in the order of ``window_scores``).
    window_scores : ndarray of shape (n_windows, n_columns, length)
        Scores per window cell, NaN where a cell was not scored.
    how : {"mean", "centre"}, default="mean"
        ``"mean"`` averages the scores a cell got in every window covering it (NaN ignored);
        ``"centre"`` takes the window where the cell lies closest to the centre.

    Returns
    -------
    list of ndarray
        Per series, ``(n_steps, n_columns)`` scores (NaN: never scored).
    """
    if window_scores.shape != (store.n_windows, store.values.shape[1], store.length):
        raise ValueError(
            f"window_scores has shape {window_scores.shape}, expected "
            f"{(store.n_windows, store.values.shape[1], store.length)}."
        )
    if how == "centre":
        return stitch(store, window_scores)
    if how != "mean":
        raise ValueError(
            f"Unknown window combination {how!r}; choose one of {WINDOW_COMBINATIONS}."
        )
    rows = (store.starts[:, None] + np.arange(store.length)).ravel()
    cells = window_scores.transpose(0, 2, 1).reshape(len(rows), -1)
    present = ~np.isnan(cells)
    total = np.zeros(store.values.shape, dtype=np.float64)
    count = np.zeros(store.values.shape, dtype=np.float64)
    np.add.at(total, rows, np.where(present, cells, 0.0))
    np.add.at(count, rows, present)
    with np.errstate(invalid="ignore", divide="ignore"):
        combined = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return [combined[o : o + n] for o, n in zip(store.offsets, store.lengths, strict=True)]


def aggregate_sensors(
    scores: np.ndarray, how: str = "max", top_k: int = 3, cap: float | None = None
) -> np.ndarray:
    """One score per time step from per-sensor scores ``(n_steps, n_sensors)``.

    Parameters
    ----------
    scores : ndarray of shape (n_steps, n_sensors)
        NaN marks unscored cells (ignored).
    how : {"max", "topk"}, default="max"
        The largest sensor score, or the mean of the ``top_k`` largest (fewer where fewer
        sensors were scored).
    top_k : int, default=3
    cap : float or None, default=None
        Sensor scores above ``cap`` count as ``cap``: beyond it a sensor is taken as certainly
        anomalous, so with ``"topk"`` more sensors agreeing raise the time-step score while one
        sensor far out of range (a drifted or broken sensor) cannot outweigh the others. With
        ``"max"`` every step above the cap ties; None: no cap.

    Returns
    -------
    ndarray of shape (n_steps,)
        NaN where no sensor was scored.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_steps, n_sensors), got shape {scores.shape}.")
    if how not in AGGREGATIONS:
        raise ValueError(f"Unknown aggregation {how!r}; choose one of {AGGREGATIONS}.")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}.")
    if cap is not None:
        if not cap > 0:
            raise ValueError(f"cap must be > 0 or None, got {cap}.")
        scores = np.minimum(scores, cap)  # NaN stays NaN
    present = ~np.isnan(scores)
    none = ~present.any(axis=1)
    if how == "max" or top_k == 1:
        out = np.where(none, np.nan, np.max(np.where(present, scores, -np.inf), axis=1))
        return out
    k = min(top_k, scores.shape[1])
    ordered = -np.sort(-np.where(present, scores, -np.inf), axis=1)[:, :k]
    valid = np.isfinite(ordered)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.where(valid, ordered, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    return np.where(none, np.nan, out)


def smooth_scores(scores: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along the first axis, ignoring NaN (window 1: unchanged).

    Parameters
    ----------
    scores : ndarray of shape (n_steps,) or (n_steps, n_sensors)
    window : int
        Number of steps averaged (an even window leans one step to the past).

    Returns
    -------
    ndarray
        Same shape; NaN where the whole neighbourhood is NaN.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}.")
    scores = np.asarray(scores, dtype=np.float64)
    if window == 1 or len(scores) == 0:
        return scores.copy()
    present = ~np.isnan(scores)
    values = np.where(present, scores, 0.0)
    pad_before = window // 2
    pad_after = window - 1 - pad_before
    zeros_b = np.zeros((pad_before, *scores.shape[1:]))
    zeros_a = np.zeros((pad_after, *scores.shape[1:]))
    cs = np.cumsum(np.concatenate([zeros_b, values, zeros_a]), axis=0)
    cc = np.cumsum(np.concatenate([zeros_b, present.astype(np.float64), zeros_a]), axis=0)
    cs = np.concatenate([np.zeros((1, *scores.shape[1:])), cs])
    cc = np.concatenate([np.zeros((1, *scores.shape[1:])), cc])
    n = len(scores)
    total = cs[window : window + n] - cs[:n]
    count = cc[window : window + n] - cc[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1e-12), np.nan)
