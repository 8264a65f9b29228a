"""Checkpoints, resume and warm start: a resumed run ends where an uninterrupted one does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from conftest import TINY_NETWORK, TINY_PARAMS

from tsdiff import TSDiffImputer

MODEL = {**TINY_NETWORK, "diffusion_steps": 10}
# TINY_PARAMS with short windows and four epochs of small batches, a quarter held out
RESUME_PARAMS: dict[str, Any] = {
    **TINY_PARAMS,
    "window_length": 12,
    "train_stride": 3,
    "model": MODEL,
    "max_epochs": 4,
    "batch_size": 8,
    "calibration_windows": 0,
    "validation_fraction": 0.25,
}


class _Killed(RuntimeError):
    pass


class _KillAfter(pl.Callback):
    """Stop the process the hard way after ``epochs`` epochs (their checkpoints are written)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch >= self.epochs:
            raise _Killed("killed")


def _data(n: int = 120, k: int = 2) -> np.ndarray:
    rng = np.random.default_rng(0)
    values = np.sin(np.arange(n)[:, None] / 5.0 + np.arange(k)) + 0.1 * rng.standard_normal((n, k))
    values[rng.random((n, k)) < 0.1] = np.nan
    return values


def _imputer(**trainer: Any) -> TSDiffImputer:
    return TSDiffImputer(**{**RESUME_PARAMS, "trainer_kwargs": {"accelerator": "cpu", **trainer}})


def _weights(imputer: TSDiffImputer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in imputer.model_.state_dict().items()}


def test_checkpoints_written_and_resume_equals_uninterrupted(tmp_path: Path) -> None:
    X = _data()
    full = _imputer(checkpoint_dir=tmp_path / "full").fit(X)
    assert (tmp_path / "full" / "last.ckpt").is_file()
    assert list((tmp_path / "full").glob("best-epoch=*.ckpt"))

    killed = _imputer(checkpoint_dir=tmp_path / "part", callbacks=[_KillAfter(2)])
    with pytest.raises(_Killed):
        killed.fit(X)
    assert torch.load(tmp_path / "part" / "last.ckpt", weights_only=False)["epoch"] == 1

    resumed = _imputer(checkpoint_dir=tmp_path / "part").fit(
        X, ckpt_path=tmp_path / "part" / "last.ckpt"
    )
    assert resumed.n_epochs_ == full.n_epochs_ == 4
    assert resumed.best_epoch_ == full.best_epoch_
    assert len(resumed.history_) == len(full.history_) == 4
    a, b = _weights(full), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    # the best-weight restore kept the best epoch's weights, the same in both runs
    np.testing.assert_allclose(resumed.best_val_loss_, full.best_val_loss_, rtol=0, atol=1e-7)


def test_warm_start_fine_tunes_the_fitted_network() -> None:
    X = _data()
    imputer = _imputer().fit(X)
    before = _weights(imputer)
    scaler_mean = imputer.scaler_.mean_.copy()
    shifted = X + 5.0
    imputer.set_params(max_epochs=1)
    imputer.fit(shifted, warm_start=True)
    after = _weights(imputer)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    np.testing.assert_array_equal(imputer.scaler_.mean_, scaler_mean)  # scaler kept
    assert imputer.n_epochs_ == 1
    assert not np.isnan(imputer.transform(shifted)).any()


def test_warm_start_needs_a_fitted_model_and_no_ckpt(tmp_path: Path) -> None:
    from sklearn.exceptions import NotFittedError

    X = _data()
    with pytest.raises(NotFittedError):
        _imputer().fit(X, warm_start=True)
    imputer = _imputer().set_params(max_epochs=1).fit(X)
    with pytest.raises(ValueError, match="not both"):
        imputer.fit(X, warm_start=True, ckpt_path=tmp_path / "x.ckpt")
    imputer.set_params(model={**MODEL, "channels": 16})
    with pytest.raises(ValueError, match="warm_start"):
        imputer.fit(X, warm_start=True)
