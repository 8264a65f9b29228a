"""MLflow tracking against a real sqlite store in a temporary folder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

from tsdiff import TSDiffImputer  # noqa: E402
from tsdiff.tracking import (  # noqa: E402
    DEFAULT_TRACKING_URI,
    evaluate_imputation,
    load_pyfunc,
    log_imputation_metrics,
    resolve_tracking_uri,
)


@pytest.fixture(scope="module")
def tracked(store, air_slice):
    """A tiny imputer fitted with tracking=True (module scope: one fit for all tests)."""
    from conftest import TINY_PARAMS

    _, uri = store
    params = {**TINY_PARAMS, "max_epochs": 3}
    estimator = TSDiffImputer(
        **params,
        tracking=True,
        tracking_uri=uri,
        experiment_name="tsdiff-tests",
        registered_model_name="aq-imputer",
    )
    return estimator.fit(air_slice)


def test_run_params_and_status(tracked, store):
    _, uri = store
    client = MlflowClient(uri)
    run = client.get_run(tracked.mlflow_run_id_)
    assert run.info.status == "FINISHED"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "tsdiff-tests"
    assert (
        experiment.artifact_location.startswith("file://")
        and str(store[0]) in experiment.artifact_location
    )
    params = run.data.params
    assert params["window_length"] == "16"
    assert params["channels"] == "8"
    assert params["tracking_uri"] == uri
    assert params["data.n_features"] == "4"
    assert run.data.tags["tsdiff.estimator"] == "TSDiffImputer"
    assert run.data.metrics["n_epochs"] == tracked.n_epochs_


def test_global_mlflow_settings_are_left_alone(store, air_slice, tiny_params, monkeypatch):
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    before = mlflow.get_tracking_uri()
    tiny_params["max_epochs"] = 1
    TSDiffImputer(**tiny_params, tracking=True, tracking_uri=store[1]).fit(air_slice)
    assert mlflow.get_tracking_uri() == before != store[1]
    assert "MLFLOW_TRACKING_URI" not in __import__("os").environ
    assert mlflow.active_run() is None


def test_per_epoch_losses(tracked, store):
    client = MlflowClient(store[1])
    for key in ("train_loss", "val_loss"):
        history = client.get_metric_history(tracked.mlflow_run_id_, key)
        assert [m.step for m in history] == list(range(tracked.n_epochs_))
        logged = [m.value for m in sorted(history, key=lambda m: m.step)]
        np.testing.assert_allclose(logged, [row[key] for row in tracked.history_], rtol=1e-6)


def test_logged_pyfunc_model_predicts_like_the_estimator(tracked, air_slice, store):
    model = load_pyfunc(tracked.mlflow_model_uri_, tracking_uri=store[1])
    inputs = model.metadata.get_input_schema().inputs
    assert inputs[0].name == "time" and inputs[0].required
    assert all(not spec.required for spec in inputs[1:])  # NaN-able features
    assert [spec.name for spec in inputs[1:]] == list(air_slice.columns)
    assert model.metadata.saved_input_example_info is not None
    frame = air_slice.reset_index()
    frame["time"] = frame["time"].astype("datetime64[ns]")
    predicted = model.predict(frame)
    expected = tracked.transform(air_slice).reset_index()
    expected["time"] = expected["time"].astype("datetime64[ns]")
    pd.testing.assert_frame_equal(predicted, expected)
    assert not predicted.isna().any().any()
    fewer = model.predict(frame, params={"n_samples": 2})
    assert fewer.shape == predicted.shape


def test_no_pickled_python_object(tracked, store):
    from tsdiff.tracking._run import using_tracking_uri

    with using_tracking_uri(store[1]):
        local = mlflow.artifacts.download_artifacts(tracked.mlflow_model_uri_)
    from pathlib import Path

    files = {p.name for p in Path(local).rglob("*") if p.is_file()}
    assert "config.json" in files and "weights.pt" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))]
    mlmodel = (Path(local) / "MLmodel").read_text()
    assert "loader_module: tsdiff.tracking.pyfunc_loader" in mlmodel


def test_registered_model(tracked, store):
    client = MlflowClient(store[1])
    versions = client.search_model_versions("name='aq-imputer'")
    assert len(versions) == 1
    assert versions[0].run_id == tracked.mlflow_run_id_


def test_evaluation_metrics_are_logged_to_the_fit_run(tracked, air_slice, store):
    scores = evaluate_imputation(tracked, air_slice.iloc[:96], fraction=0.2, random_state=3)
    assert scores["run_id"] == tracked.mlflow_run_id_
    metrics = MlflowClient(store[1]).get_run(tracked.mlflow_run_id_).data.metrics
    for key in ("mae", "rmse", "crps", "coverage"):
        assert metrics[f"eval_{key}"] == pytest.approx(scores[key])


def test_tracking_uri_resolution(monkeypatch, tmp_path, store):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == DEFAULT_TRACKING_URI == "sqlite:///mlflow.db"
    env_uri = store[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env_uri)
    assert resolve_tracking_uri() == env_uri
    assert resolve_tracking_uri("sqlite:///explicit.db") == "sqlite:///explicit.db"
    # a run logged without an explicit URI lands in the store named by the environment
    run_id = log_imputation_metrics({"mae": 1.5, "note": "skipped"}, experiment_name="env-test")
    run = MlflowClient(env_uri).get_run(run_id)
    assert run.data.metrics == {"eval_mae": 1.5}
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def test_failed_fit_marks_the_run_failed(store, air_slice, tiny_params, monkeypatch):
    import tsdiff.training.fit as fit_module

    def boom(*args, **kwargs):
        raise RuntimeError("simulated training failure")

    monkeypatch.setattr(fit_module, "train_denoiser", boom)
    estimator = TSDiffImputer(
        **tiny_params, tracking=True, tracking_uri=store[1], experiment_name="failing"
    )
    with pytest.raises(RuntimeError, match="simulated"):
        estimator.fit(air_slice)
    client = MlflowClient(store[1])
    experiment = client.get_experiment_by_name("failing")
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_importing_tsdiff_does_not_import_mlflow():
    code = (
        "import sys, tsdiff, tsdiff.config, tsdiff.cli, tsdiff.tracking\n"
        "heavy = [m for m in ('mlflow', 'pytorch_lightning', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_detector_pyfunc_returns_scores(store, smd_slices, fitted_detector):
    from tsdiff.tracking import log_model

    train, test = smd_slices
    info = log_model(fitted_detector, train, tracking_uri=store[1], experiment_name="detector")
    model = load_pyfunc(info.model_uri, tracking_uri=store[1])
    flat = test.drop(columns="label").reset_index()
    scores = model.predict(flat)
    assert list(scores.columns) == ["time", "score"]
    expected = np.asarray(fitted_detector.decision_function(test.drop(columns="label")))
    np.testing.assert_allclose(scores["score"].to_numpy(), expected)


def test_pyfunc_wrapper_with_series_and_time_columns(fitted_imputer, air_slice):
    from tsdiff.tracking._model import input_layout, model_signature
    from tsdiff.tracking.pyfunc_loader import TSDiffPyfuncModel

    two = pd.concat({"a": air_slice.iloc[:120], "b": air_slice.iloc[120:]}, names=["site", "time"])
    example, metadata = input_layout(fitted_imputer, two)
    assert metadata["index_columns"] == ["site", "time"]
    assert metadata["index_kinds"] == ["string", "datetime"]
    assert list(example.columns[:2]) == ["site", "time"] and len(example) == 24
    signature = model_signature(fitted_imputer, metadata)
    assert [c.name for c in signature.inputs.inputs[:2]] == ["site", "time"]
    wrapper = TSDiffPyfuncModel(fitted_imputer, metadata)
    flat = two.reset_index()
    flat["time"] = flat["time"].astype(str)  # text time stamps are parsed
    predicted = wrapper.predict(flat)
    expected = fitted_imputer.transform(two).reset_index()
    pd.testing.assert_frame_equal(predicted, expected, check_dtype=False)
    with pytest.raises(ValueError, match="lacks the feature column"):
        wrapper.predict(flat.drop(columns=air_slice.columns[0]))
