"""Where SKAB's labels live: VUS-PR of each sensor alone, and how far the anomalous flow sits
from the run's normal flow (docs/benchmarks_detection.md, "Why SKAB stays out of reach").

    python benchmarks/skab_sensors.py        # seconds; needs ../shared/data/skab
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import detect  # noqa: E402

from tsdiff.scoring import vus_pr  # noqa: E402

FLOW = "VolumeFlowRateRMS"


def main() -> int:
    split = detect.load_skab()
    scale = detect.Standardiser(split.fit)
    forest = detect.run_per_sensor(split, "IForest", 8, 0, 20000)
    assert forest.sensors is not None
    print("| sensor | VUS-PR: distance from the training mean | VUS-PR: IForest, 8-step windows |")
    print("|---|---|---|")
    for k, column in enumerate(split.columns):
        distance = np.mean(
            [
                vus_pr(y, np.abs(scale(f)[:, k]))
                for f, y in zip(split.test, split.labels, strict=True)
            ]
        )
        forest_k = np.mean(
            [vus_pr(y, s[:, k]) for s, y in zip(forest.sensors, split.labels, strict=True)]
        )
        print(f"| {column} | {distance:.3f} | {forest_k:.3f} |")

    k = split.columns.index(FLOW)
    training_flow = np.concatenate([f[FLOW].to_numpy() for f in split.fit])
    low, high = np.percentile(training_flow, [1, 99])
    shifts, outside, spread = [], [], []
    for frame, y in zip(split.test, split.labels, strict=True):
        flow = frame.to_numpy()[:, k]
        shifts.append(flow[y == 1].mean() - flow[y == 0].mean())
        outside.append(np.mean((flow[y == 1] < low) | (flow[y == 1] > high)))
        spread.append(flow[y == 0].std())
    print(
        f"\n{FLOW}, per run: anomalous minus normal mean flow, median {np.median(shifts):.2f} "
        f"(range {min(shifts):.2f} to {max(shifts):.2f}); normal within-run std, median "
        f"{np.median(spread):.2f}; anomalous values outside the 1-99 % range of all training "
        f"flows, mean over runs {np.mean(outside):.0%}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
