"""The detector's neighbour component: sustained shifts, persistence, switching it off, from an
imputer, configuration files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from tsdiff import TSDiffAnomalyDetector, TSDiffImputer
from tsdiff.config import build_estimator, config_from_dict
from tsdiff.metrics import vus_pr
from tsdiff.persistence import config_checksum
from tsdiff.scoring import MaskedReimputationScorer, TopK, WindowNeighbours

torch.set_num_threads(1)

SETTINGS: dict[str, Any] = {
    "window_length": 32,
    "model": {
        "channels": 16,
        "n_layers": 1,
        "n_heads": 1,
        "diffusion_embedding_dim": 16,
        "time_embedding_dim": 16,
        "feature_embedding_dim": 4,
        "diffusion_steps": 10,
    },
    "scorer": MaskedReimputationScorer(n_samples=3, sampling_steps=5, strip_length=16),
    "aggregator": TopK(k=1, cap=None, smoothing=(1, 31)),
    "max_epochs": 4,
    "batch_size": 32,
    "trainer_kwargs": {"accelerator": "cpu"},
    "verbose": False,
    "random_state": 0,
}


def plant(n: int, seed: int) -> pd.DataFrame:
    """Three related sensors that follow a slow shared cycle, one row per second."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = np.sin(2 * np.pi * t / 40)
    values = np.column_stack([base, 0.8 * base + 0.2, np.cos(2 * np.pi * t / 40)])
    values += 0.05 * rng.normal(size=values.shape)
    index = pd.date_range("2025-03-01", periods=n, freq="s", name="time")
    return pd.DataFrame(values, index=index, columns=["flow", "pressure", "current"])


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return plant(600, seed=0)


@pytest.fixture(scope="module")
def shifted() -> tuple[pd.DataFrame, np.ndarray]:
    """A test period in which every sensor moves to a new level for 120 rows together, within
    its training range: the relation between the sensors and their shapes hold, only the level
    is new, so each window explains itself to the re-imputation."""
    frame = plant(400, seed=1)
    labels = np.zeros(len(frame), dtype=int)
    frame.iloc[200:320] += 0.8
    labels[200:320] = 1
    return frame, labels


@pytest.fixture(scope="module")
def fitted(train: pd.DataFrame) -> TSDiffAnomalyDetector:
    return TSDiffAnomalyDetector(**SETTINGS).fit(train)


def test_a_sustained_shift_of_every_sensor_scores_higher_with_the_neighbour_view(
    fitted: TSDiffAnomalyDetector, train: pd.DataFrame, shifted: tuple
) -> None:
    frame, labels = shifted
    alone = TSDiffAnomalyDetector(**{**SETTINGS, "neighbours": False}).fit(train)
    with_view = vus_pr(labels, fitted.decision_function(frame).to_numpy(), window=20)
    without = vus_pr(labels, alone.decision_function(frame).to_numpy(), window=20)
    assert with_view > 0.9
    assert with_view > without + 0.1
    # the neighbour view flags the shifted rows with the calibrated threshold
    flags = fitted.predict(frame)
    assert flags[240:300].mean() > 0.9 and flags[:150].mean() < 0.1


def test_the_reference_is_saved_with_the_weights_and_scores_survive_loading(
    fitted: TSDiffAnomalyDetector, shifted: tuple, tmp_path: Path
) -> None:
    frame, _ = shifted
    reference = fitted.neighbour_reference_
    assert isinstance(reference, torch.Tensor) and reference.shape == (3, 480 - 15, 16)
    assert isinstance(fitted.neighbours_, WindowNeighbours)
    fitted.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert "neighbour_reference_" in config["tensors"]  # in the weights file, not in JSON
    loaded = TSDiffAnomalyDetector.load(tmp_path / "model")
    torch.testing.assert_close(loaded.neighbour_reference_, reference)
    pd.testing.assert_series_equal(loaded.decision_function(frame), fitted.decision_function(frame))


def test_switching_the_view_off_and_back_on(
    fitted: TSDiffAnomalyDetector, train: pd.DataFrame, shifted: tuple
) -> None:
    frame, _ = shifted
    off = TSDiffAnomalyDetector(**{**SETTINGS, "max_epochs": 1, "neighbours": False}).fit(train)
    assert off.neighbours_ is None and off.neighbour_reference_ is None
    assert off.aggregator_.centre_.shape == (3,)  # the scorer's columns only
    on = off.set_params(neighbours=None)
    with pytest.raises(ValueError, match="neighbours changed since calibration"):
        on.decision_function(frame)
    with pytest.raises(ValueError, match="refit"):
        on.calibrate(train.iloc[-120:])
    # changing a scoring parameter of the component needs a calibration, not a refit
    fitted = TSDiffAnomalyDetector(**SETTINGS).fit(train)
    fitted.set_params(neighbours=WindowNeighbours(n_neighbors=3))
    with pytest.raises(ValueError, match="calibrate"):
        fitted.decision_function(frame)
    fitted.calibrate(train.iloc[-120:])
    assert fitted.neighbours_.n_neighbors == 3
    # a new window length does not fit the reference windows: refit
    fitted.set_params(neighbours=WindowNeighbours(length=8))
    with pytest.raises(ValueError, match="refit"):
        fitted.calibrate(train.iloc[-120:])


def test_a_model_saved_before_the_view_existed_loads_without_it(
    train: pd.DataFrame, shifted: tuple, tmp_path: Path
) -> None:
    frame, _ = shifted
    old = TSDiffAnomalyDetector(**{**SETTINGS, "max_epochs": 1, "neighbours": False}).fit(train)
    old.save(tmp_path / "old")
    path = tmp_path / "old" / "config.json"
    config = json.loads(path.read_text())
    del config["params"]["neighbours"]  # as written before the parameter existed
    del config["fitted"]["neighbours_"], config["fitted"]["neighbour_reference_"]
    config["checksum"] = config_checksum(config)
    path.write_text(json.dumps(config))
    loaded = TSDiffAnomalyDetector.load(tmp_path / "old")
    assert loaded.neighbours is False
    pd.testing.assert_series_equal(loaded.decision_function(frame), old.decision_function(frame))


def test_from_imputer_uses_the_view_only_with_reference_data(train: pd.DataFrame) -> None:
    imputer = TSDiffImputer(
        window_length=32,
        model=SETTINGS["model"],
        max_epochs=1,
        trainer_kwargs={"accelerator": "cpu"},
        verbose=False,
        random_state=0,
    ).fit(train.iloc[:480])
    parts = {"scorer": SETTINGS["scorer"], "aggregator": SETTINGS["aggregator"]}
    plain = TSDiffAnomalyDetector.from_imputer(imputer, train.iloc[480:], **parts)
    assert plain.neighbours is False and plain.neighbours_ is None
    viewed = TSDiffAnomalyDetector.from_imputer(
        imputer, train.iloc[480:], X_reference=train.iloc[:480], **parts
    )
    assert viewed.neighbour_reference_.shape == (3, 480 - 15, 16)
    with pytest.raises(ValueError, match="X_reference"):
        TSDiffAnomalyDetector.from_imputer(
            imputer, train.iloc[480:], neighbours=WindowNeighbours(), **parts
        )


def test_configuration_files_switch_or_set_the_view() -> None:
    off = build_estimator(config_from_dict({"kind": "detector", "neighbours": False}))
    assert off.neighbours is False
    set_ = build_estimator(
        config_from_dict(
            {"kind": "detector", "neighbours": {"type": "WindowNeighbours", "length": 24}}
        )
    )
    assert isinstance(set_.neighbours, WindowNeighbours) and set_.neighbours.length == 24
    with pytest.raises(ValueError, match="lenght"):
        config_from_dict(
            {"kind": "detector", "neighbours": {"type": "WindowNeighbours", "lenght": 24}}
        )
