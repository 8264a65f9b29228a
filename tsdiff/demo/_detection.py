"""The detection part of the demo: score the labelled server-metrics test slice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsdiff.demo._common import (
    DEFAULT_DETECTION_MAX_TIME,
    Reporter,
    demo_model,
)


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

    report = Reporter(quiet)
    test = load_server_metrics("test")
    labels = test.pop("label").to_numpy()
    if quick:
        test, labels = test.iloc[:800], labels[:800]
    result: dict[str, Any] = {}
    detector, facts = demo_model("detector", train, quick, max_time, seed, quiet, pretrained_dir)
    result.update(facts)
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
