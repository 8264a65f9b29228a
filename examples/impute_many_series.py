"""Impute many series at once: a list of frames, or one frame with a ``(series, time)`` MultiIndex.

The two Beijing stations of the bundled air-quality data become two series with the same six
columns (PM2.5, PM10, NO2, CO, O3, TEMP). One imputer is fitted on both; windows never cross
from one series to the other. Run from the repository root::

    python examples/impute_many_series.py --fast        # tiny model, well under a minute
    python examples/impute_many_series.py               # 60 s of training
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch

from tsdiff import TSDiffImputer
from tsdiff.datasets import load_air_quality
from tsdiff.metrics import mae

TINY = {"channels": 16, "n_layers": 1, "n_heads": 2}


def stations(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One frame per station, columns named by the variable only."""
    out = {}
    for station in ("Aotizhongxin", "Dongsi"):
        part = frame[[c for c in frame.columns if c.startswith(station + ".")]]
        out[station] = part.rename(columns=lambda c: c.split(".", 1)[1])
    return out


def main(fast: bool) -> None:
    frame = load_air_quality()
    if fast:
        frame = frame.iloc[: 24 * 14]
    series = stations(frame)  # {"Aotizhongxin": frame, "Dongsi": frame}, same columns

    # Hide 10 % of the observed cells of every series to score the imputation.
    rng = np.random.default_rng(0)
    hidden = {k: v.notna().to_numpy() & (rng.random(v.shape) < 0.1) for k, v in series.items()}
    given = {k: v.mask(hidden[k]) for k, v in series.items()}

    settings = (
        {"model": TINY, "max_epochs": 2, "train_stride": 4, "n_samples": 8}
        if fast
        else {"max_time": 60, "n_samples": 32}
    )
    imputer = TSDiffImputer(window_length=36, random_state=0, verbose=False, **settings)

    # 1. A list of frames in, a list of frames out (same order, same indexes).
    imputer.fit(list(given.values()))
    filled_list = imputer.transform(list(given.values()))
    for (name, truth), filled in zip(series.items(), filled_list, strict=True):
        score = mae(truth.to_numpy(), filled.to_numpy(), hidden[name])
        print(f"{name:13s} list input        MAE {score:7.3f}  rows {len(filled)}")

    # 2. One frame with a (series, time) MultiIndex: the same model, rows come back in order.
    stacked = pd.concat(given, names=["station", "time"])
    filled_stacked = imputer.transform(stacked)
    assert filled_stacked.index.equals(stacked.index)
    for name, truth in series.items():
        filled = filled_stacked.xs(name, level="station")
        score = mae(truth.to_numpy(), filled.to_numpy(), hidden[name])
        print(f"{name:13s} MultiIndex input  MAE {score:7.3f}")

    # Intervals and samples follow the input's layout too.
    lower, upper = imputer.predict_interval(stacked, coverage=0.9)
    samples = imputer.sample(list(given.values()), n_samples=4)
    width = float((upper - lower).mean().mean())
    print(f"90 % interval: {len(lower)} rows, mean width {width:.2f}")
    print("samples per series:", [s.shape for s in samples])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny model and data (CI)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    main(args.fast)
