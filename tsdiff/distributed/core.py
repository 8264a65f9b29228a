"""Engine-free core of distributed inference: one series in, one frame out.

Spark and Dask call the functions here on the workers; they only need pandas, NumPy and tsdiff.
A model is loaded once per worker process (:func:`load_model` keeps a module-level cache keyed by
its path or URI) and each call works on a copy of the cached estimator, so concurrent calls in
one process do not share mutable state.

Two seeding modes
-----------------
By default a call draws exactly what ``estimator.transform`` / ``estimator.score`` draw for that
one series: one noise stream seeded with ``random_state`` runs through the series' windows in
order, so a window's noise depends on which windows come before it in the call. That is the
right mode for one series per call (Spark ``groupBy``, Dask ``groupby``).

With ``window_seeds=True`` every window draws from its own generator, seeded from the model's
``random_state``, the window's start row in the whole series (``row_offset`` plus its row in
the frame) and its condition mask. Results then no longer depend on how a series is split into
calls, which the partition-wise path for one long series (:func:`chunk_bounds`,
:func:`process_chunk`) relies on. The draws differ from the default mode's (another noise
stream), so compare like with like. The working copies are made in
:mod:`tsdiff.distributed.seeding`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsdiff.distributed.loading import (
    clear_model_cache,
    limit_threads,
    load_counts,
    load_model,
    prepare_worker,
    tune_allocator,
)
from tsdiff.distributed.seeding import working_copy

#: Columns added by :func:`detect_frame` besides the series and time columns.
DETECTION_COLUMNS: tuple[str, ...] = ("score", "is_anomaly", "top_sensors")

__all__ = [
    "DETECTION_COLUMNS",
    "check_interval",
    "chunk_bounds",
    "clear_model_cache",
    "detect_frame",
    "feature_columns",
    "impute_frame",
    "limit_threads",
    "load_counts",
    "load_model",
    "model_context",
    "prepare_worker",
    "process_chunk",
    "run_task",
    "run_long",
    "tune_allocator",
]


# -- frames -------------------------------------------------------------------------------------
def feature_columns(
    estimator: Any, frame: pd.DataFrame, exclude: Sequence[str | None]
) -> list[str]:
    """The model's feature columns: ``feature_names_in_`` when fitted on named columns, else
    every column of ``frame`` but ``exclude``."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [c for c in frame.columns if c not in set(exclude)]


def check_interval(interval: float | None) -> None:
    """Raise ``ValueError`` unless ``interval`` is None or a coverage in (0, 1)."""
    if interval is not None and not 0 < interval < 1:
        raise ValueError(f"interval must be in (0, 1), got {interval}.")


def _features(
    frame: pd.DataFrame, time_col: str | None, features: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sort by time; return the sorted frame and the model input (time as index)."""
    if time_col is not None:
        frame = frame.sort_values(time_col, kind="stable")
    frame = frame.reset_index(drop=True)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValueError(f"The frame lacks the feature column(s) {missing}.")
    X = frame[features].astype(np.float64)
    if time_col is not None:
        X.index = pd.Index(frame[time_col])
    return frame, X


def _prepare(
    frame: pd.DataFrame,
    model: Any,
    keys: tuple[str | None, str | None],
    feature_cols: Sequence[str] | None,
    window_seeds: bool,
    row_offset: int,
) -> tuple[list[str], pd.DataFrame, pd.DataFrame, Any]:
    """What both frame functions start with: the feature names, the model input ``X`` (sorted
    by time), the output frame holding the ``keys`` columns (series, time) and a working copy
    of the estimator."""
    estimator = load_model(model)
    features = list(feature_cols or feature_columns(estimator, frame, keys))
    frame, X = _features(frame, keys[1], features)
    out = frame[[c for c in keys if c is not None]].copy()
    working = working_copy(estimator, window_seeds, row_offset)
    return features, X, out, working


def impute_frame(
    frame: pd.DataFrame,
    model: str | Path | Any,
    *,
    series_col: str | None = None,
    time_col: str | None = None,
    feature_cols: Sequence[str] | None = None,
    interval: float | None = None,
    window_seeds: bool = False,
    row_offset: int = 0,
) -> pd.DataFrame:
    """Impute ONE series with the model at ``model``.

    Parameters
    ----------
    frame : DataFrame
        The rows of one series: optional series id and time columns and the feature columns
        (NaN: missing). Rows are sorted by ``time_col``.
    model : str, Path or fitted estimator
        See :func:`load_model`.
    series_col, time_col : str, optional
        Kept in the output; ``time_col`` (datetime or numeric) orders the rows and, when it
        holds datetimes, gives the model real time stamps.
    feature_cols : sequence of str, optional
        Default: the model's ``feature_names_in_``, else all other columns.
    interval : float, optional
        Coverage in (0, 1) of ``<col>_lower`` / ``<col>_upper`` columns taken from the same
        samples as the medians (one sampling pass).
    window_seeds : bool, default=False
        Seed every window on its own (see the module docstring); False reproduces
        ``estimator.transform`` / ``predict_interval`` on this series.
    row_offset : int, default=0
        Row of ``frame``'s first row in the whole series (with ``window_seeds``).

    Returns
    -------
    DataFrame
        ``series_col``, ``time_col``, the filled features, then the interval columns; one row
        per input row, sorted by time.
    """
    check_interval(interval)
    features, X, out, working = _prepare(
        frame, model, (series_col, time_col), feature_cols, window_seeds, row_offset
    )
    values = X.to_numpy()
    missing = np.isnan(values)
    samples = np.asarray(working.sample(X)) if missing.any() else values[None]
    filled = np.median(samples, axis=0)
    filled = np.where(missing, filled, values)
    for j, name in enumerate(features):
        out[name] = filled[:, j]
    if interval is not None:
        tail = (1.0 - interval) / 2.0
        lower, upper = np.quantile(samples, [tail, 1.0 - tail], axis=0)
        for j, name in enumerate(features):
            out[f"{name}_lower"] = lower[:, j]
            out[f"{name}_upper"] = upper[:, j]
    return out


def _top_sensors(table: np.ndarray, names: Sequence[str], k: int = 3) -> list[str]:
    """Per row, the names of the ``k`` highest non-NaN scores, highest first, comma-joined."""
    if table.shape[0] == 0:
        return []
    keyed = np.where(np.isnan(table), -np.inf, table)
    order = np.argsort(-keyed, axis=1, kind="stable")[:, :k]
    present = np.take_along_axis(~np.isnan(table), order, axis=1)
    labels = np.asarray(list(names), dtype=object)[order]
    return [",".join(row[keep]) for row, keep in zip(labels, present, strict=True)]


def detect_frame(
    frame: pd.DataFrame,
    model: str | Path | Any,
    *,
    series_col: str | None = None,
    time_col: str | None = None,
    feature_cols: Sequence[str] | None = None,
    window_seeds: bool = False,
    row_offset: int = 0,
) -> pd.DataFrame:
    """Score ONE series with the anomaly detector at ``model``.

    Parameters
    ----------
    frame, model, series_col, time_col, feature_cols, window_seeds, row_offset
        As in :func:`impute_frame`.

    Returns
    -------
    DataFrame
        ``series_col``, ``time_col``, ``score`` (float, NaN where no sensor was observed),
        ``is_anomaly`` (0/1) and ``top_sensors`` (the names of the three sensors with the
        highest per-sensor score, comma-joined); sorted by time.
    """
    features, X, out, working = _prepare(
        frame, model, (series_col, time_col), feature_cols, window_seeds, row_offset
    )
    result = working.detect(X)  # one sampling pass
    scores, labels, table = result.scores, result.labels, result.sensor_scores
    out["score"] = np.asarray(scores, dtype=np.float64).reshape(-1)
    out["is_anomaly"] = np.asarray(labels, dtype=np.int64).reshape(-1)
    out["top_sensors"] = _top_sensors(np.asarray(table, dtype=np.float64), features)
    return out


def run_task(
    task: str, frame: pd.DataFrame, model: str | Path | Any, interval: float | None, **options: Any
) -> pd.DataFrame:
    """:func:`impute_frame` (``task="impute"``, with ``interval``) or :func:`detect_frame`
    (``task="detect"``) on ``frame``; ``options`` are their other keyword arguments."""
    if task == "impute":
        return impute_frame(frame, model, interval=interval, **options)
    if task == "detect":
        return detect_frame(frame, model, **options)
    raise ValueError(f"task must be 'impute' or 'detect', got {task!r}.")


# -- one long series split into chunks ----------------------------------------------------------
def model_context(model: str | Path | Any) -> dict[str, int]:
    """What the partition-wise path needs to know about a model.

    Returns
    -------
    dict
        ``window_length``; ``stride`` (the step of the inference windows: ``inference_stride``
        or ``window_length`` for the imputer, the scorer's stride for the detector); ``margin``
        (extra rows of context each side: the longest smoothing length of a detector's
        aggregator, 0 for the imputer).
    """
    estimator = load_model(model)
    length = int(estimator.window_length)
    margin = 0
    scorer = getattr(estimator, "scorer_", None)
    if scorer is not None:
        stride = int(scorer.stride or length)
        smoothing = getattr(estimator.aggregator_, "smoothing", 1)
        margin = int(np.max(np.atleast_1d(smoothing)))
    else:
        stride = int(getattr(estimator, "inference_stride", None) or length)
    return {"window_length": length, "stride": stride, "margin": margin}


def chunk_bounds(
    start: int, stop: int, n_rows: int, window_length: int, stride: int, margin: int = 0
) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of the whole series to process so that rows ``[start, stop)`` come out
    as in one pass over all ``n_rows`` rows.

    ``lo`` is a multiple of ``stride`` at least one window (plus ``margin``) before ``start``,
    so the chunk's windows are the whole series' windows; ``hi - window_length`` is a multiple
    of ``stride`` at or after ``stop`` (plus ``margin``), so the chunk's last window is one of
    them and the windows used for ``[start, stop)`` keep their neighbours on both sides; at the
    series ends the chunk stops at the end.
    """
    if not 0 <= start <= stop <= n_rows:
        raise ValueError(f"need 0 <= start <= stop <= n_rows, got {start}, {stop}, {n_rows}.")
    lo = max(0, ((start - window_length - margin) // stride) * stride)
    last_start = -(-(stop + margin) // stride) * stride
    hi = last_start + window_length
    if hi >= n_rows or n_rows <= window_length:
        hi = n_rows
    return lo, hi


def process_chunk(
    chunk: pd.DataFrame,
    model: str | Path | Any,
    *,
    task: str,
    chunk_start: int,
    keep_start: int,
    keep_stop: int,
    time_col: str | None = None,
    feature_cols: Sequence[str] | None = None,
    interval: float | None = None,
    series_col: str | None = None,
) -> pd.DataFrame:
    """Impute or score rows ``[chunk_start, chunk_start + len(chunk))`` of a long series with
    window seeds and keep rows ``[keep_start, keep_stop)`` (context rows are dropped).

    ``chunk`` must be sorted by time and hold the rows :func:`chunk_bounds` asks for.
    """
    out = run_task(
        task,
        chunk,
        model,
        interval,
        series_col=series_col,
        time_col=time_col,
        feature_cols=feature_cols,
        window_seeds=True,
        row_offset=chunk_start,
    )
    first = keep_start - chunk_start
    return out.iloc[first : first + (keep_stop - keep_start)].reset_index(drop=True)


def run_long(
    frame: pd.DataFrame,
    model: str | Path | Any,
    *,
    task: str,
    chunk_rows: int,
    time_col: str | None = None,
    feature_cols: Sequence[str] | None = None,
    interval: float | None = None,
    series_col: str | None = None,
) -> pd.DataFrame:
    """Impute or score one long series in one process, ``chunk_rows`` rows at a time (window
    seeds; memory bounded by the chunk): the single-process counterpart of the partition-wise
    Dask path, whose results it equals whatever the chunk size.

    Like a worker task, it sets this process's C allocator up for tensor work
    (:func:`tune_allocator`): without that, glibc's default behaviour made long runs spend
    much of their time in page faults (see docs/scaling.md, *Worker processes*)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}.")
    tune_allocator()
    if time_col is not None:
        frame = frame.sort_values(time_col, kind="stable")
    frame = frame.reset_index(drop=True)
    context = model_context(model)
    n_rows = len(frame)
    pieces = []
    for start in range(0, n_rows, chunk_rows):
        stop = min(start + chunk_rows, n_rows)
        lo, hi = chunk_bounds(start, stop, n_rows, **context)
        pieces.append(
            process_chunk(
                frame.iloc[lo:hi],
                model,
                task=task,
                chunk_start=lo,
                keep_start=start,
                keep_stop=stop,
                time_col=time_col,
                feature_cols=feature_cols,
                interval=interval,
                series_col=series_col,
            )
        )
    return pd.concat(pieces, ignore_index=True)
