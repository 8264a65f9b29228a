"""MLflow autologging of ``fit``: a fit observer registered by :func:`autolog`.

The estimators never import this module: :func:`autolog` registers an observer through
:mod:`tsdiff.observers`, and every ``fit`` then asks it for an observation (a run, a Lightning
logger bound to it, and ``finish``/``abort``: :mod:`tsdiff.tracking._observation`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Any

from tsdiff.observers import add_fit_observer, remove_fit_observer
from tsdiff.tracking._observation import AutologSettings, MLflowFitObservation, _lightning_logger
from tsdiff.tracking._records import FitRecord, fit_run, last_fit_run
from tsdiff.tracking._run_params import _log_params, flatten_params
from tsdiff.tracking._store import (
    get_or_create_experiment,
    global_uri_state,
    quiet_mlflow,
    resolve_tracking_uri,
)

__all__ = [
    "AutologSettings",
    "FitRecord",
    "MLflowFitObservation",
    "MLflowFitObserver",
    "autolog",
    "fit_run",
    "flatten_params",
    "is_rank_zero",
    "last_fit_run",
]

_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


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
