"""The MLflow store: tracking URI resolution, experiments, process-wide settings, quiet logging."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
_ENV = "MLFLOW_TRACKING_URI"
# Loggers whose INFO messages (store creation, database migrations) tsdiff holds back.
_NOISY_LOGGERS = ("mlflow", "alembic")


def resolve_tracking_uri(uri: str | os.PathLike[str] | None = None) -> str:
    """The tracking URI to use: ``uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``.

    A URI is always passed explicitly to MLflow and Lightning: MLflow 3 refuses the ``./mlruns``
    file store unless ``MLFLOW_ALLOW_FILE_STORE=true``, and Lightning's ``MLFlowLogger`` falls
    back to it when given no URI.

    Parameters
    ----------
    uri : str or path-like, optional
        An explicit URI (``sqlite:///path.db``, ``http://host:5000``, ``databricks``, ...). A
        ``pathlib.Path`` to a ``.db`` file becomes a sqlite URI.
    """
    if uri is not None and str(uri):
        if not isinstance(uri, str):
            path = Path(uri).absolute()
            return f"sqlite:///{path}" if path.suffix == ".db" else path.as_uri()
        return uri
    env = os.environ.get(_ENV)
    if env:
        return env
    return DEFAULT_TRACKING_URI


def global_uri_state() -> tuple[Any, str | None]:
    """MLflow's process-wide tracking URI setting and ``$MLFLOW_TRACKING_URI``."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    return getattr(tracking_utils, "_tracking_uri", None), os.environ.get(_ENV)


def restore_global_uri_state(state: tuple[Any, str | None]) -> None:
    """Undo ``mlflow.set_tracking_uri`` calls made since ``state`` was taken."""
    import mlflow

    uri_before, env_before = state
    mlflow.set_tracking_uri(uri_before)  # None resets it
    if env_before is None:
        os.environ.pop(_ENV, None)
    else:
        os.environ[_ENV] = env_before


@contextlib.contextmanager
def using_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` for the block, then restore the previous setting.

    Unlike ``mlflow.set_tracking_uri`` alone, this also restores ``MLFLOW_TRACKING_URI`` exactly
    as it was.
    """
    import mlflow

    state = global_uri_state()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        restore_global_uri_state(state)


@contextlib.contextmanager
def quiet_mlflow(silent: bool = False) -> Iterator[None]:
    """Hold back MLflow's INFO console messages (e.g. database creation) for the block.

    A logger the user set to DEBUG is left alone (that is asking for the messages). With
    ``silent``, MLflow's warnings (log records and :mod:`warnings`) and the messages it prints
    to stderr (e.g. ``Successfully registered model ...``) are held back too.
    """
    floor = logging.ERROR if silent else logging.WARNING
    changed: list[tuple[logging.Logger, int]] = []
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() > logging.DEBUG and logger.getEffectiveLevel() < floor:
            changed.append((logger, logger.level))
            logger.setLevel(floor)
    try:
        with warnings.catch_warnings(), contextlib.ExitStack() as stack:
            if silent:
                warnings.simplefilter("ignore")
                stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
            yield
    finally:
        for logger, level in changed:
            logger.setLevel(level)


def _sqlite_artifact_location(uri: str) -> str | None:
    """``<folder of the database>/mlartifacts`` for a sqlite store, so runs stay beside it."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    database = Path(uri[len(prefix) :].split("?", 1)[0])
    if str(database) in ("", ":memory:"):
        return None
    return (database.absolute().parent / "mlartifacts").as_uri()


def get_or_create_experiment(client: Any, name: str, uri: str) -> str:
    """The id of the experiment ``name`` on ``client``'s store, created if missing.

    For a sqlite store a new experiment keeps its artifacts in ``mlartifacts/`` beside the
    database (not in the current directory).
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise ValueError(
                f"The MLflow experiment {name!r} at {uri} is deleted; restore it or choose another "
                "experiment_name."
            )
        return str(experiment.experiment_id)
    return str(client.create_experiment(name, artifact_location=_sqlite_artifact_location(uri)))
