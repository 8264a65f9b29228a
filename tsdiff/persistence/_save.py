"""Saving a fitted estimator."""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tsdiff.persistence._encoding import _encode
from tsdiff.persistence._files import (
    _check_target,
    _check_weights_writer,
    _fsync,
    _swap_in,
    config_checksum,
    sha256_file,
)
from tsdiff.persistence._format import CONFIG_FILE, FORMAT_NAME, FORMAT_VERSION, WEIGHTS_FILES

#: ``trainer_kwargs`` entries that are run-time objects of one training run, not saved.
_RUNTIME_TRAINER_KEYS = ("callbacks", "logger")


def _fitted_attribute_names(estimator: Any) -> list[str]:
    return [name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")]


def save_estimator(
    estimator: Any,
    path: str | Path,
    *,
    weights_format: str = "torch",
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Save a fitted estimator to the directory ``path``, atomically.

    Parameters
    ----------
    estimator : fitted tsdiff estimator
        A fitted :class:`~tsdiff.TSDiffImputer` or :class:`~tsdiff.TSDiffAnomalyDetector`.
    path : str or Path
        Directory to write (``~`` is expanded). An existing directory must be empty or hold a
        saved tsdiff model, which is replaced only once the new one is completely written.
    weights_format : {"torch", "safetensors"}, default="torch"
        ``"torch"`` writes ``weights.pt`` (``torch.save`` of a state dict, read back with
        ``weights_only=True``); ``"safetensors"`` writes ``weights.safetensors`` (needs the
        ``safetensors`` package to write and to read).
    metadata : dict, optional
        Free-form JSON-like information stored under ``"metadata"`` (the MLflow flavour keeps the
        input's index column names there).

    Returns
    -------
    Path
        The directory.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ImportError
        If ``weights_format="safetensors"`` and safetensors is not installed (nothing is written).
    PersistenceError
        If a value cannot be encoded, or ``path`` is a file or a non-model directory.
    """
    import sklearn
    import torch
    from sklearn.utils.validation import check_is_fitted

    from tsdiff._version import __version__

    check_is_fitted(estimator)
    write_weights = _check_weights_writer(weights_format)
    directory = Path(path).expanduser()
    _check_target(directory)
    cls = type(estimator)
    given = estimator.get_params(deep=False)
    if isinstance(given.get("trainer_kwargs"), dict):
        given["trainer_kwargs"] = {
            k: v for k, v in given["trainer_kwargs"].items() if k not in _RUNTIME_TRAINER_KEYS
        }
    params = {k: _encode(v, f"parameter {k!r}") for k, v in given.items()}
    fitted: dict[str, Any] = {}
    tensors: dict[str, torch.Tensor] = {}
    modules: list[str] = []
    tensor_attributes: list[str] = []
    for name in _fitted_attribute_names(estimator):
        value = getattr(estimator, name)
        if isinstance(value, torch.nn.Module):
            modules.append(name)
            for key, tensor in value.state_dict().items():
                tensors[f"{name}.{key}"] = tensor.detach().cpu().contiguous().clone()
        elif isinstance(value, torch.Tensor):
            tensor_attributes.append(name)
            tensors[name] = value.detach().cpu().contiguous().clone()
        else:
            fitted[name] = _encode(value, f"fitted attribute {name!r}")
    encoded_metadata = _encode(dict(metadata or {}), "metadata")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        weights_path = staged / WEIGHTS_FILES[weights_format]
        write_weights(tensors, weights_path)
        _fsync(weights_path)
        config = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "tsdiff_version": __version__,
            "library_versions": {
                "torch": torch.__version__,
                "scikit-learn": sklearn.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
            "estimator": {"class": cls.__qualname__, "module": cls.__module__},
            "params": params,
            "fitted": fitted,
            "modules": modules,
            "tensors": tensor_attributes,
            "weights": {
                "file": weights_path.name,
                "format": weights_format,
                "sha256": sha256_file(weights_path),
                "n_tensors": len(tensors),
            },
            "metadata": encoded_metadata,
        }
        config["checksum"] = config_checksum(config)
        config_path = staged / CONFIG_FILE
        config_path.write_text(json.dumps(config, indent=2, allow_nan=False) + "\n", "utf-8")
        _fsync(config_path)
        _fsync(staged)
        _swap_in(staged, directory)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return directory
