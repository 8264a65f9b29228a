"""Shared fixtures: tiny models, small slices of the bundled and shared real data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# A model small enough to train in a second or two on 2 CPU cores.
TINY_MODEL: dict[str, Any] = {
    "channels": 16,
    "n_layers": 1,
    "n_heads": 2,
    "diffusion_embedding_dim": 32,
    "time_embedding_dim": 16,
    "feature_embedding_dim": 4,
}
TINY: dict[str, Any] = {
    "window_length": 16,
    "model": TINY_MODEL,
    "max_epochs": 2,
    "batch_size": 32,
    "n_samples": 4,
    "sampling_steps": 5,
    "trainer_kwargs": {"accelerator": "cpu"},
    "random_state": 0,
    "verbose": False,
}


def shared_dataset(name: str) -> Path:
    """Path of a dataset in ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real dataset {path} is absent (it lives in ../shared/data beside the repo)")
    return path


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="module")
def sine_frame() -> pd.DataFrame:
    """Four correlated noisy sines on an hourly DatetimeIndex, 20 % of cells missing (one per
    test module: do not modify it in place)."""
    rng = np.random.default_rng(0)
    t = np.arange(240)
    values = np.stack([np.sin(t / 6 + i) for i in range(4)], axis=1) + 0.05 * rng.standard_normal(
        (240, 4)
    )
    frame = pd.DataFrame(
        values, index=pd.date_range("2024-01-01", periods=240, freq="h"), columns=list("abcd")
    )
    return frame.mask(rng.random(frame.shape) < 0.2)


# The smallest network: 8 channels, one layer.
TINY_NETWORK: dict[str, Any] = {
    "channels": 8,
    "n_layers": 1,
    "n_heads": 1,
    "diffusion_embedding_dim": 8,
    "time_embedding_dim": 8,
    "feature_embedding_dim": 4,
}
TINY_PARAMS: dict[str, Any] = {
    "window_length": 16,
    "train_stride": 8,
    "n_samples": 4,
    "sampling_steps": 3,
    "model": TINY_NETWORK,
    "max_epochs": 2,
    "patience": None,
    "trainer_kwargs": {"accelerator": "cpu"},
    "random_state": 0,
    "verbose": False,
}


@pytest.fixture
def tiny_params() -> dict:
    """Parameters of a tiny, fast imputer (a fresh copy per test)."""
    return dict(TINY_PARAMS)


@pytest.fixture(scope="session")
def air_slice() -> pd.DataFrame:
    """10 days x 4 sensors of the bundled air-quality data, with a few extra gaps."""
    from tsdiff.datasets import load_air_quality

    frame = load_air_quality().iloc[:240, :4].copy()
    rng = np.random.default_rng(1)
    holes = rng.random(frame.shape) < 0.05
    return frame.mask(holes)


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> tuple:
    """One real sqlite MLflow store for the session: (folder, tracking URI)."""
    folder = tmp_path_factory.mktemp("mlflow")
    return folder, f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(scope="session")
def fitted_imputer(air_slice: pd.DataFrame):
    from tsdiff import TSDiffImputer

    return TSDiffImputer(**TINY_PARAMS).fit(air_slice)


def detector_tiny_params(**scorer: Any) -> dict[str, Any]:
    """Parameters of a tiny, fast detector (a fresh copy); ``scorer`` overrides its settings."""
    from tsdiff.scoring import MaskedReimputationScorer

    # two complementary strips of 8 fill a 16-step window
    settings = {"n_samples": 4, "sampling_steps": 3, "strip_length": 8, **scorer}
    return {
        "window_length": 16,
        "train_stride": 8,
        "model": dict(TINY_NETWORK),
        "scorer": MaskedReimputationScorer(**settings),
        "max_epochs": 2,
        "trainer_kwargs": {"accelerator": "cpu", "precision": "32-true"},
        "random_state": 0,
        "verbose": False,
    }


@pytest.fixture(scope="session")
def smd_slices() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normal training minutes and a labelled test stretch holding a long anomaly."""
    from tsdiff.datasets import load_server_metrics

    train = load_server_metrics("train").iloc[:480, :6]
    test = load_server_metrics("test").iloc[560:960]
    test = test[[*train.columns, "label"]]
    return train, test


@pytest.fixture(scope="session")
def fitted_detector(smd_slices):
    detector_module = pytest.importorskip("tsdiff.api.detector")
    train, _ = smd_slices
    return detector_module.TSDiffAnomalyDetector(**detector_tiny_params()).fit(train)


def tiny_denoiser(n_features: int = 5, diffusion_steps: int = 50, **kwargs: Any) -> Any:
    """A ``CSDIDenoiser`` of :data:`TINY_NETWORK` without dropout, built after
    ``torch.manual_seed(0)``; ``kwargs`` override those settings."""
    from tsdiff.model import CSDIDenoiser

    torch.manual_seed(0)
    return CSDIDenoiser(n_features, diffusion_steps, **{**TINY_NETWORK, "dropout": 0.0, **kwargs})
