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

    OMP_NUM_THREADS=2 python -m benchmarks.impute_aqi36 --budget-minutes 20 --threads 2

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

# Modules, one job each: config (constants, BenchConfig), data (split, windows, scores),
# resources (peak memory, timing, threads), tsdiff_method, pypots_method, baselines (the
# methods), report (machine, targets, markdown) and cli (flags, child processes, main).

from __future__ import annotations

from benchmarks.impute_aqi36.baselines import interpolate_linear, run_iterative, run_linear
from benchmarks.impute_aqi36.cli import config_from_args, main, parse_args, run_benchmark
from benchmarks.impute_aqi36.config import (
    METHODS,
    SAMPLER_TABLE,
    TARGETS,
    WINDOW,
    BenchConfig,
)
from benchmarks.impute_aqi36.data import (
    Standardiser,
    cut_windows,
    load_split,
    score_point,
    score_samples,
    stitch_first,
    window_starts,
)
from benchmarks.impute_aqi36.pypots_method import (
    BudgetClock,
    BudgetedLoader,
    pypots_samples,
    pypots_test_windows,
    run_pypots,
)
from benchmarks.impute_aqi36.report import (
    evaluate_targets,
    render_report,
    render_sampler_table,
    render_table,
)
from benchmarks.impute_aqi36.resources import PeakMemory, timed
from benchmarks.impute_aqi36.tsdiff_method import run_tsdiff

__all__ = [
    "METHODS",
    "SAMPLER_TABLE",
    "TARGETS",
    "WINDOW",
    "BenchConfig",
    "BudgetClock",
    "BudgetedLoader",
    "PeakMemory",
    "Standardiser",
    "config_from_args",
    "cut_windows",
    "evaluate_targets",
    "interpolate_linear",
    "load_split",
    "main",
    "parse_args",
    "pypots_samples",
    "pypots_test_windows",
    "render_report",
    "render_sampler_table",
    "render_table",
    "run_benchmark",
    "run_iterative",
    "run_linear",
    "run_pypots",
    "run_tsdiff",
    "score_point",
    "score_samples",
    "stitch_first",
    "timed",
    "window_starts",
]
