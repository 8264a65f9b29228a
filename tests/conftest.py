"""Shared fixtures: tiny model settings and the path to ../shared/data."""

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
TINY: dict[str, Any] = {
    "window_length": 16,
    "channels": 16,
    "n_layers": 1,
    "n_heads": 2,
    "diffusion_embedding_dim": 32,
    "time_embedding_dim": 16,
    "feature_embedding_dim": 4,
    "max_epochs": 2,
    "batch_size": 32,
    "n_samples": 4,
    "sampling_steps": 5,
    "accelerator": "cpu",
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


@pytest.fixture
def sine_frame() -> pd.DataFrame:
    """Four correlated noisy sines on an hourly DatetimeIndex, 20 % of cells missing."""
    rng = np.random.default_rng(0)
    t = np.arange(240)
    values = np.stack([np.sin(t / 6 + i) for i in range(4)], axis=1) + 0.05 * rng.standard_normal((240, 4))
    frame = pd.DataFrame(values, index=pd.date_range("2024-01-01", periods=240, freq="h"), columns=list("abcd"))
    return frame.mask(rng.random(frame.shape) < 0.2)
