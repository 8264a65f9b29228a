"""The demo's settings, progress messages and live training of a preset."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

#: Presets (``tsdiff/configs/*.yaml``) of the demo's models and of ``--quick``'s tiny ones.
IMPUTER_PRESET, QUICK_IMPUTER_PRESET = "demo_imputer", "demo_imputer_quick"
DETECTOR_PRESET, QUICK_DETECTOR_PRESET = "demo_detector", "demo_detector_quick"
#: ``--train`` budgets in seconds (imputer, detector).
DEFAULT_IMPUTATION_MAX_TIME = 300.0
DEFAULT_DETECTION_MAX_TIME = 120.0
#: The held-out period the demo imputes ([start, end), within ``load_beijing_pm("test")``).
DEMO_PERIOD = ("2016-11-01", "2016-11-15")
#: Block outages hidden on purpose: (station, length in hours).
OUTAGES: tuple[tuple[str, int], ...] = (
    ("Dongsi", 24),
    ("Tiantan", 48),
    ("Changping", 72),
    ("Wanliu", 24),
    ("Gucheng", 48),
    ("Huairou", 72),
)
OUTAGE_COLUMN = "Dongsi.PM2.5"  # the plotted column
QUICK_ROWS = 240  # ten days
QUICK_TRAIN_ROWS = 720  # --quick training: the last 30 days of the training years
#: Samples per cell of the demo's imputations.
N_SAMPLES = 16


class Reporter:
    """Progress messages on stderr, unless ``quiet``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def info(self, message: str) -> None:
        """Print ``message`` to stderr (not when quiet)."""
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


def fit_preset(preset: str, data: Any, **overrides: Any) -> tuple[Any, float]:
    """Build a preset's estimator with ``overrides`` and fit it on ``data``.

    Parameters
    ----------
    preset : str
        Name of a packaged configuration (e.g. ``"demo_imputer"``).
    data : DataFrame
        Training data.
    **overrides
        Estimator parameters that replace the preset's (``max_time``, ``random_state``, ...).

    Returns
    -------
    estimator : fitted estimator
    seconds : float
        Wall time of ``fit``.
    """
    from tsdiff.config import build_estimator, load_config

    estimator = build_estimator(load_config(preset), **overrides)
    start = time.perf_counter()
    estimator.fit(data)
    return estimator, time.perf_counter() - start


#: The demo's presets by model kind: (full, ``--quick``).
PRESETS = {
    "imputer": (IMPUTER_PRESET, QUICK_IMPUTER_PRESET),
    "detector": (DETECTOR_PRESET, QUICK_DETECTOR_PRESET),
}
_TRAINING_MESSAGES = {
    "imputer": "[imputation] training on the first 3 years for at most {max_time:.0f} s ...",
    "detector": "[detection] training on {rows} minutes ...",
}


def _training_data(kind: str, quick: bool) -> Any:
    """The training data of the demo's ``kind`` model (a short stretch with ``quick``)."""
    from tsdiff.datasets import load_beijing_pm, load_server_metrics

    if kind == "imputer":
        history = load_beijing_pm("train")
        return history.iloc[-QUICK_TRAIN_ROWS:] if quick else history
    train = load_server_metrics("train")
    return train.iloc[:400] if quick else train


def demo_model(
    kind: str,
    train: bool,
    quick: bool,
    max_time: float,
    seed: int,
    quiet: bool,
    pretrained_dir: Path | None,
) -> tuple[Any, dict[str, Any]]:
    """The demo's ``kind`` model ("imputer" or "detector") and its results entries.

    ``train=False`` loads the pretrained model (from ``pretrained_dir``, default the bundled
    one; the detector samples with ``seed``, the imputer with its stored seed): ``{"model":
    "pretrained"}``. ``train=True`` fits the kind's preset (its quick one with ``quick``) on
    its training data within ``max_time`` seconds: fit time, epochs, ``"trained live"``.
    """
    if not train:
        from tsdiff.pretrained import load_pretrained

        model = load_pretrained(kind, pretrained_dir)
        model.set_params(
            verbose=not quiet, **({"random_state": seed} if kind == "detector" else {})
        )
        return model, {"model": "pretrained"}
    data = _training_data(kind, quick)
    Reporter(quiet).info(_TRAINING_MESSAGES[kind].format(max_time=max_time, rows=data.shape[0]))
    estimator, seconds = fit_preset(
        PRESETS[kind][1 if quick else 0],
        data,
        max_time=max_time,
        random_state=seed,
        verbose=not quiet,
    )
    facts = {
        "fit_seconds": round(seconds, 1),
        "n_epochs": int(estimator.n_epochs_),
        "model": "trained live",
    }
    return estimator, facts
