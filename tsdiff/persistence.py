"""Save and load fitted tsdiff estimators as a directory of plain data.

A saved model is a directory with two files:

``config.json``
    The format name and version, the tsdiff (and torch, scikit-learn) version that wrote it, the
    estimator class, every parameter (``get_params()``), every fitted attribute (``n_features_in_``,
    ``feature_names_in_``, the scaler's ``mean_``/``scale_``, ``time_step_``, ``history_``, a
    detector's threshold, ...), free-form ``metadata``, the SHA-256 of the weights file and a
    SHA-256 of the whole configuration (``checksum``).
``weights.pt`` (or ``weights.safetensors``)
    The ``state_dict`` of every fitted ``torch.nn.Module`` (and fitted tensors), keys prefixed by
    the attribute name (``model_.blocks.0...``).

This module sits below :mod:`tsdiff.api`: it never imports the estimator classes. Every class a
file may name (the estimators, :class:`~tsdiff.ModelConfig`, the detector's scorer, aggregator
and thresholder, the scaler) is looked up in :data:`ALLOWED_CLASSES`, a fixed table of
``"module:qualname"`` strings imported lazily; nothing else is ever imported or built.

Loading never executes code from the files: the JSON is parsed with :mod:`json`, its checksum
and the weights' SHA-256 are checked, and the weights are read with
``torch.load(..., weights_only=True)`` (or :mod:`safetensors`).

Saving is atomic: the model is written to a sibling temporary directory, flushed to disk and
swapped in with renames, so a failed save leaves an existing model at ``path`` intact.

Values that can be saved (parameters and fitted attributes): None, bool, int, float (NaN and
infinities included), str, lists, tuples, dicts with string keys, numpy scalars, numeric,
boolean or string numpy arrays, dataclass instances and objects with ``get_params()`` of an
allowed class, other objects of an allowed class (saved as their ``vars()``), and — for fitted
attributes — ``torch.nn.Module`` (``model_``, rebuilt with ``_build_network``) and
``torch.Tensor`` values (stored in the weights file).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import os
import platform
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "tsdiff-model"
FORMAT_VERSION = "2.0"
CONFIG_FILE = "config.json"
WEIGHTS_FILES = {"torch": "weights.pt", "safetensors": "weights.safetensors"}
_MARK = "__tsdiff__"

#: Classes a saved model may name: the name stored in ``config.json`` -> ``"module:qualname"``.
#: Resolved lazily (the module is imported only when a file names the class); a name that is
#: not in this table is refused.
ALLOWED_CLASSES: dict[str, str] = {
    # estimators
    "TSDiffImputer": "tsdiff.api.imputer:TSDiffImputer",
    "TSDiffAnomalyDetector": "tsdiff.api.detector:TSDiffAnomalyDetector",
    # parameters and fitted state
    "ModelConfig": "tsdiff.model.config:ModelConfig",
    "NaNStandardScaler": "tsdiff.data.scaling:NaNStandardScaler",
    # the detector's components (scorer, aggregator, thresholder)
    "MaskedReimputationScorer": "tsdiff.scoring.scorers:MaskedReimputationScorer",
    "WholeWindowScorer": "tsdiff.scoring.reconstruction:WholeWindowScorer",
    "CombinedScorer": "tsdiff.scoring.combined:CombinedScorer",
    "TopK": "tsdiff.scoring.aggregators:TopK",
    "POT": "tsdiff.scoring.thresholders:POT",
    "Contamination": "tsdiff.scoring.thresholders:Contamination",
    "FixedThreshold": "tsdiff.scoring.thresholders:FixedThreshold",
}

#: ``trainer_kwargs`` entries that are run-time objects of one training run, not saved.
_RUNTIME_TRAINER_KEYS = ("callbacks", "logger")

_ESTIMATOR_NAMES = ("TSDiffImputer", "TSDiffAnomalyDetector")


class PersistenceError(ValueError):
    """A model directory cannot be written or read (wrong version, altered files, bad state)."""


# -- the allow-list ------------------------------------------------------------------------------
def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _allowed_name(cls: type) -> str | None:
    """The allow-list name of ``cls`` (None when it is not allowed); imports nothing."""
    path = _class_path(cls)
    for name, allowed in ALLOWED_CLASSES.items():
        if allowed == path:
            return name
    return None


def resolve_class(name: str, where: str = "config.json") -> type:
    """The allowed class called ``name`` in :data:`ALLOWED_CLASSES` (its module imported now).

    Raises
    ------
    PersistenceError
        If ``name`` is not in the table or its module cannot be imported.
    """
    path = ALLOWED_CLASSES.get(name) if isinstance(name, str) else None
    if path is None:
        raise PersistenceError(
            f"{where}: the class {name!r} is not one tsdiff can load ({sorted(ALLOWED_CLASSES)})."
        )
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise PersistenceError(
            f"{where}: the class {name!r} ({path}) is not available in this tsdiff installation "
            f"({err})."
        ) from err
    if not isinstance(obj, type):
        raise PersistenceError(f"{where}: {path} is not a class.")
    return obj


# -- JSON encoding -------------------------------------------------------------------------------
def _encode(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
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
    return _encode_object(value, where)


def _encode_object(value: Any, where: str) -> dict[str, Any]:
    cls = type(value)
    name = _allowed_name(cls)
    if name is None:
        raise PersistenceError(
            f"{where} of type {_class_path(cls)} cannot be saved: persistence stores JSON-like "
            "values, numpy arrays, torch modules/tensors and objects of the classes in "
            "tsdiff.persistence.ALLOWED_CLASSES only."
        )
    if dataclasses.is_dataclass(value):
        fields = {
            f.name: _encode(getattr(value, f.name), f"{where}.{f.name}")
            for f in dataclasses.fields(value)
            if f.init
        }
        return {_MARK: "dataclass", "class": name, "fields": fields}
    get_params = getattr(value, "get_params", None)
    if callable(get_params):
        params = {k: _encode(v, f"{where}.{k}") for k, v in get_params(deep=False).items()}
        state = {
            k: _encode(v, f"{where}.{k}")
            for k, v in vars(value).items()
            if k.endswith("_") and not k.startswith("_")
        }
        return {_MARK: "params", "class": name, "params": params, "state": state}
    state = {k: _encode(v, f"{where}.{k}") for k, v in vars(value).items()}
    return {_MARK: "object", "class": name, "state": state}


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
        if mark in ("dataclass", "params", "object"):
            return _decode_object(value, mark, where)
    except PersistenceError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise PersistenceError(f"{where}: malformed saved value ({err}).") from err
    raise PersistenceError(f"{where}: unknown saved value kind {mark!r}.")


def _decode_object(value: dict[str, Any], mark: str, where: str) -> Any:
    cls: Any = resolve_class(value["class"], where)
    if mark == "dataclass":
        is_dataclass = dataclasses.is_dataclass(cls)
        if not is_dataclass:
            raise PersistenceError(f"{where}: {value['class']} is not a dataclass.")
        fields = {k: _decode(v, f"{where}.{k}") for k, v in value["fields"].items()}
        try:
            return cls(**fields)
        except TypeError as err:
            raise PersistenceError(f"{where}: invalid fields for {value['class']}: {err}") from err
    if mark == "params":
        params = {k: _decode(v, f"{where}.{k}") for k, v in value["params"].items()}
        try:
            obj = cls(**params)
        except TypeError as err:
            raise PersistenceError(
                f"{where}: invalid parameters for {value['class']}: {err}"
            ) from err
        state = value.get("state") or {}
    else:
        obj = cls.__new__(cls)
        state = value["state"]
    for key, item in state.items():
        if not isinstance(key, str) or key.startswith("__"):
            raise PersistenceError(f"{where}: invalid attribute name {key!r}.")
        setattr(obj, key, _decode(item, f"{where}.{key}"))
    return obj


# -- checksums -----------------------------------------------------------------------------------
def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_checksum(config: dict[str, Any]) -> str:
    """SHA-256 of ``config`` without its ``checksum`` entry (canonical JSON, sorted keys).

    The configuration records the weights' SHA-256, so this checksum covers the whole model.
    """
    body = {k: v for k, v in config.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


# -- save ----------------------------------------------------------------------------------------
def _fitted_attribute_names(estimator: Any) -> list[str]:
    return [name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")]


def _check_weights_writer(weights_format: str) -> Any:
    """The function writing the weights; checked before anything is touched on disk."""
    if weights_format not in WEIGHTS_FILES:
        raise ValueError(
            f"weights_format must be one of {sorted(WEIGHTS_FILES)}, got {weights_format!r}."
        )
    if weights_format == "safetensors":
        try:
            from safetensors.torch import save_file
        except ImportError as err:
            raise ImportError(
                "weights_format='safetensors' needs the safetensors package "
                "(pip install safetensors); nothing was written."
            ) from err
        return lambda tensors, path: save_file(tensors, str(path))
    import torch

    return lambda tensors, path: torch.save(tensors, path)


def _check_target(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise PersistenceError(
            f"Cannot save the model to {directory}: it is a file, not a directory."
        )
    if directory.is_dir() and any(directory.iterdir()) and not (directory / CONFIG_FILE).is_file():
        raise PersistenceError(
            f"Cannot save the model to {directory}: the directory is not empty and holds no saved "
            "tsdiff model; choose a new or empty directory."
        )


def _fsync(path: Path) -> None:
    """Flush a file or directory to disk (directories: where the platform allows it)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _swap_in(staged: Path, directory: Path) -> None:
    """Replace ``directory`` by ``staged`` with renames; on failure the old model is restored."""
    parent = directory.parent
    old: Path | None = None
    if directory.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=parent))
        old.rmdir()
        os.replace(directory, old)
    try:
        os.replace(staged, directory)
    except BaseException:
        if old is not None:
            os.replace(old, directory)
        raise
    _fsync(parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
                "sha256": _sha256_file(weights_path),
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


# -- load ----------------------------------------------------------------------------------------
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
    actual = _sha256_file(weights_path)
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
