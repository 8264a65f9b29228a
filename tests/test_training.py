"""Training loop: divergence is an error, the schedule object is passed through."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_denoiser

from tsdiff.data import SeriesSet, build_window_store
from tsdiff.diffusion import NoiseSchedule
from tsdiff.model import CSDIDenoiser
from tsdiff.training import TrainingConfig, TrainingDivergedError, train_denoiser
from tsdiff.training.module import DiffusionImputationModule


def _store(n: int = 96, k: int = 3, length: int = 12, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    values = np.sin(np.arange(n)[:, None] / 4.0 + np.arange(k)) + 0.1 * rng.standard_normal((n, k))
    values[rng.random((n, k)) < 0.2] = np.nan
    stamps = np.arange(n, dtype=np.float64)
    return build_window_store(SeriesSet([values], [stamps]), [values], length, 4)


def _tiny() -> CSDIDenoiser:
    """A 3-feature, 10-step network of the tests' tiny size (no dropout, seeded)."""
    return tiny_denoiser(3, 10)


def _config(**kwargs) -> TrainingConfig:  # type: ignore[no-untyped-def]
    settings = {
        "target_strategy": "random",
        "max_epochs": 2,
        "batch_size": 8,
        "patience": None,
        "accelerator": "cpu",
        "seed": 0,
        "verbose": False,
    }
    settings.update(kwargs)
    return TrainingConfig(**settings)


def test_training_takes_one_schedule_object() -> None:
    schedule = NoiseSchedule(10, "quad", 1e-4, 0.5)
    result = train_denoiser(_tiny(), schedule, _store(), _store(seed=1), _config())
    assert np.isfinite(result.history[-1]["train_loss"])
    assert all(torch.isfinite(p).all() for p in result.network.parameters())
    module = DiffusionImputationModule(_tiny(), schedule)
    assert module.schedule is schedule


def test_diverged_training_raises_with_advice() -> None:
    with pytest.raises(TrainingDivergedError, match=r"learning_rate.*precision") as info:
        train_denoiser(
            _tiny(),
            NoiseSchedule(10),
            _store(),
            None,
            _config(learning_rate=10.0, max_epochs=5),
        )
    assert isinstance(info.value, RuntimeError)
    assert "32-true" in str(info.value)


def test_guard_stops_at_once_on_nan_weights_and_tolerates_one_bad_batch() -> None:
    from types import SimpleNamespace

    from tsdiff.training import DivergenceGuard

    net = _tiny()
    trainer = SimpleNamespace(
        optimizers=[torch.optim.Adam(net.parameters(), lr=0.5)],
        current_epoch=3,
        precision="16-mixed",
    )
    guard = DivergenceGuard(patience=2)
    guard.on_train_batch_end(trainer, net, {"loss": torch.tensor(float("inf"))}, None, 0)  # type: ignore[arg-type]
    guard.on_train_batch_end(trainer, net, {"loss": torch.tensor(0.5)}, None, 1)  # type: ignore[arg-type]
    guard.on_train_batch_end(trainer, net, {"loss": torch.tensor(2e3)}, None, 2)  # type: ignore[arg-type]
    with pytest.raises(TrainingDivergedError, match="2 batches in a row"):
        guard.on_train_batch_end(trainer, net, {"loss": torch.tensor(3e3)}, None, 3)  # type: ignore[arg-type]
    with torch.no_grad():
        net.output.bias.fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match=r"weights are not finite.*0.5.*'16-mixed'"):
        DivergenceGuard().on_train_batch_end(
            trainer,  # type: ignore[arg-type]
            net,  # type: ignore[arg-type]
            {"loss": torch.tensor(float("nan"))},
            None,
            0,
        )


def test_callback_state_round_trips_through_checkpoints() -> None:
    from tsdiff.training import BudgetLRDecay, LossHistory, RestoreBestWeights

    best = RestoreBestWeights()
    best.best_score, best.best_epoch = 0.5, 3
    best._best_state = {"w": torch.ones(2)}
    copy = RestoreBestWeights()
    copy.load_state_dict(best.state_dict())
    assert (copy.best_score, copy.best_epoch) == (0.5, 3)
    assert torch.equal(copy._best_state["w"], torch.ones(2))  # type: ignore[index]

    history = LossHistory()
    history.history = [{"epoch": 0.0, "train_loss": 1.0}]
    restored = LossHistory()
    restored.load_state_dict(history.state_dict())
    assert restored.history == history.history

    decay = BudgetLRDecay(10, None)
    decay._base_lrs = [1e-3]
    resumed = BudgetLRDecay(10, None)
    resumed.load_state_dict(decay.state_dict())
    assert resumed._base_lrs == [1e-3]  # not the decayed rate of the restored optimiser


def test_epoch_seed_depends_on_seed_epoch_and_rank() -> None:
    from tsdiff.training.callbacks import epoch_seed

    seeds = {epoch_seed(s, e, r) for s in (0, 1) for e in (0, 1) for r in (0, 1)}
    assert len(seeds) == 8
    assert epoch_seed(0, 1, 0) == epoch_seed(0, 1, 0)


def test_checkpoints_without_validation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    schedule = NoiseSchedule(10, "quad", 1e-4, 0.5)
    result = train_denoiser(
        _tiny(), schedule, _store(), None, _config(checkpoint_dir=str(tmp_path))
    )
    assert result.epochs == 2
    assert (tmp_path / "last.ckpt").is_file()
    assert len(list(tmp_path.glob("best-epoch=*.ckpt"))) == 1


def test_user_callbacks_and_logger_reach_the_trainer() -> None:
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import Logger

    from tsdiff import TSDiffImputer

    class Seen(pl.Callback):
        def __init__(self) -> None:
            self.epochs = 0

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.epochs += 1

    class Recorder(Logger):
        def __init__(self) -> None:
            super().__init__()
            self.keys: set[str] = set()

        @property
        def name(self) -> str:
            return "recorder"

        @property
        def version(self) -> str:
            return "0"

        def log_hyperparams(self, params, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            pass

        def log_metrics(self, metrics, step=None) -> None:  # type: ignore[no-untyped-def]
            self.keys.update(metrics)

    seen, recorder = Seen(), Recorder()
    rng = np.random.default_rng(0)
    X = np.sin(np.arange(80)[:, None] / 4.0 + np.arange(2)) + 0.1 * rng.standard_normal((80, 2))
    TSDiffImputer(
        window_length=12,
        model={"channels": 8, "n_layers": 1, "n_heads": 1, "diffusion_steps": 10},
        max_epochs=2,
        train_stride=4,
        calibration_windows=0,
        trainer_kwargs={"accelerator": "cpu", "callbacks": [seen], "logger": recorder},
        random_state=0,
        verbose=False,
    ).fit(X)
    assert seen.epochs == 2
    assert {"train_loss", "val_loss"} <= recorder.keys
