"""Fit observers: the seam through which code outside the estimators watches ``fit``.

The estimators never import MLflow (or any other tracker). A tracker registers a
:class:`FitObserver` with :func:`add_fit_observer` (``tsdiff.tracking.autolog()`` does); every
``fit`` then runs inside :func:`observe_fit`, which asks each observer for an
:class:`FitObservation`: a Lightning logger and callbacks for the training run, and
``finish``/``abort`` called when ``fit`` returns or raises. This module imports nothing heavy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class FitObservation(Protocol):
    """What one observer contributes to one ``fit`` call."""

    #: A Lightning logger for the training run, or ``None``.
    lightning_logger: Any
    #: Extra Lightning callbacks for the training run.
    callbacks: list[Any]

    def finish(self, estimator: Any, X: Any) -> None:
        """Called once ``fit`` has set every fitted attribute."""

    def abort(self, error: BaseException) -> None:
        """Called when ``fit`` raised ``error``; the error is re-raised afterwards."""


class FitObserver(Protocol):
    """Something that watches every ``fit``, e.g. MLflow autologging."""

    def start(self, estimator: Any, X: Any) -> FitObservation | None:
        """Begin watching one ``fit`` call; ``None`` to skip it."""


_OBSERVERS: list[FitObserver] = []


def add_fit_observer(observer: FitObserver) -> None:
    """Register ``observer`` for every later ``fit`` (no effect when already registered)."""
    if not any(o is observer for o in _OBSERVERS):
        _OBSERVERS.append(observer)


def remove_fit_observer(observer: FitObserver) -> None:
    """Unregister ``observer`` (no effect when it is not registered)."""
    _OBSERVERS[:] = [o for o in _OBSERVERS if o is not observer]


def fit_observers() -> tuple[FitObserver, ...]:
    """The registered observers, in registration order."""
    return tuple(_OBSERVERS)


@dataclass
class FitSession:
    """The observations of one ``fit`` call, as the training code needs them."""

    observations: list[FitObservation] = field(default_factory=list)

    @property
    def loggers(self) -> list[Any]:
        """Lightning loggers of all observers (empty: train without a logger)."""
        return [o.lightning_logger for o in self.observations if o.lightning_logger is not None]

    @property
    def callbacks(self) -> list[Any]:
        """Lightning callbacks of all observers."""
        return [c for o in self.observations for c in o.callbacks]


@contextlib.contextmanager
def observe_fit(estimator: Any, X: Any) -> Iterator[FitSession]:
    """Run the body of ``fit`` under every registered observer.

    On normal exit each observation's ``finish(estimator, X)`` is called; when the body raises,
    each observation's ``abort(error)`` is called and the error propagates unchanged.
    """
    session = FitSession()
    try:
        for observer in fit_observers():
            observation = observer.start(estimator, X)
            if observation is not None:
                session.observations.append(observation)
        yield session
    except BaseException as error:
        for observation in session.observations:
            with contextlib.suppress(Exception):
                observation.abort(error)
        raise
    for observation in session.observations:
        observation.finish(estimator, X)
