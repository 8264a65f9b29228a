"""``tsdiff demo``: the library's main job on bundled real data, in a few CPU minutes.

By default the demo uses the pretrained models bundled in :mod:`tsdiff.pretrained` (trained by
``tools/train_pretrained.py``); ``train=True`` (``tsdiff demo --train``) trains both live within
a time budget instead and compares its figures with the pretrained ones.

Imputation part
    Two weeks of the held-out last year of the bundled Beijing PM data (12 stations x PM2.5,
    PM10; the pretrained imputer saw only the first three years) get about 10 % of their
    observed cells hidden at random plus block outages of single stations (both columns of a
    station hidden for 24-72 hours; seeded). Only cells with ground truth are hidden, and they
    are removed from the input. tsdiff imputes them (median of the samples, 90 % interval);
    MAE, RMSE, CRPS and the coverage of the 90 % interval are reported beside linear
    interpolation and a multivariate baseline (scikit-learn's ``IterativeImputer`` fitted on
    the training years and the input), overall and on the outage cells alone.
Detection part
    The detector scores the labelled server-metrics test slice (SMD machine-1-6): AUC-ROC and
    AUC-PR (with the random-score baseline) and the F1 at the detector's own, label-free
    threshold.

Everything is written to ``out_dir``: ``imputation.png``, ``detection.png`` (drawn with
:mod:`tsdiff.plot`) and ``results.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Presets (``tsdiff/configs/*.yaml``) of the demo's models and of ``--quick``'s tiny ones.
IMPUTER_PRESET, QUICK_IMPUTER_PRESET = "demo_imputer", "demo_imputer_quick"
DETECTOR_PRESET, QUICK_DETECTOR_PRESET = "demo_detector", "demo_detector_quick"
#: ``--train`` budgets in seconds (imputer, detector).
DEFAULT_IMPUTATION_MAX_TIME = 300.0
DEFAULT_DETECTION_MAX_TIME = 120.0
#: The held-out period the demo imputes ([start, end), within ``load_beijing_pm("test")``).
DEMO_PERIOD = ("2016-11-01", "2016-11-15")
#: Block outages hidden on purpose: (station, length in hours).
OUTAGES: tuple[tuple[str, int], ...] = (
    ("Dongsi", 24),
    ("Tiantan", 48),
    ("Changping", 72),
    ("Wanliu", 24),
    ("Gucheng", 48),
    ("Huairou", 72),
)
OUTAGE_COLUMN = "Dongsi.PM2.5"  # the plotted column
QUICK_ROWS = 240  # ten days
QUICK_TRAIN_ROWS = 720  # --quick training: the last 30 days of the training years
#: Samples per cell of the demo's imputations.
N_SAMPLES = 16


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


def demo_period(quick: bool = False) -> pd.DataFrame:
    """The held-out stretch of the Beijing PM data the demo imputes (ground truth)."""
    from tsdiff.datasets import load_beijing_pm

    data = load_beijing_pm("test")
    data = data.loc[(data.index >= DEMO_PERIOD[0]) & (data.index < DEMO_PERIOD[1])]
    return data.iloc[:QUICK_ROWS] if quick else data


def hide_for_demo(
    data: pd.DataFrame,
    fraction: float,
    seed: int,
    outages: tuple[tuple[str, int], ...] = OUTAGES,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Hide ``fraction`` of the observed cells at random plus block outages of single stations.

    Each outage hides the observed cells of both columns of one station (``<station>.PM2.5``,
    ``<station>.PM10``) over its length, at a seeded start (outages of different stations may
    overlap in time).

    Returns
    -------
    hidden : DataFrame
        ``data`` with the hidden cells set to NaN (the imputer's input).
    mask : ndarray of bool
        Every hidden cell (all observed in ``data``).
    outage_mask : ndarray of bool
        The hidden cells of the outages.
    blocks : list of dict
        ``station``, ``hours``, ``start`` (time stamp) and row range of each outage.
    """
    from tsdiff.evaluation import hide_observed

    hidden, mask = hide_observed(data, fraction, seed)
    observed = ~np.isnan(data.to_numpy(dtype=np.float64))
    outage_mask = np.zeros_like(mask)
    rng = np.random.default_rng(seed + 1)
    columns = list(data.columns)
    blocks: list[dict[str, Any]] = []
    for station, hours in outages:
        cols = [columns.index(c) for c in columns if c.split(".")[0] == station]
        if not cols or len(data) < 2 * hours + 48:
            continue
        start = int(rng.integers(24, len(data) - hours - 24))
        for j in cols:
            rows = np.arange(start, start + hours)
            rows = rows[observed[rows, j]]
            outage_mask[rows, j] = True
        blocks.append(
            {
                "station": station,
                "hours": hours,
                "start": str(data.index[start]),
                "rows": [start, start + hours],
            }
        )
    mask |= outage_mask
    values = data.to_numpy(dtype=np.float64).copy()
    values[mask] = np.nan
    hidden = pd.DataFrame(values, index=data.index, columns=data.columns)
    return hidden, mask, outage_mask, blocks


def multivariate_baseline(hidden: pd.DataFrame, quick: bool = False) -> np.ndarray:
    """scikit-learn's ``IterativeImputer`` fitted on the training years plus ``hidden``.

    Cross-sectional (each row from the other columns of the same hour), like tsdiff given the
    same history; returns the filled values of ``hidden``'s rows.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    from tsdiff.datasets import load_beijing_pm

    history = load_beijing_pm("train").iloc[-(QUICK_TRAIN_ROWS if quick else 2160) :]
    both = np.vstack([history.to_numpy(dtype=np.float64), hidden.to_numpy(dtype=np.float64)])
    imputer = IterativeImputer(max_iter=10, random_state=0, tol=1e-3)
    with warnings.catch_warnings():  # "did not converge" at max_iter is expected and harmless
        warnings.simplefilter("ignore", ConvergenceWarning)
        filled = imputer.fit_transform(both)
    return np.asarray(filled[-len(hidden) :], dtype=np.float64)


def _point_scores(truth: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    from tsdiff import metrics

    return {
        "mae": round(metrics.mae(truth, filled, mask), 4),
        "rmse": round(metrics.rmse(truth, filled, mask), 4),
        "crps": round(metrics.crps(truth, filled[None], mask), 4),
    }


def _scores(truth: np.ndarray, samples: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    from tsdiff import metrics

    report = metrics.imputation_report(truth, samples, mask, coverage_level=0.9)
    return {k: round(float(v), 4) for k, v in report.items()}


def _gain(ours: float, theirs: float) -> float:
    """How much lower ``ours`` is than ``theirs``, as a fraction of ``theirs``."""
    return round(1.0 - ours / theirs, 4) if theirs > 0 else float("nan")


def _load_imputer(pretrained_dir: Path | None, quick: bool) -> Any:
    from tsdiff.pretrained import load_pretrained

    return load_pretrained("imputer", pretrained_dir)


def imputation_demo(
    out_dir: Path,
    *,
    seed: int = 0,
    n_samples: int | None = None,
    fraction: float = 0.1,
    plot: bool = True,
    quiet: bool = False,
    quick: bool = False,
    train: bool = False,
    max_time: float = DEFAULT_IMPUTATION_MAX_TIME,
    pretrained_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the imputation part; returns its results (also plotted to ``imputation.png``).

    ``train=False`` loads the pretrained imputer (from ``pretrained_dir``, default the bundled
    one); ``train=True`` fits the ``demo_imputer`` preset on the training years within
    ``max_time`` seconds.
    """
    from tsdiff.evaluation import linear_interpolation

    report = _Reporter(quiet)
    data = demo_period(quick)
    hidden, mask, outage_mask, blocks = hide_for_demo(data, fraction, seed)
    report.info(
        f"[imputation] Beijing PM (held out), {data.index[0]:%Y-%m-%d} .. "
        f"{data.index[-1]:%Y-%m-%d}: {data.shape[0]} hours x {data.shape[1]} columns; hiding "
        f"{int(mask.sum())} observed cells ({fraction:.0%} at random + {len(blocks)} station "
        f"outages of 24-72 h, {int(outage_mask.sum())} cells)"
    )
    result: dict[str, Any] = {"period": [str(data.index[0]), str(data.index[-1])]}
    if train:
        from tsdiff.datasets import load_beijing_pm

        history = load_beijing_pm("train")
        if quick:
            history = history.iloc[-QUICK_TRAIN_ROWS:]
        imputer, _ = _estimator(
            QUICK_IMPUTER_PRESET if quick else IMPUTER_PRESET,
            max_time=max_time,
            random_state=seed,
            verbose=not quiet,
        )
        report.info(f"[imputation] training on the first 3 years for at most {max_time:.0f} s ...")
        start = time.perf_counter()
        imputer.fit(history)
        result["fit_seconds"] = round(time.perf_counter() - start, 1)
        result["n_epochs"] = int(imputer.n_epochs_)
        result["model"] = "trained live"
    else:
        imputer = _load_imputer(pretrained_dir, quick)
        imputer.set_params(verbose=not quiet)
        result["model"] = "pretrained"
    report.info("[imputation] sampling ...")
    start = time.perf_counter()
    samples = np.asarray(imputer.sample(hidden, n_samples=n_samples or N_SAMPLES))
    result["sample_seconds"] = round(time.perf_counter() - start, 1)
    result["sampler"] = f"{imputer.sampler}-{imputer.sampling_steps}"
    truth = data.to_numpy(dtype=np.float64)
    linear = linear_interpolation(hidden).to_numpy()
    start = time.perf_counter()
    iterative = multivariate_baseline(hidden, quick)
    result["baseline_seconds"] = round(time.perf_counter() - start, 1)
    result.update(
        {
            "n_hidden": int(mask.sum()),
            "n_samples": int(samples.shape[0]),
            "tsdiff": _scores(truth, samples, mask),
            "linear_interpolation": _point_scores(truth, linear, mask),
            "iterative_imputer": _point_scores(truth, iterative, mask),
        }
    )
    if outage_mask.any():
        result["outages"] = {
            "blocks": blocks,
            "n_cells": int(outage_mask.sum()),
            "tsdiff": _scores(truth, samples, outage_mask),
            "linear_interpolation": _point_scores(truth, linear, outage_mask),
            "iterative_imputer": _point_scores(truth, iterative, outage_mask),
        }
    gains = {
        "overall_mae_vs_linear": _gain(
            result["tsdiff"]["mae"], result["linear_interpolation"]["mae"]
        )
    }
    if "outages" in result:
        out = result["outages"]
        gains["outage_mae_vs_linear"] = _gain(
            out["tsdiff"]["mae"], out["linear_interpolation"]["mae"]
        )
        gains["outage_mae_vs_iterative"] = _gain(
            out["tsdiff"]["mae"], out["iterative_imputer"]["mae"]
        )
    gains["overall_mae_vs_iterative"] = _gain(
        result["tsdiff"]["mae"], result["iterative_imputer"]["mae"]
    )
    result["gains"] = gains
    if plot:
        path = out_dir / "imputation.png"
        _plot_imputation(path, data, hidden, samples, blocks)
        result["plot"] = str(path)
    return result


def _plot_imputation(
    path: Path,
    data: pd.DataFrame,
    hidden: pd.DataFrame,
    samples: np.ndarray,
    blocks: list[dict[str, Any]],
) -> None:
    """The first outage's station (both columns), a week around the outage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tsdiff.plot import plot_imputation

    station = blocks[0]["station"] if blocks else OUTAGE_COLUMN.split(".")[0]
    columns = [c for c in data.columns if c.split(".")[0] == station]
    centre = (blocks[0]["rows"][0] + blocks[0]["rows"][1]) // 2 if blocks else len(data) // 2
    rows = slice(max(centre - 84, 0), min(centre + 84, len(data)))
    frame = lambda values: pd.DataFrame(  # noqa: E731
        values[rows], index=data.index[rows], columns=data.columns
    )[columns]
    lower, upper = np.quantile(samples, [0.05, 0.95], axis=0)
    fig = plot_imputation(
        hidden.iloc[rows][columns],
        frame(np.median(samples, axis=0)),
        frame(lower),
        frame(upper),
        hidden=data.iloc[rows][columns],
        title=f"{station}: a hidden {blocks[0]['hours'] if blocks else 0} h outage and random "
        "hidden cells (held-out data), tsdiff median and 90 % interval",
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def detection_demo(
    out_dir: Path,
    *,
    seed: int = 0,
    plot: bool = True,
    quiet: bool = False,
    quick: bool = False,
    train: bool = False,
    max_time: float = DEFAULT_DETECTION_MAX_TIME,
    pretrained_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the detection part; returns its results (also plotted to ``detection.png``).

    ``train=False`` loads the pretrained detector; ``train=True`` fits the ``demo_detector``
    preset on the server-metrics training slice within ``max_time`` seconds. Scores and flags
    (the detector's label-free threshold) come from one sampling pass.
    """
    from tsdiff import metrics
    from tsdiff.datasets import load_server_metrics

    report = _Reporter(quiet)
    test = load_server_metrics("test")
    labels = test.pop("label").to_numpy()
    if quick:
        test, labels = test.iloc[:800], labels[:800]
    result: dict[str, Any] = {}
    if train:
        train_part = load_server_metrics("train")
        if quick:
            train_part = train_part.iloc[:400]
        detector, _ = _estimator(
            QUICK_DETECTOR_PRESET if quick else DETECTOR_PRESET,
            max_time=max_time,
            random_state=seed,
            verbose=not quiet,
        )
        report.info(f"[detection] training on {train_part.shape[0]} minutes ...")
        start = time.perf_counter()
        detector.fit(train_part)
        result["fit_seconds"] = round(time.perf_counter() - start, 1)
        result["n_epochs"] = int(detector.n_epochs_)
        result["model"] = "trained live"
    else:
        from tsdiff.pretrained import load_pretrained

        detector = load_pretrained("detector", pretrained_dir)
        detector.set_params(verbose=not quiet, random_state=seed)
        result["model"] = "pretrained"
    report.info(
        f"[detection] server metrics: scoring {test.shape[0]} minutes "
        f"({labels.mean():.1%} labelled anomalous) ..."
    )
    start = time.perf_counter()
    detection = detector.detect(test)
    result["score_seconds"] = round(time.perf_counter() - start, 1)
    scores = np.asarray(detection.scores, dtype=np.float64).reshape(-1)
    flags = (np.asarray(detection.labels).reshape(-1) == 1).astype(int)
    result.update(
        {
            "auc_roc": round(metrics.auc_roc(labels, scores), 4),
            "auc_pr": round(metrics.auc_pr(labels, scores), 4),
            "auc_pr_random": round(float(labels.mean()), 4),
            "f1_at_threshold": round(metrics.f1_at_threshold(labels, flags, 0.5)["f1"], 4),
        }
    )
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from tsdiff.plot import plot_detection

        path = out_dir / "detection.png"
        fig = plot_detection(
            detection,
            pd.Series(labels, index=test.index),
            top=10,
            title="Server metrics (SMD machine-1-6): diffusion anomaly scores",
        )
        fig.savefig(path, dpi=110)
        plt.close(fig)
        result["plot"] = str(path)
    return result


def _row(name: str, scores: dict[str, float]) -> str:
    cover = f"{scores['coverage']:>11.1%}" if "coverage" in scores else f"{'-':>11}"
    return f"  {name:<24}{scores['mae']:>9.2f}{scores['rmse']:>9.2f}{scores['crps']:>9.3f}{cover}"


def _print_summary(results: dict[str, Any]) -> None:
    imp = results.get("imputation")
    if imp:
        timing = f"{imp['sample_seconds']:.0f} s sampling, {imp['sampler']}"
        if "fit_seconds" in imp:
            timing = f"{imp['n_epochs']} epochs in {imp['fit_seconds']:.0f} s, " + timing
        print(
            f"\nImputation, Beijing PM2.5/PM10 at 12 stations, held-out {imp['period'][0][:10]} .. "
            f"{imp['period'][1][:10]} ({imp['model']} model; {timing})"
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
        timing = f"{det['score_seconds']:.0f} s scoring"
        if "fit_seconds" in det:
            timing = f"{det['n_epochs']} epochs in {det['fit_seconds']:.0f} s, " + timing
        print(
            f"\nAnomaly detection, server metrics (SMD machine-1-6), labelled test slice "
            f"({det['model']} model; {timing})"
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


def _comparison(results: dict[str, Any]) -> dict[str, tuple[float, float]]:
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


def run_demo(
    out_dir: str | Path = "tsdiff-demo",
    *,
    train: bool = False,
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
    train : bool, default=False
        Train both models live instead of loading the pretrained ones, and compare the figures.
    max_time : float, optional
        With ``train``: the training budget per model in seconds (default 300 s for the
        imputer, 120 s for the detector).
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
        Two weeks of data (and, with ``train``, tiny models): a smoke test.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    imputation_budget = float(max_time) if max_time is not None else DEFAULT_IMPUTATION_MAX_TIME
    detection_budget = float(max_time) if max_time is not None else DEFAULT_DETECTION_MAX_TIME
    start = time.perf_counter()
    results: dict[str, Any] = {
        "settings": {
            "train": train,
            "imputation_max_time": imputation_budget if train else None,
            "detection_max_time": detection_budget if train else None,
            "seed": seed,
            "fraction": fraction,
            "quick": quick,
        }
    }
    results["imputation"] = imputation_demo(
        folder,
        seed=seed,
        n_samples=n_samples,
        fraction=fraction,
        plot=plot,
        quiet=quiet,
        quick=quick,
        train=train,
        max_time=imputation_budget,
    )
    if detection:
        results["detection"] = detection_demo(
            folder,
            seed=seed,
            plot=plot,
            quiet=quiet,
            quick=quick,
            train=train,
            max_time=detection_budget,
        )
    else:
        results["detection_skipped"] = "--no-detection"
    if train and not quick:
        results["pretrained_comparison"] = _comparison(results)
    results["total_seconds"] = round(time.perf_counter() - start, 1)
    results_file = folder / "results.json"
    results["results_file"] = str(results_file)
    results_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    _print_summary(results)
    return results
