"""Find anomalies in one SMD server machine with ``TSDiffAnomalyDetector`` (a few minutes on a CPU).

Run from the repository root::

    python examples/detect_smd.py                # machine-1-6, 90 s of training
    python examples/detect_smd.py --max-time 300 --machine machine-3-3

The data are read from ``../shared/data/smd`` (see ``../shared/data/README.md``) or from
``$TSDIFF_SHARED_DATA/smd``. Test labels are used only to print the metrics.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tsdiff import TSDiffAnomalyDetector
from tsdiff.metrics import auc_pr, auc_roc, best_f1, f1_at_threshold, vus_pr


def data_dir() -> Path:
    env = os.environ.get("TSDIFF_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", default="machine-1-6")
    parser.add_argument("--max-time", type=float, default=90.0, help="training budget in seconds")
    parser.add_argument(
        "--test-rows", type=int, default=8000, help="score the first rows of the test half"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    root = data_dir() / "smd" / args.machine
    if not root.exists():
        raise SystemExit(f"SMD data not found at {root}")
    train = pd.read_csv(root / "train.csv.gz", index_col="time")
    test = pd.read_csv(root / "test.csv.gz", index_col="time").iloc[: args.test_rows]
    labels = test.pop("label").to_numpy()
    print(f"{args.machine}: train {train.shape}, test {test.shape}, anomalies {labels.mean():.1%}")

    detector = TSDiffAnomalyDetector(
        max_time=args.max_time,
        train_stride=2,
        aggregation="topk",  # the mean of the 6 largest sensor scores: SMD anomalies span sensors
        top_k=6,
        score_cap=50,  # one sensor far out of range cannot outweigh several in agreement
        random_state=0,
        verbose=False,
    )
    start = time.perf_counter()
    detector.fit(train)  # the last 20 % of train is held out to calibrate (no labels)
    print(
        f"fit: {time.perf_counter() - start:.0f} s ({detector.n_epochs_} epochs), "
        f"threshold {detector.threshold_:.2f} ({detector.threshold_method_})"
    )

    start = time.perf_counter()
    sensor_scores = detector.feature_scores(test)  # per-sensor contributions
    scores = detector.decision_function(test)  # same scoring pass again, for the demo
    print(f"scoring {len(test)} rows twice: {time.perf_counter() - start:.0f} s")

    values = scores.to_numpy()
    f1, _ = best_f1(labels, values)
    at = f1_at_threshold(labels, values, detector.threshold_)
    print(
        f"VUS-PR {vus_pr(labels, values):.3f}  AUC-PR {auc_pr(labels, values):.3f}  "
        f"AUC-ROC {auc_roc(labels, values):.3f}  F1 at the label-free threshold {at['f1']:.3f} "
        f"(best F1, an upper bound: {f1:.3f})"
    )
    random = np.random.default_rng(0).random(len(labels))
    print(
        f"random scores: VUS-PR {vus_pr(labels, random):.3f}  AUC-PR {auc_pr(labels, random):.3f}"
    )

    events = detector.predict_events(test, max_gap=5)
    print(f"\n{len(events)} events; the five strongest:")
    print(events.sort_values("peak_score", ascending=False).head().to_string(index=False))
    print("\nlargest sensor contributions at the strongest peak:")
    peak = (
        events.sort_values("peak_score", ascending=False)["peak"].iloc[0]
        if len(events)
        else scores.idxmax()
    )
    print(sensor_scores.loc[peak].sort_values(ascending=False).head(5).round(2).to_string())


if __name__ == "__main__":
    main()
