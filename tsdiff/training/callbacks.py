"""Training callbacks: budget-aware learning-rate decay, in-memory best-weight restore, per-epoch
seeding and a guard that stops diverged training.

The stateful ones save their state in Lightning checkpoints (``state_dict``/``load_state_dict``),
so a run resumed from a checkpoint continues their bookkeeping.
"""

from __future__ import annotations

import copy
import math
import random
import time
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch


class BudgetLRDecay(pl.Callback):
    """Step the learning rate down by 10x at 75 % and again at 90 % of the training budget.

    This is CSDI's MultiStepLR schedule, but with progress measured as the larger of the epoch
    fraction (``max_epochs``) and the wall-clock fraction (``max_time_seconds``), so a time-capped
    run also gets its decay.
    """

    def __init__(
        self,
        max_epochs: int | None,
        max_time_seconds: float | None,
        milestones: tuple[float, float] = (0.75, 0.9),
    ) -> None:
        self.max_epochs = max_epochs
        self.max_time_seconds = max_time_seconds
        self.milestones = milestones
        self._start = 0.0
        self._base_lrs: list[float] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.monotonic()
        if not self._base_lrs:  # a resumed run keeps the rates before any decay
            self._base_lrs = [
                group["lr"] for opt in trainer.optimizers for group in opt.param_groups
            ]

    def state_dict(self) -> dict[str, Any]:
        return {"base_lrs": list(self._base_lrs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._base_lrs = [float(v) for v in state_dict.get("base_lrs", [])]

    def progress(self, trainer: pl.Trainer, batch_idx: int) -> float:
        """Fraction of the budget used so far (0 to 1)."""
        fractions = [0.0]
        if self.max_epochs:
            per_epoch = (
                max(int(trainer.num_training_batches or 1), 1)
                if trainer.num_training_batches != float("inf")
                else 1
            )
            fractions.append((trainer.current_epoch + batch_idx / per_epoch) / self.max_epochs)
        if self.max_time_seconds:
            fractions.append((time.monotonic() - self._start) / self.max_time_seconds)
        return min(max(fractions), 1.0)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        done = self.progress(trainer, batch_idx)
        factor = 0.1 ** sum(done >= m for m in self.milestones)
        groups = [group for opt in trainer.optimizers for group in opt.param_groups]
        for group, base in zip(groups, self._base_lrs, strict=True):
            group["lr"] = base * factor


class RestoreBestWeights(pl.Callback):
    """Keep a copy of the weights with the lowest monitored loss; load them when training ends."""

    def __init__(self, monitor: str = "val_loss") -> None:
        self.monitor = monitor
        self.best_score = float("inf")
        self.best_epoch = -1
        self._best_state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is None:
            return
        value = float(score)
        if value < self.best_score:
            self.best_score = value
            self.best_epoch = trainer.current_epoch
            self._best_state = copy.deepcopy(
                {k: v.detach().cpu() for k, v in pl_module.state_dict().items()}
            )

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._best_state is not None:
            pl_module.load_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "best_state": self._best_state,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = float(state_dict["best_score"])
        self.best_epoch = int(state_dict["best_epoch"])
        self._best_state = state_dict["best_state"]


class LossHistory(pl.Callback):
    """Record the epoch means of ``train_loss`` and ``val_loss``."""

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        row = {"epoch": float(trainer.current_epoch)}
        for key in ("train_loss", "val_loss"):
            if key in metrics:
                row[key] = float(metrics[key])
        self.history.append(row)

    def state_dict(self) -> dict[str, Any]:
        return {"history": [dict(row) for row in self.history]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = [dict(row) for row in state_dict.get("history", [])]


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of one process's training epoch (a function of the three numbers only)."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0]) & 0x7FFFFFFF


class EpochSeed(pl.Callback):
    """Reseed torch, NumPy and ``random`` at the start of every training epoch.

    Each epoch's random numbers (training targets, diffusion steps, noise, dropout) then depend
    on the seed, the epoch and the process rank only, so a run resumed from a checkpoint draws
    the same numbers as an uninterrupted one, and DDP processes draw different ones.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = epoch_seed(self.seed, trainer.current_epoch, trainer.global_rank)
        torch.manual_seed(value)
        np.random.seed(value)  # noqa: NPY002 - the legacy global generator is what is reseeded
        random.seed(value)


class TrainingDivergedError(RuntimeError):
    """Training produced a non-finite loss or non-finite weights."""


class DivergenceGuard(pl.Callback):
    """Stop training with :class:`TrainingDivergedError` once it has diverged.

    A batch is bad when its loss is NaN, infinite or above ``max_loss`` (the noise-prediction
    loss of a network that predicts zero noise is about 1, and the network starts below it; a
    learning rate that is far too high drives it to 1e6 or more). Non-finite weights after a bad
    batch stop training at once; otherwise it stops after ``patience`` bad batches in a row (so one
    overflowing batch under 16-bit precision is tolerated). The weights are also checked at the
    end of each epoch.

    Parameters
    ----------
    patience : int, default=3
        Consecutive bad batches tolerated while the weights stay finite.
    max_loss : float, default=1e3
        Batch losses above it count as bad.
    """

    def __init__(self, patience: int = 3, max_loss: float = 1e3) -> None:
        self.patience = patience
        self.max_loss = max_loss
        self._bad_batches = 0

    @staticmethod
    def _weights_finite(module: torch.nn.Module) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in module.parameters())

    def _fail(self, trainer: pl.Trainer, what: str) -> TrainingDivergedError:
        rates = sorted({group["lr"] for opt in trainer.optimizers for group in opt.param_groups})
        precision = getattr(trainer, "precision", "unknown")
        return TrainingDivergedError(
            f"Training diverged at epoch {trainer.current_epoch}: {what}. Lower learning_rate "
            f"(now {', '.join(f'{r:g}' for r in rates)}; try 10x smaller) and/or train in full "
            f"precision (trainer_kwargs={{'precision': '32-true'}}; now {precision!r})."
        )

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        value = float(torch.as_tensor(loss).detach().float().reshape(-1)[0])
        if math.isfinite(value) and value <= self.max_loss:
            self._bad_batches = 0
            return
        self._bad_batches += 1
        if not self._weights_finite(pl_module):
            raise self._fail(trainer, f"the training loss is {value:g}, the weights are not finite")
        if self._bad_batches >= self.patience:
            raise self._fail(
                trainer,
                f"the training loss was {value:g} (above {self.max_loss:g} or not finite) for "
                f"{self._bad_batches} batches in a row",
            )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._weights_finite(pl_module):
            raise self._fail(trainer, "the weights are not finite")
