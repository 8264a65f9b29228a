"""A method's scores, and the same scores after tsdiff's post-processing."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from tsdiff.scoring import MultiScaleSmoother, aggregate_sensors, smooth_scores


@dataclass
class MethodOutput:
    """Scores of one method: per test series (n,), per-sensor (n, K) if any, calibration (m,).

    ``threshold`` is the method's own label-free threshold where it sets one (tsdiff), else
    :func:`label_free_threshold` of ``calibration`` is used.
    """

    test: list[np.ndarray]
    calibration: np.ndarray
    sensors: list[np.ndarray] | None = None
    fit_seconds: float = 0.0
    score_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    calibration_sensors: list[np.ndarray] | None = None
    threshold: float | None = None


def _clip_cap(arrays: list[np.ndarray]) -> float:
    """1e6 times the median finite score magnitude over ``arrays``, at most 1e250 (1 if none
    is finite): when most scores are already ~1e308 the median alone would overflow."""
    finite = np.concatenate([np.abs(a[np.isfinite(a)]).ravel() for a in arrays])
    return min(1e6 * max(float(np.median(finite)), 1e-12), 1e250) if finite.size else 1.0


def smoothed(
    output: MethodOutput,
    windows: tuple[int, ...],
    aggregation: str = "max",
    top_k: int = 1,
    score_cap: float | None = None,
) -> MethodOutput:
    """The same scores after tsdiff's post-processing: a centred moving average of each length
    in ``windows`` (of the normalised per-sensor scores before aggregation where the method
    has them, of the per-step score otherwise); with several lengths, each one re-normalised on
    the calibration scores and the largest kept (tsdiff's ``MultiScaleSmoother``); per-sensor
    tables are then aggregated as tsdiff does (``aggregation``, ``top_k``, ``score_cap``: see
    ``aggregate_sensors``). Gives the baselines the post-processing tsdiff uses."""

    # PCA reaches 1e308 (or inf) on directions that were constant in training; in a running
    # sum such values overflow or cancel every ordinary score after them. Clip them (ranks kept
    # except among the clipped extremes; NaN stays NaN).
    cap = _clip_cap(
        [
            output.calibration,
            *output.test,
            *(output.sensors or []),
            *(output.calibration_sensors or []),
        ]
    )

    def clip(scores: np.ndarray) -> np.ndarray:
        return np.clip(scores, -cap, cap)

    if output.sensors is not None and output.calibration_sensors is not None:
        calibration_tables = [clip(s) for s in output.calibration_sensors]
        test_tables = [clip(s) for s in output.sensors]
    else:  # one column: the per-step score
        calibration_tables = [clip(output.calibration)[:, None]]
        test_tables = [clip(t)[:, None] for t in output.test]
    if len(windows) == 1:
        smooth: Any = partial(smooth_scores, window=windows[0])
    else:
        smooth = MultiScaleSmoother(windows).fit(calibration_tables).transform

    def aggregate(table: np.ndarray) -> np.ndarray:
        return aggregate_sensors(table, aggregation, top_k, score_cap)

    calibration = np.concatenate([aggregate(smooth(t)) for t in calibration_tables])
    smoothed_sensors = [smooth(t) for t in test_tables]
    test = [aggregate(t) for t in smoothed_sensors]
    sensors = None if output.sensors is None else smoothed_sensors
    return MethodOutput(test, calibration, sensors, output.fit_seconds, output.score_seconds)


def variant_label(name: str, what: str) -> str:
    """``"KNN (flat)"`` + ``"smoothed 31"`` -> ``"KNN (flat, smoothed 31)"``; a name without a
    parenthesis gets one: ``"rolling z-score (smoothed 31)"``."""
    return f"{name[:-1]}, {what})" if name.endswith(")") else f"{name} ({what})"
