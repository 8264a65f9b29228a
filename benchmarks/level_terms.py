"""Would a per-sensor *level* term close tsdiff's gap on SKAB? Adds a score of how rare each
observed value is among the sensor's training values to tsdiff's own reconstruction cell scores,
and runs both through the detector's normalisation, smoothing, aggregation and label-free
threshold (docs/benchmarks_detection.md, "Why SKAB stays out of reach").

Reuses the development sweep's cached model and raw cell scores (``detect_sweep.py --tag``;
trained and sampled on the first run, about 5 minutes), so the only difference between rows is
the level term:

    python benchmarks/level_terms.py SKAB --tag s4
    python benchmarks/level_terms.py machine-1-6 --tag s4

Level terms, each from the standardised training (fit) values of one sensor:

* ``tail``: ``-log(2 min(F(x), 1 - F(x)))`` with ``F`` the empirical CDF (two-sided rarity);
* ``kde:BW``: negative log of a Gaussian kernel density with bandwidth ``BW`` (standardised
  units), which follows a multimodal distribution (runs at different levels).

``append`` scores each sensor twice (reconstruction and level, normalised separately, then
aggregated together); ``only`` replaces the reconstruction score by the level term.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import detect  # noqa: E402
import detect_sweep  # noqa: E402

LevelTerm = Callable[[np.ndarray], np.ndarray]


def tail_term(training: np.ndarray) -> LevelTerm:
    """Two-sided empirical tail rarity of each value among the training values of its sensor."""
    columns = [np.sort(training[:, k]) for k in range(training.shape[1])]

    def term(values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        for k, ordered in enumerate(columns):
            n = len(ordered)
            below = np.searchsorted(ordered, values[:, k], "left") / n
            above = 1.0 - np.searchsorted(ordered, values[:, k], "right") / n
            out[:, k] = -np.log(2.0 * np.clip(np.minimum(below, above), 0.5 / n, 0.5))
        return out

    return term


def kde_term(training: np.ndarray, bandwidth: float, bins: int = 4000) -> LevelTerm:
    """Negative log Gaussian kernel density of each value, per sensor (binned, so it is fast)."""
    low = np.nanmin(training, axis=0) - 10.0 * bandwidth - 50.0
    high = np.nanmax(training, axis=0) + 10.0 * bandwidth + 50.0
    tables = []
    for k in range(training.shape[1]):
        edges = np.linspace(low[k], high[k], bins + 1)
        density, _ = np.histogram(training[:, k], edges, density=True)
        step = edges[1] - edges[0]
        half = int(np.ceil(5.0 * bandwidth / step))
        kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * step / bandwidth) ** 2)
        smoothed = np.convolve(density, kernel / kernel.sum(), "same")
        tables.append(((edges[:-1] + edges[1:]) / 2.0, smoothed))

    def term(values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        for k, (centres, density) in enumerate(tables):
            index = np.clip(np.searchsorted(centres, values[:, k]), 0, len(centres) - 1)
            out[:, k] = -np.log(density[index] + 1e-6)
        return out

    return term


def with_level(
    tables: list[np.ndarray], values: list[np.ndarray], term: LevelTerm, mode: str
) -> list[np.ndarray]:
    """Raw cell tables with the level term appended (or instead); unscored cells stay NaN."""
    out = []
    for table, frame_values in zip(tables, values, strict=True):
        level = np.where(np.isnan(table), np.nan, term(frame_values))
        out.append(level if mode == "only" else np.concatenate([table, level], axis=1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", help="an SMD machine (e.g. machine-2-1) or SKAB")
    parser.add_argument("--tag", default="s4", help="the detect_sweep.py cache to reuse")
    parser.add_argument("--smoothing", default="1+31+63")
    parser.add_argument("--vus-window", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=REPO / "benchmarks" / "results" / "sweep")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    split = detect_sweep.load_split(args.dataset)
    state = detect_sweep.cached_scores(split, args.tag, dict(detect_sweep.BASE_PARAMS), args.cache)
    detector = state["detector"]
    scale = detect.Standardiser(split.fit)
    training = np.concatenate([scale(f) for f in split.fit])
    calibration_values = [scale(f) for f in split.calibration]
    test_values = [scale(f) for f in split.test]
    terms: dict[str, LevelTerm | None] = {
        "none": None,
        "tail": tail_term(training),
        "kde:0.1": kde_term(training, 0.1),
        "kde:0.3": kde_term(training, 0.3),
    }
    print(
        "| level term | how | aggregation | VUS-PR | best F1 | F1 @ thr. | F1 @ drift-adj. thr. |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, term in terms.items():
        for mode in ("append", "only") if term is not None else ("-",):
            if term is None:
                calibration, test = state["calibration"], state["test"]
            else:
                calibration = with_level(state["calibration"], calibration_values, term, mode)
                test = with_level(state["test"], test_values, term, mode)
            for aggregation, top_k, cap in (("max", 1, None), ("topk", 6, 50.0)):
                r = detect_sweep.evaluate(
                    detector,
                    calibration,
                    test,
                    split.labels,
                    args.smoothing,
                    aggregation,
                    top_k,
                    cap,
                    args.vus_window,
                )
                label = aggregation if cap is None else f"topk:{top_k}:{cap:g}"
                print(
                    f"| {name} | {mode} | {label} | {r['vus_pr']:.3f} | {r['best_f1']:.3f} "
                    f"| {r['f1']:.3f} | {r['f1_drift']:.3f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
