"""Log a fitted estimator as an MLflow pyfunc model backed by the weights-only model directory."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

LOADER_MODULE = "tsdiff.tracking.pyfunc_loader"
MODEL_DIR_NAME = "tsdiff_model"
EXAMPLE_ROWS = 24


def feature_columns(estimator: Any) -> list[str]:
    """The estimator's feature names (``x0, x1, ...`` when fitted without names)."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(int(estimator.n_features_in_))]


def _index_kind(index: Any) -> str:
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        return "datetime"
    if isinstance(index, pd.TimedeltaIndex):
        return "timedelta"
    if pd.api.types.is_integer_dtype(index.dtype):
        return "integer"
    if pd.api.types.is_float_dtype(index.dtype):
        return "float"
    return "string"


def input_layout(estimator: Any, X: Any) -> tuple[Any, dict[str, Any]]:
    """A flat example frame of ``X`` and the metadata the pyfunc model needs to rebuild the index.

    The pyfunc model receives flat DataFrames: the index of the training frame (a time index,
    or a ``(series, time)`` MultiIndex) travels as ordinary columns named in
    ``metadata["index_columns"]``, with their kinds in ``metadata["index_kinds"]``.

    Returns
    -------
    example : DataFrame
        Up to 24 rows of ``X`` (index as columns), or None when ``X`` is None.
    metadata : dict
        ``{"index_columns", "index_kinds", "feature_columns", "estimator"}``.
    """
    import pandas as pd

    features = feature_columns(estimator)
    metadata: dict[str, Any] = {
        "index_columns": [],
        "index_kinds": [],
        "feature_columns": features,
        "feature_names_in_input": getattr(estimator, "feature_names_in_", None) is not None,
        "estimator": type(estimator).__name__,
    }
    if X is None:
        return None, metadata
    frame: Any = X
    if isinstance(frame, (list, tuple)) and len(frame) > 0:
        frame = frame[0]
    if not isinstance(frame, pd.DataFrame):
        array = np.asarray(frame)
        if array.ndim == 3:
            array = array[0]
        frame = pd.DataFrame(array, columns=features)
    frame = frame.iloc[:EXAMPLE_ROWS]
    index = frame.index
    if isinstance(index, pd.MultiIndex):
        names = [
            str(n) if n is not None else ("series" if i == 0 else "time")
            for i, n in enumerate(index.names)
        ]
        kinds = [_index_kind(index.get_level_values(i)) for i in range(index.nlevels)]
        frame = frame.copy()
        frame.index = index.set_names(names)
        frame = frame.reset_index()
    elif isinstance(index, pd.RangeIndex) and index.name is None:
        names, kinds = [], []
        frame = frame.reset_index(drop=True)
    else:
        names = [str(index.name) if index.name is not None else "time"]
        kinds = [_index_kind(index)]
        frame = frame.copy()
        frame.index = index.rename(names[0])
        frame = frame.reset_index()
    clash = [n for n in names if n in features]
    if clash:
        raise ValueError(
            f"The index name(s) {clash} are also feature column names; rename the index."
        )
    frame.columns = [str(c) for c in frame.columns]
    for name, kind in zip(names, kinds, strict=True):
        if kind == "timedelta":
            frame[name] = frame[name].astype(str)
    metadata["index_columns"] = names
    metadata["index_kinds"] = kinds
    return frame, metadata


# MLflow has no duration type: a timedelta index travels as text ("0 days 01:00:00").
_KIND_TO_MLFLOW = {
    "datetime": "datetime",
    "timedelta": "string",
    "integer": "long",
    "float": "double",
    "string": "string",
}


def model_signature(estimator: Any, metadata: dict[str, Any]) -> Any:
    """The pyfunc signature: index columns, then every feature as an optional double (NaN allowed).

    The output is the input's columns with the features filled (imputer) or the index columns
    and a ``score`` column (estimators with ``decision_function``); an optional ``n_samples``
    parameter overrides the number of samples.
    """
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    index_specs: list[Any] = [
        ColSpec(_KIND_TO_MLFLOW[kind], name)
        for name, kind in zip(metadata["index_columns"], metadata["index_kinds"], strict=True)
    ]
    features = metadata["feature_columns"]
    inputs = Schema(index_specs + [ColSpec("double", c, required=False) for c in features])
    if hasattr(estimator, "decision_function"):
        outputs = Schema([*index_specs, ColSpec("double", "score")])
    else:
        outputs = Schema(index_specs + [ColSpec("double", c) for c in features])
    params = ParamSchema([ParamSpec("n_samples", "long", int(getattr(estimator, "n_samples", 1)))])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def pip_requirements() -> list[str]:
    """Requirements of the logged model's environment (tsdiff and its core dependencies)."""
    from importlib import metadata as importlib_metadata

    from tsdiff._version import __version__

    pins = [f"tsdiff=={__version__}"]
    for package in ("torch", "pytorch-lightning", "scikit-learn", "pandas", "numpy", "mlflow"):
        try:
            version = importlib_metadata.version(package).split("+", 1)[0]
        except importlib_metadata.PackageNotFoundError:
            pins.append(package)
            continue
        pins.append(f"{package}=={version}")
    return pins


def log_model(
    estimator: Any,
    X: Any = None,
    *,
    name: str = "model",
    run_id: str | None = None,
    tracking_uri: str | None = None,
    registered_model_name: str | None = None,
    experiment_name: str | None = None,
) -> Any:
    """Log a fitted estimator as an MLflow pyfunc model.

    The model's data is the directory written by
    :func:`~tsdiff.api.persistence.save_estimator` (JSON config + weights), loaded by
    ``tsdiff.tracking.pyfunc_loader``; no Python object is pickled.
    ``mlflow.pyfunc.load_model(uri).predict(frame)`` then returns the imputed frame (imputer) or
    the anomaly scores (detector).

    Parameters
    ----------
    estimator : fitted tsdiff estimator
    X : DataFrame or other fit input, optional
        Training data: gives the input example and the index columns (time, series) the pyfunc
        model expects; without it the model takes the feature columns only.
    name : str, default="model"
        Name of the logged model in the run.
    run_id : str, optional
        Run to log into; default: the active run, else a new run in ``experiment_name``.
    tracking_uri : str, optional
        Store; default :func:`~tsdiff.tracking.resolve_tracking_uri`.
    registered_model_name : str, optional
        Also register the model under this name.
    experiment_name : str, optional
        Experiment of a new run (default: the estimator's ``experiment_name``).

    Returns
    -------
    mlflow.models.model.ModelInfo
        ``model_uri`` loads it with ``mlflow.pyfunc.load_model``.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    from tsdiff.api.persistence import save_estimator
    from tsdiff.tracking._run import (
        get_or_create_experiment,
        resolve_tracking_uri,
        using_tracking_uri,
    )

    uri = resolve_tracking_uri(tracking_uri)
    example, metadata = input_layout(estimator, X)
    signature = model_signature(estimator, metadata)
    with tempfile.TemporaryDirectory(prefix="tsdiff-mlflow-") as tmp:
        data_path = Path(tmp) / MODEL_DIR_NAME
        save_estimator(estimator, data_path, metadata={"pyfunc": metadata})
        with using_tracking_uri(uri):
            active = mlflow.active_run()
            if run_id is None and active is None:
                client = MlflowClient(uri)
                experiment = experiment_name or str(getattr(estimator, "experiment_name", "tsdiff"))
                experiment_id = get_or_create_experiment(client, experiment, uri)
                run_context: Any = mlflow.start_run(experiment_id=experiment_id)
            elif active is not None and (run_id is None or active.info.run_id == run_id):
                run_context = contextlib.nullcontext()
            else:
                run_context = mlflow.start_run(run_id=run_id, nested=active is not None)
            with run_context:
                info = mlflow.pyfunc.log_model(
                    name=name,
                    loader_module=LOADER_MODULE,
                    data_path=str(data_path),
                    signature=signature,
                    input_example=example,
                    registered_model_name=registered_model_name,
                    pip_requirements=pip_requirements(),
                )
    return info


def load_pyfunc(model_uri: str, tracking_uri: str | None = None) -> Any:
    """``mlflow.pyfunc.load_model(model_uri)`` against the store ``tracking_uri``.

    ``models:/...`` and ``runs:/...`` URIs are resolved by the tracking store; this loads them
    from ``tracking_uri`` (default :func:`~tsdiff.tracking.resolve_tracking_uri`) without
    changing MLflow's process-wide setting.
    """
    import mlflow

    from tsdiff.tracking._run import resolve_tracking_uri, using_tracking_uri

    with using_tracking_uri(resolve_tracking_uri(tracking_uri)):
        return mlflow.pyfunc.load_model(model_uri)
