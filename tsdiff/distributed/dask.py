"""Batch inference on Dask: per series (``groupby().apply``) or one long series by partitions.

Dask is imported inside the functions only: ``import tsdiff.distributed`` works without it.

* :func:`impute_dask` / :func:`detect_dask` run one task per series of a long-format frame;
  each series equals the estimator's own result on that series alone.
* :func:`impute_dask_series` / :func:`detect_dask_series` handle ONE long series whose
  partitions are in time order: each partition is processed with the rows around it that its
  windows need (aligned to the whole series' windows, see
  :func:`tsdiff.distributed.core.chunk_bounds`), then the context rows are dropped. Windows are
  seeded one by one, so the result equals :func:`tsdiff.distributed.core.run_long` in one
  process for any partitioning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsdiff.distributed import core, engines

_GROUP_KEY = "__tsdiff_series__"


def _meta(
    ddf: Any,
    keys: Sequence[str | None],
    features: Sequence[str],
    task: str,
    interval: float | None,
) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for key in keys:
        if key is not None:
            columns[key] = ddf._meta[key] if key in ddf.columns else ddf._meta.index
    if task == "impute":
        names = list(features)
        if interval is not None:
            names += [f"{c}_{side}" for c in features for side in ("lower", "upper")]
        for name in names:
            columns[name] = pd.Series([], dtype=np.float64)
    else:
        columns["score"] = pd.Series([], dtype=np.float64)
        columns["is_anomaly"] = pd.Series([], dtype=np.int64)
        columns["top_sensors"] = pd.Series([], dtype=object)
    return pd.DataFrame({k: pd.Series(v.to_numpy()[:0], dtype=v.dtype) for k, v in columns.items()})


def _plan(
    ddf: Any,
    model: str | Path,
    keys: Sequence[str | None],
    feature_cols: Sequence[str] | None,
    task: str,
    interval: float | None,
) -> tuple[list[str], pd.DataFrame]:
    """Check ``interval``; the feature columns and the output's empty ``meta`` frame."""
    core.check_interval(interval)
    features = engines.resolve_features(model, ddf._meta, keys, feature_cols)
    return features, _meta(ddf, keys, features, task, interval)


def _per_series(
    ddf: Any,
    task: str,
    model: str | Path,
    series_col: str,
    time_col: str | None,
    feature_cols: Sequence[str] | None,
    interval: float | None,
    torch_threads: int | None,
) -> Any:
    features, meta = _plan(ddf, model, [series_col, time_col], feature_cols, task, interval)
    fn = engines.series_task(
        task, model, series_col, time_col, features, interval, torch_threads, drop=[_GROUP_KEY]
    )
    grouped = ddf.assign(**{_GROUP_KEY: ddf[series_col]}).groupby(_GROUP_KEY)
    return grouped.apply(fn, meta=meta).reset_index(drop=True)


def impute_dask(
    ddf: Any,
    model_path: str | Path,
    series_col: str,
    time_col: str | None = None,
    feature_cols: Sequence[str] | None = None,
    interval: float | None = None,
    *,
    torch_threads: int | None = 1,
) -> Any:
    """Impute every series of a long-format Dask DataFrame (one task per series).

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        A series id column, an optional time column and the feature columns (NaN: missing).
    model_path : str or Path
        A directory written by ``TSDiffImputer.save`` readable by every worker, or an MLflow
        model URI; loaded once per worker process.
    series_col : str
    time_col : str, optional
        Orders each series' rows (default: their order in the frame).
    feature_cols : sequence of str, optional
        Default: the model's ``feature_names_in_``.
    interval : float, optional
        Also return ``<col>_lower`` / ``<col>_upper`` with this coverage.
    torch_threads : int or None, default=1
        Torch threads per task (None: torch's default).

    Returns
    -------
    dask.dataframe.DataFrame
        ``series_col``, ``time_col``, filled features (float64) and interval columns; each
        series equals ``imputer.transform`` on that series alone.
    """
    return _per_series(
        ddf, "impute", model_path, series_col, time_col, feature_cols, interval, torch_threads
    )


def detect_dask(
    ddf: Any,
    model_path: str | Path,
    series_col: str,
    time_col: str | None = None,
    feature_cols: Sequence[str] | None = None,
    *,
    torch_threads: int | None = 1,
) -> Any:
    """Score every series of a long-format Dask DataFrame with a saved anomaly detector.

    Returns ``series_col``, ``time_col``, ``score``, ``is_anomaly`` and ``top_sensors``; see
    :func:`impute_dask` for the parameters.
    """
    return _per_series(
        ddf, "detect", model_path, series_col, time_col, feature_cols, None, torch_threads
    )


def _run_chunk(
    *parts: pd.DataFrame,
    first_row: int,
    lo: int,
    hi: int,
    keep_start: int,
    keep_stop: int,
    task: str,
    model: str,
    time_col: str | None,
    feature_cols: list[str],
    interval: float | None,
    torch_threads: int | None,
) -> pd.DataFrame:
    core.prepare_worker(torch_threads)
    frame = pd.concat(parts) if len(parts) > 1 else parts[0]
    if time_col is not None and time_col not in frame.columns:
        frame = frame.reset_index()
    frame = frame.iloc[lo - first_row : hi - first_row]
    return core.process_chunk(
        frame,
        model,
        task=task,
        chunk_start=lo,
        keep_start=keep_start,
        keep_stop=keep_stop,
        time_col=time_col,
        feature_cols=feature_cols,
        interval=interval,
    )


def _long_series(
    ddf: Any,
    task: str,
    model: str | Path,
    time_col: str | None,
    feature_cols: Sequence[str] | None,
    interval: float | None,
    torch_threads: int | None,
) -> Any:
    import dask
    import dask.dataframe as dd

    features, meta = _plan(ddf, model, [time_col], feature_cols, task, interval)
    context = core.model_context(model)
    lengths = [int(n) for n in ddf.map_partitions(len).compute()]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(int)
    n_rows = int(offsets[-1])
    parts = ddf.to_delayed()
    run = dask.delayed(_run_chunk, pure=True)
    pieces = []
    for i in range(len(lengths)):
        start, stop = int(offsets[i]), int(offsets[i + 1])
        if start == stop:
            continue
        lo, hi = core.chunk_bounds(start, stop, n_rows, **context)
        used = [j for j in range(len(lengths)) if offsets[j] < hi and offsets[j + 1] > lo]
        pieces.append(
            run(
                *(parts[j] for j in used),
                first_row=int(offsets[used[0]]),
                lo=lo,
                hi=hi,
                keep_start=start,
                keep_stop=stop,
                task=task,
                model=str(model),
                time_col=time_col,
                feature_cols=features,
                interval=interval,
                torch_threads=torch_threads,
            )
        )
    return dd.from_delayed(pieces, meta=meta, verify_meta=False)


def impute_dask_series(
    ddf: Any,
    model_path: str | Path,
    time_col: str | None = None,
    feature_cols: Sequence[str] | None = None,
    interval: float | None = None,
    *,
    torch_threads: int | None = 1,
) -> Any:
    """Impute ONE long series held in time-ordered partitions, partition by partition.

    Each partition is imputed together with the rows before and after it that its windows need
    (at least one window on each side, aligned to the whole series' windows); the results of
    those context rows are dropped. Every window is seeded on its own, so the result equals
    ``core.run_long(frame, model, task="impute", ...)`` in one process, whatever the
    partitioning.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        The series, sorted by time across and within partitions (a time column, or the time as
        the index named ``time_col``).
    model_path, feature_cols, interval, torch_threads
        As in :func:`impute_dask`.
    time_col : str, optional
        The time column (or index name), kept in the output.

    Returns
    -------
    dask.dataframe.DataFrame
        ``time_col``, the filled features and the interval columns, one partition per input
        partition.
    """
    return _long_series(ddf, "impute", model_path, time_col, feature_cols, interval, torch_threads)


def detect_dask_series(
    ddf: Any,
    model_path: str | Path,
    time_col: str | None = None,
    feature_cols: Sequence[str] | None = None,
    *,
    torch_threads: int | None = 1,
) -> Any:
    """Score ONE long series held in time-ordered partitions (see :func:`impute_dask_series`;
    the context also covers the aggregator's longest smoothing length). Equal to
    ``core.run_long(frame, model, task="detect", ...)`` unless the thresholder adjusts for
    drift (``drift=True`` uses each partition's median score)."""
    return _long_series(ddf, "detect", model_path, time_col, feature_cols, None, torch_threads)


def worker_load_counts(client: Any) -> dict[str, dict[str, int]]:
    """Per worker address, that worker process's model load counts (``client.run``)."""
    return dict(client.run(core.load_counts))
