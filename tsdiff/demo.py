"""``tsdiff demo``: the library's main job on bundled real data, in a few CPU minutes.

Imputation part
    The bundled air-quality data (two Beijing stations, 12 sensors, 3 months hourly) gets about
    10 % of its observed cells hidden at random plus one 24-hour outage of one sensor (seeded). A
    small imputer is fitted on the data with those cells removed (it never sees them), then
    imputes them; MAE, RMSE, CRPS and the coverage of the 90 % interval are printed beside linear
    interpolation, and a plot shows a stretch of the outage sensor with the observed values, the
    hidden truth, the median imputation and the 90 % band.
Detection part
    A small detector is fitted on the bundled server-metrics training slice and scores the
    labelled test slice: AUC-ROC and AUC-PR (with the random-score baseline) and the F1 at the
    detector's own, label-free threshold are printed, and a second plot shows the scores against
    the labelled anomalies.

The models are the presets ``demo_imputer`` and ``demo_detector`` (``--quick``:
``demo_imputer_quick``, ``demo_detector_quick``) in ``tsdiff/configs/``.

Everything is written to ``out_dir``: ``imputation.png``, ``detection.png`` and ``results.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Presets (``tsdiff/configs/*.yaml``) of the demo's models and of ``--quick``'s tiny ones. Each
#: trains a fixed number of epochs, so every machine fast enough trains the same model.
IMPUTER_PRESET, QUICK_IMPUTER_PRESET = "demo_imputer", "demo_imputer_quick"
DETECTOR_PRESET, QUICK_DETECTOR_PRESET = "demo_detector", "demo_detector_quick"
#: The detector's cap in seconds for slow machines (it stops after its preset's epochs).
DEFAULT_DETECTION_MAX_TIME = 300.0
#: The imputer trains a fixed number of epochs (the same model on every machine fast enough),
#: with this cap in seconds for slow machines.
DEFAULT_IMPUTATION_MAX_TIME = 600.0
OUTAGE_COLUMN = "Dongsi.PM2.5"
OUTAGE_HOURS = 24
QUICK_ROWS = 336  # two weeks


class _Reporter:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def info(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


def _estimator(preset: str, **overrides: Any) -> tuple[Any, int]:
    """The unfitted estimator of a preset and its number of epochs."""
    from tsdiff.config import build_estimator, load_config

    config = load_config(preset)
    estimator = build_estimator(config, **overrides)
    return estimator, int(estimator.get_params()["max_epochs"])


def _epochs(preset: str) -> int:
    from tsdiff.config import load_config

    return int(load_config(preset).estimator.max_epochs)


def hide_for_demo(
    data: pd.DataFrame, fraction: float, seed: int, outage_column: str | None = OUTAGE_COLUMN
) -> tuple[pd.DataFrame, np.ndarray, tuple[int, int] | None]:
    """Hide ``fraction`` of the observed cells at random plus a 24-hour outage of one sensor.

    Returns the data with the cells removed, the mask of hidden (observed) cells and the row
    range of the outage.
    """
    from tsdiff.evaluation import hide_observed

    hidden, mask = hide_observed(data, fraction, seed)
    outage = None
    if outage_column is not None and outage_column in data.columns and len(data) > 4 * OUTAGE_HOURS:
        j = list(data.columns).index(outage_column)
        rng = np.random.default_rng(seed + 1)
        start = int(rng.integers(OUTAGE_HOURS, len(data) - 2 * OUTAGE_HOURS))
        rows = np.arange(start, start + OUTAGE_HOURS)
        observed = ~np.isnan(data.to_numpy()[rows, j])
        mask[rows[observed], j] = True
        hidden.iloc[rows, j] = np.nan
        outage = (start, start + OUTAGE_HOURS)
    return hidden, mask, outage


def imputation_demo(
    out_dir: Path,
    *,
    max_time: float,
    seed: int = 0,
    n_samples: int | None = None,
    fraction: float = 0.1,
    plot: bool = True,
    quiet: bool = False,
    quick: bool = False,
) -> dict[str, Any]:
    """Run the imputation part; returns its results (also plotted to ``imputation.png``)."""
    from tsdiff import metrics
    from tsdiff.datasets import load_air_quality
    from tsdiff.evaluation import linear_interpolation

    report = _Reporter(quiet)
    data = load_air_quality()
    if quick:
        data = data.iloc[:QUICK_ROWS]
    hidden, mask, outage = hide_for_demo(data, fraction, seed)
    report.info(
        f"[imputation] air quality, {data.shape[0]} hours x {data.shape[1]} sensors; hiding "
        f"{int(mask.sum())} observed cells ({fraction:.0%} at random + a {OUTAGE_HOURS} h "
        "outage of "
        f"{OUTAGE_COLUMN})"
    )
    imputer, epochs = _estimator(
        QUICK_IMPUTER_PRESET if quick else IMPUTER_PRESET,
        n_samples=n_samples,
        max_time=max_time,
        random_state=seed,
        verbose=not quiet,
    )
    report.info(f"[imputation] fitting {epochs} epochs (at most {max_time:.0f} s) ...")
    start = time.perf_counter()
    imputer.fit(hidden)
    fit_seconds = time.perf_counter() - start
    report.info(f"[imputation] {imputer.n_epochs_} epochs in {fit_seconds:.0f} s; sampling ...")
    start = time.perf_counter()
    samples = np.asarray(imputer.sample(hidden))
    sample_seconds = time.perf_counter() - start
    truth = data.to_numpy()
    scores = metrics.imputation_report(truth, samples, mask, coverage_level=0.9)
    linear = linear_interpolation(hidden).to_numpy()
    result: dict[str, Any] = {
        "n_hidden": int(mask.sum()),
        "n_epochs": int(imputer.n_epochs_),
        "fit_seconds": round(fit_seconds, 1),
        "sample_seconds": round(sample_seconds, 1),
        "n_samples": int(samples.shape[0]),
        "tsdiff": {k: round(v, 4) for k, v in scores.items()},
        "linear_interpolation": {
            "mae": round(metrics.mae(truth, linear, mask), 4),
            "rmse": round(metrics.rmse(truth, linear, mask), 4),
            "crps": round(metrics.crps(truth, linear[None], mask), 4),
        },
    }
    if outage is not None:
        j = list(data.columns).index(OUTAGE_COLUMN)
        block = np.zeros_like(mask)
        block[outage[0] : outage[1], j] = mask[outage[0] : outage[1], j]
        median = np.median(samples, axis=0)
        result["outage"] = {
            "column": OUTAGE_COLUMN,
            "start": str(data.index[outage[0]]),
            "tsdiff_mae": round(metrics.mae(truth, median, block), 4),
            "linear_mae": round(metrics.mae(truth, linear, block), 4),
        }
    if plot:
        path = out_dir / "imputation.png"
        _plot_imputation(path, data, hidden, samples, mask, outage)
        result["plot"] = str(path)
    return result


def _plot_imputation(
    path: Path,
    data: pd.DataFrame,
    hidden: pd.DataFrame,
    samples: np.ndarray,
    mask: np.ndarray,
    outage: tuple[int, int] | None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column = OUTAGE_COLUMN if OUTAGE_COLUMN in data.columns else data.columns[0]
    j = list(data.columns).index(column)
    centre = (outage[0] + outage[1]) // 2 if outage is not None else len(data) // 2
    lo, hi = max(centre - 84, 0), min(centre + 84, len(data))
    rows = slice(lo, hi)
    times = data.index[rows]
    median = np.median(samples[:, rows, j], axis=0)
    lower, upper = np.quantile(samples[:, rows, j], [0.05, 0.95], axis=0)
    target = mask[rows, j]
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=110)
    ax.fill_between(
        times, lower, upper, color="tab:blue", alpha=0.25, linewidth=0, label="tsdiff 90 % band"
    )
    ax.plot(times, median, color="tab:blue", linewidth=1.2, label="tsdiff median")
    ax.plot(times, hidden.iloc[rows, j], ".", color="black", markersize=4, label="observed (given)")
    ax.plot(
        times[target],
        data.iloc[rows, j].to_numpy()[target],
        "x",
        color="tab:red",
        markersize=6,
        label="hidden truth",
    )
    truth = data.iloc[rows, j].to_numpy(dtype=float)
    low, high = np.nanmin(truth), np.nanmax(truth)
    margin = 0.25 * max(high - low, 1e-9)
    ax.set_ylim(low - margin, high + margin)  # a wild band must not flatten the data
    ax.set_title(f"{column}: imputation of hidden cells (random 10 % + a {OUTAGE_HOURS} h outage)")
    ax.set_ylabel(column)
    ax.legend(loc="upper left", fontsize=8, ncol=4)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def detection_demo(
    out_dir: Path,
    *,
    max_time: float,
    seed: int = 0,
    plot: bool = True,
    quiet: bool = False,
    quick: bool = False,
) -> dict[str, Any]:
    """Run the detection part; returns its results (also plotted to ``detection.png``).

    Scores and flags (the detector's label-free threshold) come from one sampling pass.
    """
    from tsdiff import metrics
    from tsdiff.datasets import load_server_metrics
    from tsdiff.evaluation import score_once

    report = _Reporter(quiet)
    train = load_server_metrics("train")
    test = load_server_metrics("test")
    labels = test.pop("label").to_numpy()
    if quick:
        train, test, labels = train.iloc[:400], test.iloc[:800], labels[:800]
    report.info(
        f"[detection] server metrics: training on {train.shape[0]} minutes, scoring "
        f"{test.shape[0]} "
        f"minutes ({labels.mean():.1%} labelled anomalous) ..."
    )
    detector, _ = _estimator(
        QUICK_DETECTOR_PRESET if quick else DETECTOR_PRESET,
        max_time=max_time,
        random_state=seed,
        verbose=not quiet,
    )
    start = time.perf_counter()
    detector.fit(train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores, flags = score_once(detector, test)
    score_seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "n_epochs": int(detector.n_epochs_),
        "fit_seconds": round(fit_seconds, 1),
        "score_seconds": round(score_seconds, 1),
        "auc_roc": round(metrics.auc_roc(labels, scores), 4),
        "auc_pr": round(metrics.auc_pr(labels, scores), 4),
        "auc_pr_random": round(float(labels.mean()), 4),
    }
    if flags is not None:
        flags = (flags == 1).astype(int)
        at = metrics.f1_at_threshold(labels, flags, 0.5)
        result["f1_at_threshold"] = round(at["f1"], 4)
    if plot:
        path = out_dir / "detection.png"
        _plot_detection(path, test.index.to_numpy(), scores, labels, flags)
        result["plot"] = str(path)
    return result


def _plot_detection(
    path: Path, times: np.ndarray, scores: np.ndarray, labels: np.ndarray, flags: np.ndarray | None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 3.8), dpi=110)
    ax.plot(times, scores, color="tab:blue", linewidth=0.8, label="anomaly score")
    top = np.nanmax(scores) if np.isfinite(scores).any() else 1.0
    bottom = np.nanmin(scores) if np.isfinite(scores).any() else 0.0
    ax.fill_between(
        times,
        bottom,
        top,
        where=labels.astype(bool),
        color="tab:red",
        alpha=0.2,
        linewidth=0,
        label="labelled anomaly",
    )
    if flags is not None:
        ax.plot(
            times[flags.astype(bool)],
            scores[flags.astype(bool)],
            ".",
            color="tab:orange",
            markersize=3,
            label="flagged (label-free threshold)",
        )
    finite = scores[np.isfinite(scores)]
    if finite.size:
        low, high = float(finite.min()), float(np.quantile(finite, 0.995))
        if float(finite.max()) > high + 2 * (high - low):  # heavy tail: keep the bulk readable
            ax.set_ylim(low, high + 0.5 * (high - low))
            ax.set_ylabel("score (clipped at the 99.5 % quantile)")
    ax.set_xlabel("minute")
    ax.set_title("Server metrics (SMD machine-1-6): diffusion anomaly scores")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _print_summary(results: dict[str, Any]) -> None:
    imp = results.get("imputation")
    if imp:
        ts, lin = imp["tsdiff"], imp["linear_interpolation"]
        print(
            f"\nImputation of {imp['n_hidden']} hidden cells (air quality, "
            f"{imp['n_epochs']} epochs, "
            f"{imp['fit_seconds']:.0f} s fit + {imp['sample_seconds']:.0f} s sampling)"
        )
        print(f"  {'method':<22}{'MAE':>10}{'RMSE':>10}{'CRPS':>10}{'90% cover':>11}")
        print(
            f"  {'tsdiff (median)':<22}{ts['mae']:>10.3f}{ts['rmse']:>10.3f}{ts['crps']:>10.3f}"
            f"{ts['coverage']:>11.1%}"
        )
        print(
            f"  {'linear interpolation':<22}{lin['mae']:>10.3f}{lin['rmse']:>10.3f}"
            f"{lin['crps']:>10.3f}{'-':>11}"
        )
        if ts["mae"] > lin["mae"]:
            print(
                "  note: within this budget the model did not beat linear interpolation; a longer "
                "--max-time (or a GPU) trains it further."
            )
        if "outage" in imp:
            out = imp["outage"]
            print(
                f"  {OUTAGE_HOURS} h outage of {out['column']} from {out['start']}: MAE tsdiff "
                f"{out['tsdiff_mae']:.2f}, linear {out['linear_mae']:.2f}"
            )
        if "plot" in imp:
            print(f"  plot: {imp['plot']}")
    det = results.get("detection")
    if det:
        epochs = f"{det['n_epochs']} epochs, " if "n_epochs" in det else ""
        print(
            f"\nAnomaly detection (server metrics, labelled test slice; {epochs}"
            f"{det['fit_seconds']:.0f} s fit + {det['score_seconds']:.0f} s scoring)"
        )
        print(f"  {'scores':<22}{'AUC-ROC':>10}{'AUC-PR':>10}")
        print(f"  {'tsdiff':<22}{det['auc_roc']:>10.3f}{det['auc_pr']:>10.3f}")
        print(f"  {'random':<22}{0.5:>10.3f}{det['auc_pr_random']:>10.3f}")
        if "f1_at_threshold" in det:
            print(f"  F1 at the detector's label-free threshold: {det['f1_at_threshold']:.3f}")
        if "plot" in det:
            print(f"  plot: {det['plot']}")
    elif results.get("detection_skipped"):
        print(f"\nAnomaly detection skipped: {results['detection_skipped']}")
    print(f"\nresults: {results['results_file']}")


def run_demo(
    out_dir: str | Path = "tsdiff-demo",
    *,
    max_time: float | None = None,
    seed: int = 0,
    n_samples: int | None = None,
    fraction: float = 0.1,
    detection: bool = True,
    plot: bool = True,
    quiet: bool = False,
    quick: bool = False,
) -> dict[str, Any]:
    """Run the demo and print its summary; returns the results (also in ``results.json``).

    Parameters
    ----------
    out_dir : str or Path, default="tsdiff-demo"
        Folder for ``imputation.png``, ``detection.png`` and ``results.json``.
    max_time : float, optional
        Training budget per model in seconds. By default the imputer trains the epochs of the
        ``demo_imputer`` preset (at most 600 s) and the detector those of ``demo_detector`` (at
        most 300 s); given, it caps both (each still stops after its number of epochs).
    seed : int, default=0
        Seed of the hidden cells, training and sampling.
    n_samples : int, optional
        Imputation samples (default 16).
    fraction : float, default=0.1
        Fraction of the observed cells hidden at random.
    detection : bool, default=True
        Run the detection part.
    plot : bool, default=True
        Draw the plots.
    quiet : bool, default=False
        No progress bars or messages (the summary is still printed).
    quick : bool, default=False
        Tiny models on two weeks of data: a smoke test, not a meaningful result.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    budget = float(max_time) if max_time is not None else DEFAULT_DETECTION_MAX_TIME
    imputation_budget = float(max_time) if max_time is not None else DEFAULT_IMPUTATION_MAX_TIME
    start = time.perf_counter()
    results: dict[str, Any] = {
        "settings": {
            "max_time": budget,
            "imputation_max_time": imputation_budget,
            "imputation_epochs": _epochs(QUICK_IMPUTER_PRESET if quick else IMPUTER_PRESET),
            "detection_epochs": _epochs(QUICK_DETECTOR_PRESET if quick else DETECTOR_PRESET),
            "seed": seed,
            "fraction": fraction,
            "quick": quick,
        }
    }
    results["imputation"] = imputation_demo(
        folder,
        max_time=imputation_budget,
        seed=seed,
        n_samples=n_samples,
        fraction=fraction,
        plot=plot,
        quiet=quiet,
        quick=quick,
    )
    if detection:
        results["detection"] = detection_demo(
            folder, max_time=budget, seed=seed, plot=plot, quiet=quiet, quick=quick
        )
    else:
        results["detection_skipped"] = "--no-detection"
    results["total_seconds"] = round(time.perf_counter() - start, 1)
    results_file = folder / "results.json"
    results["results_file"] = str(results_file)
    results_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    _print_summary(results)
    return results
