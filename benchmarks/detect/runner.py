"""Every method on a split, every split of every seed."""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.datasets import CALIBRATION_FRACTION, SMD_MACHINES, Split, load_skab, load_smd
from benchmarks.detect.baselines import (
    BASELINES,
    run_flat,
    run_per_sensor,
    run_random,
    run_rolling_zscore,
)
from benchmarks.detect.evaluation import RISK, evaluate, mean_over, mean_over_seeds
from benchmarks.detect.output import MethodOutput, smoothed, variant_label
from benchmarks.detect.report import save
from benchmarks.detect.tsdiff_method import (
    detector_postprocessing,
    make_detector,
    run_tsdiff,
    tsdiff_overrides,
)
from tsdiff.scoring import smoothing_windows

Log = Callable[[str], None]


def methods_of(
    split: Split, args: argparse.Namespace, seed: int
) -> list[tuple[str, Callable[[], MethodOutput]]]:
    """The methods to run on ``split``, by name."""
    methods: list[tuple[str, Callable[[], MethodOutput]]] = []
    if not args.skip_tsdiff:
        overrides = tsdiff_overrides(args)
        methods.append(("tsdiff", lambda: run_tsdiff(split, seed, args.max_time, overrides)))
    if not args.only_tsdiff:
        width, limit = args.baseline_window, args.max_train_windows
        for name in BASELINES:
            methods.append((f"{name} (flat)", partial(run_flat, split, name, width, seed, limit)))
            methods.append(
                (f"{name} (per-sensor)", partial(run_per_sensor, split, name, width, seed, limit))
            )
        methods.append(("rolling z-score", partial(run_rolling_zscore, split, args.zscore_window)))
    methods.append(("random", partial(run_random, split, seed)))
    return methods


def run_split(split: Split, args: argparse.Namespace, seed: int, log: Log) -> dict[str, Any]:
    """Every method (and every post-processed variant of the baselines) on one split."""
    results: dict[str, Any] = {}
    post = detector_postprocessing(make_detector(seed, args.max_time, **tsdiff_overrides(args)))
    for name, method in methods_of(split, args, seed):
        start = time.perf_counter()
        output = method()
        variants = [(name, output)]
        baseline = name not in ("tsdiff", "random")
        for spec in args.smoothed_baselines if baseline else []:
            windows = smoothing_windows([int(w) for w in spec.split("+")])
            if windows == (1,):
                continue
            what = f"smoothed {spec}" if len(windows) == 1 else f"multi-scale {spec}"
            variants.append((variant_label(name, what), smoothed(output, windows)))
        if baseline and output.sensors is not None and args.tsdiff_postprocessed_baselines:
            # exactly tsdiff's post-processing: its smoothing, aggregation and score cap
            label = variant_label(name, "tsdiff post-processing")
            variants.append((label, smoothed(output, **post)))
        for label, out in variants:
            results[label] = r = evaluate(split, out, args.vus_window)
            log(
                f"  seed {seed} {split.name:12s} {label:34s} VUS-PR {r['vus_pr']:.3f} "
                f"AUC-PR {r['auc_pr']:.3f} AUC-ROC {r['auc_roc']:.3f} "
                f"bestF1 {r['best_f1']:.3f} F1@thr {r['f1']:.3f} F1@drift {r['f1_drift']:.3f} "
                f"fit {r['fit_seconds']:.0f}s score {r['score_seconds']:.1f}s "
                f"({time.perf_counter() - start:.0f}s)"
                + (f" attr {r['attribution']['hit_rate']:.2f}" if "attribution" in r else "")
            )
    return results


def run(args: argparse.Namespace, command: str, log: Log) -> dict[str, Any]:
    """Every seed on SMD and SKAB, saving the report after each split."""
    import torch

    started = time.perf_counter()
    report: dict[str, Any] = {
        "command": command,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": args.threads,
            "torch": torch.__version__,
        },
        "protocol": {
            "calibration_fraction": CALIBRATION_FRACTION,
            "risk": RISK,
            "vus_window": args.vus_window,
            "baseline_window": args.baseline_window,
            "zscore_window": args.zscore_window,
            "smoothed_baselines": args.smoothed_baselines,
            "tsdiff_postprocessed_baselines": args.tsdiff_postprocessed_baselines,
        },
        "seeds": {},
    }
    machines = args.machines or list(SMD_MACHINES)
    for seed in args.seeds:
        current: dict[str, Any] = {}
        report["seeds"][str(seed)] = current
        if not args.skip_smd:
            smd: dict[str, Any] = {}
            for machine in machines:
                smd[machine] = run_split(load_smd(machine), args, seed, log)
                current["smd"] = {"machines": smd, "mean": mean_over(smd)}
                save(args.output, report)
        if not args.skip_skab:
            skab = load_skab(not args.no_anomaly_free, args.skab_runs)
            current["skab"] = {
                "runs": skab.test_names,
                "results": run_split(skab, args, seed, log),
            }
            save(args.output, report)
    report["mean_over_seeds"] = mean_over_seeds(report["seeds"])
    report["seconds"] = time.perf_counter() - started
    return report
