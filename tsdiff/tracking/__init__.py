"""MLflow tracking for tsdiff: autologging of ``fit``, the pyfunc model flavour, metrics.

Importing :mod:`tsdiff` never imports MLflow, and the estimators never import this package:
:func:`autolog` registers a fit observer (:mod:`tsdiff.observers`) through which every later
``fit`` logs its parameters, per-epoch losses and fitted model. MLflow is imported only inside
the functions that need it.

* :func:`autolog` turns autologging on (or off with ``disable=True``); :func:`fit_run` and
  :func:`last_fit_run` tell where a fit was logged.
* :func:`log_model` logs a fitted estimator as an MLflow pyfunc model that
  :mod:`tsdiff.tracking.pyfunc_loader` loads from the weights-only model directory (no pickled
  Python object); :func:`load_pyfunc` loads it back from a given store.
* :func:`log_metrics`, :func:`log_imputation_metrics` and :func:`evaluate_imputation` record
  evaluation results.

The tracking URI is resolved by :func:`resolve_tracking_uri`: an explicit URI, else
``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` (MLflow 3's default; the old ``./mlruns``
file store is refused by MLflow 3 unless explicitly allowed).
"""

from __future__ import annotations

from tsdiff.tracking._autolog import FitRecord, autolog, fit_run, flatten_params, last_fit_run
from tsdiff.tracking._metrics import evaluate_imputation, log_imputation_metrics, log_metrics
from tsdiff.tracking._model import load_pyfunc, log_model, model_signature
from tsdiff.tracking._store import DEFAULT_TRACKING_URI, resolve_tracking_uri

__all__ = [
    "DEFAULT_TRACKING_URI",
    "FitRecord",
    "autolog",
    "evaluate_imputation",
    "fit_run",
    "flatten_params",
    "last_fit_run",
    "load_pyfunc",
    "log_imputation_metrics",
    "log_metrics",
    "log_model",
    "model_signature",
    "resolve_tracking_uri",
]
