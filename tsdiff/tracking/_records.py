"""Where autologged fits went: a :class:`FitRecord` per estimator and the last one."""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FitRecord:
    """Where an autologged ``fit`` went.

    Attributes
    ----------
    run_id : str
    tracking_uri : str
    experiment_name : str
    model_uri : str or None
        The logged pyfunc model (None with ``log_models=False`` or when logging it failed).
    status : {"FINISHED", "FAILED", "RUNNING"}
        ``"RUNNING"``: the fit logged into the caller's active run, which stays open.
    """

    run_id: str
    tracking_uri: str
    experiment_name: str
    model_uri: str | None
    status: str


_RECORDS: weakref.WeakKeyDictionary[Any, FitRecord] = weakref.WeakKeyDictionary()
_LAST: list[FitRecord] = []


def fit_run(estimator: Any) -> FitRecord | None:
    """The run of ``estimator``'s last autologged ``fit`` in this process (None if none)."""
    try:
        return _RECORDS.get(estimator)
    except TypeError:
        return None


def last_fit_run() -> FitRecord | None:
    """The run of the last autologged ``fit`` in this process (None if none)."""
    return _LAST[-1] if _LAST else None


def _remember(estimator: Any, record: FitRecord) -> None:
    with contextlib.suppress(TypeError):
        _RECORDS[estimator] = record
    _LAST[:] = [record]
