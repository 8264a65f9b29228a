"""One function that trains a denoiser on prepared windows (hides Lightning from the estimators)."""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from tsdiff.data.masking import condition_mask
from tsdiff.data.windows import WindowStore
from tsdiff.diffusion.schedules import NoiseSchedule
from tsdiff.model.conditioning import Anchors, fill_condition
from tsdiff.model.denoiser import CSDIDenoiser
from tsdiff.training.callbacks import (
    BudgetLRDecay,
    DivergenceGuard,
    EpochSeed,
    LossHistory,
    RestoreBestWeights,
)
from tsdiff.training.datamodule import WindowDataModule, per_rank_batch_size
from tsdiff.training.module import DiffusionImputationModule
from tsdiff.training.trainer import make_trainer


@dataclass
class TrainingConfig:
    """Settings of one training run (a subset of the estimator's parameters)."""

    target_strategy: str = "mix"
    max_epochs: int = 200
    max_time_seconds: float | None = None
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 1e-6
    patience: int | None = 20
    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: Any = "32-true"
    seed: int | None = None
    verbose: bool = True
    logger: Any = False
    extra_callbacks: list[pl.Callback] = field(default_factory=list)
    hide_masks: np.ndarray | None = None
    checkpoint_dir: str | None = None
    ckpt_path: str | None = None
    deterministic: Any = None
    estimate_prior: bool = True


@dataclass
class TrainingResult:
    """What a training run produced."""

    network: CSDIDenoiser
    history: list[dict[str, float]]
    epochs: int
    best_epoch: int
    best_val_loss: float | None
    seconds: float
    windows_seen: int
    root_device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    world_size: int = 1
    global_rank: int = 0


@contextlib.contextmanager
def quiet_lightning(verbose: bool = False) -> Iterator[None]:
    """Silence Lightning's console chatter: its info logs (accelerator banners, adverts, "fit
    stopped" notes) and its advice and deprecation warnings. Progress bars are not affected
    (``verbose`` is kept for callers; the bar follows the trainer's ``enable_progress_bar``)."""
    loggers = [
        logging.getLogger(name)
        for name in (
            "pytorch_lightning",
            "lightning.pytorch",
            "lightning_fabric",
            "lightning.fabric",
        )
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"pytorch_lightning.*")
        warnings.filterwarnings("ignore", module=r"lightning_fabric.*")
        warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def estimate_prior_variance(
    network: CSDIDenoiser,
    store: WindowStore,
    strategy: str,
    seed: int | None,
    max_windows: int = 1024,
    hide_masks: np.ndarray | None = None,
) -> torch.Tensor:
    """Per-feature mean squared error of the conditioning fill on training target cells.

    Hides cells of up to ``max_windows`` training windows with the training strategy, fills the
    conditioning channel as the network does, and measures how far the hidden values lie from
    the fill: the variance ``v`` of the network's Gaussian prior ``x_0 ~ N(m, v)``.
    """
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.permutation(store.n_windows)[:max_windows])
    values, observed, stamps = (
        torch.from_numpy(np.ascontiguousarray(a)) for a in store.gather(ids)
    )
    anchors = Anchors(*(torch.from_numpy(np.ascontiguousarray(a)) for a in store.anchors(ids)))
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    masks = None if hide_masks is None else torch.as_tensor(hide_masks, dtype=torch.bool)
    cond = condition_mask(observed, strategy, generator, masks)
    target = (observed & ~cond).to(values.dtype)
    with torch.no_grad():
        filled = fill_condition(
            values, cond.to(values.dtype), stamps, network.condition_fill, anchors
        )
    squared = ((filled - values) ** 2 * target).sum(dim=(0, 2))
    counts = target.sum(dim=(0, 2))
    variance = torch.where(counts > 0, squared / counts.clamp(min=1.0), torch.ones_like(squared))
    return variance.clamp(1e-3, 1.0)


def _warn_small_share(n_windows: int, batch_size: int, trainer: pl.Trainer) -> None:
    """Say (on rank 0) when each DDP process's share of the windows is smaller than a batch."""
    world_size = int(trainer.world_size)
    size, _ = per_rank_batch_size(n_windows, batch_size, world_size)
    if world_size > 1 and size < batch_size and trainer.is_global_zero:
        warnings.warn(
            f"Each of the {world_size} processes gets {size} of the {n_windows} training "
            f"windows, fewer than batch_size={batch_size}, so it trains on batches of {size}. "
            "Lower batch_size, train_stride or the number of devices, or pass more data.",
            UserWarning,
            stacklevel=4,
        )


def train_denoiser(
    network: CSDIDenoiser,
    schedule: NoiseSchedule,
    train_store: WindowStore,
    val_store: WindowStore | None,
    config: TrainingConfig,
) -> TrainingResult:
    """Train ``network`` on the windows of ``train_store``; returns it on the CPU in eval mode.

    With validation windows, the weights of the epoch with the lowest validation loss are
    restored at the end and training stops early after ``patience`` epochs without improvement.

    Raises
    ------
    TrainingDivergedError
        If the loss or the weights become NaN or infinite (see
        :class:`~tsdiff.training.callbacks.DivergenceGuard`).
    """
    has_validation = val_store is not None and val_store.n_windows > 0
    if network.prior_skip and config.estimate_prior:
        network.prior_variance.copy_(
            estimate_prior_variance(
                network,
                train_store,
                config.target_strategy,
                config.seed,
                hide_masks=config.hide_masks,
            )
        )
    module = DiffusionImputationModule(
        network,
        schedule,
        target_strategy=config.target_strategy,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        validation_seed=config.seed or 0,
        hide_masks=config.hide_masks,
    )
    datamodule = WindowDataModule(
        train_store,
        val_store if has_validation else None,
        config.batch_size,
        seed=config.seed or 0,
    )
    history = LossHistory()
    best = RestoreBestWeights()
    callbacks: list[pl.Callback] = [
        BudgetLRDecay(config.max_epochs, config.max_time_seconds),
        history,
        DivergenceGuard(),
    ]
    if has_validation:
        callbacks.append(best)
    if config.seed is not None:
        callbacks.append(EpochSeed(config.seed))
    callbacks.extend(config.extra_callbacks)
    with quiet_lightning(config.verbose):
        if config.seed is not None:
            pl.seed_everything(config.seed, workers=True, verbose=False)
        trainer = make_trainer(
            max_epochs=config.max_epochs,
            max_time_seconds=config.max_time_seconds,
            accelerator=config.accelerator,
            devices=config.devices,
            precision=config.precision,
            strategy=config.strategy,
            num_nodes=config.num_nodes,
            patience=config.patience,
            has_validation=has_validation,
            callbacks=callbacks,
            logger=config.logger,
            verbose=config.verbose,
            deterministic=config.deterministic,
            checkpoint_dir=config.checkpoint_dir,
        )
    _warn_small_share(train_store.n_windows, config.batch_size, trainer)
    with quiet_lightning(config.verbose):
        start = time.perf_counter()
        trainer.fit(module, datamodule=datamodule, ckpt_path=config.ckpt_path)
        seconds = time.perf_counter() - start
    if trainer.current_epoch > 0 and trainer.global_step == 0:
        raise RuntimeError(
            f"Training ran {trainer.current_epoch} epoch(s) without a single optimiser step "
            f"({train_store.n_windows} training windows over {trainer.world_size} process(es)); "
            "pass more data, or lower train_stride or the number of devices."
        )
    if trainer.world_size > 1:
        _release_process_group_at_exit()
    root_device = trainer.strategy.root_device
    trained = module.network.cpu().eval()
    return TrainingResult(
        network=trained,
        history=history.history,
        epochs=trainer.current_epoch,
        best_epoch=best.best_epoch if has_validation else trainer.current_epoch - 1,
        best_val_loss=best.best_score if has_validation and best.best_epoch >= 0 else None,
        seconds=seconds,
        windows_seen=int(trainer.global_step) * config.batch_size * trainer.world_size,
        root_device=root_device,
        world_size=int(trainer.world_size),
        global_rank=int(trainer.global_rank),
    )


@functools.cache
def _release_process_group_at_exit() -> None:
    """Destroy the distributed process group a multi-process fit left behind (it stays up for
    the estimators' calibration after training) when the interpreter exits: torn down during
    interpreter shutdown instead, gloo's threads sometimes abort the process ("terminate
    called without an active exception")."""

    def release() -> None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()

    atexit.register(release)
