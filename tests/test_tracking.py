"""MLflow autologging and the pyfunc flavour against real sqlite stores in temporary folders."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

from tsdiff import TSDiffImputer  # noqa: E402
from tsdiff.observers import fit_observers  # noqa: E402
from tsdiff.tracking import (  # noqa: E402
    DEFAULT_TRACKING_URI,
    autolog,
    evaluate_imputation,
    fit_run,
    flatten_params,
    last_fit_run,
    load_pyfunc,
    log_imputation_metrics,
    log_model,
    resolve_tracking_uri,
)
from tsdiff.tracking._autolog import AutologSettings, MLflowFitObserver  # noqa: E402
from tsdiff.tracking._store import using_tracking_uri  # noqa: E402


@pytest.fixture
def autologging():
    """Call ``autologging(**kwargs)`` to turn autologging on for one test; off afterwards."""
    yield autolog
    autolog(disable=True)


@pytest.fixture(scope="module")
def tracked(store, air_slice):
    """A tiny imputer fitted under autolog (module scope: one fit for several tests)."""
    from conftest import TINY_PARAMS

    _, uri = store
    autolog(tracking_uri=uri, experiment_name="tsdiff-tests", registered_model_name="aq-imputer")
    try:
        estimator = TSDiffImputer(**{**TINY_PARAMS, "max_epochs": 3}).fit(air_slice)
    finally:
        autolog(disable=True)
    return estimator


def _runs(uri: str, experiment: str) -> list:
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return [] if found is None else client.search_runs([found.experiment_id])


def test_autolog_registers_and_disables_one_observer(store):
    before = len(fit_observers())
    autolog(tracking_uri=store[1])
    autolog(tracking_uri=store[1], experiment_name="other")  # replaces, does not add
    assert len(fit_observers()) == before + 1
    autolog(disable=True)
    assert len(fit_observers()) == before


def test_run_params_and_status(tracked, store):
    _, uri = store
    record = fit_run(tracked)
    assert record is not None and record.status == "FINISHED" and record.tracking_uri == uri
    client = MlflowClient(uri)
    run = client.get_run(record.run_id)
    assert run.info.status == "FINISHED"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "tsdiff-tests"
    assert (
        experiment.artifact_location.startswith("file://")
        and str(store[0]) in experiment.artifact_location
    )
    params = run.data.params
    assert params["window_length"] == "16"
    assert params["model.channels"] == "8" and params["trainer_kwargs.accelerator"] == "cpu"
    assert params["data.n_features"] == "4"
    assert params["data.feature_names"] == ",".join(tracked.feature_names_in_)
    assert run.data.tags["tsdiff.estimator"] == "TSDiffImputer"
    assert run.data.metrics["n_epochs"] == tracked.n_epochs_
    assert run.data.metrics["best_val_loss"] == pytest.approx(tracked.best_val_loss_)
    assert "tracking" not in params and "tracking_uri" not in params


def test_nested_parameters_are_flattened():
    @dataclasses.dataclass(frozen=True)
    class Config:
        channels: int = 64
        smoothing: tuple = (1, 31)

    class Scorer:
        def get_params(self, deep=False):
            return {"n_masks": 2, "strip_length": 16}

    flat = flatten_params(
        {
            "model": Config(),
            "trainer_kwargs": {"precision": "bf16-mixed", "devices": 2},
            "scorer": Scorer(),
            "max_time": None,
            "empty": {},
            "long": "x" * 7000,
        }
    )
    assert flat["model"] == "Config" and flat["model.channels"] == "64"
    assert flat["model.smoothing"] == "(1, 31)"
    assert flat["trainer_kwargs.precision"] == "bf16-mixed"
    assert flat["trainer_kwargs.devices"] == "2"
    assert flat["scorer"] == "Scorer" and flat["scorer.n_masks"] == "2"
    assert flat["max_time"] == "None" and flat["empty"] == "{}"
    assert len(flat["long"]) == 6000


def test_global_mlflow_settings_are_left_alone(
    store, air_slice, tiny_params, monkeypatch, autologging
):
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    before = mlflow.get_tracking_uri()
    autologging(tracking_uri=store[1], experiment_name="settings", log_models=False)
    TSDiffImputer(**{**tiny_params, "max_epochs": 1}).fit(air_slice)
    assert mlflow.get_tracking_uri() == before != store[1]
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert mlflow.active_run() is None
    assert [r.info.status for r in _runs(store[1], "settings")] == ["FINISHED"]
    assert last_fit_run().model_uri is None  # log_models=False


def test_per_epoch_losses(tracked, store):
    client = MlflowClient(store[1])
    run_id = fit_run(tracked).run_id
    for key in ("train_loss", "val_loss"):
        history = client.get_metric_history(run_id, key)
        assert [m.step for m in history] == list(range(tracked.n_epochs_))
        logged = [m.value for m in sorted(history, key=lambda m: m.step)]
        np.testing.assert_allclose(logged, [row[key] for row in tracked.history_], rtol=1e-6)


def test_pyfunc_predicts_on_the_fit_frame_and_on_flat_frames(tracked, air_slice, store):
    model = load_pyfunc(fit_run(tracked).model_uri, tracking_uri=store[1])
    assert model.metadata.get_input_schema() is None  # the loader checks the input
    assert model.metadata.saved_input_example_info is not None
    expected = tracked.transform(air_slice)
    # the very frame fitted on: DatetimeIndex, string columns
    pd.testing.assert_frame_equal(model.predict(air_slice), expected)
    # flat, as model serving sends it: time stamps as text in a "time" column
    flat = air_slice.reset_index()
    flat["time"] = flat["time"].astype(str)
    predicted = model.predict(flat)
    assert list(predicted.columns) == ["time", *air_slice.columns]
    pd.testing.assert_frame_equal(
        predicted.set_index("time"), expected, check_index_type=False, check_freq=False
    )
    assert model.predict(air_slice, params={"n_samples": 2}).shape == expected.shape
    with pytest.raises(ValueError, match="lacks the feature column"):
        model.predict(air_slice.drop(columns=air_slice.columns[0]))


def test_pyfunc_with_integer_column_labels(air_slice, store, tiny_params):
    frame = air_slice.set_axis(range(air_slice.shape[1]), axis=1)
    imputer = TSDiffImputer(**{**tiny_params, "max_epochs": 1}).fit(frame)
    info = log_model(imputer, frame, tracking_uri=store[1], experiment_name="int-columns")
    logged = MlflowClient(store[1]).get_logged_model(info.model_id)
    assert str(store[0]) in logged.artifact_location
    model = load_pyfunc(info.model_uri, tracking_uri=store[1])
    expected = imputer.transform(frame)
    pd.testing.assert_frame_equal(model.predict(frame), expected)
    as_text = frame.set_axis([str(c) for c in frame.columns], axis=1)  # JSON turns labels to text
    pd.testing.assert_frame_equal(model.predict(as_text), expected)


def test_no_pickled_python_object_and_tsdiff_travels_as_code(tracked, store):
    model_uri = fit_run(tracked).model_uri
    logged = MlflowClient(store[1]).get_logged_model(model_uri.rsplit("/", 1)[-1])
    assert logged.source_run_id == fit_run(tracked).run_id
    assert str(store[0]) in logged.artifact_location  # beside the store, not in ./mlruns
    with using_tracking_uri(store[1]):
        local = Path(mlflow.artifacts.download_artifacts(model_uri))
    files = {p.name for p in local.rglob("*") if p.is_file()}
    assert "config.json" in files and "weights.pt" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))]
    mlmodel = (local / "MLmodel").read_text()
    assert "loader_module: tsdiff.tracking.pyfunc_loader" in mlmodel
    assert (local / "code" / "tsdiff" / "tracking" / "pyfunc_loader.py").is_file()
    assert not list((local / "code").rglob("__pycache__"))
    requirements = (local / "requirements.txt").read_text().split()
    assert not [r for r in requirements if r.startswith("tsdiff")]
    assert any(r.startswith("torch==") for r in requirements)


def test_logged_model_loads_without_tsdiff_installed(tracked, air_slice, store, tmp_path):
    """A fresh interpreter that cannot import tsdiff loads and runs the logged model."""
    frame_path = tmp_path / "frame.pkl"
    air_slice.to_pickle(frame_path)
    code = textwrap.dedent(
        f"""
        import importlib.util, sys
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in str(f)]
        sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in str(h)]
        sys.path_importer_cache.clear()
        assert importlib.util.find_spec("tsdiff") is None, "tsdiff is still importable"
        import mlflow, pandas as pd
        mlflow.set_tracking_uri({store[1]!r})
        model = mlflow.pyfunc.load_model({fit_run(tracked).model_uri!r})
        out = model.predict(pd.read_pickle({str(frame_path)!r}))
        assert "/code/" in sys.modules["tsdiff"].__file__
        out.to_pickle({str(tmp_path / "out.pkl")!r})
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=300)
    pd.testing.assert_frame_equal(
        pd.read_pickle(tmp_path / "out.pkl"), tracked.transform(air_slice)
    )


def test_registered_model(tracked, store):
    versions = MlflowClient(store[1]).search_model_versions("name='aq-imputer'")
    assert len(versions) == 1
    assert versions[0].run_id == fit_run(tracked).run_id


def test_evaluation_metrics_are_logged_to_the_fit_run(tracked, air_slice, store):
    scores = evaluate_imputation(tracked, air_slice.iloc[:96], fraction=0.2, random_state=3)
    run_id = fit_run(tracked).run_id
    assert scores["run_id"] == run_id
    metrics = MlflowClient(store[1]).get_run(run_id).data.metrics
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
    assert resolve_tracking_uri(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    # a run logged without an explicit URI lands in the store named by the environment
    run_id = log_imputation_metrics({"mae": 1.5, "note": "skipped"}, experiment_name="env-test")
    run = MlflowClient(env_uri).get_run(run_id)
    assert run.data.metrics == {"eval_mae": 1.5}
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def test_failed_fit_marks_the_run_failed(store, air_slice, tiny_params, monkeypatch, autologging):
    import tsdiff.training.fit as fit_module

    def boom(*args, **kwargs):
        raise RuntimeError("simulated training failure")

    monkeypatch.setattr(fit_module, "train_denoiser", boom)
    autologging(tracking_uri=store[1], experiment_name="failing")
    with pytest.raises(RuntimeError, match="simulated"):
        TSDiffImputer(**tiny_params).fit(air_slice)
    assert [r.info.status for r in _runs(store[1], "failing")] == ["FAILED"]


def test_fit_inside_an_active_run_logs_into_it_and_leaves_it_open(
    store, air_slice, tiny_params, autologging
):
    autologging(tracking_uri="sqlite:///must-not-be-used.db", log_models=False)
    experiment_id = MlflowClient(store[1]).create_experiment("user-run")
    with using_tracking_uri(store[1]), mlflow.start_run(experiment_id=experiment_id) as run:
        TSDiffImputer(**{**tiny_params, "max_epochs": 1}).fit(air_slice)
        assert mlflow.active_run().info.run_id == run.info.run_id
        current = MlflowClient(store[1]).get_run(run.info.run_id)
        assert current.info.status == "RUNNING"
        assert current.data.params["window_length"] == "16"
        assert len(MlflowClient(store[1]).get_metric_history(run.info.run_id, "train_loss"))
    assert last_fit_run().status == "RUNNING" and last_fit_run().run_id == run.info.run_id
    assert [r.info.run_id for r in _runs(store[1], "user-run")] == [run.info.run_id]
    assert MlflowClient(store[1]).get_run(run.info.run_id).info.status == "FINISHED"
    assert not Path("must-not-be-used.db").exists()


def test_non_zero_ranks_do_not_log(store, air_slice, monkeypatch):
    import torch.distributed as dist

    observer = MLflowFitObserver(AutologSettings(tracking_uri=store[1], experiment_name="ranks"))
    monkeypatch.setenv("RANK", "1")
    assert observer.start(TSDiffImputer(), air_slice) is None
    monkeypatch.delenv("RANK")
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 2)
    assert observer.start(TSDiffImputer(), air_slice) is None
    assert _runs(store[1], "ranks") == []
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 0)
    observation = observer.start(TSDiffImputer(), air_slice)
    assert observation is not None
    observation.abort(RuntimeError("test"))
    assert [r.info.status for r in _runs(store[1], "ranks")] == ["FAILED"]


def test_mlflow_console_messages_are_held_back(tmp_path, air_slice, tiny_params, capfd):
    autolog(tracking_uri=f"sqlite:///{tmp_path / 'fresh.db'}", log_models=False)
    try:
        TSDiffImputer(**{**tiny_params, "max_epochs": 1}).fit(air_slice)
    finally:
        autolog(disable=True)
    captured = capfd.readouterr()
    text = captured.out + captured.err
    assert (tmp_path / "fresh.db").exists()
    assert "Creating initial MLflow database tables" not in text
    assert "alembic" not in text.lower()


def test_silent_holds_back_mlflow_messages(tmp_path, air_slice, tiny_params, capfd):
    autolog(
        tracking_uri=f"sqlite:///{tmp_path / 'silent.db'}",
        registered_model_name="silent-model",
        silent=True,
    )
    try:
        TSDiffImputer(**{**tiny_params, "max_epochs": 1}).fit(air_slice)
    finally:
        autolog(disable=True)
    captured = capfd.readouterr()
    assert "registered model" not in (captured.out + captured.err).lower()
    versions = MlflowClient(f"sqlite:///{tmp_path / 'silent.db'}").search_model_versions(
        "name='silent-model'"
    )
    assert len(versions) == 1


def test_detector_run_logs_threshold_and_pyfunc_flags(store, smd_slices, fitted_detector):
    train, test = smd_slices
    observer = MLflowFitObserver(AutologSettings(tracking_uri=store[1], experiment_name="det"))
    observation = observer.start(fitted_detector, train)
    observation.finish(fitted_detector, train)
    record = fit_run(fitted_detector)
    run = MlflowClient(store[1]).get_run(record.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["threshold"] == pytest.approx(fitted_detector.threshold_)
    model = load_pyfunc(record.model_uri, tracking_uri=store[1])
    features = test.drop(columns="label")
    out = model.predict(features)
    assert list(out.columns) == ["score", "is_anomaly"]
    expected = np.asarray(fitted_detector.decision_function(features), dtype=float)
    np.testing.assert_allclose(out["score"].to_numpy(), expected)
    flags = np.asarray(fitted_detector.predict(features))
    np.testing.assert_array_equal(out["is_anomaly"].to_numpy(), flags)
    flat = model.predict(features.reset_index())
    assert list(flat.columns) == [features.index.name or "time", "score", "is_anomaly"]


def test_pyfunc_wrapper_with_series_and_time_columns(fitted_imputer, air_slice):
    from tsdiff.tracking._layout import input_layout
    from tsdiff.tracking.pyfunc_loader import TSDiffPyfuncModel

    two = pd.concat({"a": air_slice.iloc[:120], "b": air_slice.iloc[120:]}, names=["site", "time"])
    example, metadata = input_layout(fitted_imputer, two)
    assert metadata["index_columns"] == ["site", "time"]
    assert metadata["index_kinds"] == ["string", "datetime"]
    assert list(example.columns[:2]) == ["site", "time"] and len(example) == 24
    wrapper = TSDiffPyfuncModel(fitted_imputer, metadata)
    flat = two.reset_index()
    flat["time"] = flat["time"].astype(str)  # text time stamps are parsed
    predicted = wrapper.predict(flat)
    expected = fitted_imputer.transform(two).reset_index()
    pd.testing.assert_frame_equal(predicted, expected, check_dtype=False)
    pd.testing.assert_frame_equal(wrapper.predict(two), fitted_imputer.transform(two))
    with pytest.raises(ValueError, match="lacks the index column"):
        wrapper.predict(flat.drop(columns="site"))
    with pytest.raises(ValueError, match="time-indexed"):
        wrapper.predict(two.reset_index(drop=True))
