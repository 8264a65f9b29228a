"""Command line: flags, one child process per method, the results document."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks._report import Flag, add_flags
from benchmarks.datasets import AQI36Split
from benchmarks.impute_aqi36.baselines import run_iterative, run_linear
from benchmarks.impute_aqi36.config import (
    DEFAULT_NFE,
    DEFAULT_OUT,
    METHODS,
    QUICK_BUDGET_MINUTES,
    QUICK_N_SAMPLES,
    QUICK_TEST_HOURS,
    WINDOW,
    BenchConfig,
)
from benchmarks.impute_aqi36.data import load_split
from benchmarks.impute_aqi36.pypots_method import run_pypots
from benchmarks.impute_aqi36.report import (
    FULL_RUN_COMMAND,
    evaluate_targets,
    machine_info,
    render_report,
)
from benchmarks.impute_aqi36.resources import limit_threads
from benchmarks.impute_aqi36.tsdiff_method import run_tsdiff

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


#: The flags of the command line, in ``--help`` order (``--table-only`` follows them).
FLAGS: tuple[Flag, ...] = (
    (
        "--budget-minutes",
        float,
        None,
        "wall-clock training budget per trained model (default 20; --quick 0.75)",
    ),
    ("--n-samples", int, None, "samples per window for tsdiff and PyPOTS (default 16; --quick 4)"),
    ("--ddim-steps", int, 10, "tsdiff's few-step DDIM steps"),
    ("--methods", str, ",".join(METHODS), f"comma list of {METHODS}"),
    ("--threads", int, 2, "torch/BLAS threads per method"),
    (
        "--quick",
        bool,
        False,
        f"smoke run: {QUICK_BUDGET_MINUTES} min budgets, "
        f"{QUICK_N_SAMPLES} samples, first {QUICK_TEST_HOURS} h of each test month",
    ),
    ("--test-hours", int, None, "score only the first N hours of each test month (default: all)"),
    ("--out", Path, DEFAULT_OUT, "JSON results path"),
    ("--seed", int, 0, None),
    ("--precision", str, "32-true", "tsdiff precision, e.g. bf16-mixed"),
    ("--accelerator", str, "cpu", "tsdiff's accelerator: cpu or gpu"),
    ("--batch-size", int, 16, "training batch (both models)"),
    ("--lr", float, 1e-3, "Adam learning rate (both)"),
    ("--weight-decay", float, 1e-6, "Adam weight decay (both)"),
    ("--patience", int, None, "stop after N epochs without validation gain (both; default: never)"),
    (
        "--inference-batch-size",
        int,
        None,
        "tsdiff sampling batch (default: the estimator's device default)",
    ),
    (
        "--inference-stride",
        int,
        None,
        "tsdiff's step between imputation windows (default: window_length // 2)",
    ),
    (
        "--pypots-val-stride",
        int,
        WINDOW,
        "stride of PyPOTS's validation windows (its validation costs 50 passes)",
    ),
    (
        "--pypots-predict-batch-size",
        int,
        16,
        "windows per PyPOTS predict batch (16 was its fastest per window on 2 CPU cores: "
        "42.9 passes/s vs 20.8 at 128)",
    ),
    (
        "--in-process",
        bool,
        False,
        "run methods in this process (debugging; peak memory then shared)",
    ),
    ("--verbose", bool, False, "progress bars and training logs"),
    (
        "--sampler-table",
        bool,
        False,
        "tsdiff only: one trained model, every sampler/spacing at each --nfe",
    ),
    (
        "--nfe",
        str,
        ",".join(str(n) for n in DEFAULT_NFE),
        "comma list of network calls per sample for --sampler-table",
    ),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.impute_aqi36",
        description=importlib.import_module("benchmarks.impute_aqi36").__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flags(p, FLAGS)
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
