"""Saved models on workers: loaded once per process and cached; torch threads and the C
allocator set up for tensor work once per worker process."""

from __future__ import annotations

import ctypes
import platform
import threading
from collections import Counter
from pathlib import Path
from typing import Any

_MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/", "s3://", "gs://", "dbfs:/")
_CACHE: dict[str, Any] = {}
_LOADS: Counter[str] = Counter()
_LOCK = threading.Lock()
_ALLOCATOR_TUNED = False

# glibc's mallopt parameters (malloc.h) and the values a worker sets: blocks up to 64 MiB come
# from the heap rather than from a fresh mmap each time, and up to 128 MiB of free heap top is
# kept. docs/scaling.md ("Worker processes") has the measurements.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
WORKER_MMAP_THRESHOLD = 64 * 2**20
WORKER_TRIM_THRESHOLD = 128 * 2**20


# -- model loading ------------------------------------------------------------------------------
def _cache_key(model: str | Path) -> str:
    text = str(model)
    if text.startswith(_MLFLOW_SCHEMES):
        return text
    return str(Path(text).expanduser().resolve())


def _pyfunc_data_dir(directory: Path) -> Path:
    """The tsdiff model directory inside an MLflow model directory (or ``directory`` itself)."""
    mlmodel = directory / "MLmodel"
    if not mlmodel.exists():
        return directory
    import yaml

    spec = yaml.safe_load(mlmodel.read_text())
    data = ((spec.get("flavors") or {}).get("python_function") or {}).get("data")
    if not data:
        raise ValueError(f"{directory} is an MLflow model without a python_function data path.")
    return directory / data


def _resolve_model_dir(model: str | Path) -> Path:
    """A local tsdiff model directory for a saved directory, an MLflow model directory or an
    MLflow URI (``models:/name/1``, ``runs:/<id>/model``...: downloaded with MLflow)."""
    text = str(model)
    if text.startswith(_MLFLOW_SCHEMES):
        import mlflow

        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=text))
        return _pyfunc_data_dir(local)
    directory = Path(text).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"No tsdiff model directory at {directory}.")
    return _pyfunc_data_dir(directory)


def load_model(model: str | Path | Any) -> Any:
    """The fitted estimator at ``model``, loaded once per process.

    Parameters
    ----------
    model : str, Path or fitted estimator
        A directory written by ``estimator.save``, an MLflow model directory, or an MLflow model
        URI (``models:/<name>/<version>``, ``runs:/<run_id>/<path>``; the tracking URI comes from
        ``MLFLOW_TRACKING_URI`` on the worker). A fitted estimator is returned as it is.

    Returns
    -------
    estimator
        The cached estimator; callers must not modify it (the functions of this module work on
        copies).
    """
    if not isinstance(model, (str, Path)):
        return model
    key = _cache_key(model)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            from tsdiff.persistence import load_estimator

            cached = load_estimator(_resolve_model_dir(model))
            _CACHE[key] = cached
            _LOADS[key] += 1
    return cached


def load_counts() -> dict[str, int]:
    """How many times this process loaded each model (path or URI -> count)."""
    return dict(_LOADS)


def clear_model_cache() -> None:
    """Forget the cached models and load counts of this process."""
    with _LOCK:
        _CACHE.clear()
        _LOADS.clear()


def tune_allocator() -> bool:
    """Let glibc's malloc reuse freed tensor memory in this (worker) process; once per process.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also freezes glibc's
    mmap threshold at 128 KiB: every tensor larger than that is then mapped fresh and unmapped
    on free, and the page faults made a worker's sampling several times slower than the same
    work in a plain process. This sets the mmap threshold to :data:`WORKER_MMAP_THRESHOLD` and
    the trim threshold to :data:`WORKER_TRIM_THRESHOLD`. Elsewhere than glibc (macOS, musl,
    Windows) it does nothing.

    Returns
    -------
    bool
        Whether the allocator of this process is now tuned.
    """
    global _ALLOCATOR_TUNED
    with _LOCK:
        if _ALLOCATOR_TUNED:
            return True
        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            return False
        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            return False
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
        done = mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD) == 1
        done = mallopt(_M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD) == 1 and done
        _ALLOCATOR_TUNED = done
        return done


def prepare_worker(n_threads: int | None) -> None:
    """Set up this worker process for a tsdiff task: :func:`limit_threads` and
    :func:`tune_allocator` (the adapters call it at the start of every task)."""
    limit_threads(n_threads)
    tune_allocator()


def limit_threads(n_threads: int | None) -> None:
    """Cap torch's intra-op threads of this (worker) process; None leaves them as they are.

    Several single-threaded tasks per machine beat one oversubscribed multi-threaded task.
    """
    if n_threads is not None:
        import torch

        if torch.get_num_threads() != int(n_threads):
            torch.set_num_threads(int(n_threads))
