"""Build a configured ``pytorch_lightning.Trainer``."""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar


class TrainingProgressBar(TQDMProgressBar):
    """One bar per training run: the epoch bar, without a second bar for each validation pass."""

    def init_validation_tqdm(self) -> Any:
        from pytorch_lightning.callbacks.progress.tqdm_progress import Tqdm

        return Tqdm(disable=True)


def make_trainer(
    *,
    max_epochs: int,
    max_time_seconds: float | None,
    accelerator: str,
    devices: Any,
    precision: Any,
    strategy: str = "auto",
    num_nodes: int = 1,
    patience: int | None = None,
    has_validation: bool = True,
    callbacks: list[pl.Callback] | None = None,
    logger: Any = False,
    verbose: bool = True,
    deterministic: Any = None,
    default_root_dir: str | None = None,
    checkpoint_dir: str | None = None,
) -> pl.Trainer:
    """Return a Trainer for tsdiff's training loop.

    Without ``checkpoint_dir`` no checkpoint file is written (the best weights are kept in
    memory). With it, a :class:`~pytorch_lightning.callbacks.ModelCheckpoint` writes
    ``last.ckpt`` after every epoch and ``best-epoch=N.ckpt`` for the lowest validation loss (the
    latest epoch without validation); only the global rank 0 writes. Nothing is logged unless
    ``logger`` is given, and the progress bar follows ``verbose`` (rank 0 only under DDP).
    """
    callbacks = list(callbacks or [])
    if checkpoint_dir is not None:
        callbacks.append(
            ModelCheckpoint(
                dirpath=str(checkpoint_dir),
                filename="best-{epoch}",
                monitor="val_loss" if has_validation else None,
                mode="min",
                save_top_k=1,
                save_last=True,
            )
        )
    if verbose:
        callbacks.append(TrainingProgressBar())
    if has_validation and patience is not None and patience > 0:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=patience, mode="min"))
    max_time = dt.timedelta(seconds=float(max_time_seconds)) if max_time_seconds else None
    return pl.Trainer(
        max_epochs=max_epochs,
        max_time=max_time,
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=precision,
        callbacks=callbacks,
        logger=logger,
        enable_checkpointing=checkpoint_dir is not None,
        enable_progress_bar=verbose,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=None if has_validation else 0,
        deterministic=deterministic,
        default_root_dir=default_root_dir or tempfile.gettempdir(),
        log_every_n_steps=10,
    )
