"""Detector development sweep: train once, score once, then compare the post-processing
(smoothing, aggregation) on the cached raw cell scores, for one SMD machine or SKAB.

The expensive parts (training, sampling) run once per ``--tag``; every post-processing setting
is then scored from the same raw scores, so differences between rows are the post-processing
alone. Labels are only used for the metrics. Use it to choose defaults on a development machine
and report them on the others (docs/benchmarks_detection.md says which machine chose what).

    python benchmarks/detect_sweep.py machine-2-1 --tag strips_mix \
        --param target_strategy=strips_mix --smoothing 1 5 15 31 63 1+31+63
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import detect  # noqa: E402

from tsdiff import TSDiffAnomalyDetector  # noqa: E402
from tsdiff.scoring import smoothing_windows  # noqa: E402

# The benchmark's tsdiff settings (benchmarks/detect.py), before --param overrides.
BASE_PARAMS: dict[str, Any] = {
    "random_state": 0,
    "verbose": False,
    "max_time": 240.0,
    "calibration_fraction": detect.CALIBRATION_FRACTION,
    "risk": detect.RISK,
    "window_length": 32,
    "strip_length": 16,
    "train_stride": 2,
    "aggregation": "topk",
    "top_k": 6,
    "score_cap": 50.0,
}


def raw_cell_tables(detector: TSDiffAnomalyDetector, frame: Any) -> list[np.ndarray]:
    """The detector's own per-sensor cell scores before normalisation (one table per series)."""
    series = detector._parse(frame, reset=False).series(detector.time_step_)
    return detector._raw_cell_scores(series)


def load_split(dataset: str) -> detect.Split:
    """SKAB (``"SKAB"``) or one SMD machine, as ``benchmarks/detect.py`` loads it."""
    return detect.load_skab() if dataset == "SKAB" else detect.load_smd(dataset)


def cached_scores(
    split: detect.Split, tag: str, params: dict[str, Any], cache: Path
) -> dict[str, Any]:
    """The fitted detector and its raw cell scores for ``split``'s calibration and test series,
    from ``cache/<dataset>_<tag>.pkl``; trains, samples and writes that file the first time."""
    cache.mkdir(parents=True, exist_ok=True)
    cached = cache / f"{split.name}_{tag}.pkl"
    if cached.exists():
        with cached.open("rb") as fh:  # our own cache file, written below
            state: dict[str, Any] = pickle.load(fh)
        if "detector" not in state:
            raise SystemExit(f"{cached} predates the cached detector; delete it and rerun.")
        # parameters added after the cache was written take their defaults
        defaults = TSDiffAnomalyDetector().get_params()
        for name, value in defaults.items():
            state["detector"].__dict__.setdefault(name, value)
        print(f"samples from {cached}")
        return state
    detector = TSDiffAnomalyDetector(**params)
    start = time.perf_counter()
    detector.fit(split.train if len(split.train) > 1 else split.train[0])
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    calibration = [t for f in split.calibration for t in raw_cell_tables(detector, f)]
    test = [t for f in split.test for t in raw_cell_tables(detector, f)]
    state = {
        "detector": detector,  # fitted; re-calibrated per post-processing by the callers
        "params": params,
        "fit_seconds": fit_seconds,
        "epochs": detector.n_epochs_,
        "score_seconds": time.perf_counter() - start,
        "calibration": calibration,
        "test": test,
    }
    with cached.open("wb") as fh:
        pickle.dump(state, fh)
    return state


def evaluate(
    detector: TSDiffAnomalyDetector,
    calibration: list[np.ndarray],
    test: list[np.ndarray],
    labels: list[np.ndarray],
    smoothing: str,
    aggregation: str,
    top_k: int,
    score_cap: float | None,
    vus_window: int,
) -> dict[str, float]:
    """The detector's own post-processing and label-free threshold, re-calibrated on the cached
    raw scores for this setting, then the benchmark's metrics."""
    detector.set_params(
        smoothing=smoothing_windows([int(w) for w in smoothing.split("+")]),
        aggregation=aggregation,
        top_k=top_k,
        score_cap=score_cap,
    )
    detector._calibrate_from_raw(calibration)
    reports = []
    for raw, y in zip(test, labels, strict=True):
        scores = detector._aggregate(detector._normalise(raw))
        reports.append(
            detect.series_report(
                y, scores, detector.threshold_, detector.calibration_scores_, vus_window
            )
        )
    return detect.mean_report(reports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", help="an SMD machine (e.g. machine-2-1) or SKAB")
    parser.add_argument("--tag", default="default", help="names the cached model and samples")
    parser.add_argument("--param", action="append", default=[], help="detector parameter k=v")
    parser.add_argument(
        "--smoothing",
        nargs="+",
        default=["1", "5", "15", "31", "63", "1+31", "1+31+63"],
        help="moving-average lengths; '+' joins several into the multi-scale smoothing",
    )
    parser.add_argument(
        "--aggregation",
        nargs="+",
        default=["max", "topk:3", "topk:6", "topk:6:50"],
        help="max, topk:K, or topk:K:CAP (score_cap=CAP)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vus-window", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=REPO / "benchmarks" / "results" / "sweep")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    split = load_split(args.dataset)
    params = dict(BASE_PARAMS)
    for item in args.param:
        key, value = item.split("=", 1)
        params[key] = json.loads(value) if value[:1] in '0123456789-[{tfn"' else value
    state = cached_scores(split, args.tag, params, args.cache)
    print(
        f"{args.dataset} {args.tag}: fit {state['fit_seconds']:.0f} s ({state['epochs']} "
        f"epochs), sampling {state['score_seconds']:.0f} s, params {state['params']}"
    )
    print(
        "| smoothing | aggregation | VUS-PR | AUC-PR | AUC-ROC | best F1 | F1 @ thr. | ratio "
        "| F1 @ drift-adj. thr. | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for smoothing, aggregation in itertools.product(args.smoothing, args.aggregation):
        how, *rest = aggregation.split(":")
        k, cap = [*rest, "", ""][:2]
        r = evaluate(
            state["detector"],
            state["calibration"],
            state["test"],
            split.labels,
            smoothing,
            how,
            int(k or 1),
            float(cap) if cap else None,
            args.vus_window,
        )
        print(
            f"| {smoothing} | {aggregation} | {r['vus_pr']:.3f} | {r['auc_pr']:.3f} "
            f"| {r['auc_roc']:.3f} | {r['best_f1']:.3f} | {r['f1']:.3f} | {r['f1_ratio']:.2f} "
            f"| {r['f1_drift']:.3f} | {r['f1_drift_ratio']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
