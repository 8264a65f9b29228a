"""tsdiff: one TSDiffImputer trained under the budget, sampled with DDIM and DDPM-50 (or with
every sampler of the ``--sampler-table``)."""

from __future__ import annotations

from typing import Any

from benchmarks.datasets import AQI36Split
from benchmarks.impute_aqi36.config import SAMPLER_TABLE, WINDOW, BenchConfig
from benchmarks.impute_aqi36.data import score_samples
from benchmarks.impute_aqi36.resources import PeakMemory, result_row, timed


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
    return result_row(
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
