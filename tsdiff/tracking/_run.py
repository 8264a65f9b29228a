"""MLflow runs of ``fit``: the tracking URI, the Lightning logger and the run's life cycle."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
_ENV = "MLFLOW_TRACKING_URI"
_MAX_PARAM_LENGTH = 6000


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
        if isinstance(uri, Path) or (isinstance(uri, os.PathLike) and not isinstance(uri, str)):
            path = Path(uri).absolute()
            return f"sqlite:///{path}" if path.suffix == ".db" else path.as_uri()
        return str(uri)
    env = os.environ.get(_ENV)
    if env:
        return env
    return DEFAULT_TRACKING_URI


def _global_uri_state() -> tuple[Any, str | None]:
    """MLflow's process-wide tracking URI setting and ``$MLFLOW_TRACKING_URI``."""
    from mlflow.tracking._tracking_service import utils as tracking_utils

    return getattr(tracking_utils, "_tracking_uri", None), os.environ.get(_ENV)


def _restore_global_uri_state(state: tuple[Any, str | None]) -> None:
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

    state = _global_uri_state()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        _restore_global_uri_state(state)


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
    """The id of the experiment ``name`` on ``client``'s store, created if missing."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise ValueError(
                f"The MLflow experiment {name!r} at {uri} is deleted; restore it or choose another "
                "experiment_name."
            )
        return str(experiment.experiment_id)
    return str(client.create_experiment(name, artifact_location=_sqlite_artifact_location(uri)))


def _param_value(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_PARAM_LENGTH else text[: _MAX_PARAM_LENGTH - 3] + "..."


def estimator_params(estimator: Any) -> dict[str, str]:
    """The parameters logged for a fit: ``get_params()`` plus the data's shape, as strings."""
    params = {k: _param_value(v) for k, v in sorted(estimator.get_params(deep=False).items())}
    if hasattr(estimator, "n_features_in_"):
        params["data.n_features"] = str(estimator.n_features_in_)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        params["data.feature_names"] = _param_value(",".join(str(n) for n in names))
    if hasattr(estimator, "real_time_"):
        params["data.real_time"] = str(bool(estimator.real_time_))
    return params


def _make_lightning_logger(experiment_name: str, uri: str, run_id: str) -> Any:
    """A Lightning ``MLFlowLogger`` on the run ``run_id``.

    It logs per-epoch metrics at ``step=epoch`` and leaves closing the run to :class:`FitRun`.
    """
    from pytorch_lightning.loggers import MLFlowLogger

    class _EpochMLFlowLogger(MLFlowLogger):
        def log_metrics(self, metrics: Any, step: int | None = None) -> None:
            metrics = dict(metrics)
            epoch = metrics.get("epoch")
            if epoch is not None:
                step = int(epoch)
            super().log_metrics(metrics, step)

        def finalize(self, status: str = "success") -> None:
            # FitRun.finish / FitRun.abort end the run (after the model is logged).
            return None

    return _EpochMLFlowLogger(experiment_name=experiment_name, tracking_uri=uri, run_id=run_id)


@dataclass
class FitRun:
    """An MLflow run recording one ``fit``.

    Attributes
    ----------
    tracking_uri : str
        The store of the run.
    experiment_name : str
        Its experiment.
    run_id : str
        The run.
    owns_run : bool
        False when ``fit`` was called inside the caller's active MLflow run, which is then used
        and left open.
    lightning_logger : MLFlowLogger
        Passed to the Lightning Trainer: logs ``train_loss``/``val_loss`` per epoch.
    """

    tracking_uri: str
    experiment_name: str
    run_id: str
    owns_run: bool
    lightning_logger: Any
    _done: bool = field(default=False, repr=False)
    _global_state: Any = field(default=None, repr=False)

    def _restore_global_state(self) -> None:
        # Lightning's MLFlowLogger calls mlflow.set_tracking_uri (process-wide, and it exports
        # MLFLOW_TRACKING_URI): undo that so a tracked fit leaves the caller's settings alone.
        if self._global_state is not None:
            _restore_global_uri_state(self._global_state)
            self._global_state = None

    def _client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.tracking_uri)

    def finish(self, estimator: Any, X: Any) -> None:
        """Log the fit summary and the fitted model (pyfunc), then end the run.

        Sets ``estimator.mlflow_run_id_`` and ``estimator.mlflow_model_uri_``.
        """
        from mlflow.entities import Metric

        from tsdiff.tracking._model import log_model

        if self._done:
            return
        self._restore_global_state()
        try:
            client = self._client()
            summary = {
                "best_val_loss": getattr(estimator, "best_val_loss_", None),
                "n_epochs": getattr(estimator, "n_epochs_", None),
                "best_epoch": getattr(estimator, "best_epoch_", None),
                "training_seconds": getattr(estimator, "training_seconds_", None),
                "train_windows_per_second": getattr(estimator, "train_windows_per_second_", None),
                "n_train_windows": getattr(estimator, "n_train_windows_", None),
                "n_val_windows": getattr(estimator, "n_val_windows_", None),
            }
            extra = getattr(estimator, "_tracking_metrics", None)
            if callable(extra):
                summary.update(extra())
            import time

            now = int(time.time() * 1000)
            metrics = [
                Metric(key=k, value=float(v), timestamp=now, step=0)
                for k, v in summary.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            ]
            if metrics:
                client.log_batch(self.run_id, metrics=metrics)
            estimator.mlflow_run_id_ = self.run_id
            info = log_model(
                estimator,
                X,
                run_id=self.run_id,
                tracking_uri=self.tracking_uri,
                registered_model_name=getattr(estimator, "registered_model_name", None),
            )
            estimator.mlflow_model_uri_ = info.model_uri
        except BaseException:
            self.abort()
            raise
        if self.owns_run:
            client.set_terminated(self.run_id, "FINISHED")
        self._done = True

    def abort(self) -> None:
        """Mark the run as failed (when fit raised); a caller-owned run is left alone."""
        if self._done:
            return
        self._done = True
        self._restore_global_state()
        if self.owns_run:
            with contextlib.suppress(Exception):
                self._client().set_terminated(self.run_id, "FAILED")


def start_fit_run(estimator: Any) -> FitRun:
    """Open the MLflow run of a ``fit`` (called by estimators with ``tracking=True``).

    The run is created in ``estimator.experiment_name`` (created if missing; for a sqlite store
    its artifacts go to ``mlartifacts/`` beside the database) at the URI given by
    :func:`resolve_tracking_uri`, unless ``fit`` runs inside an active MLflow run and the
    estimator names no ``tracking_uri``: then that run is used. The estimator's parameters and
    the data's shape are logged as params.

    Returns
    -------
    FitRun
        Its ``lightning_logger`` goes to the Trainer; ``finish(estimator, X)`` logs the model.
    """
    import mlflow
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient

    from tsdiff._version import __version__

    global_state = _global_uri_state()
    active = mlflow.active_run()
    explicit = getattr(estimator, "tracking_uri", None)
    experiment_name = str(getattr(estimator, "experiment_name", "tsdiff") or "tsdiff")
    if active is not None and not explicit:
        uri = mlflow.get_tracking_uri()
        client = MlflowClient(uri)
        run_id = active.info.run_id
        experiment = client.get_experiment(active.info.experiment_id)
        experiment_name = experiment.name
        owns = False
    else:
        uri = resolve_tracking_uri(explicit)
        client = MlflowClient(uri)
        experiment_id = get_or_create_experiment(client, experiment_name, uri)
        tags = {
            "tsdiff.version": __version__,
            "tsdiff.estimator": type(estimator).__name__,
            "mlflow.source.name": "tsdiff",
        }
        run = client.create_run(
            experiment_id, tags=tags, run_name=f"{type(estimator).__name__}-fit"
        )
        run_id = run.info.run_id
        owns = True
    try:
        params = estimator_params(estimator)
        existing = client.get_run(run_id).data.params
        items = [Param(k, v) for k, v in params.items() if k not in existing]
        for start in range(0, len(items), 100):
            client.log_batch(run_id, params=items[start : start + 100])
        logger = _make_lightning_logger(experiment_name, uri, run_id)
    except BaseException:
        if owns:
            with contextlib.suppress(Exception):
                client.set_terminated(run_id, "FAILED")
        raise
    return FitRun(uri, experiment_name, run_id, owns, logger, _global_state=global_state)
