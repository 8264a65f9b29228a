"""Moved to :mod:`tsdiff.persistence`; this alias remains until every caller is ported."""

from __future__ import annotations

from tsdiff.persistence import (
    ALLOWED_CLASSES,
    CONFIG_FILE,
    FORMAT_VERSION,
    PersistenceError,
    load_estimator,
    model_info,
    read_config,
    save_estimator,
)

__all__ = [
    "ALLOWED_CLASSES",
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "PersistenceError",
    "load_estimator",
    "model_info",
    "read_config",
    "save_estimator",
]
