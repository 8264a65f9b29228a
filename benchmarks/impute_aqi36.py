"""Side-by-side imputation benchmark on AQI-36 (the CSDI protocol) under one training budget.

Methods (all scored on the same targets, in µg/m³):

* ``tsdiff``     one :class:`tsdiff.TSDiffImputer` trained for ``--budget-minutes``, sampled twice:
  few-step DDIM (``--ddim-steps``) and CSDI's 50-step DDPM;
* ``pypots``     PyPOTS CSDI with the published architecture, trained for the same wall-clock
  budget (PyPOTS has no time budget: see :class:`BudgetedLoader`), 50-step DDPM sampling;
* ``iterative``  scikit-learn ``IterativeImputer`` fitted on the training months;
* ``linear``     pandas time interpolation within each test month.

Each method runs in its own spawned child process, so its peak resident memory, its thread
settings and its imports do not leak into the others. Run ``--help`` for the flags; the full run is

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/impute_aqi36.py --budget-minutes 20 --threads 2

and ``--table-only benchmarks/results/impute_aqi36.json`` re-renders the markdown report.

``--sampler-table`` trains one model (tsdiff only, no held-out calibration, so the rows show the
raw samplers) and samples the test months with every sampler and timestep spacing of
``SAMPLER_TABLE`` at ``--nfe`` network calls per sample (default 1, 2, 4, 10)::

    OMP_NUM_THREADS=2 python -m benchmarks.impute_aqi36 --sampler-table --budget-minutes 8 \
        --n-samples 8 --test-hours 168 --precision bf16-mixed \
        --out benchmarks/results/impute_aqi36_samplers.json

Rows whose draws are provably those of an earlier row (one call; DPM-Solver++ 2M with two calls)
are copied, not re-run.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import gc
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.datasets import AQI36Split, load_aqi36
from benchmarks.pypots_csdi import pypots_csdi

WINDOW = 36
METHODS = ("tsdiff", "pypots", "iterative", "linear")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "impute_aqi36.json"
QUICK_BUDGET_MINUTES = 0.75
QUICK_TEST_HOURS = 108
QUICK_N_SAMPLES = 4
LR_MILESTONES = (0.75, 0.9)  # CSDI's MultiStepLR milestones, as fractions of the budget
COVERAGE_LEVEL = 0.9
TARGETS = {"mae_margin_ddim_vs_ddpm": 0.03, "impute_speedup": 10.0, "train_speedup": 1.5}
# (sampler, timestep spacing, smallest number of network calls) rows of --sampler-table
SAMPLER_TABLE = (
    ("ddim", "linspace", 1),
    ("ddim", "trailing", 1),
    ("dpmpp_2m", "linspace", 1),
    ("dpmpp_2m", "trailing", 1),
    ("ddpm", "linspace", 10),
)
DEFAULT_NFE = (1, 2, 4, 10)


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------
@dataclass
class BenchConfig:
    """Every setting of one benchmark run (serialised into the JSON)."""

    methods: list[str] = field(default_factory=lambda: list(METHODS))
    budget_minutes: float = 20.0
    n_samples: int = 16
    ddim_steps: int = 10
    threads: int = 2
    seed: int = 0
    quick: bool = False
    test_hours: int | None = None
    precision: str = "32-true"
    accelerator: str = "cpu"
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 1e-6
    patience: int | None = None
    inference_batch_size: int | None = None
    inference_stride: int | None = None
    pypots_val_stride: int = WINDOW
    pypots_val_hide: float = 0.1
    pypots_predict_batch_size: int = 16
    iterative_max_iter: int = 10
    verbose: bool = False
    sampler_table: bool = False
    nfe: list[int] = field(default_factory=lambda: list(DEFAULT_NFE))

    @property
    def budget_seconds(self) -> float:
        """The training budget in seconds."""
        return 60.0 * self.budget_minutes


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------
def load_split(config: BenchConfig) -> AQI36Split:
    """The AQI-36 split, test months cut to their first ``test_hours`` rows when set."""
    split = load_aqi36()
    hours = config.test_hours
    if hours is None:
        return split
    if hours < WINDOW:
        raise ValueError(f"--test-hours must be >= the window length {WINDOW}, got {hours}.")
    return AQI36Split(
        train=split.train,
        validation=split.validation,
        test_input=[f.iloc[:hours] for f in split.test_input],
        test_truth=[f.iloc[:hours] for f in split.test_truth],
        test_targets=[t[:hours] for t in split.test_targets],
    )


def window_starts(n_rows: int, length: int, stride: int) -> np.ndarray:
    """Starts of windows of ``length`` every ``stride`` rows, the last one aligned to the end."""
    if n_rows < length:
        raise ValueError(f"series of {n_rows} rows is shorter than the window {length}.")
    starts = np.arange(0, n_rows - length + 1, stride)
    if starts[-1] != n_rows - length:
        starts = np.append(starts, n_rows - length)
    return starts


def cut_windows(values: np.ndarray, length: int, stride: int) -> np.ndarray:
    """``(n_windows, length, n_columns)`` windows of a ``(n_rows, n_columns)`` array."""
    starts = window_starts(len(values), length, stride)
    return np.stack([values[s : s + length] for s in starts])


def stitch_first(windows: np.ndarray, n_rows: int, length: int, stride: int) -> np.ndarray:
    """Inverse of :func:`cut_windows` for ``(n_windows, S, length, K)``: each row from the first
    window that covers it (so the end-aligned last window only contributes its new rows)."""
    starts = window_starts(n_rows, length, stride)
    out = np.empty((windows.shape[1], n_rows, windows.shape[3]), dtype=np.float64)
    covered = 0
    for window, start in zip(windows, starts, strict=True):
        first = covered - start
        out[:, covered : start + length] = window[:, first:]
        covered = start + length
    return out


@dataclass
class Standardiser:
    """Per-column mean and standard deviation of the training months (NaN-aware)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, frames: list[pd.DataFrame]) -> Standardiser:
        """Statistics of all rows of ``frames``."""
        values = np.concatenate([f.to_numpy(np.float64) for f in frames])
        std = np.nanstd(values, axis=0)
        return cls(np.nanmean(values, axis=0), np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardised copy (NaN stays NaN)."""
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Back to original units."""
        return values * self.std + self.mean


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------
def _stack_truth(split: AQI36Split) -> tuple[np.ndarray, np.ndarray]:
    truth = np.concatenate([t.to_numpy(np.float64) for t in split.test_truth])
    mask = np.concatenate(split.test_targets)
    return truth, mask


def score_samples(samples: list[np.ndarray], split: AQI36Split) -> dict[str, float]:
    """MAE and RMSE of the sample median, CRPS, and 90 % interval coverage on the targets.

    ``samples`` holds one ``(n_samples, n_rows, n_columns)`` array per test month.
    """
    from tsdiff.metrics import imputation_report

    truth, mask = _stack_truth(split)
    report = imputation_report(truth, np.concatenate(samples, axis=1), mask, COVERAGE_LEVEL)
    return {
        **{key: report[key] for key in ("mae", "rmse", "crps")},
        "coverage90": report["coverage"],
        "n_targets": int(mask.sum()),
    }


def score_point(predictions: list[np.ndarray], split: AQI36Split) -> dict[str, Any]:
    """Scores of a point imputation; its CRPS is that of a point mass, which the quantile CRPS
    reduces to ``sum |error| / sum |truth|`` (a normalised MAE); coverage is undefined."""
    scores: dict[str, Any] = score_samples([p[None] for p in predictions], split)
    scores["coverage90"] = None
    return scores


# ----------------------------------------------------------------------------------------------
# resources
# ----------------------------------------------------------------------------------------------
class PeakMemory:
    """Peak resident set size of this process over a phase, in MiB.

    On Linux the kernel's high-water mark ``VmHWM`` is reset by writing ``5`` to
    ``/proc/self/clear_refs``, so each phase gets its own peak. Where that is refused, the peak is
    the process's lifetime maximum (``ru_maxrss``) and ``per_phase`` is False.
    """

    def __init__(self) -> None:
        self.per_phase = self._reset()

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            return True
        except OSError:
            return False

    def start(self) -> None:
        """Begin a new phase: free what earlier phases left in the allocator, reset the peak."""
        release_free_memory()
        self.per_phase = self._reset()

    @staticmethod
    def read() -> float:
        """Peak RSS (MiB) since the last :meth:`start` (or process start)."""
        try:
            with open("/proc/self/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def release_free_memory() -> None:
    """Collect garbage and hand glibc's free heap back to the kernel (``malloc_trim``), so a
    phase's peak RSS is not inflated by memory an earlier phase freed but the allocator kept."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def timed(func: Callable[[], Any], memory: PeakMemory) -> tuple[Any, float, float]:
    """Run ``func``; return its result, wall seconds and peak RSS (MiB) during the call."""
    memory.start()
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start, memory.read()


def limit_threads(threads: int) -> None:
    """Pin torch's intra-op pool (and BLAS/OpenMP pools) to ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


def _row(method: str, label: str, scores: dict[str, Any], **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"method": method, "label": label, **scores}
    row.update(extra)
    row["peak_rss_mb"] = max(
        v for k, v in row.items() if k.startswith("peak_rss_") and k != "peak_rss_mb" and v
    )
    return row


# ----------------------------------------------------------------------------------------------
# tsdiff
# ----------------------------------------------------------------------------------------------
def run_tsdiff(config: BenchConfig, split: AQI36Split) -> list[dict[str, Any]]:
    """Train one TSDiffImputer under the budget; sample the test months with DDIM and DDPM-50
    (with ``sampler_table``: with every sampler of :data:`SAMPLER_TABLE` at ``config.nfe``)."""
    from tsdiff import TSDiffImputer

    memory = PeakMemory()
    imputer = TSDiffImputer(
        window_length=WINDOW,
        max_time=config.budget_seconds,
        max_epochs=100_000,
        patience=config.patience,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        inference_batch_size=config.inference_batch_size,
        inference_stride=config.inference_stride,
        n_samples=config.n_samples,
        sampler="ddim",
        sampling_steps=config.ddim_steps,
        trainer_kwargs={"accelerator": config.accelerator, "precision": config.precision},
        random_state=config.seed,
        verbose=config.verbose,
        **({"calibration_windows": 0} if config.sampler_table else {}),
    )
    _, fit_seconds, train_peak = timed(
        lambda: imputer.fit(split.train, validation_data=split.validation), memory
    )
    windows_seen = imputer.train_windows_per_second_ * imputer.training_seconds_
    common = {
        "train_seconds": fit_seconds,
        "train_loop_seconds": imputer.training_seconds_,
        "epochs": windows_seen / imputer.n_train_windows_,
        "best_epoch": int(imputer.best_epoch_),
        "n_train_windows": int(imputer.n_train_windows_),
        "train_windows_per_second": imputer.train_windows_per_second_,
        "peak_rss_train_mb": train_peak,
        "n_samples": config.n_samples,
    }
    if config.sampler_table:
        return sampler_table_rows(imputer, config, split, memory, common)
    rows = []
    for label, sampler, steps in (
        (f"tsdiff DDIM-{config.ddim_steps}", "ddim", config.ddim_steps),
        ("tsdiff DDPM-50", "ddpm", 50),
    ):
        imputer.set_params(sampler=sampler, sampling_steps=steps)
        rows.append(
            _sampled_row(imputer, config, split, memory, label, common, sampling_steps=steps)
        )
    return rows


def _sampled_row(
    imputer: Any,
    config: BenchConfig,
    split: AQI36Split,
    memory: PeakMemory,
    label: str,
    common: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """Sample the test months once with the imputer's current sampler, timed; its row."""
    samples, seconds, peak = timed(
        lambda: imputer.sample(split.test_input, config.n_samples), memory
    )
    return _row(
        f"tsdiff-{imputer.sampler}",
        label,
        score_samples(samples, split),
        **common,
        impute_seconds=seconds,
        sampling_seconds=imputer.last_sampling_seconds_,
        peak_rss_impute_mb=peak,
        sampler=imputer.sampler,
        **extra,
        peak_memory_per_phase=memory.per_phase,
    )


def sampler_table_rows(
    imputer: Any,
    config: BenchConfig,
    split: AQI36Split,
    memory: PeakMemory,
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    """Sample the test months with every (sampler, spacing) of :data:`SAMPLER_TABLE` at each
    number of network calls in ``config.nfe``; one row each, same trained model and seed."""
    from unittest import mock

    from tsdiff.diffusion import samplers

    rows: list[dict[str, Any]] = []
    done: dict[tuple[str, str, int], dict[str, Any]] = {}
    for sampler, spacing, min_nfe in SAMPLER_TABLE:
        for nfe in (n for n in config.nfe if n >= min_nfe):
            same = _same_computation(sampler, spacing, nfe)
            if same in done:  # provably the same draws: copy the row instead of re-running
                rows.append(
                    {
                        **done[same],
                        "label": f"{sampler} {spacing} {nfe}",
                        "method": f"tsdiff-{sampler}",
                        "sampler": sampler,
                        "timestep_spacing": spacing,
                        "same_as": " ".join(map(str, same)),
                    }
                )
                continue
            imputer.set_params(sampler=sampler, sampling_steps=nfe)
            with mock.patch.dict(samplers.DEFAULT_TIMESTEP_SPACING, {sampler: spacing}):
                row = _sampled_row(
                    imputer,
                    config,
                    split,
                    memory,
                    f"{sampler} {spacing} {nfe}",
                    common,
                    timestep_spacing=spacing,
                    sampling_steps=nfe,
                )
            rows.append(row)
            done[(sampler, spacing, nfe)] = row
            print(
                f"[impute_aqi36] {row['label']}: MAE {row['mae']:.3f} CRPS {row['crps']:.4f} "
                f"cov90 {row['coverage90']:.3f} {row['impute_seconds']:.1f} s",
                flush=True,
            )
    return rows


def _same_computation(sampler: str, spacing: str, nfe: int) -> tuple[str, str, int]:
    """The (sampler, spacing, calls) whose draws equal these: one call is one first-order step
    from ``T - 1`` to the data for every sampler and spacing; with two calls DPM-Solver++ 2M
    takes two first-order steps, which are DDIM's."""
    if nfe == 1:
        return ("ddim", "linspace", 1)
    if sampler == "dpmpp_2m" and nfe == 2:
        return ("ddim", spacing, 2)
    return (sampler, spacing, nfe)


def render_sampler_table(rows: list[dict[str, Any]], reference: str = "ddim linspace 10") -> str:
    """Markdown table of a ``--sampler-table`` run, with MAE and CRPS relative to ``reference``."""
    ref = next((r for r in rows if r["label"] == reference), None)
    lines = [
        f"| sampler | spacing | network calls | MAE | CRPS | cov. 90 % | sampling s "
        f"| MAE vs {reference} | CRPS vs {reference} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mae_rel = f"{100 * (r['mae'] / ref['mae'] - 1):+.1f} %" if ref else "n/a"
        crps_rel = f"{100 * (r['crps'] / ref['crps'] - 1):+.1f} %" if ref else "n/a"
        lines.append(
            f"| {r['sampler']} | {r['timestep_spacing']} | {r['sampling_steps']} "
            f"| {r['mae']:.2f} | {r['crps']:.4f} | {_fmt(r.get('coverage90'), 3)} "
            f"| {_fmt(r.get('sampling_seconds'), 1)}{' (same)' if r.get('same_as') else ''} "
            f"| {mae_rel} | {crps_rel} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# PyPOTS CSDI
# ----------------------------------------------------------------------------------------------
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
        _row(
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


# ----------------------------------------------------------------------------------------------
# classical baselines
# ----------------------------------------------------------------------------------------------
def run_iterative(config: BenchConfig, split: AQI36Split) -> list[dict[str, Any]]:
    """scikit-learn IterativeImputer (BayesianRidge) fitted on the training months."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    memory = PeakMemory()
    train = np.concatenate([f.to_numpy(np.float64) for f in split.train])
    imputer = IterativeImputer(max_iter=config.iterative_max_iter, random_state=config.seed)
    _, train_seconds, train_peak = timed(lambda: imputer.fit(train), memory)
    predictions, impute_seconds, impute_peak = timed(
        lambda: [imputer.transform(f.to_numpy(np.float64)) for f in split.test_input], memory
    )
    if any(p.shape != f.shape for p, f in zip(predictions, split.test_input, strict=True)):
        raise RuntimeError("IterativeImputer dropped a column (empty in the training months).")
    return [
        _row(
            "iterative",
            "IterativeImputer",
            score_point(predictions, split),
            train_seconds=train_seconds,
            epochs=float(imputer.n_iter_),
            impute_seconds=impute_seconds,
            peak_rss_train_mb=train_peak,
            peak_rss_impute_mb=impute_peak,
            peak_memory_per_phase=memory.per_phase,
        )
    ]


def interpolate_linear(frame: pd.DataFrame, fallback: np.ndarray) -> np.ndarray:
    """Time interpolation of each column (held constant beyond its first and last values); a
    column with no value at all gets ``fallback`` (never the case in full test months)."""
    filled = frame.interpolate(method="time", limit_direction="both").to_numpy(np.float64)
    return np.where(np.isnan(filled), fallback, filled)


def run_linear(config: BenchConfig, split: AQI36Split) -> list[dict[str, Any]]:
    """Linear interpolation in time within each test month (training means for empty columns)."""
    memory = PeakMemory()
    fallback = Standardiser.fit(split.train).mean
    predictions, impute_seconds, impute_peak = timed(
        lambda: [interpolate_linear(f, fallback) for f in split.test_input], memory
    )
    return [
        _row(
            "linear",
            "Linear interpolation",
            score_point(predictions, split),
            train_seconds=0.0,
            impute_seconds=impute_seconds,
            peak_rss_impute_mb=impute_peak,
            peak_memory_per_phase=memory.per_phase,
        )
    ]


RUNNERS: dict[str, Callable[[BenchConfig, AQI36Split], list[dict[str, Any]]]] = {
    "tsdiff": run_tsdiff,
    "pypots": run_pypots,
    "iterative": run_iterative,
    "linear": run_linear,
}


def run_method(method: str, config: BenchConfig) -> list[dict[str, Any]]:
    """Entry point of a child process: load the data, pin threads, run one method."""
    limit_threads(config.threads)
    split = load_split(config)
    return RUNNERS[method](config, split)


def run_isolated(method: str, config: BenchConfig) -> list[dict[str, Any]]:
    """Run one method in a fresh spawned process (own peak memory, no shared state)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(run_method, method, config).result()


# ----------------------------------------------------------------------------------------------
# metadata, targets, report
# ----------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in text.splitlines():
        if line.strip().startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _memory_gib() -> float | None:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None
    return round(pages / 2**30, 1)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_info(config: BenchConfig) -> dict[str, Any]:
    """What the figures were measured on."""
    import torch

    return {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "device_used": "cpu",
        "torch_threads": config.threads,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "pypots": _version("pypots"),
        "sklearn": _version("scikit-learn"),
        "pandas": pd.__version__,
        "lightning": _version("pytorch-lightning") or _version("lightning"),
        "tsdiff": _version("tsdiff"),
        "load_average": list(os.getloadavg()),
    }


def _find(rows: list[dict[str, Any]], method: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["method"] == method), None)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def evaluate_targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Targets (a)-(c) of the issue, with the numbers behind each verdict (None: not run)."""
    ddim, ddpm = _find(rows, "tsdiff-ddim"), _find(rows, "tsdiff-ddpm")
    pypots = _find(rows, "pypots-csdi")
    others = [r for r in (pypots, _find(rows, "iterative"), _find(rows, "linear")) if r]
    out: dict[str, Any] = {}
    for name, row in (("a_ddim", ddim), ("a_ddpm", ddpm)):
        ok = None if row is None or len(others) < 3 else all(row["mae"] < o["mae"] for o in others)
        out[name] = {
            "tsdiff_mae": row["mae"] if row else None,
            "others": {o["label"]: o["mae"] for o in others},
            "pass": ok,
        }
    b: dict[str, Any] = {"pass": None}
    if ddim and pypots:
        b["speedup"] = pypots["impute_seconds"] / ddim["impute_seconds"]
        b["speedup_pass"] = b["speedup"] >= TARGETS["impute_speedup"]
    if ddim and ddpm:
        b["mae_gap_vs_ddpm50"] = ddim["mae"] / ddpm["mae"] - 1.0
        b["mae_gap_pass"] = b["mae_gap_vs_ddpm50"] <= TARGETS["mae_margin_ddim_vs_ddpm"]
    if "speedup_pass" in b and "mae_gap_pass" in b:
        b["pass"] = bool(b["speedup_pass"] and b["mae_gap_pass"])
    out["b"] = b
    c: dict[str, Any] = {"pass": None}
    if ddim and pypots:
        c["ratio_wall"] = ddim["train_windows_per_second"] / pypots["train_windows_per_second"]
        c["ratio_vs_pure"] = (
            ddim["train_windows_per_second"] / pypots["pure_train_windows_per_second"]
        )
        c["pass"] = c["ratio_vs_pure"] >= TARGETS["train_speedup"]
    out["c"] = c
    return out


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_table(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    header = (
        "| method | MAE | RMSE | CRPS | cov. 90 % | train s | epochs | train win/s | impute s "
        "| peak MB |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for r in rows:
        wps = r.get("train_windows_per_second")
        if r.get("pure_train_windows_per_second") is not None:
            wps_text = f"{wps:.1f} ({r['pure_train_windows_per_second']:.1f} pure)"
        else:
            wps_text = _fmt(wps, 1)
        lines.append(
            f"| {r['label']} | {r['mae']:.2f} | {r['rmse']:.2f} | {r['crps']:.4f} "
            f"| {_fmt(r.get('coverage90'), 3)} | {_fmt(r.get('train_seconds'), 1)} "
            f"| {_fmt(r.get('epochs'), 2)} | {wps_text} | {_fmt(r.get('impute_seconds'), 1)} "
            f"| {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def render_targets(targets: dict[str, Any]) -> str:
    """One line per target of the issue."""
    a1, a2, b, c = targets["a_ddim"], targets["a_ddpm"], targets["b"], targets["c"]
    others = ", ".join(f"{k} {v:.2f}" for k, v in a1["others"].items()) or "n/a"
    lines = [
        f"- (a) MAE below every baseline ({others}): DDIM {_fmt(a1['tsdiff_mae'])} "
        f"{_verdict(a1['pass'])}; DDPM-50 {_fmt(a2['tsdiff_mae'])} {_verdict(a2['pass'])}",
        f"- (b) imputation speed-up vs PyPOTS CSDI (>= {TARGETS['impute_speedup']:.0f}x): "
        f"{_fmt(b.get('speedup'), 1)}x; DDIM MAE vs DDPM-50 "
        f"{_fmt(100 * b['mae_gap_vs_ddpm50'] if 'mae_gap_vs_ddpm50' in b else None, 1)} % "
        f"(<= {100 * TARGETS['mae_margin_ddim_vs_ddpm']:.0f} %): {_verdict(b['pass'])}",
        f"- (c) training throughput vs PyPOTS CSDI (>= {TARGETS['train_speedup']}x): "
        f"{_fmt(c.get('ratio_vs_pure'), 2)}x against PyPOTS's pure-training windows/s "
        f"({_fmt(c.get('ratio_wall'), 2)}x wall-clock against wall-clock): {_verdict(c['pass'])}",
        "- (d) no GPU on this machine: CPU figures; full run: see the command below.",
    ]
    return "\n".join(lines)


def render_report(results: dict[str, Any]) -> str:
    """Machine, settings, table and targets in markdown."""
    meta, cfg = results["machine"], results["config"]
    if cfg.get("sampler_table"):
        return "\n".join(
            [
                f"Machine: {meta['cpu_model']}, {meta['logical_cpus']} logical CPUs, torch "
                f"{meta['torch']} ({meta['torch_threads']} threads). Run {results['date']}.",
                "",
                f"Settings: one model trained {cfg['budget_minutes']:g} min, no held-out "
                f"calibration, n_samples {cfg['n_samples']}, precision {cfg['precision']}, "
                f"seed {cfg['seed']}, {results['rows'][0]['n_targets']} targets; training "
                f"{results['rows'][0]['epochs']:.2f} epochs.",
                "",
                render_sampler_table(results["rows"]),
                "",
                f"Command: `{results['command']}`",
            ]
        )
    hours = cfg["test_hours"]
    test = "full test months" if hours is None else f"first {hours} h of each test month"
    lines = [
        f"Machine: {meta['cpu_model']}, {meta['logical_cpus']} logical CPUs, "
        f"{meta['memory_gib']} GiB RAM, GPU: {meta['gpu'] or 'none'}; torch {meta['torch']} "
        f"({meta['torch_threads']} threads), PyPOTS {meta['pypots']}, "
        f"scikit-learn {meta['sklearn']}, Python {meta['python']}. Run {results['date']}.",
        "",
        f"Settings: training budget {cfg['budget_minutes']:g} min per model, "
        f"n_samples {cfg['n_samples']}, DDIM steps {cfg['ddim_steps']}, batch size "
        f"{cfg['batch_size']}, precision {cfg['precision']}, seed {cfg['seed']}, {test} "
        f"({results['rows'][0]['n_targets']} targets).",
        "",
        render_table(results["rows"]),
        "",
        render_targets(results["targets"]),
        "",
        f"Command: `{results['command']}`",
        f"Full run: `{results['full_run_command']}`",
    ]
    return "\n".join(lines)


FULL_RUN_COMMAND = (
    "OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/impute_aqi36.py --budget-minutes 20 "
    "--threads 2 --n-samples 16"
)


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="wall-clock training budget per trained model (default 20; --quick 0.75)",
    )
    p.add_argument(
        "--n-samples",
        type=int,
        default=None,
        help="samples per window for tsdiff and PyPOTS (default 16; --quick 4)",
    )
    p.add_argument("--ddim-steps", type=int, default=10, help="tsdiff's few-step DDIM steps")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {METHODS}")
    p.add_argument("--threads", type=int, default=2, help="torch/BLAS threads per method")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_BUDGET_MINUTES} min budgets, "
        f"{QUICK_N_SAMPLES} samples, first {QUICK_TEST_HOURS} h of each test month",
    )
    p.add_argument(
        "--test-hours",
        type=int,
        default=None,
        help="score only the first N hours of each test month (default: all)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="32-true", help="tsdiff precision, e.g. bf16-mixed")
    p.add_argument("--accelerator", default="cpu", help="tsdiff's accelerator: cpu or gpu")
    p.add_argument("--batch-size", type=int, default=16, help="training batch (both models)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (both)")
    p.add_argument("--weight-decay", type=float, default=1e-6, help="Adam weight decay (both)")
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="stop after N epochs without validation gain (both; default: never)",
    )
    p.add_argument(
        "--inference-batch-size",
        type=int,
        default=None,
        help="tsdiff sampling batch (default: the estimator's device default)",
    )
    p.add_argument(
        "--inference-stride",
        type=int,
        default=None,
        help="tsdiff's step between imputation windows (default: window_length // 2)",
    )
    p.add_argument(
        "--pypots-val-stride",
        type=int,
        default=WINDOW,
        help="stride of PyPOTS's validation windows (its validation costs 50 passes)",
    )
    p.add_argument(
        "--pypots-predict-batch-size",
        type=int,
        default=16,
        help="windows per PyPOTS predict batch (16 was its fastest per window on 2 CPU cores: "
        "42.9 passes/s vs 20.8 at 128)",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run methods in this process (debugging; peak memory then shared)",
    )
    p.add_argument("--verbose", action="store_true", help="progress bars and training logs")
    p.add_argument(
        "--sampler-table",
        action="store_true",
        help="tsdiff only: one trained model, every sampler/spacing at each --nfe",
    )
    p.add_argument(
        "--nfe",
        default=",".join(str(n) for n in DEFAULT_NFE),
        help="comma list of network calls per sample for --sampler-table",
    )
    p.add_argument(
        "--table-only",
        type=Path,
        default=None,
        metavar="JSON",
        help="print the markdown report of an existing results file and exit",
    )
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """Resolve ``--quick`` defaults into a :class:`BenchConfig`."""
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.sampler_table:
        methods = ["tsdiff"]
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    quick = args.quick
    return BenchConfig(
        methods=methods,
        budget_minutes=args.budget_minutes or (QUICK_BUDGET_MINUTES if quick else 20.0),
        n_samples=args.n_samples or (QUICK_N_SAMPLES if quick else 16),
        ddim_steps=args.ddim_steps,
        threads=args.threads,
        seed=args.seed,
        quick=quick,
        test_hours=args.test_hours or (QUICK_TEST_HOURS if quick else None),
        precision=args.precision,
        accelerator=args.accelerator,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        patience=args.patience,
        inference_batch_size=args.inference_batch_size,
        inference_stride=args.inference_stride,
        pypots_val_stride=args.pypots_val_stride,
        pypots_predict_batch_size=args.pypots_predict_batch_size,
        verbose=args.verbose,
        sampler_table=args.sampler_table,
        nfe=[int(n) for n in args.nfe.split(",") if n.strip()],
    )


def run_benchmark(config: BenchConfig, in_process: bool = False) -> dict[str, Any]:
    """Run the chosen methods one after another; return the results document."""
    os.environ["OMP_NUM_THREADS"] = str(config.threads)  # inherited by the spawned children
    rows: list[dict[str, Any]] = []
    for method in config.methods:
        print(f"[impute_aqi36] {method} ...", flush=True)
        start = time.perf_counter()
        new = run_method(method, config) if in_process else run_isolated(method, config)
        rows.extend(new)
        print(
            f"[impute_aqi36] {method} done in {time.perf_counter() - start:.0f} s: "
            + ", ".join(f"{r['label']} MAE {r['mae']:.2f}" for r in new),
            flush=True,
        )
    return {
        "benchmark": "AQI-36 imputation (CSDI protocol)",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "full_run_command": FULL_RUN_COMMAND,
        "config": asdict(config),
        "machine": machine_info(config),
        "memory_note": (
            "peak resident set size of the method's own child process during each phase "
            "(VmHWM reset between phases), including the Python interpreter and libraries"
        ),
        "crps_note": "point methods: CRPS of a point mass = sum|error| / sum|truth|",
        "rows": rows,
        "targets": {} if config.sampler_table else evaluate_targets(rows),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (or render a saved one) and print the markdown report."""
    args = parse_args(argv)
    if args.table_only is not None:
        print(render_report(json.loads(args.table_only.read_text())))
        return
    config = config_from_args(args)
    results = run_benchmark(config, in_process=args.in_process)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(render_report(results))
    print(f"\nresults written to {args.out}")


if __name__ == "__main__":
    main()
