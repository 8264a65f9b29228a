"""Parameters of an autologged run: ``get_params()`` flattened to MLflow params, the data's
shape, and logging them in batches."""

from __future__ import annotations

import dataclasses
from typing import Any

_MAX_PARAM_LENGTH = 6000  # MLflow 3's limit on a param value
_BATCH = 100  # MLflow's limit on params per log_batch


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_PARAM_LENGTH else text[: _MAX_PARAM_LENGTH - 3] + "..."


def flatten_params(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``get_params()`` as MLflow params: nested configs and dicts become dotted keys.

    A dataclass (``ModelConfig``) or an object with ``get_params()`` (a scorer) is logged as its
    class name under its own key and its fields under ``key.field``; a dict as ``key.item``.
    """
    flat: dict[str, str] = {}
    for name, value in params.items():
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            flat[key] = type(value).__name__
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            flat.update(flatten_params(fields, f"{key}."))
        elif isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            flat.update(flatten_params(value, f"{key}."))
        elif callable(getattr(value, "get_params", None)) and not isinstance(value, type):
            flat[key] = type(value).__name__
            flat.update(flatten_params(value.get_params(deep=False), f"{key}."))
        else:
            flat[key] = _param_text(value)
    return flat


def _data_params(estimator: Any) -> dict[str, str]:
    params: dict[str, str] = {}
    if hasattr(estimator, "n_features_in_"):
        params["data.n_features"] = str(estimator.n_features_in_)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        params["data.feature_names"] = _param_text(",".join(str(n) for n in names))
    if hasattr(estimator, "real_time_"):
        params["data.real_time"] = str(bool(estimator.real_time_))
    return params


def _log_params(client: Any, run_id: str, params: dict[str, str]) -> None:
    """Log ``params``, skipping keys the run already has (MLflow params cannot change)."""
    from mlflow.entities import Param

    existing = client.get_run(run_id).data.params
    items = [Param(k, v) for k, v in params.items() if k not in existing]
    for start in range(0, len(items), _BATCH):
        client.log_batch(run_id, params=items[start : start + _BATCH])
