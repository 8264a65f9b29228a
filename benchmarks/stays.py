"""Imputing many short series: 1,000 stays of 48 hours x 35 variables, most cells missing.

The case of issue #18, built from real data: a "stay" is 48 consecutive hours of 35 variables of
the Beijing multi-site air-quality data (``beijing_multisite_air``: the first 105 columns split
into three groups of 35, each cut into 48-hour blocks). ``--missing`` of the cells (default
78 %, the level of a clinical data set of the PhysioNet 2012 kind) are hidden at random; the
hidden cells that the data has are the truth.

The default ``TSDiffImputer(window_length=48, n_samples=20)`` is trained for ``--max-time``
seconds on ``--train-stays`` other stays (hidden the same way), then draws ``--n-samples``
samples of every test stay in one ``sample`` call. Reported:

* ``seconds``: wall time of that call (the imputer's own expected-time line is printed before);
* ``mae``: mean absolute error of the samples' median on the hidden cells, beside linear
  interpolation along time (each stay on its own; a variable with no observation in a stay gets
  its training mean) on the same cells;
* ``coverage_90``: the share of hidden cells inside the central 90 % interval of the samples;
* ``crps``: the sample CRPS (energy form) averaged over the hidden cells;
* ``blend_weight``: the imputer's mean ``blend_weights_``, the weight its held-out calibration
  gave the samples' median against linear interpolation (0: the median IS the interpolation,
  the samples give the spread around it).

MAE and CRPS are in the data's units (each variable has its own scale, so they are dominated by
the large-valued variables; the comparison with linear interpolation is on the same cells).

Usage::

    python -m benchmarks.stays                      # 1,000 stays, 60 s of training
    python -m benchmarks.stays --stays 100 --max-time 20   # quick check
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.datasets import dataset_dir

STAY_HOURS = 48
N_VARIABLES = 35
RESULTS = Path(__file__).resolve().parent / "results" / "stays.json"


def cut_stays(frame: pd.DataFrame, n_variables: int = N_VARIABLES) -> list[pd.DataFrame]:
    """Every ``STAY_HOURS``-row block of every group of ``n_variables`` consecutive columns,
    columns renamed ``v00``, ``v01``, ... (each group is one kind of stay)."""
    stays = []
    names = [f"v{i:02d}" for i in range(n_variables)]
    for first in range(0, frame.shape[1] - n_variables + 1, n_variables):
        group = frame.iloc[:, first : first + n_variables].to_numpy(dtype=np.float64)
        for start in range(0, len(group) - STAY_HOURS + 1, STAY_HOURS):
            stays.append(pd.DataFrame(group[start : start + STAY_HOURS], columns=names))
    return stays


def hide(stays: list[pd.DataFrame], fraction: float, seed: int) -> list[pd.DataFrame]:
    """Copies of ``stays`` with ``fraction`` of the cells set to NaN at random."""
    rng = np.random.default_rng(seed)
    hidden = []
    for stay in stays:
        values = stay.to_numpy(dtype=np.float64, copy=True)
        values[rng.random(values.shape) < fraction] = np.nan
        hidden.append(pd.DataFrame(values, columns=stay.columns))
    return hidden


def linear_fill(stays: list[pd.DataFrame], means: pd.Series) -> np.ndarray:
    """Linear interpolation along time within each stay, nearest value at the ends, the
    training mean where a variable has no observation in the stay; ``(n_stays, hours, K)``."""
    filled = [
        stay.interpolate(method="linear", limit_direction="both").fillna(means).to_numpy()
        for stay in stays
    ]
    return np.stack(filled)


def sample_crps(samples: np.ndarray, truth: np.ndarray) -> float:
    """Mean CRPS of ``truth`` (``(n,)``) under ``samples`` (``(S, n)``), energy form."""
    spread = np.abs(samples - truth[None]).mean(axis=0)
    ordered = np.sort(samples, axis=0)
    count = len(samples)
    weights = (2 * np.arange(1, count + 1) - count - 1)[:, None]
    pairwise = (weights * ordered).sum(axis=0) * 2 / count**2  # mean |X - X'|
    return float(np.mean(spread - 0.5 * pairwise))


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from tsdiff import TSDiffImputer

    torch.set_num_threads(args.threads)
    raw = pd.read_csv(
        dataset_dir("beijing_multisite_air") / "data.csv.gz", index_col=0, parse_dates=True
    )
    stays = cut_stays(raw.iloc[:, : 3 * N_VARIABLES])
    order = np.random.default_rng(args.seed).permutation(len(stays))
    if args.stays + args.train_stays > len(stays):
        raise SystemExit(f"only {len(stays)} stays; lower --stays or --train-stays")
    test = [stays[i] for i in order[: args.stays]]
    train = [stays[i] for i in order[args.stays : args.stays + args.train_stays]]
    train_x, test_x = (
        hide(train, args.missing, args.seed + 1),
        hide(test, args.missing, args.seed + 2),
    )

    imputer = TSDiffImputer(
        window_length=STAY_HOURS,
        n_samples=args.n_samples,
        max_time=args.max_time,
        random_state=args.seed,
        verbose=args.verbose,
    ).fit(train_x)
    started = time.perf_counter()
    samples = imputer.sample(test_x)
    seconds = time.perf_counter() - started

    truth = np.stack([s.to_numpy() for s in test])
    given = np.stack([s.to_numpy() for s in test_x])
    cells = np.isnan(given) & ~np.isnan(truth)
    drawn = np.stack(samples, axis=1)[:, cells]  # (S, n_cells)
    median = np.median(drawn, axis=0)
    lower, upper = np.quantile(drawn, [0.05, 0.95], axis=0)
    linear = linear_fill(test_x, pd.concat(train_x).mean())[cells]
    target = truth[cells]
    return {
        "stays": args.stays,
        "train_stays": args.train_stays,
        "missing": round(float(np.isnan(given).mean()), 4),
        "hidden_cells": int(cells.sum()),
        "n_samples": args.n_samples,
        "epochs": int(imputer.n_epochs_),
        "precision": imputer._inference_precision(),
        "threads": args.threads,
        "blend_weight": round(float(np.mean(imputer.blend_weights_)), 3),
        "seconds": round(seconds, 1),
        "mae": round(float(np.mean(np.abs(median - target))), 3),
        "mae_linear": round(float(np.mean(np.abs(linear - target))), 3),
        "coverage_90": round(float(np.mean((target >= lower) & (target <= upper))), 4),
        "crps": round(sample_crps(drawn, target), 3),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stays", type=int, default=1000, help="test stays imputed")
    parser.add_argument("--train-stays", type=int, default=600)
    parser.add_argument("--missing", type=float, default=0.78, help="share of cells hidden")
    parser.add_argument("--n-samples", type=int, default=20)
    parser.add_argument("--max-time", type=float, default=60.0, help="training seconds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="progress bars")
    parser.add_argument("--json", default=str(RESULTS), help="results file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2))
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
