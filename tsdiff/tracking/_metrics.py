"""Log evaluation metrics to MLflow."""

from __future__ import annotations

import math
import time
from typing import Any


def log_metrics(
    values: dict[str, Any],
    *,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    experiment_name: str = "tsdiff",
    run_name: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    prefix: str = "",
    step: int = 0,
) -> str:
    """Log the numeric entries of ``values`` as metrics (others are skipped).

    Parameters
    ----------
    values : dict
        Metric name -> value; non-numeric and non-finite values are skipped.
    run_id : str, optional
        Run to add them to; default: a new run in ``experiment_name`` (ended at once).
    tracking_uri : str, optional
        Store (default :func:`~tsdiff.tracking.resolve_tracking_uri`).
    experiment_name : str, default="tsdiff"
    run_name : str, optional
    params : dict, optional
        Also logged as params (new runs only: MLflow params cannot change).
    tags : dict, optional
    prefix : str, default=""
        Prepended to each metric name (e.g. ``"eval_"``).
    step : int, default=0

    Returns
    -------
    str
        The run id.
    """
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    from tsdiff.tracking._store import get_or_create_experiment, quiet_mlflow, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(uri)
    owns = run_id is None
    if run_id is None:
        with quiet_mlflow():
            experiment_id = get_or_create_experiment(client, experiment_name, uri)
        run_id = str(client.create_run(experiment_id, run_name=run_name).info.run_id)
    now = int(time.time() * 1000)
    metric_list = [
        Metric(key=f"{prefix}{k}", value=float(v), timestamp=now, step=step)
        for k, v in values.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    ]
    existing = client.get_run(run_id).data.params
    param_list = [Param(k, str(v)) for k, v in (params or {}).items() if k not in existing]
    tag_list = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
    client.log_batch(run_id, metrics=metric_list, params=param_list, tags=tag_list)
    if owns:
        client.set_terminated(run_id, "FINISHED")
    return run_id


def log_imputation_metrics(
    scores: dict[str, Any],
    *,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    experiment_name: str = "tsdiff",
    run_name: str | None = "evaluate",
    params: dict[str, Any] | None = None,
    prefix: str = "eval_",
) -> str:
    """Log imputation scores (``mae``, ``rmse``, ``crps``, ``coverage``, ...) as ``eval_*`` metrics.

    See :func:`log_metrics` for the parameters; returns the run id.
    """
    return log_metrics(
        scores,
        run_id=run_id,
        tracking_uri=tracking_uri,
        experiment_name=experiment_name,
        run_name=run_name if run_id is None else None,
        params=params,
        prefix=prefix,
        tags={"tsdiff.task": "imputation-evaluation"},
    )


def evaluate_imputation(
    imputer: Any,
    X: Any,
    *,
    fraction: float = 0.1,
    random_state: int | None = 0,
    coverage: float = 0.9,
    n_samples: int | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    experiment_name: str = "tsdiff",
) -> dict[str, Any]:
    """Score ``imputer`` on ``X`` (:func:`tsdiff.evaluation.evaluate_on_hidden_cells`); log them.

    The scores go to ``run_id``, else to the imputer's autologged fit run (see
    :func:`~tsdiff.tracking.fit_run`; then ``tracking_uri`` defaults to that run's store), else
    to a new run of ``experiment_name``. The returned dict also holds ``"run_id"``.
    """
    from tsdiff.evaluation import evaluate_on_hidden_cells as evaluate
    from tsdiff.tracking._records import fit_run

    scores = evaluate(
        imputer,
        X,
        fraction=fraction,
        random_state=random_state,
        coverage=coverage,
        n_samples=n_samples,
    )
    uri = tracking_uri
    record = fit_run(imputer)
    if run_id is None and record is not None:
        run_id = record.run_id
        uri = uri if uri is not None else record.tracking_uri
    scores["run_id"] = log_imputation_metrics(
        scores,
        run_id=run_id,
        tracking_uri=uri,
        experiment_name=experiment_name,
        params={
            "eval.fraction": fraction,
            "eval.random_state": random_state,
            "eval.coverage": coverage,
        },
    )
    return scores
