"""Reading and loading a saved model."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from tsdiff.persistence._encoding import _decode
from tsdiff.persistence._files import _read_weights, config_checksum
from tsdiff.persistence._format import (
    CONFIG_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    PersistenceError,
    resolve_class,
)

_ESTIMATOR_NAMES = ("TSDiffImputer", "TSDiffAnomalyDetector")


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def read_config(path: str | Path, *, verify: bool = True) -> dict[str, Any]:
    """Read and check the ``config.json`` of a saved model (no weights are read).

    Parameters
    ----------
    path : str or Path
        The model directory (``~`` is expanded).
    verify : bool, default=True
        Check the configuration's checksum (any edit of ``config.json`` is refused).

    Raises
    ------
    PersistenceError
        If the directory or file is missing, is not valid JSON, is not a tsdiff model, was
        written in an incompatible format version, or was edited after it was saved.
    """
    directory = Path(path).expanduser()
    config_path = directory / CONFIG_FILE
    if not directory.exists():
        raise PersistenceError(f"No saved model at {directory}: the directory does not exist.")
    if not config_path.is_file():
        raise PersistenceError(f"{directory} is not a saved tsdiff model: it has no {CONFIG_FILE}.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PersistenceError(
            f"{config_path} is not valid JSON ({err}); the file is damaged."
        ) from err
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise PersistenceError(
            f"{config_path} is not a tsdiff model configuration (format {FORMAT_NAME!r})."
        )
    saved = str(config.get("format_version", ""))
    if _version_tuple(saved)[:1] != _version_tuple(FORMAT_VERSION)[:1]:
        raise PersistenceError(
            f"{directory} was saved in model format {saved or '?'} by tsdiff "
            f"{config.get('tsdiff_version', '?')}; this tsdiff reads format {FORMAT_VERSION} "
            f"(major {FORMAT_VERSION.split('.')[0]}). Load it with a matching tsdiff version, or "
            "refit and save the model again."
        )
    if verify:
        try:
            expected = config_checksum(config)
        except ValueError as err:
            raise PersistenceError(f"{config_path}: invalid values ({err}).") from err
        if config.get("checksum") != expected:
            raise PersistenceError(
                f"{config_path} does not match its checksum: the file was edited or damaged "
                "after the model was saved. Refusing to load it; save the model again."
            )
    for key in ("estimator", "params", "fitted", "weights"):
        if not isinstance(config.get(key), dict):
            raise PersistenceError(f"{config_path}: the {key!r} section is missing or malformed.")
    return config


def _resolve_estimator_class(
    config: dict[str, Any], expected_class: type | None, directory: Path
) -> type:
    name = str(config["estimator"].get("class", ""))
    if expected_class is not None and name == expected_class.__qualname__:
        return expected_class  # chosen by the caller's code, not by the file
    if name not in _ESTIMATOR_NAMES:
        raise PersistenceError(
            f"{directory} holds an estimator of class {name!r}, which is not one of tsdiff's "
            f"({list(_ESTIMATOR_NAMES)}); load it with that class's load()."
        )
    cls = resolve_class(name, str(directory / CONFIG_FILE))
    if expected_class is not None and not issubclass(cls, expected_class):
        raise PersistenceError(
            f"{directory} holds a {name}, not a {expected_class.__qualname__}; load it with "
            f"{name}.load(...)."
        )
    return cls


def _rebuild_module(estimator: Any, name: str) -> Any:
    if name == "model_" and hasattr(estimator, "_build_network"):
        return estimator._build_network(int(estimator.n_features_in_), estimator.model_config_)
    raise PersistenceError(
        f"Cannot rebuild the module attribute {name!r} of {type(estimator).__name__}: only "
        "model_ (built with _build_network) is supported."
    )


def load_estimator(path: str | Path, expected_class: type | None = None) -> Any:
    """Load an estimator saved with :func:`save_estimator`.

    Parameters
    ----------
    path : str or Path
        The model directory (``~`` is expanded).
    expected_class : type, optional
        The class the caller expects (``TSDiffImputer.load`` passes ``TSDiffImputer``); the file
        must name it or an allowed subclass. None accepts any tsdiff estimator.

    Returns
    -------
    estimator
        The fitted estimator, its network on the CPU in eval mode.

    Raises
    ------
    PersistenceError
        For a missing, edited or damaged directory, an incompatible format version, another
        estimator class than expected, parameters unknown to this tsdiff version, or weights that
        do not fit the network.
    """
    import torch

    from tsdiff._version import __version__

    directory = Path(path).expanduser()
    config = read_config(directory)
    cls = _resolve_estimator_class(config, expected_class, directory)
    params = {k: _decode(v, f"parameter {k!r}") for k, v in config["params"].items()}
    known = set(cls._get_param_names())  # type: ignore[attr-defined]
    unknown = sorted(set(params) - known)
    if unknown:
        raise PersistenceError(
            f"{directory} was saved by tsdiff {config.get('tsdiff_version', '?')} with "
            f"{cls.__qualname__} parameter(s) {unknown} that tsdiff {__version__} does not know; "
            "use a matching tsdiff version."
        )
    saved_version = str(config.get("tsdiff_version", "0"))
    if _version_tuple(saved_version) > _version_tuple(__version__):
        warnings.warn(
            f"{directory} was saved by tsdiff {saved_version}, newer than this tsdiff "
            f"{__version__}; the format is compatible but results may differ.",
            UserWarning,
            stacklevel=2,
        )
    # parameters added after a model was saved take the value it behaved as, not the default
    for name, value in getattr(cls, "_saved_before", {}).items():
        params.setdefault(name, value)
    estimator = cls(**params)
    try:
        estimator._validate_params()
    except Exception as err:
        raise PersistenceError(
            f"{directory / CONFIG_FILE}: invalid saved parameters: {err}"
        ) from err
    for name, value in config["fitted"].items():
        if not (isinstance(name, str) and name.endswith("_") and not name.startswith("_")):
            raise PersistenceError(
                f"{directory / CONFIG_FILE}: {name!r} is not a fitted attribute name."
            )
        setattr(estimator, name, _decode(value, f"fitted attribute {name!r}"))
    _check_fitted_state(estimator, directory)
    tensors = _read_weights(directory, config)
    used: set[str] = set()
    for name in [str(t) for t in config.get("tensors", [])]:
        if name not in tensors:
            raise PersistenceError(f"The weights file lacks the tensor {name!r}.")
        setattr(estimator, name, tensors[name])
        used.add(name)
    for name in [str(m) for m in config.get("modules", [])]:
        prefix = f"{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        used.update(prefix + k for k in state)
        module = _rebuild_module(estimator, name)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise PersistenceError(
                f"The weights of {name!r} in {directory} do not fit the network described by "
                f"{CONFIG_FILE}: {err}"
            ) from err
        setattr(
            estimator, name, module.cpu().eval() if isinstance(module, torch.nn.Module) else module
        )
    leftover = sorted(set(tensors) - used)
    if leftover:
        raise PersistenceError(
            f"The weights file holds unexpected tensors {leftover[:5]}; it does not match "
            f"{CONFIG_FILE}."
        )
    return estimator


def _check_fitted_state(estimator: Any, directory: Path) -> None:
    """Consistency checks of the standard fitted attributes (defence beyond the checksum)."""
    n_features = getattr(estimator, "n_features_in_", None)
    if not isinstance(n_features, int) or n_features < 1:
        raise PersistenceError(f"{directory / CONFIG_FILE}: n_features_in_ is missing or invalid.")
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) != n_features:
        raise PersistenceError(
            f"{directory / CONFIG_FILE}: feature_names_in_ has {len(names)} names but "
            f"n_features_in_ is {n_features}."
        )
    scaler = getattr(estimator, "scaler_", None)
    if scaler is not None:
        for stat in ("mean_", "scale_"):
            value = getattr(scaler, stat, None)
            if (
                not isinstance(value, np.ndarray)
                or value.shape != (n_features,)
                or not np.isfinite(value).all()
            ):
                raise PersistenceError(
                    f"{directory / CONFIG_FILE}: scaler_.{stat} must hold {n_features} finite "
                    "numbers."
                )


def model_info(path: str | Path) -> dict[str, Any]:
    """A short summary of a saved model (class, versions, features) without loading weights."""
    config = read_config(path)
    fitted = config["fitted"]
    names = fitted.get("feature_names_in_")
    decoded = _decode(names, "feature_names_in_") if names is not None else None
    return {
        "class": config["estimator"].get("class"),
        "tsdiff_version": config.get("tsdiff_version"),
        "format_version": config.get("format_version"),
        "n_features_in": fitted.get("n_features_in_"),
        "feature_names_in": None if decoded is None else [str(n) for n in decoded],
        "real_time": fitted.get("real_time_"),
        "metadata": _decode(config.get("metadata") or {}, "metadata"),
    }
