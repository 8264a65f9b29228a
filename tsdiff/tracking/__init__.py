"""MLflow tracking for tsdiff: fit runs, the pyfunc model flavour and evaluation metrics.

Importing :mod:`tsdiff` never imports MLflow; this package imports it only inside the functions
that need it.

* :func:`start_fit_run` is called by ``fit`` when an estimator has ``tracking=True``: it opens a
  run (parameters, per-epoch ``train_loss``/``val_loss`` through Lightning's ``MLFlowLogger``)
  and returns a :class:`FitRun` whose :meth:`FitRun.finish` logs the fitted model and closes it.
* :func:`log_model` logs a fitted estimator as an MLflow pyfunc model that
  :mod:`tsdiff.tracking.pyfunc_loader` loads from the weights-only model directory (no pickled
  Python object); :func:`load_pyfunc` loads it back from a given store.
* :func:`log_imputation_metrics` and :func:`evaluate_imputation` record evaluation results.

The tracking URI is resolved by :func:`resolve_tracking_uri`: the estimator's ``tracking_uri``,
else ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` (MLflow 3's default; the old
``./mlruns`` file store is refused by MLflow 3 unless explicitly allowed).
"""

from __future__ import annotations

from tsdiff.tracking._metrics import evaluate_imputation, log_imputation_metrics, log_metrics
from tsdiff.tracking._model import load_pyfunc, log_model, model_signature
from tsdiff.tracking._run import (
    DEFAULT_TRACKING_URI,
    FitRun,
    resolve_tracking_uri,
    start_fit_run,
)

__all__ = [
    "DEFAULT_TRACKING_URI",
    "FitRun",
    "load_pyfunc",
    "evaluate_imputation",
    "log_imputation_metrics",
    "log_metrics",
    "log_model",
    "model_signature",
    "resolve_tracking_uri",
    "start_fit_run",
]
