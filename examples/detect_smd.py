"""Find anomalies in server metrics with ``TSDiffAnomalyDetector``: scores, flags, events, sensors.

By default it uses the Server Machine Dataset slice bundled with tsdiff (machine-1-6, 20
metrics, ``tsdiff.datasets.load_server_metrics``). Run from the repository root::

    python examples/detect_smd.py --fast                # tiny model, well under a minute
    python examples/detect_smd.py                       # 90 s of training, a few minutes on 2 cores
    python examples/detect_smd.py --data-dir ../shared/data/smd --machine machine-3-3

``--data-dir`` reads a full SMD machine from ``<data-dir>/<machine>/train.csv.gz`` and
``test.csv.gz`` (a ``time`` column, the metrics, and a ``label`` column in the test file; not
shipped with tsdiff). Test labels are used only to print the metrics and draw the plots, which
go to ``--out`` (default: a temporary folder with ``--fast``, ``./tsdiff-examples`` otherwise)
when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tsdiff import TSDiffAnomalyDetector
from tsdiff.datasets import load_server_metrics
from tsdiff.metrics import auc_pr, auc_roc, best_f1, f1_at_threshold, vus_pr
from tsdiff.scoring import POT, TopK


def parse_args() -> argparse.Namespace:
    """The flags; ``--out`` defaults to a temporary folder with ``--fast``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny model and data (CI)")
    parser.add_argument("--data-dir", type=Path, default=None, help="full SMD (not shipped)")
    parser.add_argument("--machine", default="machine-1-6", help="with --data-dir")
    parser.add_argument("--max-time", type=float, default=90.0, help="training budget (seconds)")
    parser.add_argument("--test-rows", type=int, default=8000, help="score the first test rows")
    parser.add_argument("--out", type=Path, default=None, help="folder for the plot")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    if args.out is None:
        args.out = (
            Path(tempfile.mkdtemp(prefix="tsdiff-")) if args.fast else Path("tsdiff-examples")
        )
    return args


def load(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and test frames (the test frame keeps its ``label`` column)."""
    if args.data_dir is None:
        train, test = load_server_metrics("train"), load_server_metrics("test")
    else:
        root = args.data_dir / args.machine
        if not root.exists():
            raise SystemExit(f"SMD data not found at {root}")
        train = pd.read_csv(root / "train.csv.gz", index_col="time")
        test = pd.read_csv(root / "test.csv.gz", index_col="time")
    if args.fast:
        return train.iloc[-1000:], test.iloc[:1000]
    return train, test.iloc[: args.test_rows]


def main(args: argparse.Namespace) -> None:
    train, test = load(args)
    labels = test.pop("label")
    print(f"train {train.shape}, test {test.shape}, anomalies {labels.mean():.1%}")

    settings = (
        {"model": {"channels": 16}, "max_epochs": 2, "train_stride": 4}
        if args.fast
        else {"max_time": args.max_time}
    )
    detector = TSDiffAnomalyDetector(
        # the mean of the 6 largest sensor scores, each capped at 50: SMD anomalies span
        # sensors, and one sensor far out of range cannot outweigh several in agreement
        aggregator=TopK(k=6, cap=50.0),
        thresholder=POT(risk=0.002),  # label-free: fitted on the held-out end of train
        random_state=0,
        verbose=False,
        **settings,
    )
    start = time.perf_counter()
    detector.fit(train)  # the last 20 % of train is held out to calibrate (no labels)
    print(
        f"fit: {time.perf_counter() - start:.0f} s ({detector.n_epochs_} epochs), "
        f"threshold {detector.threshold_:.2f}"
    )

    start = time.perf_counter()
    result = detector.detect(test)  # one sampling pass: scores, flags, per-sensor scores
    print(f"scoring {len(test)} rows: {time.perf_counter() - start:.0f} s")

    values = result.scores.to_numpy()
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

    events = result.events(max_gap=5)  # flagged steps grouped, with the sensors behind each
    strongest = events.sort_values("peak_score", ascending=False)
    print(f"\n{len(events)} events; the five strongest:")
    print(
        strongest[["start", "end", "peak", "peak_score", "sensors"]].head().to_string(index=False)
    )
    peak = strongest["peak"].iloc[0] if len(events) else result.scores.idxmax()
    print(f"\nlargest sensor contributions at step {peak}:")
    print(result.sensor_scores.loc[peak].sort_values(ascending=False).head(5).round(2).to_string())

    try:
        import matplotlib.pyplot as plt

        from tsdiff.plot import plot_detection
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    fig = plot_detection(result, labels=labels, top=8, title="Server metrics: scores and sensors")
    fig.savefig(args.out / "detection.png", dpi=120)
    plt.close(fig)
    print(f"plot: {args.out / 'detection.png'}")


if __name__ == "__main__":
    arguments = parse_args()
    torch.set_num_threads(arguments.threads)
    main(arguments)
