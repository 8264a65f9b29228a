"""JSON encoding and decoding of parameters and fitted attributes."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from tsdiff.persistence._format import (
    _MARK,
    PersistenceError,
    _allowed_name,
    _class_path,
    resolve_class,
)


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
