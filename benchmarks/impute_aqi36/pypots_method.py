"""PyPOTS CSDI with the published architecture, trained for the same wall-clock budget."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.datasets import AQI36Split
from benchmarks.impute_aqi36.config import LR_MILESTONES, WINDOW, BenchConfig
from benchmarks.impute_aqi36.data import Standardiser, cut_windows, score_samples, stitch_first
from benchmarks.impute_aqi36.resources import PeakMemory, result_row, timed
from benchmarks.pypots_csdi import pypots_csdi


class BudgetClock:
    """Shared wall-clock deadline of a training run, with CSDI's learning-rate milestones."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def fraction(self) -> float:
        """Fraction of the budget used."""
        return (time.perf_counter() - self.start) / self.seconds

    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.fraction() >= 1.0


class BudgetedLoader:
    """Wraps PyPOTS's training ``DataLoader``: ends the epoch when the budget runs out.

    It also applies CSDI's learning-rate decay (x0.1 at 75 % and 90 % of the budget, as tsdiff's
    ``BudgetLRDecay`` does for a time-capped run) and measures the time spent in pure training
    steps (from the first batch request to the end of the epoch's batches), excluding PyPOTS's
    per-epoch validation pass.
    """

    def __init__(self, loader: Any, clock: BudgetClock, optimizer: Any, lr: float) -> None:
        self.loader = loader
        self.clock = clock
        self.optimizer = optimizer
        self.lr = lr
        self.train_seconds = 0.0
        self.windows = 0
        self.truncated = False

    def _set_lr(self) -> None:
        done = self.clock.fraction()
        factor = 0.1 ** sum(done >= m for m in LR_MILESTONES)
        for group in self.optimizer.torch_optimizer.param_groups:
            group["lr"] = self.lr * factor

    def __iter__(self) -> Iterator[Any]:
        start = time.perf_counter()
        try:
            for batch in self.loader:
                if self.clock.expired():
                    self.truncated = True
                    break
                self._set_lr()
                self.windows += len(batch[0])
                yield batch
        finally:
            self.train_seconds += time.perf_counter() - start


def pypots_training_data(
    split: AQI36Split, scaler: Standardiser, config: BenchConfig
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """PyPOTS dicts: stride-1 training windows and validation windows with hidden cells.

    Training windows carry ``for_pattern_mask``, the observed mask of another randomly chosen
    training window, which PyPOTS's ``mix`` strategy uses as CSDI's historical missing pattern.
    Validation windows (``--pypots-val-stride`` apart) hide ``--pypots-val-hide`` of their observed
    cells at random (fixed seed): ``X`` has them as NaN, ``X_ori`` keeps them.
    """
    rng = np.random.default_rng(config.seed)
    train = np.concatenate(
        [cut_windows(scaler.transform(f.to_numpy(np.float64)), WINDOW, 1) for f in split.train]
    ).astype(np.float32)
    donors = rng.permutation(len(train))
    pattern = (~np.isnan(train[donors])).astype(np.float32)
    val_ori = np.concatenate(
        [
            cut_windows(scaler.transform(f.to_numpy(np.float64)), WINDOW, config.pypots_val_stride)
            for f in split.validation
        ]
    ).astype(np.float32)
    hide = (rng.random(val_ori.shape) < config.pypots_val_hide) & ~np.isnan(val_ori)
    val_x = np.where(hide, np.nan, val_ori).astype(np.float32)
    return {"X": train, "for_pattern_mask": pattern}, {"X": val_x, "X_ori": val_ori}


def build_pypots_csdi(config: BenchConfig, n_features: int) -> Any:
    """PyPOTS CSDI with the published AQI-36 architecture and optimiser."""
    from pypots.optim import Adam

    return pypots_csdi(
        n_steps=WINDOW,
        n_features=n_features,
        n_diffusion_steps=50,
        target_strategy="mix",
        batch_size=config.batch_size,
        epochs=1,
        patience=None,
        optimizer=Adam(lr=config.learning_rate, weight_decay=config.weight_decay),
        verbose=config.verbose,
    )


@dataclass
class PyPOTSTraining:
    """What the budgeted PyPOTS training loop measured."""

    seconds: float
    pure_train_seconds: float
    windows: int
    epochs_started: int
    best_epoch: int
    val_losses: list[float]


def train_pypots_budgeted(
    model: Any, train: dict[str, np.ndarray], val: dict[str, np.ndarray], config: BenchConfig
) -> PyPOTSTraining:
    """Train PyPOTS CSDI for the wall-clock budget, one PyPOTS epoch per ``_train_model`` call.

    PyPOTS's ``fit`` has no time limit and builds its loaders itself, so this does what ``fit``
    does (``DatasetForCSDI`` + ``DataLoader`` + ``_train_model``) with the training loader wrapped
    in :class:`BudgetedLoader`. Each ``_train_model`` call runs one epoch and PyPOTS's validation
    pass; the optimiser (and its Adam state) lives on the model, so it carries across calls. The
    weights of the epoch with the lowest validation loss are restored at the end, as ``fit`` does.
    """
    from pypots.imputation.csdi.data import DatasetForCSDI
    from torch.utils.data import DataLoader

    train_loader = DataLoader(
        DatasetForCSDI(train, "mix", return_X_ori=False), batch_size=config.batch_size, shuffle=True
    )
    val_loader = DataLoader(
        DatasetForCSDI(val, "mix", return_X_ori=True), batch_size=config.batch_size, shuffle=False
    )
    clock = BudgetClock(config.budget_seconds)
    loader = BudgetedLoader(train_loader, clock, model.optimizer, config.learning_rate)
    best_loss, best_state, best_epoch, losses, stale = float("inf"), None, 0, [], 0
    epoch = 0
    while not clock.expired():
        epoch += 1
        model._train_model(loader, val_loader)
        losses.append(float(model.best_loss))
        if model.best_loss < best_loss:
            best_loss, best_epoch, stale = float(model.best_loss), epoch, 0
            best_state = copy.deepcopy(model.model.state_dict())
        else:
            stale += 1
        if config.patience is not None and stale >= config.patience:
            break
    seconds = time.perf_counter() - clock.start
    if best_state is not None:
        model.model.load_state_dict(best_state)
    return PyPOTSTraining(seconds, loader.train_seconds, loader.windows, epoch, best_epoch, losses)


def pypots_test_windows(split: AQI36Split, scaler: Standardiser) -> list[np.ndarray]:
    """Non-overlapping standardised test windows per month (last window aligned to the end)."""
    return [
        cut_windows(scaler.transform(f.to_numpy(np.float64)), WINDOW, WINDOW).astype(np.float32)
        for f in split.test_input
    ]


def pypots_samples(
    imputation: np.ndarray, split: AQI36Split, scaler: Standardiser, counts: list[int]
) -> list[np.ndarray]:
    """Per-month ``(n_samples, n_rows, K)`` samples in µg/m³ from PyPOTS's
    ``(n_windows, n_samples, L, K)`` output; observed cells keep their exact input value."""
    months = []
    offset = 0
    for frame, count in zip(split.test_input, counts, strict=True):
        windows = imputation[offset : offset + count].astype(np.float64)
        offset += count
        stitched = scaler.inverse(stitch_first(windows, len(frame), WINDOW, WINDOW))
        observed = frame.notna().to_numpy()
        stitched[:, observed] = frame.to_numpy(np.float64)[observed]
        months.append(stitched)
    return months


def run_pypots(config: BenchConfig, split: AQI36Split) -> list[dict[str, Any]]:
    """Train PyPOTS CSDI for the budget and impute the test months with 50-step DDPM."""
    from pypots.utils.random import set_random_seed

    set_random_seed(config.seed)
    memory = PeakMemory()
    scaler = Standardiser.fit(split.train)
    train, val = pypots_training_data(split, scaler, config)
    model = build_pypots_csdi(config, train["X"].shape[2])
    training, train_wall, train_peak = timed(
        lambda: train_pypots_budgeted(model, train, val, config), memory
    )
    tests = pypots_test_windows(split, scaler)
    model.batch_size = config.pypots_predict_batch_size
    result, impute_seconds, impute_peak = timed(
        lambda: model.predict({"X": np.concatenate(tests)}, n_sampling_times=config.n_samples),
        memory,
    )
    samples = pypots_samples(result["imputation"], split, scaler, [len(t) for t in tests])
    n_windows = len(train["X"])
    return [
        result_row(
            "pypots-csdi",
            "PyPOTS CSDI DDPM-50",
            score_samples(samples, split),
            train_seconds=train_wall,
            train_loop_seconds=training.seconds,
            pure_train_seconds=training.pure_train_seconds,
            epochs=training.windows / n_windows,
            epochs_started=training.epochs_started,
            best_epoch=training.best_epoch,
            n_train_windows=n_windows,
            n_val_windows=len(val["X"]),
            val_losses=training.val_losses,
            train_windows_per_second=training.windows / training.seconds,
            pure_train_windows_per_second=training.windows / max(training.pure_train_seconds, 1e-9),
            impute_seconds=impute_seconds,
            n_test_windows=int(sum(len(t) for t in tests)),
            peak_rss_train_mb=train_peak,
            peak_rss_impute_mb=impute_peak,
            n_samples=config.n_samples,
            sampler="ddpm",
            sampling_steps=50,
            peak_memory_per_phase=memory.per_phase,
        )
    ]
