"""Markdown tables of a report, merging the reports of separate runs, saving one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks._report import markdown_table
from benchmarks.detect.evaluation import mean_over, mean_over_seeds

TABLE_COLUMNS = (
    "method",
    "VUS-PR",
    "AUC-PR",
    "AUC-ROC",
    "best F1 (upper bound)",
    "F1 @ label-free thr.",
    "F1 ratio",
    "F1 @ drift-adj. thr.",
    "ratio",
    "fit s",
    "score s",
    "top-3 attribution",
)


def table(summary: dict[str, Any], title: str) -> str:
    """A markdown table of method summaries, best VUS-PR first."""
    cells = (
        [
            method,
            *(f"{r[key]:.3f}" for key in ("vus_pr", "auc_pr", "auc_roc", "best_f1", "f1")),
            f"{r['f1_ratio']:.2f}",
            f"{r['f1_drift']:.3f}",
            f"{r['f1_drift_ratio']:.2f}",
            f"{r['fit_seconds']:.0f}",
            f"{r['score_seconds']:.1f}",
            f"{r['attribution_hit_rate']:.2f}" if "attribution_hit_rate" in r else "-",
        ]
        for method, r in sorted(summary.items(), key=lambda kv: -kv[1]["vus_pr"])
    )
    return "\n".join([f"**{title}**", "", *markdown_table(TABLE_COLUMNS, cells)])


def tables(report: dict[str, Any]) -> str:
    """Markdown tables of a report: each seed's SMD and SKAB means, then the means over seeds."""
    out = []
    for seed, run in report["seeds"].items():
        if "smd" in run:
            machines = list(run["smd"]["machines"])
            title = f"seed {seed}: SMD ({', '.join(machines)}), mean over machines"
            out.append(table(run["smd"]["mean"], title))
        if "skab" in run:
            title = f"seed {seed}: SKAB ({len(run['skab']['runs'])} runs), mean over runs"
            out.append(table(run["skab"]["results"], title))
    if len(report["seeds"]) > 1:
        for dataset, summary in report.get("mean_over_seeds", {}).items():
            out.append(table(summary, f"{dataset.upper()}: mean over seeds (n_seeds per row)"))
    return "\n\n".join(out)


def merge_reports(paths: list[Path]) -> dict[str, Any]:
    """One report from several runs' files (e.g. seeds or machines run separately): per seed,
    SMD results pooled per machine and method and SKAB results per method, later files
    winning; commands and logs are kept."""
    parts = [json.loads(p.read_text()) for p in paths]
    seeds: dict[str, dict[str, Any]] = {}
    for part in parts:
        for seed, run in part["seeds"].items():
            into = seeds.setdefault(seed, {})
            for machine, methods in run.get("smd", {}).get("machines", {}).items():
                machines = into.setdefault("smd", {"machines": {}})["machines"]
                machines.setdefault(machine, {}).update(methods)
            if "skab" in run:
                skab = into.setdefault("skab", {"runs": run["skab"]["runs"], "results": {}})
                skab["results"].update(run["skab"]["results"])
    for run in seeds.values():
        if "smd" in run:
            run["smd"]["mean"] = mean_over(run["smd"]["machines"])
    return {
        "merged_from": [
            {"file": p.name, "command": r.get("command"), "seconds": r.get("seconds")}
            for p, r in zip(paths, parts, strict=True)
        ],
        "machine": parts[-1].get("machine"),
        "protocol": parts[-1].get("protocol"),
        "seeds": seeds,
        "mean_over_seeds": mean_over_seeds(seeds),
        "log": [line for r in parts for line in r.get("log", [])],
    }


def save(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=float))
