"""Save/load of fitted estimators: round trips, safety checks, pickling, extension hooks."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from tsdiff import TSDiffImputer
from tsdiff._version import __version__
from tsdiff.api.persistence import (
    CONFIG_FILE,
    FORMAT_VERSION,
    PersistenceError,
    load_estimator,
    model_info,
    register_state_class,
    save_estimator,
)


def _edit_config(path: Path, edit) -> None:
    config = json.loads((path / CONFIG_FILE).read_text())
    edit(config)
    (path / CONFIG_FILE).write_text(json.dumps(config))


def _rehash(path: Path) -> None:
    weights = path / "weights.pt"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    _edit_config(path, lambda c: c["weights"].__setitem__("sha256", digest))


@pytest.fixture
def saved(fitted_imputer, tmp_path) -> Path:
    path = tmp_path / "model"
    fitted_imputer.save(path)
    return path


def test_round_trip_gives_identical_output(fitted_imputer, air_slice, saved):
    loaded = TSDiffImputer.load(saved)
    assert isinstance(loaded, TSDiffImputer)
    assert loaded.get_params() == fitted_imputer.get_params()
    np.testing.assert_array_equal(loaded.feature_names_in_, fitted_imputer.feature_names_in_)
    np.testing.assert_array_equal(loaded.scaler_.mean_, fitted_imputer.scaler_.mean_)
    np.testing.assert_array_equal(loaded.scaler_.scale_, fitted_imputer.scaler_.scale_)
    assert loaded.time_step_ == fitted_imputer.time_step_
    assert loaded.real_time_ is True
    assert loaded.history_ == fitted_imputer.history_
    for key, value in fitted_imputer.model_.state_dict().items():
        assert torch.equal(loaded.model_.state_dict()[key], value)
    assert not loaded.model_.training
    expected = fitted_imputer.transform(air_slice)
    pd.testing.assert_frame_equal(loaded.transform(air_slice), expected)
    assert not expected.isna().any().any()


def test_config_json_contents(fitted_imputer, saved, tiny_params):
    config = json.loads((saved / CONFIG_FILE).read_text())
    assert config["format_version"] == FORMAT_VERSION
    assert config["tsdiff_version"] == __version__
    assert config["estimator"] == {"class": "TSDiffImputer", "module": "tsdiff.api.imputer"}
    assert config["params"]["window_length"] == tiny_params["window_length"]
    assert config["fitted"]["n_features_in_"] == 4
    assert config["fitted"]["scaler_"]["state"]["mean_"]["shape"] == [4]
    assert config["modules"] == ["model_"]
    digest = hashlib.sha256((saved / "weights.pt").read_bytes()).hexdigest()
    assert config["weights"]["sha256"] == digest
    info = model_info(saved)
    assert info["class"] == "TSDiffImputer"
    assert info["feature_names_in"] == list(fitted_imputer.feature_names_in_)


def test_tampered_weights_are_refused(saved):
    weights = saved / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(PersistenceError, match="SHA-256"):
        TSDiffImputer.load(saved)


def test_malicious_pickle_is_not_executed(saved, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    torch.save({"model_.x": Payload()}, saved / "weights.pt")
    _rehash(saved)  # even with a matching hash, weights_only refuses to run code
    with pytest.raises(PersistenceError, match="Could not read the weights"):
        TSDiffImputer.load(saved)
    assert not marker.exists()


def test_loading_uses_weights_only(saved, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    TSDiffImputer.load(saved)
    assert calls and all(c.get("weights_only") is True for c in calls)


def test_incompatible_format_version(saved):
    _edit_config(saved, lambda c: c.update(format_version="2.0", tsdiff_version="9.0.0"))
    with pytest.raises(PersistenceError, match=r"format 2\.0 by tsdiff 9\.0\.0"):
        TSDiffImputer.load(saved)


def test_newer_minor_version_loads_with_warning(saved):
    _edit_config(saved, lambda c: c.update(format_version="1.7", tsdiff_version="0.9.0"))
    with pytest.warns(UserWarning, match="newer"):
        TSDiffImputer.load(saved)


def test_unknown_parameter_is_an_error(saved):
    _edit_config(saved, lambda c: c["params"].__setitem__("warp_drive", 3))
    with pytest.raises(PersistenceError, match="warp_drive"):
        TSDiffImputer.load(saved)


def test_wrong_class_is_an_error(saved):
    _edit_config(saved, lambda c: c["estimator"].update({"class": "TSDiffAnomalyDetector"}))
    with pytest.raises(
        PersistenceError, match="holds a TSDiffAnomalyDetector, not a TSDiffImputer"
    ):
        TSDiffImputer.load(saved)


def test_edited_fitted_state_is_detected(saved):
    _edit_config(saved, lambda c: c["fitted"].__setitem__("n_features_in_", 5))
    with pytest.raises(PersistenceError, match="feature_names_in_ has 4 names"):
        TSDiffImputer.load(saved)


def test_missing_directory_and_bad_json(tmp_path, saved):
    with pytest.raises(PersistenceError, match="does not exist"):
        TSDiffImputer.load(tmp_path / "nope")
    (saved / CONFIG_FILE).write_text("{not json")
    with pytest.raises(PersistenceError, match="not valid JSON"):
        TSDiffImputer.load(saved)


def test_generic_load_resolves_the_class(saved):
    assert isinstance(load_estimator(saved), TSDiffImputer)


def test_save_unfitted_and_into_foreign_directory(tmp_path, fitted_imputer, tiny_params):
    with pytest.raises(NotFittedError):
        TSDiffImputer(**tiny_params).save(tmp_path / "m")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(PersistenceError, match="not empty"):
        fitted_imputer.save(foreign)
    # an existing model directory is replaced
    fitted_imputer.save(tmp_path / "again")
    fitted_imputer.save(tmp_path / "again")


def test_safetensors_format(fitted_imputer, air_slice, tmp_path):
    pytest.importorskip("safetensors")
    path = save_estimator(fitted_imputer, tmp_path / "st", weights_format="safetensors")
    assert (path / "weights.safetensors").is_file() and not (path / "weights.pt").exists()
    loaded = TSDiffImputer.load(path)
    pd.testing.assert_frame_equal(loaded.transform(air_slice), fitted_imputer.transform(air_slice))


@pytest.mark.parametrize("dumps, loads", [(pickle.dumps, pickle.loads), ("joblib", "joblib")])
def test_pickle_and_joblib_round_trip(fitted_imputer, air_slice, tmp_path, dumps, loads):
    if dumps == "joblib":
        joblib.dump(fitted_imputer, tmp_path / "m.joblib")
        restored = joblib.load(tmp_path / "m.joblib")
    else:
        restored = loads(dumps(fitted_imputer))
    pd.testing.assert_frame_equal(
        restored.transform(air_slice), fitted_imputer.transform(air_slice)
    )


# -- extension hooks (what the anomaly detector relies on) --------------------------------------
class _Threshold:
    def __init__(self, value: float) -> None:
        self.value = value
        self.history = np.array([1.0, np.nan, np.inf])


register_state_class(_Threshold)


class HookedImputer(TSDiffImputer):
    """An estimator with extra fitted state of every supported kind."""

    def fit(self, X, y=None, *, validation_data=None):
        super().fit(X, y, validation_data=validation_data)
        self.threshold_ = 0.25
        self.train_scores_ = np.array([0.1, np.nan, 0.3], dtype=np.float32)
        self.window_ids_ = (1, 2)
        self.summary_ = {"mean": -np.inf, "labels": ["a", "b"]}
        self.rule_ = _Threshold(2.5)
        self.bias_ = torch.tensor([1.0, 2.0])
        self.aux_ = torch.nn.Linear(2, 1)
        self._secret = "not saved"
        return self

    def _rebuild_module(self, name):
        return torch.nn.Linear(2, 1) if name == "aux_" else None

    def _extra_fitted_state(self):
        return {"calibration": [1, 2, 3]}

    def _restore_fitted_state(self, state):
        self.calibration_restored = state["calibration"]


def test_hooks_and_generic_fitted_state(air_slice, tmp_path, tiny_params):
    est = HookedImputer(**tiny_params).fit(air_slice)
    est.save(tmp_path / "h")
    loaded = HookedImputer.load(tmp_path / "h")
    assert loaded.threshold_ == 0.25
    np.testing.assert_array_equal(loaded.train_scores_, est.train_scores_)
    assert loaded.train_scores_.dtype == np.float32
    assert loaded.window_ids_ == (1, 2)
    assert loaded.summary_ == {"mean": -np.inf, "labels": ["a", "b"]}
    assert isinstance(loaded.rule_, _Threshold) and loaded.rule_.value == 2.5
    np.testing.assert_array_equal(loaded.rule_.history, est.rule_.history)
    assert torch.equal(loaded.bias_, est.bias_)
    assert torch.equal(loaded.aux_.weight, est.aux_.weight)
    assert loaded.calibration_restored == [1, 2, 3]
    assert not hasattr(loaded, "_secret")


def test_unencodable_attribute_names_it(fitted_imputer, tmp_path):
    import copy

    est = copy.deepcopy(fitted_imputer)
    est.weird_ = object()
    with pytest.raises(PersistenceError, match="fitted attribute 'weird_'"):
        est.save(tmp_path / "w")


def test_detector_round_trip(fitted_detector, smd_slices, tmp_path):
    from tsdiff.api.detector import TSDiffAnomalyDetector

    _, test = smd_slices
    features = test.drop(columns="label")
    fitted_detector.save(tmp_path / "det")
    loaded = TSDiffAnomalyDetector.load(tmp_path / "det")
    assert isinstance(load_estimator(tmp_path / "det"), TSDiffAnomalyDetector)
    for name, value in vars(fitted_detector).items():
        if name.endswith("_") and not name.startswith("_") and isinstance(value, (float, int, str)):
            assert getattr(loaded, name) == value, name
    np.testing.assert_array_equal(
        np.asarray(loaded.decision_function(features)),
        np.asarray(fitted_detector.decision_function(features)),
    )
    with pytest.raises(PersistenceError, match="not a TSDiffImputer"):
        TSDiffImputer.load(tmp_path / "det")
