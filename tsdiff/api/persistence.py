"""Save and load fitted tsdiff estimators as a directory of plain data.

A saved model is a directory with two files:

``config.json``
    The format name and version, the tsdiff (and torch, scikit-learn) version that wrote it, the
    estimator class, every parameter (``get_params()``), every fitted attribute (``n_features_in_``,
    ``feature_names_in_``, the scaler's ``mean_``/``scale_``, ``time_step_``, ``real_time_``,
    ``history_``, a detector's threshold, ...), free-form ``metadata`` and the SHA-256 of the
    weights file.
``weights.pt`` (or ``weights.safetensors``)
    The ``state_dict`` of every fitted ``torch.nn.Module`` (and fitted tensors), keys prefixed by
    the attribute name (``model_.blocks.0...``).

Loading never executes code from the files: the JSON is parsed with :mod:`json`, the weights
are read with ``torch.load(..., weights_only=True)`` (or :mod:`safetensors`) only after their
SHA-256 matched, and the estimator class is looked up in a fixed table of tsdiff classes, never
imported by a name read from the file.

Extending to new estimators
---------------------------
Persistence is generic over fitted state, so a new estimator (such as the anomaly detector)
needs nothing to be saved when its fitted attributes are

* public attributes ending in ``_`` holding JSON-like values (None, bool, int, float incl. NaN
  and infinities, str, lists, tuples, dicts with str keys), numpy scalars or numeric, boolean or
  string numpy arrays, or objects of a class registered with :func:`register_state_class`
  (:class:`~tsdiff.data.scaling.NaNStandardScaler` is);
* ``torch.nn.Module`` attributes: ``model_`` is rebuilt with ``_build_network(n_features_in_)``;
  any other module attribute ``name`` needs a method ``_rebuild_module(name) -> nn.Module``
  returning an untrained module of the right shape (called after the other fitted attributes
  are restored);
* ``torch.Tensor`` attributes (stored in the weights file).

Two optional hooks cover everything else:

``_extra_fitted_state(self) -> dict``
    Extra state to save (values encodable as above) under ``"extra_state"``.
``_restore_fitted_state(self, state: dict) -> None``
    Called on load with that dict, after the fitted attributes and modules are restored.

and a class attribute ``_persistence_exclude`` (a set of attribute names) leaves attributes out
(caches, run-time statistics). An attribute that cannot be encoded gets a :class:`PersistenceError`
naming it.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "tsdiff-model"
FORMAT_VERSION = "1.0"
CONFIG_FILE = "config.json"
WEIGHTS_FILES = {"torch": "weights.pt", "safetensors": "weights.safetensors"}
_MARK = "__tsdiff__"

#: Estimator classes a saved directory may name: class name -> module (imported lazily).
ESTIMATOR_CLASSES: dict[str, str] = {
    "TSDiffImputer": "tsdiff.api.imputer",
    "TSDiffAnomalyDetector": "tsdiff.api.detector",
}

_STATE_CLASSES: dict[str, type] = {}


class PersistenceError(ValueError):
    """A model directory cannot be written or read (wrong version, altered files, bad state)."""


def register_state_class(cls: type) -> type:
    """Allow fitted attributes of type ``cls`` to be saved (usable as a class decorator).

    The object is saved as its ``vars()`` (each value encodable) and restored with
    ``cls.__new__(cls)`` and ``setattr``; ``__init__`` is not called. Only registered classes
    can be re-created, so a file cannot make the loader build arbitrary objects.
    """
    _STATE_CLASSES[cls.__qualname__] = cls
    return cls


def _register_builtin_state_classes() -> None:
    from tsdiff.data.scaling import NaNStandardScaler
    from tsdiff.model.config import ModelConfig
    from tsdiff.scoring import POT, Contamination, FixedThreshold, MaskedReimputationScorer, TopK

    for cls in (
        NaNStandardScaler,
        ModelConfig,
        MaskedReimputationScorer,
        TopK,
        POT,
        Contamination,
        FixedThreshold,
    ):
        register_state_class(cls)


# -- JSON encoding of fitted values ------------------------------------------------------------
def _encode(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isfinite(number):
            return number
        return {_MARK: "float", "value": repr(number)}
    if isinstance(value, np.ndarray):
        return _encode_array(value, where)
    if isinstance(value, tuple):
        return {_MARK: "tuple", "items": [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise PersistenceError(
                f"{where}: dict keys must be strings to be saved, got {list(value)[:5]}."
            )
        if _MARK in value:
            raise PersistenceError(f"{where}: the key {_MARK!r} is reserved.")
        return {k: _encode(v, f"{where}[{k!r}]") for k, v in value.items()}
    cls = type(value)
    if _STATE_CLASSES.get(cls.__qualname__) is cls:
        state = {k: _encode(v, f"{where}.{k}") for k, v in vars(value).items()}
        return {_MARK: "object", "class": cls.__qualname__, "state": state}
    raise PersistenceError(
        f"{where} of type {cls.__module__}.{cls.__qualname__} cannot be saved: persistence stores "
        "JSON-like values, numpy arrays, torch modules/tensors and registered classes only. Give "
        "the estimator _extra_fitted_state()/_restore_fitted_state() hooks, list the attribute in "
        "_persistence_exclude, or register the class with "
        "tsdiff.api.persistence.register_state_class."
    )


def _encode_array(array: np.ndarray, where: str) -> dict[str, Any]:
    kind = array.dtype.kind
    if kind in "biuf":
        data = [_encode(float(v), where) if kind == "f" else v for v in array.ravel().tolist()]
        return {
            _MARK: "ndarray",
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "data": data,
        }
    if kind in "OUS" and all(isinstance(v, (str, bytes, np.str_)) for v in array.ravel().tolist()):
        data = [str(v) for v in array.ravel().tolist()]
        dtype = "object" if kind == "O" else array.dtype.str
        return {_MARK: "ndarray", "dtype": dtype, "shape": list(array.shape), "data": data}
    raise PersistenceError(f"{where}: numpy arrays of dtype {array.dtype} cannot be saved.")


def _decode(value: Any, where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    mark = value.get(_MARK)
    if mark is None:
        return {k: _decode(v, f"{where}[{k!r}]") for k, v in value.items()}
    try:
        if mark == "float":
            text = value["value"]
            if text not in ("nan", "inf", "-inf"):
                raise PersistenceError(f"{where}: invalid special float {text!r}.")
            return float(text)
        if mark == "tuple":
            return tuple(_decode(v, f"{where}[{i}]") for i, v in enumerate(value["items"]))
        if mark == "ndarray":
            data = [_decode(v, where) for v in value["data"]]
            dtype = np.dtype(object) if value["dtype"] == "object" else np.dtype(value["dtype"])
            if dtype.kind not in "biufOUS":
                raise PersistenceError(f"{where}: unsupported array dtype {value['dtype']!r}.")
            return np.asarray(data, dtype=dtype).reshape(value["shape"])
        if mark == "object":
            name = value["class"]
            if name not in _STATE_CLASSES:
                raise PersistenceError(
                    f"{where}: the class {name!r} is not a registered state class."
                )
            cls: Any = _STATE_CLASSES[name]
            obj = cls.__new__(cls)
            for key, item in value["state"].items():
                object.__setattr__(obj, key, _decode(item, f"{where}.{key}"))
            return obj
    except PersistenceError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise PersistenceError(f"{where}: malformed saved value ({err}).") from err
    raise PersistenceError(f"{where}: unknown saved value kind {mark!r}.")


# -- helpers -------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _fitted_attribute_names(estimator: Any) -> list[str]:
    excluded = set(getattr(estimator, "_persistence_exclude", ()))
    return [
        name
        for name in vars(estimator)
        if name.endswith("_") and not name.startswith("_") and name not in excluded
    ]


def _check_fitted(estimator: Any) -> None:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)


# -- save ------------------------------------------------------------------------------------
def save_estimator(
    estimator: Any,
    path: str | Path,
    *,
    weights_format: str = "torch",
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Save a fitted estimator to the directory ``path``.

    Parameters
    ----------
    estimator : DiffusionEstimatorBase
        A fitted :class:`~tsdiff.TSDiffImputer` or :class:`~tsdiff.TSDiffAnomalyDetector`.
    path : str or Path
        Directory to write; created if missing. An existing directory must be empty or hold a
        saved tsdiff model (which is replaced).
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
    PersistenceError
        If a fitted attribute cannot be encoded, or ``path`` is a file or a non-model directory.
    """
    import sklearn
    import torch

    from tsdiff._version import __version__

    _check_fitted(estimator)
    _register_builtin_state_classes()
    if weights_format not in WEIGHTS_FILES:
        raise ValueError(
            f"weights_format must be one of {sorted(WEIGHTS_FILES)}, got {weights_format!r}."
        )
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise PersistenceError(
            f"Cannot save the model to {directory}: it is a file, not a directory."
        )
    if directory.is_dir() and any(directory.iterdir()) and not (directory / CONFIG_FILE).is_file():
        raise PersistenceError(
            f"Cannot save the model to {directory}: the directory is not empty and holds no saved "
            "tsdiff model; choose a new or empty directory."
        )
    cls = type(estimator)
    params = {
        k: _encode(v, f"parameter {k!r}") for k, v in estimator.get_params(deep=False).items()
    }
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
    extra = None
    hook = getattr(estimator, "_extra_fitted_state", None)
    if callable(hook):
        extra = _encode(hook(), "_extra_fitted_state()")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in WEIGHTS_FILES.values():
        (directory / stale).unlink(missing_ok=True)
    weights_path = directory / WEIGHTS_FILES[weights_format]
    if weights_format == "safetensors":
        try:
            from safetensors.torch import save_file
        except ImportError as err:
            raise ImportError(
                "weights_format='safetensors' needs the safetensors package."
            ) from err
        save_file(tensors, str(weights_path))
    else:
        torch.save(tensors, weights_path)
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
        "extra_state": extra,
        "weights": {
            "file": weights_path.name,
            "format": weights_format,
            "sha256": _sha256(weights_path),
            "n_tensors": len(tensors),
        },
        "metadata": _encode(dict(metadata or {}), "metadata"),
    }
    text = json.dumps(config, indent=2, allow_nan=False)
    tmp = directory / (CONFIG_FILE + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(directory / CONFIG_FILE)
    return directory


# -- load ------------------------------------------------------------------------------------
def read_config(path: str | Path) -> dict[str, Any]:
    """Read and check the ``config.json`` of a saved model (no weights are read).

    Raises
    ------
    PersistenceError
        If the directory or file is missing, is not valid JSON, is not a tsdiff model, or was
        written in an incompatible format version.
    """
    directory = Path(path)
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
    saved_major = _version_tuple(saved)[:1]
    if saved_major != _version_tuple(FORMAT_VERSION)[:1]:
        raise PersistenceError(
            f"{directory} was saved in model format {saved or '?'} by tsdiff "
            f"{config.get('tsdiff_version', '?')}; this tsdiff reads format {FORMAT_VERSION} "
            f"(major {FORMAT_VERSION.split('.')[0]}). Load it with a matching tsdiff version, or "
            "refit and save the model again."
        )
    for key in ("estimator", "params", "fitted", "weights"):
        if not isinstance(config.get(key), dict):
            raise PersistenceError(f"{config_path}: the {key!r} section is missing or malformed.")
    return config


def _resolve_class(config: dict[str, Any], expected_class: type | None, directory: Path) -> type:
    from tsdiff.api._base import DiffusionEstimatorBase

    name = str(config["estimator"].get("class", ""))
    if expected_class is not None and expected_class is not DiffusionEstimatorBase:
        if name != expected_class.__qualname__:
            hint = f"; load it with {name}.load(...)" if name in ESTIMATOR_CLASSES else ""
            raise PersistenceError(
                f"{directory} holds a {name or 'model of unknown class'}, not a "
                f"{expected_class.__qualname__}{hint}."
            )
        return expected_class
    if name not in ESTIMATOR_CLASSES:
        raise PersistenceError(
            f"{directory} holds an estimator of class {name!r}, which is not one of tsdiff's "
            f"({sorted(ESTIMATOR_CLASSES)}); load it with that class's load()."
        )
    import importlib

    try:
        module = importlib.import_module(ESTIMATOR_CLASSES[name])
    except ImportError as err:
        raise PersistenceError(
            f"{directory} holds a {name}, but {ESTIMATOR_CLASSES[name]} is not available in this "
            f"tsdiff installation ({err})."
        ) from err
    cls: type = getattr(module, name)
    return cls


def _read_weights(directory: Path, config: dict[str, Any]) -> dict[str, Any]:
    import torch

    info = config["weights"]
    file_name = str(info.get("file", ""))
    weights_format = info.get("format")
    if weights_format not in WEIGHTS_FILES or file_name != WEIGHTS_FILES[weights_format]:
        raise PersistenceError(
            f"{directory / CONFIG_FILE}: unknown weights file {file_name!r} / format "
            f"{weights_format!r}."
        )
    weights_path = directory / file_name
    if not weights_path.is_file():
        raise PersistenceError(f"The weights file {weights_path} is missing.")
    expected = str(info.get("sha256", ""))
    actual = _sha256(weights_path)
    if actual != expected:
        raise PersistenceError(
            f"The weights file {weights_path} does not match the SHA-256 recorded in "
            f"{CONFIG_FILE} (expected {expected[:16]}..., found {actual[:16]}...): the file was "
            "altered or damaged. Refusing to load it."
        )
    try:
        if weights_format == "safetensors":
            try:
                from safetensors.torch import load_file
            except ImportError as err:
                raise PersistenceError(
                    f"{weights_path} is a safetensors file; install safetensors to load it."
                ) from err
            tensors: Any = load_file(str(weights_path), device="cpu")
        else:
            tensors = torch.load(weights_path, map_location="cpu", weights_only=True)
    except PersistenceError:
        raise
    except Exception as err:
        raise PersistenceError(f"Could not read the weights file {weights_path}: {err}") from err
    if not isinstance(tensors, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
    ):
        raise PersistenceError(f"{weights_path} does not hold a mapping of names to tensors.")
    return dict(tensors)


def _default_module_factory(estimator: Any, name: str) -> Any:
    rebuild: Callable[[str], Any] | None = getattr(estimator, "_rebuild_module", None)
    if callable(rebuild):
        module = rebuild(name)
        if module is not None:
            return module
    if name == "model_" and hasattr(estimator, "_build_network"):
        return estimator._build_network(int(estimator.n_features_in_), estimator.model_config_)
    raise PersistenceError(
        f"Cannot rebuild the module attribute {name!r} of {type(estimator).__name__}: define "
        "_rebuild_module(name) on the estimator."
    )


def load_estimator(path: str | Path, expected_class: type | None = None) -> Any:
    """Load an estimator saved with :func:`save_estimator`.

    Parameters
    ----------
    path : str or Path
        The model directory.
    expected_class : type, optional
        The class the caller expects (``TSDiffImputer.load`` passes ``TSDiffImputer``). None (or
        the common base class) accepts any tsdiff estimator named in the file.

    Returns
    -------
    estimator
        The fitted estimator, its network on the CPU in eval mode.

    Raises
    ------
    PersistenceError
        For a missing or damaged directory, an incompatible format version, another estimator
        class than expected, parameters unknown to this tsdiff version, weights whose SHA-256
        does not match, or weights that do not fit the network.
    """
    import torch

    _register_builtin_state_classes()
    directory = Path(path)
    config = read_config(directory)
    cls = _resolve_class(config, expected_class, directory)
    params = {k: _decode(v, f"parameter {k!r}") for k, v in config["params"].items()}
    known = set(cls._get_param_names())  # type: ignore[attr-defined]
    unknown = sorted(set(params) - known)
    if unknown:
        from tsdiff._version import __version__

        raise PersistenceError(
            f"{directory} was saved by tsdiff {config.get('tsdiff_version', '?')} with "
            f"{cls.__qualname__} parameter(s) {unknown} that tsdiff {__version__} does not know; "
            "use a matching tsdiff version."
        )
    saved_version = str(config.get("tsdiff_version", "0"))
    from tsdiff._version import __version__

    if _version_tuple(saved_version) > _version_tuple(__version__):
        warnings.warn(
            f"{directory} was saved by tsdiff {saved_version}, newer than this tsdiff "
            f"{__version__}; the format is compatible but results may differ.",
            UserWarning,
            stacklevel=2,
        )
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
    modules = [str(m) for m in config.get("modules", [])]
    tensor_attributes = [str(t) for t in config.get("tensors", [])]
    used: set[str] = set()
    for name in tensor_attributes:
        if name not in tensors:
            raise PersistenceError(f"The weights file lacks the tensor {name!r}.")
        setattr(estimator, name, tensors[name])
        used.add(name)
    for name in modules:
        prefix = f"{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        used.update(prefix + k for k in state)
        module = _default_module_factory(estimator, name)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise PersistenceError(
                f"The weights of {name!r} in {directory} do not fit the network described by "
                f"{CONFIG_FILE} (altered or mismatched files): {err}"
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
    extra = config.get("extra_state")
    restore = getattr(estimator, "_restore_fitted_state", None)
    if extra is not None:
        if not callable(restore):
            raise PersistenceError(
                f"{directory} holds extra state, but {cls.__qualname__} has no "
                "_restore_fitted_state hook."
            )
        restore(_decode(extra, "extra_state"))
    return estimator


def _check_fitted_state(estimator: Any, directory: Path) -> None:
    """Consistency checks of the standard fitted attributes (catch edited config files)."""
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
