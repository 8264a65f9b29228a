"""Batch inference of saved tsdiff models on Spark and Dask.

:mod:`tsdiff.distributed.core` holds the engine-free functions that impute or score one series
with a model loaded once per worker process; :mod:`tsdiff.distributed.spark` and
:mod:`tsdiff.distributed.dask` wrap them for each engine and import PySpark or Dask only when
called (install them with ``pip install "tsdiff[spark]"`` or ``"tsdiff[dask]"``); what both
adapters share lives in :mod:`tsdiff.distributed.engines`.
"""

from __future__ import annotations

from tsdiff.distributed.core import (
    clear_model_cache,
    detect_frame,
    impute_frame,
    load_counts,
    load_model,
    run_long,
)

__all__ = [
    "clear_model_cache",
    "detect_frame",
    "impute_frame",
    "load_counts",
    "load_model",
    "run_long",
]
