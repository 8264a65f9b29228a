"""YAML configurations: presets load and map to the estimator parameters, and mistakes are
reported with the file, the key path and what to do."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from tsdiff.config import (
    PRESET_DIRECTORY,
    ConfigError,
    DetectorRunConfig,
    ModelSection,
    RunConfig,
    build_estimator,
    config_from_dict,
    estimator_kwargs,
    list_presets,
    load_config,
    resolve_config_path,
)

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(PRESET_DIRECTORY.glob("*.yaml"))
NEW_API = importlib.util.find_spec("tsdiff.model.config") is not None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_presets_are_package_data_and_listed():
    names = {p.stem for p in PRESETS}
    assert names >= {"air_quality", "smd", "skab", "tiny", "tiny_detector", "demo_imputer"}
    assert set(list_presets()) == names
    assert PRESET_DIRECTORY == ROOT / "tsdiff" / "configs"
    # the top-level configs/ is a link to the packaged presets, not a second copy
    assert (ROOT / "configs").resolve() == PRESET_DIRECTORY
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"configs/*.yaml"' in pyproject


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_preset_loads_and_maps_to_keyword_arguments(path):
    config = load_config(path)
    assert config.source == str(path)
    assert config.name == path.stem
    assert config.data.time_column == "time"
    kind, kwargs = estimator_kwargs(config)
    assert kind == config.kind
    assert kwargs, "a preset should set estimator parameters"
    assert "tracking" not in kwargs and "accelerator" not in kwargs  # old names are gone
    if kind == "detector":
        assert isinstance(config, DetectorRunConfig)
        assert set(kwargs) <= {
            "window_length",
            "n_samples",
            "max_epochs",
            "max_time",
            "batch_size",
            "random_state",
            "verbose",
            "model",
            "scorer",
            "aggregator",
            "thresholder",
            "neighbours",
            "trainer_kwargs",
        }
    for section in ("scorer", "aggregator", "thresholder"):
        if section in kwargs:
            assert isinstance(kwargs[section]["type"], str)


def test_tiny_preset_maps_to_the_new_parameter_names():
    config = load_config("tiny")
    kind, kwargs = estimator_kwargs(config)
    assert kind == "imputer"
    assert kwargs["model"]["channels"] == 8 and "channels" not in kwargs
    assert kwargs["trainer_kwargs"] == {"accelerator": "cpu"}
    assert kwargs["patience"] is None and kwargs["max_epochs"] == 2
    assert "n_layers" in kwargs["model"] and "learning_rate" not in kwargs  # only keys written
    assert config.evaluate.fraction == 0.1 and config.tracking.enabled is False


def test_trainer_checkpoint_dir_reaches_trainer_kwargs(tmp_path):
    path = _write(tmp_path, "trainer:\n  accelerator: cpu\n  checkpoint_dir: runs/ckpt\n")
    kwargs = estimator_kwargs(load_config(path))[1]
    assert kwargs["trainer_kwargs"] == {"accelerator": "cpu", "checkpoint_dir": "runs/ckpt"}
    assert build_estimator(load_config(path)).trainer_kwargs["checkpoint_dir"] == "runs/ckpt"
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "trainer:\n  checkpoint_dir: 3\n"))
    assert info.value.key == "trainer.checkpoint_dir"


def test_detector_preset_maps_components():
    kind, kwargs = estimator_kwargs(load_config("smd"))
    assert kind == "detector"
    assert kwargs["aggregator"] == {"type": "TopK", "k": 6, "cap": 50.0, "smoothing": [1, 31, 63]}
    assert kwargs["thresholder"] == {"type": "POT", "risk": 0.002, "level": 0.98, "drift": True}
    assert kwargs["scorer"]["type"] == "MaskedReimputationScorer"
    assert kwargs["model"]["eta"] == 1.0 and kwargs["model"]["prior_skip"] is False


def test_model_section_matches_model_config():
    if not NEW_API:
        pytest.skip("tsdiff.model.config (ModelConfig) is not in this branch yet")
    from tsdiff.model.config import ModelConfig

    fields = {f.name: f.default for f in dataclasses.fields(ModelConfig)}
    assert set(fields) == set(ModelSection.model_fields)
    for name, field in ModelSection.model_fields.items():
        assert field.default == fields[name], name


def test_build_estimator_applies_the_tiny_presets():
    imputer = build_estimator(load_config("tiny"), max_epochs=1, verbose=False)
    params = imputer.get_params()
    assert params["max_epochs"] == 1 and params["window_length"] == 16
    if "model" in params:
        assert dict(params["model"] if isinstance(params["model"], dict) else vars(params["model"]))
    else:  # estimators before the model=/trainer_kwargs API
        assert params["channels"] == 8 and params["accelerator"] == "cpu"
    pytest.importorskip("tsdiff.api.detector")
    detector = build_estimator(load_config("tiny_detector"), verbose=False)
    assert detector.get_params()["window_length"] == 16


def test_preset_by_name_and_path(tmp_path):
    assert resolve_config_path("tiny") == PRESET_DIRECTORY / "tiny.yaml"
    own = _write(tmp_path, "estimator:\n  max_epochs: 3\n")
    assert resolve_config_path(own) == own
    assert estimator_kwargs(load_config(str(own)))[1] == {"max_epochs": 3}
    with pytest.raises(ConfigError, match=r"no such configuration.*tiny_detector"):
        resolve_config_path("no_such_preset")


@pytest.mark.parametrize(
    "text, key",
    [
        ("estimator:\n  windw_length: 24\n", "estimator.windw_length"),
        ("model:\n  chanels: 8\n", "model.chanels"),
        ("trainer:\n  acelerator: cpu\n", "trainer.acelerator"),
        ("data:\n  time_colum: time\n", "data.time_colum"),
        ("tracking:\n  enable: true\n", "tracking.enable"),
        ("evaluate:\n  fractoin: 0.2\n", "evaluate.fractoin"),
        ("modle:\n  channels: 8\n", "modle"),
        ("kind: detector\nestimator:\n  n_samples: 2\n", "estimator.n_samples"),
    ],
)
def test_unknown_key_names_key_file_and_fix(tmp_path, text, key):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: unknown key {key.split('.')[-1]!r}")
    assert "Remove it or fix its spelling" in message
    assert info.value.key == key and info.value.source == str(path)


def test_unknown_key_suggests_the_right_one(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'window_length'"):
        load_config(_write(tmp_path, "estimator:\n  windw_length: 24\n"))


@pytest.mark.parametrize(
    "text, key, fragment",
    [
        ("estimator:\n  window_length: '24'\n", "estimator.window_length", "valid integer"),
        ("estimator:\n  window_length: 1\n", "estimator.window_length", "greater than or equal"),
        ("model:\n  n_layers: true\n", "model.n_layers", "valid integer"),
        ("estimator:\n  learning_rate: fast\n", "estimator.learning_rate", "valid number"),
        ("estimator:\n  sampler: euler\n", "estimator.sampler", "'ddim', 'ddpm' or 'dpmpp_2m'"),
        ("kind: forecaster\n", "kind", "detector"),
        ("data:\n  time_column: 3\n", "data.time_column", "valid string"),
        ("data:\n  columns: a,b\n", "data.columns", "valid list"),
        ("tracking:\n  enabled: 'yes'\n", "tracking.enabled", "valid boolean"),
        ("evaluate:\n  fraction: 2\n", "evaluate.fraction", "less than 1"),
        ("evaluate:\n  seed: 1.5\n", "evaluate.seed", "valid integer"),
        ("name: 3\n", "name", "valid string"),
        ("scorer:\n  type: MaskedReimputationScorer\n", "scorer", "kind: detector"),
        ("kind: detector\naggregator:\n  type: Top5\n", "aggregator", "unknown aggregator"),
        ("kind: detector\naggregator:\n  type: TopK\n  kk: 3\n", "aggregator", "'kk'"),
        ("kind: detector\nthresholder:\n  risk: 0.1\n", "thresholder.type", "add the key"),
    ],
)
def test_wrong_value_names_key_and_file(tmp_path, text, key, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {key}: ")
    assert fragment in str(info.value)


def test_duplicate_key_and_bad_yaml_report_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"line 3.*given twice"):
        load_config(_write(tmp_path, "model:\n  channels: 8\n  channels: 16\n"))
    with pytest.raises(ConfigError, match="line"):
        load_config(_write(tmp_path, "model: [\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_ints_are_accepted_for_floats_and_defaults_fill_in():
    config = config_from_dict(
        {"estimator": {"learning_rate": 1}, "evaluate": {"coverage": 0.8}}, source="inline"
    )
    assert isinstance(config, RunConfig) and config.source == "inline"
    assert estimator_kwargs(config) == ("imputer", {"learning_rate": 1.0})
    assert config.evaluate.coverage == 0.8 and config.evaluate.fraction == 0.1
    assert config.data.label_column == "label"
    empty = config_from_dict(None)
    assert empty.kind == "imputer" and estimator_kwargs(empty) == ("imputer", {})
