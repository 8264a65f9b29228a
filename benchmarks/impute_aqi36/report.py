"""Machine description, the issue's targets and the markdown report of a results document."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from typing import Any

import pandas as pd

from benchmarks._report import markdown_table
from benchmarks.impute_aqi36.config import TARGETS, BenchConfig

FULL_RUN_COMMAND = (
    "OMP_NUM_THREADS=2 python -m benchmarks.impute_aqi36 --budget-minutes 20 --threads 2 "
    "--n-samples 16"
)


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


TABLE_COLUMNS = (
    "method",
    "MAE",
    "RMSE",
    "CRPS",
    "cov. 90 %",
    "train s",
    "epochs",
    "train win/s",
    "impute s",
    "peak MB",
)


def _throughput(row: dict[str, Any]) -> str:
    """Training windows/s, with PyPOTS's pure-training rate where measured."""
    wps = row.get("train_windows_per_second")
    if row.get("pure_train_windows_per_second") is None:
        return _fmt(wps, 1)
    return f"{wps:.1f} ({row['pure_train_windows_per_second']:.1f} pure)"


def render_table(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    cells = (
        [
            r["label"],
            f"{r['mae']:.2f}",
            f"{r['rmse']:.2f}",
            f"{r['crps']:.4f}",
            _fmt(r.get("coverage90"), 3),
            _fmt(r.get("train_seconds"), 1),
            _fmt(r.get("epochs"), 2),
            _throughput(r),
            _fmt(r.get("impute_seconds"), 1),
            f"{r['peak_rss_mb']:.0f}",
        ]
        for r in rows
    )
    return "\n".join(markdown_table(TABLE_COLUMNS, cells))


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


def render_sampler_table(rows: list[dict[str, Any]], reference: str = "ddim linspace 10") -> str:
    """Markdown table of a ``--sampler-table`` run, with MAE and CRPS relative to ``reference``."""
    ref = next((r for r in rows if r["label"] == reference), None)

    def relative(r: dict[str, Any], key: str) -> str:
        return f"{100 * (r[key] / ref[key] - 1):+.1f} %" if ref else "n/a"

    columns = (
        *("sampler", "spacing", "network calls", "MAE", "CRPS", "cov. 90 %", "sampling s"),
        f"MAE vs {reference}",
        f"CRPS vs {reference}",
    )
    cells = (
        [
            r["sampler"],
            r["timestep_spacing"],
            str(r["sampling_steps"]),
            f"{r['mae']:.2f}",
            f"{r['crps']:.4f}",
            _fmt(r.get("coverage90"), 3),
            _fmt(r.get("sampling_seconds"), 1) + (" (same)" if r.get("same_as") else ""),
            relative(r, "mae"),
            relative(r, "crps"),
        ]
        for r in rows
    )
    return "\n".join(markdown_table(columns, cells))
