"""Validation of a raw mapping into a :class:`RunConfig`, with errors that name the key."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from tsdiff.config.schema import (
    COMPONENT_SECTIONS,
    MODEL_KINDS,
    ConfigError,
    DetectorRunConfig,
    RunConfig,
)


# -- errors -----------------------------------------------------------------------------------
def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys allowed in the mapping at ``loc`` (None when it is not a model)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        candidates = getattr(annotation, "__args__", (annotation,))
        current = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _describe(error: Any, model: type[BaseModel]) -> tuple[str, str]:
    """``(dotted key, message with a fix)`` of one pydantic error."""
    loc = tuple(str(p) for p in error["loc"])
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1]) or []
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        where = f"section {'.'.join(loc[:-1])!r}" if len(loc) > 1 else "the top level"
        if model is RunConfig and loc[0] in COMPONENT_SECTIONS:
            return key, (
                f"{loc[0]!r} configures a detector component; set kind: detector or remove it."
            )
        return key, (
            f"unknown key {loc[-1]!r} in {where}{hint}; allowed keys: {', '.join(allowed)}. "
            "Remove it or fix its spelling."
        )
    message = str(error["msg"])
    if error["type"] == "value_error":  # our own validators already say what to do
        return key, re.sub(r"^Value error, ", "", message)
    if error["type"] == "missing":
        return key, f"{message}: add the key."
    given = error.get("input")
    shown = f" (got {type(given).__name__} {given!r})" if not isinstance(given, dict) else ""
    return key, f"{message}{shown}; fix the value."


def _validate(cls: type[RunConfig], raw: dict[str, Any], source: str) -> RunConfig:
    try:
        config = cls.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key, message = _describe(first, cls)
        more = err.error_count() - 1
        suffix = f" ({more} more error{'s' if more > 1 else ''} after this one)" if more else ""
        raise ConfigError(message + suffix, source=source, key=key or None) from None
    config._source = source
    return config


def config_from_dict(raw: Any, source: str = "<dict>") -> RunConfig:
    """Validate a configuration given as a dict (the parsed YAML).

    Returns
    -------
    RunConfig
        A :class:`DetectorRunConfig` for ``kind: detector``.

    Raises
    ------
    ConfigError
        Naming ``source``, the key path and what to do.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"the file must hold a mapping of sections, got {type(raw).__name__}; "
            "see docs/configs.md for the layout.",
            source=source,
        )
    raw = {str(k): v for k, v in raw.items()}
    kind = raw.get("kind", "imputer")
    if kind not in MODEL_KINDS:
        raise ConfigError(
            f"must be one of {sorted(MODEL_KINDS)}, got {kind!r}; fix the value.",
            source=source,
            key="kind",
        )
    return _validate(DetectorRunConfig if kind == "detector" else RunConfig, raw, source)
