"""Stream rows into a fitted ``TSDiffAnomalyDetector`` and compare with batch scoring.

Fits a detector on SMD's ``machine-1-6`` training half, feeds its test half as history, then
adds new rows a minute-sized chunk at a time with :class:`tsdiff.api.streaming.StreamingScorer`:
each chunk costs only the windows it completes. At the end the emitted scores are checked
against one batch :meth:`~tsdiff.TSDiffAnomalyDetector.detect` of everything streamed.

Run from the repository root::

    python examples/stream_detect.py --fast          # synthetic data, tiny model, ~1 min
    python examples/stream_detect.py --max-time 60   # SMD, the default detector

The SMD data are read from ``$TSDIFF_DATA/smd`` (default ``../shared/data/smd``).
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
from tsdiff.api.streaming import StreamingScorer
from tsdiff.scoring import MaskedReimputationScorer


def data_dir() -> Path:
    env = os.environ.get("TSDIFF_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def synthetic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = np.sin(2 * np.pi * t / 60)
    columns = {f"s{i}": base * (1 + 0.2 * i) + 0.1 * rng.standard_normal(n) for i in range(4)}
    index = pd.date_range("2024-01-01", periods=n, freq="min")
    return pd.DataFrame(columns, index=index)


def smd(machine: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = data_dir() / "smd" / machine
    train = pd.read_csv(folder / "train.csv.gz", index_col="time")
    test = pd.read_csv(folder / "test.csv.gz", index_col="time").drop(columns=["label"])
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="synthetic data and a tiny model")
    parser.add_argument("--machine", default="machine-1-6")
    parser.add_argument("--max-time", type=float, default=60.0, help="training budget (s)")
    parser.add_argument("--history", type=int, default=None, help="history rows (default all)")
    parser.add_argument("--chunk", type=int, default=60, help="new rows per update")
    parser.add_argument("--chunks", type=int, default=3, help="updates after the history")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.fast:
        size = 1200 if args.history is None else args.history + args.chunk * args.chunks
        train, test = synthetic(1500, 0), synthetic(size, 1)
        params = {
            "window_length": 16,
            "max_epochs": 3,
            "scorer": MaskedReimputationScorer(strip_length=8, sampling_steps=3),
            "model": {"channels": 8, "n_layers": 1, "diffusion_steps": 4},
            "trainer_kwargs": {"accelerator": "cpu", "precision": "32-true"},
        }
    else:
        train, test = smd(args.machine)
        params = {"max_time": args.max_time}
    detector = TSDiffAnomalyDetector(random_state=0, verbose=False, **params).fit(train)
    extra = args.chunk * args.chunks
    history = len(test) - extra if args.history is None else args.history
    rows = test.iloc[: history + extra]

    stream = StreamingScorer(detector)
    start = time.perf_counter()
    emitted = [stream.update(rows.iloc[:history])]
    history_seconds = time.perf_counter() - start
    print(f"history: {history} rows scored in {history_seconds:.1f} s")
    chunk_seconds = []
    for i in range(args.chunks):
        part = rows.iloc[history + i * args.chunk : history + (i + 1) * args.chunk]
        start = time.perf_counter()
        emitted.append(stream.update(part))
        chunk_seconds.append(time.perf_counter() - start)
        print(
            f"update {i + 1}: {len(part)} rows in {chunk_seconds[-1]:.2f} s, "
            f"{len(emitted[-1])} rows final, {int(emitted[-1]['anomaly'].sum())} flagged"
        )
    final = pd.concat(emitted)

    start = time.perf_counter()
    batch = detector.detect(rows)
    batch_seconds = time.perf_counter() - start
    difference = np.nanmax(np.abs(final["score"].to_numpy() - batch.scores.iloc[: len(final)]))
    ratio = np.mean(chunk_seconds) / batch_seconds
    print(
        f"batch re-scoring of all {len(rows)} rows: {batch_seconds:.1f} s; one update costs "
        f"{100 * ratio:.2f} % of it; latency {stream.latency} rows; largest difference of an "
        f"emitted score from batch scoring: {difference:.2e}"
    )


if __name__ == "__main__":
    main()
