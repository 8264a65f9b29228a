"""MLflow autologging of ``fit``: a fit observer registered by :func:`autolog`.

The estimators never import this module: :func:`autolog` registers an observer through
:mod:`tsdiff.observers`, and every ``fit`` then asks it for an observation (a run, a Lightning
logger bound to it, and ``finish``/``abort``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any

from tsdiff.observers import add_fit_observer, remove_fit_observer
from tsdiff.tracking._store import (
    get_or_create_experiment,
    global_uri_state,
    quiet_mlflow,
    resolve_tracking_uri,
    restore_global_uri_state,
)

_MAX_PARAM_LENGTH = 6000  # MLflow 3's limit on a param value
_BATCH = 100  # MLflow's limit on params per log_batch
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")
_SUMMARY_ATTRIBUTES = {
    "best_val_loss": "best_val_loss_",
    "n_epochs": "n_epochs_",
    "best_epoch": "best_epoch_",
    "training_seconds": "training_seconds_",
    "train_windows_per_second": "train_windows_per_second_",
    "n_train_windows": "n_train_windows_",
    "n_val_windows": "n_val_windows_",
    "threshold": "threshold_",
}


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


# -- parameters ------------------------------------------------------------------------------------
def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_PARAM_LENGTH else text[: _MAX_PARAM_LENGTH - 3] + "..."


def flatten_params(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``get_params()`` as MLflow params: nested configs and dicts become dotted keys.

    A dataclass (``ModelConfig``) or an object with ``get_params()`` (a scorer) is logged as its
    class name under its own key and its fields under ``key.field``; a dict as ``key.item``.
    """
    flat: dict[str, str] = {}
    for name, value in params.items():
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            flat[key] = type(value).__name__
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            flat.update(flatten_params(fields, f"{key}."))
        elif isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            flat.update(flatten_params(value, f"{key}."))
        elif callable(getattr(value, "get_params", None)) and not isinstance(value, type):
            flat[key] = type(value).__name__
            flat.update(flatten_params(value.get_params(deep=False), f"{key}."))
        else:
            flat[key] = _param_text(value)
    return flat


def _data_params(estimator: Any) -> dict[str, str]:
    params: dict[str, str] = {}
    if hasattr(estimator, "n_features_in_"):
        params["data.n_features"] = str(estimator.n_features_in_)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        params["data.feature_names"] = _param_text(",".join(str(n) for n in names))
    if hasattr(estimator, "real_time_"):
        params["data.real_time"] = str(bool(estimator.real_time_))
    return params


def _log_params(client: Any, run_id: str, params: dict[str, str]) -> None:
    """Log ``params``, skipping keys the run already has (MLflow params cannot change)."""
    from mlflow.entities import Param

    existing = client.get_run(run_id).data.params
    items = [Param(k, v) for k, v in params.items() if k not in existing]
    for start in range(0, len(items), _BATCH):
        client.log_batch(run_id, params=items[start : start + _BATCH])


# -- ranks -----------------------------------------------------------------------------------------
def is_rank_zero() -> bool:
    """False in a non-zero rank of a distributed run (torch.distributed, or launcher variables)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank()) == 0
    for variable in _RANK_VARIABLES:
        value = os.environ.get(variable)
        if value is not None and value.strip().lstrip("-").isdigit():
            if int(value) != 0:
                return False
            break
    node = os.environ.get("NODE_RANK", "0")
    return not (node.isdigit() and int(node) != 0)


# -- the Lightning logger --------------------------------------------------------------------------
def _lightning_logger(experiment_name: str, uri: str, run_id: str) -> Any:
    """A Lightning ``MLFlowLogger`` on ``run_id`` (always given the URI: see ``DESIGN``).

    It logs per-epoch metrics at ``step=epoch``, leaves parameters (logged by the observer) and
    the run's end (after the model is logged) to the observation.
    """
    from pytorch_lightning.loggers import MLFlowLogger

    class _EpochMLFlowLogger(MLFlowLogger):
        def log_hyperparams(self, params: Any) -> None:
            return None

        def log_metrics(self, metrics: Any, step: int | None = None) -> None:
            metrics = dict(metrics)
            epoch = metrics.get("epoch")
            if epoch is not None:
                step = int(epoch)
            super().log_metrics(metrics, step)

        def finalize(self, status: str = "success") -> None:
            return None

    return _EpochMLFlowLogger(experiment_name=experiment_name, tracking_uri=uri, run_id=run_id)


# -- observer and observation ----------------------------------------------------------------------
@dataclass(frozen=True)
class AutologSettings:
    """The arguments of :func:`autolog`."""

    tracking_uri: str | None = None
    experiment_name: str = "tsdiff"
    log_models: bool = True
    registered_model_name: str | None = None
    silent: bool = False


@dataclass
class MLflowFitObservation:
    """One autologged ``fit``: its run, the Lightning logger bound to it, ``finish``/``abort``."""

    settings: AutologSettings
    tracking_uri: str
    experiment_name: str
    run_id: str
    owns_run: bool
    lightning_logger: Any
    callbacks: list[Any] = field(default_factory=list)
    _global_state: Any = field(default=None, repr=False)
    _done: bool = field(default=False, repr=False)

    def _client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(self.tracking_uri)

    def _end(self) -> None:
        self._done = True
        # Lightning's MLFlowLogger calls mlflow.set_tracking_uri (process-wide): undo it.
        if self._global_state is not None:
            with contextlib.suppress(Exception):
                restore_global_uri_state(self._global_state)
            self._global_state = None

    def finish(self, estimator: Any, X: Any) -> None:
        """Log the fit summary, data shape and fitted model (pyfunc); end a run it opened.

        An MLflow failure here does not fail ``fit``: it is reported as a warning (unless
        ``silent``) and a run opened by the observer is marked FAILED.
        """
        if self._done:
            return
        self._end()
        from tsdiff.tracking._model import log_model

        client = None
        model_uri = None
        try:
            with quiet_mlflow(self.settings.silent):
                from mlflow.entities import Metric

                client = self._client()
                now = int(time.time() * 1000)
                metrics = []
                for key, attribute in _SUMMARY_ATTRIBUTES.items():
                    value = getattr(estimator, attribute, None)
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        metrics.append(Metric(key=key, value=float(value), timestamp=now, step=0))
                if metrics:
                    client.log_batch(self.run_id, metrics=metrics)
                _log_params(client, self.run_id, _data_params(estimator))
                if self.settings.log_models:
                    info = log_model(
                        estimator,
                        X,
                        run_id=self.run_id,
                        tracking_uri=self.tracking_uri,
                        registered_model_name=self.settings.registered_model_name,
                        experiment_name=self.experiment_name,
                    )
                    model_uri = info.model_uri
                if self.owns_run:
                    client.set_terminated(self.run_id, "FINISHED")
        except Exception as err:
            if self.owns_run and client is not None:
                with contextlib.suppress(Exception):
                    client.set_terminated(self.run_id, "FAILED")
            if not self.settings.silent:
                warnings.warn(
                    f"MLflow autologging of {type(estimator).__name__}.fit failed ({err}); the "
                    "estimator is fitted, its run is incomplete.",
                    UserWarning,
                    stacklevel=2,
                )
            status = "FAILED" if self.owns_run else "RUNNING"
        else:
            status = "FINISHED" if self.owns_run else "RUNNING"
        _remember(
            estimator,
            FitRecord(self.run_id, self.tracking_uri, self.experiment_name, model_uri, status),
        )

    def abort(self, error: BaseException) -> None:
        """Mark the run FAILED (``fit`` raised); a caller's run is tagged, not ended."""
        if self._done:
            return
        self._end()
        with contextlib.suppress(Exception), quiet_mlflow(self.settings.silent):
            client = self._client()
            if self.owns_run:
                client.set_terminated(self.run_id, "FAILED")
            else:
                client.set_tag(self.run_id, "tsdiff.fit_status", "FAILED")


class MLflowFitObserver:
    """The fit observer :func:`autolog` registers."""

    def __init__(self, settings: AutologSettings) -> None:
        self.settings = settings

    def start(self, estimator: Any, X: Any) -> MLflowFitObservation | None:
        """Open (or join) the run of one ``fit``; None on a non-zero rank or when MLflow fails."""
        if not is_rank_zero():
            return None
        try:
            with quiet_mlflow(self.settings.silent):
                return self._start(estimator)
        except Exception as err:
            if not self.settings.silent:
                warnings.warn(
                    f"MLflow autologging is skipped for this fit: {err}",
                    UserWarning,
                    stacklevel=3,
                )
            return None

    def _start(self, estimator: Any) -> MLflowFitObservation:
        import mlflow
        from mlflow.tracking import MlflowClient

        from tsdiff._version import __version__

        global_state = global_uri_state()
        active = mlflow.active_run()
        tags = {"tsdiff.version": __version__, "tsdiff.estimator": type(estimator).__name__}
        if active is not None:
            uri = mlflow.get_tracking_uri()
            client = MlflowClient(uri)
            run_id = str(active.info.run_id)
            experiment_name = str(client.get_experiment(active.info.experiment_id).name)
            owns = False
            for key, value in tags.items():
                client.set_tag(run_id, key, value)
        else:
            uri = resolve_tracking_uri(self.settings.tracking_uri)
            client = MlflowClient(uri)
            experiment_name = self.settings.experiment_name
            experiment_id = get_or_create_experiment(client, experiment_name, uri)
            run = client.create_run(
                experiment_id,
                tags={**tags, "mlflow.source.name": "tsdiff"},
                run_name=f"{type(estimator).__name__}-fit",
            )
            run_id = str(run.info.run_id)
            owns = True
        try:
            _log_params(client, run_id, flatten_params(estimator.get_params(deep=False)))
            logger = _lightning_logger(experiment_name, uri, run_id)
        except BaseException:
            if owns:
                with contextlib.suppress(Exception):
                    client.set_terminated(run_id, "FAILED")
            raise
        return MLflowFitObservation(
            self.settings,
            uri,
            experiment_name,
            run_id,
            owns,
            logger,
            _global_state=global_state,
        )


_ACTIVE: list[MLflowFitObserver] = []


def autolog(
    *,
    tracking_uri: str | None = None,
    experiment_name: str = "tsdiff",
    log_models: bool = True,
    registered_model_name: str | None = None,
    disable: bool = False,
    silent: bool = False,
) -> None:
    """Record every later tsdiff ``fit`` in MLflow (like ``mlflow.sklearn.autolog()``).

    Each ``fit`` of :class:`~tsdiff.TSDiffImputer` or :class:`~tsdiff.TSDiffAnomalyDetector`
    logs into the active MLflow run (left open), or else into a new run of ``experiment_name``
    (ended when ``fit`` returns, marked FAILED when it raises):

    * params: ``get_params()``, nested configurations flattened (``model.channels``,
      ``trainer_kwargs.precision``, ``scorer.n_masks``), and the data's shape (``data.*``);
    * metrics: ``train_loss``/``val_loss`` per epoch (step = epoch), the fit summary
      (``best_val_loss``, ``n_epochs``, ...) and a detector's ``threshold``;
    * the fitted model as an MLflow pyfunc model (``log_models``), registered under
      ``registered_model_name`` when given.

    In a distributed fit only rank 0 logs. MLflow's INFO console messages are held back (set
    the ``mlflow`` logger to DEBUG to see them); ``silent=True`` also holds back MLflow's
    warnings, the messages it prints and tsdiff's warnings about failed logging. :func:`fit_run` and
    :func:`last_fit_run` tell where a fit was logged.

    Parameters
    ----------
    tracking_uri : str, optional
        Store of new runs; default ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``. An
        active run is always logged into where it lives.
    experiment_name : str, default="tsdiff"
        Experiment of new runs (created if missing).
    log_models : bool, default=True
        Log the fitted model.
    registered_model_name : str, optional
        Register each logged model under this name.
    disable : bool, default=False
        Stop autologging.
    silent : bool, default=False
        Hold back MLflow's warnings and printed messages and tsdiff's autologging warnings too.
    """
    import mlflow  # noqa: F401  (fail here, not in the first fit, when MLflow is missing)

    for observer in _ACTIVE:
        remove_fit_observer(observer)
    _ACTIVE.clear()
    if disable:
        return
    observer = MLflowFitObserver(
        AutologSettings(
            tracking_uri=tracking_uri,
            experiment_name=experiment_name,
            log_models=log_models,
            registered_model_name=registered_model_name,
            silent=silent,
        )
    )
    add_fit_observer(observer)
    _ACTIVE.append(observer)
