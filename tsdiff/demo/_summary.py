"""The demo's printed summary and its comparison with the pretrained models' figures."""

from __future__ import annotations

from typing import Any


def _row(name: str, scores: dict[str, float]) -> str:
    cover = f"{scores['coverage']:>11.1%}" if "coverage" in scores else f"{'-':>11}"
    return f"  {name:<24}{scores['mae']:>9.2f}{scores['rmse']:>9.2f}{scores['crps']:>9.3f}{cover}"


def _headline(title: str, part: dict[str, Any], timing: str) -> None:
    """The title line of a part: which model, its training (when live) and ``timing``."""
    if "fit_seconds" in part:
        timing = f"{part['n_epochs']} epochs in {part['fit_seconds']:.0f} s, " + timing
    print(f"\n{title} ({part['model']} model; {timing})")


def print_summary(results: dict[str, Any]) -> None:
    """Print the tables of the results (stdout): the summary of ``tsdiff demo``."""
    imp = results.get("imputation")
    if imp:
        _headline(
            f"Imputation, Beijing PM2.5/PM10 at 12 stations, held-out {imp['period'][0][:10]} .. "
            f"{imp['period'][1][:10]}",
            imp,
            f"{imp['sample_seconds']:.0f} s sampling, {imp['sampler']}",
        )
        header = f"  {'method':<24}{'MAE':>9}{'RMSE':>9}{'CRPS':>9}{'90% cover':>11}"
        sections = [("all", imp, imp["n_hidden"])]
        if "outages" in imp:
            sections.append(("outages", imp["outages"], imp["outages"]["n_cells"]))
        for label, part, n in sections:
            what = (
                f"{n} hidden cells (10 % random + station outages)"
                if label == "all"
                else f"{n} cells of {len(part['blocks'])} station outages of 24-72 h"
            )
            print(f" {what}:")
            print(header)
            print(_row("tsdiff (median)", part["tsdiff"]))
            print(_row("linear interpolation", part["linear_interpolation"]))
            print(_row("IterativeImputer", part["iterative_imputer"]))
        gains = imp["gains"]
        line = f"  MAE below linear interpolation: {gains['overall_mae_vs_linear']:.0%} overall"
        if "outage_mae_vs_linear" in gains:
            line += f", {gains['outage_mae_vs_linear']:.0%} on the outages"
        print(line)
        if "plot" in imp:
            print(f"  plot: {imp['plot']}")
    det = results.get("detection")
    if det:
        _headline(
            "Anomaly detection, server metrics (SMD machine-1-6), labelled test slice",
            det,
            f"{det['score_seconds']:.0f} s scoring",
        )
        print(f"  {'scores':<24}{'AUC-ROC':>9}{'AUC-PR':>9}")
        print(f"  {'tsdiff':<24}{det['auc_roc']:>9.3f}{det['auc_pr']:>9.3f}")
        print(f"  {'random':<24}{0.5:>9.3f}{det['auc_pr_random']:>9.3f}")
        print(f"  F1 at the detector's label-free threshold: {det['f1_at_threshold']:.3f}")
        if "plot" in det:
            print(f"  plot: {det['plot']}")
    elif results.get("detection_skipped"):
        print(f"\nAnomaly detection skipped: {results['detection_skipped']}")
    comparison = results.get("pretrained_comparison")
    if comparison:
        print("\nTrained live vs the pretrained models (their figures from tsdiff/pretrained):")
        for key, (live, pre) in comparison.items():
            print(f"  {key:<28} live {live:>8.3f}   pretrained {pre:>8.3f}")
    print(f"\nresults: {results['results_file']}")
    print(f"wall time: {results['total_seconds']:.0f} s")


def comparison(results: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Live figures beside the pretrained ones recorded in the manifest (same demo settings)."""
    from tsdiff.pretrained import manifest

    try:
        figures = manifest().get("training", {}).get("figures", {})
    except FileNotFoundError:
        return {}
    pairs: dict[str, tuple[float, float]] = {}
    imp, pre = results.get("imputation", {}), figures.get("imputation", {})
    if imp and pre:
        pairs["imputation MAE (all)"] = (imp["tsdiff"]["mae"], pre["tsdiff"]["mae"])
        if "outages" in imp and "outages" in pre:
            pairs["imputation MAE (outages)"] = (
                imp["outages"]["tsdiff"]["mae"],
                pre["outages"]["tsdiff"]["mae"],
            )
        pairs["imputation 90% coverage"] = (imp["tsdiff"]["coverage"], pre["tsdiff"]["coverage"])
    det, pre_det = results.get("detection", {}), figures.get("detection", {})
    if det and pre_det:
        pairs["detection AUC-PR"] = (det["auc_pr"], pre_det["auc_pr"])
        pairs["detection AUC-ROC"] = (det["auc_roc"], pre_det["auc_roc"])
    return pairs
