"""Log a fitted estimator as an MLflow pyfunc model backed by the weights-only model directory."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tsdiff.tracking._layout import input_layout
from tsdiff.tracking._store import (
    get_or_create_experiment,
    quiet_mlflow,
    resolve_tracking_uri,
    using_tracking_uri,
)

LOADER_MODULE = "tsdiff.tracking.pyfunc_loader"
MODEL_DIR_NAME = "tsdiff_model"
# Third-party packages the pyfunc model imports (tsdiff itself travels as code, see code_paths).
_REQUIREMENTS = ("torch", "pytorch-lightning", "scikit-learn", "pandas", "numpy", "tqdm", "mlflow")


def model_signature(estimator: Any) -> Any:
    """The pyfunc signature: no input schema (the loader checks the input); an imputer gets an
    ``n_samples`` param, a detector no signature.

    MLflow's column schema cannot describe an index and drops columns whose labels are not
    strings, so a strict schema would refuse the very frame the model was fitted on; the loader
    (:mod:`tsdiff.tracking.pyfunc_loader`) validates and converts the input instead.
    """
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ParamSchema, ParamSpec

    if "n_samples" not in estimator.get_params():  # the detector samples as its scorer says
        return None
    params = ParamSchema([ParamSpec("n_samples", "long", int(estimator.n_samples))])
    return ModelSignature(inputs=None, outputs=None, params=params)


def pip_requirements() -> list[str]:
    """The third-party requirements of the logged model, pinned to the installed versions.

    tsdiff itself is not a requirement: its source travels with the model (``code_paths``), so
    the model loads in a fresh environment without a tsdiff release on a package index.
    """
    from importlib import metadata as importlib_metadata

    pins = []
    for package in _REQUIREMENTS:
        try:
            version = importlib_metadata.version(package).split("+", 1)[0]
        except importlib_metadata.PackageNotFoundError:
            pins.append(package)
            continue
        pins.append(f"{package}=={version}")
    return pins


def _copy_package(folder: Path) -> Path:
    """A copy of the tsdiff package (sources only) in ``folder``, for ``code_paths``."""
    import tsdiff

    source = Path(tsdiff.__file__).parent
    target = folder / "tsdiff"
    shutil.copytree(
        source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.csv.gz")
    )
    return target


def log_model(
    estimator: Any,
    X: Any = None,
    *,
    name: str = "model",
    run_id: str | None = None,
    tracking_uri: str | None = None,
    registered_model_name: str | None = None,
    experiment_name: str = "tsdiff",
) -> Any:
    """Log a fitted estimator as an MLflow pyfunc model.

    The model's data is the directory written by :func:`tsdiff.persistence.save_estimator`
    (JSON config + weights), loaded by ``tsdiff.tracking.pyfunc_loader``; no Python object is
    pickled. The tsdiff source travels with it (``code_paths``). ``mlflow.pyfunc.load_model(uri)
    .predict(frame)`` then takes the frame the estimator was fitted on (or a flat frame with the
    index as columns) and returns the imputed frame (imputer) or the columns ``score`` and
    ``is_anomaly`` (detector).

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
    experiment_name : str, default="tsdiff"
        Experiment of a new run.

    Returns
    -------
    mlflow.models.model.ModelInfo
        ``model_uri`` loads it with ``mlflow.pyfunc.load_model``.
    """
    import mlflow
    from mlflow.models import Model
    from mlflow.tracking import MlflowClient

    from tsdiff.persistence import save_estimator

    uri = resolve_tracking_uri(tracking_uri)
    example, metadata = input_layout(estimator, X)
    with tempfile.TemporaryDirectory(prefix="tsdiff-mlflow-") as tmp:
        data_path = Path(tmp) / MODEL_DIR_NAME
        save_estimator(estimator, data_path, metadata={"pyfunc": metadata})
        code = _copy_package(Path(tmp) / "code")
        with using_tracking_uri(uri), quiet_mlflow():
            client = MlflowClient(uri)
            active = mlflow.active_run()
            owns = False
            if run_id is None and active is not None:
                run_id = str(active.info.run_id)
            elif run_id is None:
                experiment_id = get_or_create_experiment(client, experiment_name, uri)
                run_id = str(client.create_run(experiment_id).info.run_id)
                owns = True
            try:
                # Model.log with an explicit run: no fluent run is started or ended. MLflow 3
                # puts a new logged model in the fluent API's current experiment, not the run's:
                # create it in the run's experiment first (else its files land in ./mlruns).
                extra: dict[str, Any] = {}
                if hasattr(mlflow, "initialize_logged_model"):
                    logged = mlflow.initialize_logged_model(
                        name=name,
                        source_run_id=run_id,
                        experiment_id=client.get_run(run_id).info.experiment_id,
                    )
                    extra["model_id"] = logged.model_id
                info = Model.log(
                    artifact_path=None,
                    name=name,
                    flavor=mlflow.pyfunc,
                    run_id=run_id,
                    **extra,
                    loader_module=LOADER_MODULE,
                    data_path=str(data_path),
                    code_paths=[str(code)],
                    signature=model_signature(estimator),
                    input_example=example,
                    registered_model_name=registered_model_name,
                    pip_requirements=pip_requirements(),
                )
            except BaseException:
                if owns:
                    with contextlib.suppress(Exception):
                        client.set_terminated(run_id, "FAILED")
                raise
            if owns:
                client.set_terminated(run_id, "FINISHED")
    return info


def load_pyfunc(model_uri: str, tracking_uri: str | None = None) -> Any:
    """``mlflow.pyfunc.load_model(model_uri)`` against the store ``tracking_uri``.

    ``models:/...`` and ``runs:/...`` URIs are resolved by the tracking store; this loads them
    from ``tracking_uri`` (default :func:`~tsdiff.tracking.resolve_tracking_uri`) without
    changing MLflow's process-wide setting.
    """
    import mlflow

    with using_tracking_uri(resolve_tracking_uri(tracking_uri)), quiet_mlflow():
        return mlflow.pyfunc.load_model(model_uri)
