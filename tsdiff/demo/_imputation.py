"""The imputation part of the demo: hide cells of held-out air-quality data, impute, compare."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsdiff.demo._common import (
    DEFAULT_IMPUTATION_MAX_TIME,
    N_SAMPLES,
    OUTAGE_COLUMN,
    Reporter,
    demo_model,
)
from tsdiff.demo._data import demo_period, hide_for_demo, multivariate_baseline


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

    report = Reporter(quiet)
    data = demo_period(quick)
    hidden, mask, outage_mask, blocks = hide_for_demo(data, fraction, seed)
    report.info(
        f"[imputation] Beijing PM (held out), {data.index[0]:%Y-%m-%d} .. "
        f"{data.index[-1]:%Y-%m-%d}: {data.shape[0]} hours x {data.shape[1]} columns; hiding "
        f"{int(mask.sum())} observed cells ({fraction:.0%} at random + {len(blocks)} station "
        f"outages of 24-72 h, {int(outage_mask.sum())} cells)"
    )
    result: dict[str, Any] = {"period": [str(data.index[0]), str(data.index[-1])]}
    imputer, facts = demo_model("imputer", train, quick, max_time, seed, quiet, pretrained_dir)
    result.update(facts)
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
