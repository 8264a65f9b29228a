"""What the Spark and Dask adapters share: the output's feature columns and the per-series task.

Both adapters group a long-format frame by series and apply :func:`series_task`'s function to
each group's pandas frame on a worker; it runs :func:`tsdiff.distributed.core.impute_frame` or
:func:`tsdiff.distributed.core.detect_frame` on the series.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tsdiff.distributed.core import feature_columns, load_model, run_task
from tsdiff.distributed.loading import prepare_worker

__all__ = ["resolve_features", "series_task"]


def resolve_features(
    model: str | Path | Any,
    frame: Any,
    exclude: Sequence[str | None],
    feature_cols: Sequence[str] | None = None,
) -> list[str]:
    """``feature_cols`` when given, else :func:`feature_columns` of the model at ``model``.

    ``frame`` needs only ``columns`` (a pandas, Dask or Spark frame); the engine adapters call
    this on the driver to fix the output columns before any task runs.
    """
    if feature_cols is not None:
        return list(feature_cols)
    return feature_columns(load_model(model), frame, exclude)


def _series_task_run(
    task: str,
    model: str,
    interval: float | None,
    torch_threads: int | None,
    edits: tuple[dict[str, str] | None, tuple[str, ...]],
    options: dict[str, Any],
    frame: pd.DataFrame,
) -> pd.DataFrame:
    prepare_worker(torch_threads)
    rename, drop = edits
    if rename:
        frame = frame.rename(columns=rename)
    if drop:
        frame = frame.drop(columns=list(drop), errors="ignore")
    return run_task(task, frame, model, interval, **options)


def series_task(
    task: str,
    model: str | Path,
    series_col: str,
    time_col: str | None,
    feature_cols: list[str],
    interval: float | None = None,
    torch_threads: int | None = 1,
    *,
    rename: dict[str, str] | None = None,
    drop: Sequence[str] = (),
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The picklable function an engine applies to each series' rows (a pandas frame).

    It limits the worker's torch threads, renames the columns with ``rename`` and drops the
    helper columns ``drop`` the engine added, then runs
    :func:`~tsdiff.distributed.core.run_task` on the series.
    """
    if task not in ("impute", "detect"):
        raise ValueError(f"task must be 'impute' or 'detect', got {task!r}.")
    options = {"series_col": series_col, "time_col": time_col, "feature_cols": feature_cols}
    edits = (rename, tuple(drop))
    return functools.partial(
        _series_task_run, task, str(model), interval, torch_threads, edits, options
    )
