"""YAML configurations: presets load, and mistakes are reported with the key and the file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tsdiff.config import (
    ConfigError,
    DetectorUnavailableError,
    RunConfig,
    config_from_dict,
    list_presets,
    load_config,
    resolve_config_path,
)

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
PRESETS = sorted(CONFIG_DIR.glob("*.yaml"))
DETECTOR_AVAILABLE = importlib.util.find_spec("tsdiff.api.detector") is not None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_the_four_presets_exist():
    assert {p.stem for p in PRESETS} >= {"air_quality", "smd", "skab", "tiny"}
    assert set(list_presets()) >= {"air_quality", "smd", "skab", "tiny"}


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_preset_loads(path):
    config = load_config(path)
    assert isinstance(config, RunConfig)
    assert config.source == str(path)
    assert config.model.kind in ("imputer", "detector")
    assert config.model.params, "a preset should set model parameters"
    assert config.data.time_column == "time"
    if config.model.kind == "imputer" or DETECTOR_AVAILABLE:
        assert config.model.validated
        estimator = config.build_estimator()
        for key, value in config.model.params.items():
            assert estimator.get_params()[key] == value
        assert estimator.tracking is config.tracking.enabled


@pytest.mark.skipif(DETECTOR_AVAILABLE, reason="the detector module is installed")
def test_detector_preset_without_detector_gives_a_clear_error():
    config = load_config(CONFIG_DIR / "smd.yaml")
    assert config.model.kind == "detector" and not config.model.validated
    with pytest.raises(DetectorUnavailableError, match=r"tsdiff\.api\.detector"):
        config.build_estimator()


def test_preset_by_name():
    assert (
        resolve_config_path("tiny") == CONFIG_DIR / "tiny.yaml"
        or resolve_config_path("tiny").name == "tiny.yaml"
    )
    with pytest.raises(ConfigError, match="no such configuration"):
        resolve_config_path("no_such_preset")


def test_tiny_preset_values():
    config = load_config("tiny")
    assert config.model.params["channels"] == 8
    assert config.evaluate.fraction == 0.1
    assert config.tracking.enabled is False


@pytest.mark.parametrize(
    "text, key",
    [
        ("model:\n  windw_length: 24\n", "model.windw_length"),
        ("data:\n  time_colum: time\n", "data.time_colum"),
        ("tracking:\n  enable: true\n", "tracking.enable"),
        ("evaluate:\n  fractoin: 0.2\n", "evaluate.fractoin"),
        ("modle:\n  channels: 8\n", "modle"),
    ],
)
def test_unknown_key_names_key_and_file(tmp_path, text, key):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert repr(key.split(".")[-1]) in message
    assert info.value.key == key
    assert info.value.source == str(path)


def test_unknown_key_suggests_the_right_one(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'window_length'"):
        load_config(_write(tmp_path, "model:\n  windw_length: 24\n"))


@pytest.mark.parametrize(
    "text, key, fragment",
    [
        ("model:\n  window_length: '24'\n", "model.window_length", "int"),
        ("model:\n  n_layers: true\n", "model.n_layers", "true/false"),
        ("model:\n  learning_rate: fast\n", "model.learning_rate", "float"),
        ("model:\n  sampler: euler\n", "model.sampler", "ddim"),
        ("model:\n  kind: forecaster\n", "model.kind", "detector"),
        ("data:\n  time_column: 3\n", "data.time_column", "a string or null"),
        ("data:\n  columns: a,b\n", "data.columns", "a list of strings"),
        ("tracking:\n  enabled: 'yes'\n", "tracking.enabled", "true/false"),
        ("evaluate:\n  fraction: 2\n", "evaluate.fraction", "(0, 1)"),
        ("evaluate:\n  seed: 1.5\n", "evaluate.seed", "an integer"),
        ("model:\n  tracking: true\n", "model.tracking", "tracking' section"),
        ("name: 3\n", "name", "string"),
    ],
)
def test_wrong_type_names_key_and_file(tmp_path, text, key, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert f"{key}:" in str(info.value)
    assert fragment in str(info.value)


def test_duplicate_key_and_bad_yaml_report_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"line 3.*given twice"):
        load_config(_write(tmp_path, "model:\n  channels: 8\n  channels: 16\n"))
    with pytest.raises(ConfigError, match="line"):
        load_config(_write(tmp_path, "model: [\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_ints_are_accepted_for_floats_and_defaults_fill_in():
    config = config_from_dict({"model": {"learning_rate": 1}, "evaluate": {"coverage": 0.8}})
    assert config.model.params == {"learning_rate": 1}
    assert config.evaluate.coverage == 0.8 and config.evaluate.fraction == 0.1
    assert config.data.label_column == "label"
    assert config_from_dict(None).model.kind == "imputer"
