"""One autologged ``fit``: its run, the Lightning logger bound to it, and ``finish``/``abort``,
which log the summary and the fitted model and end the run."""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from tsdiff.tracking._records import FitRecord, _remember
from tsdiff.tracking._run_params import _data_params, _log_params
from tsdiff.tracking._store import quiet_mlflow, restore_global_uri_state

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
