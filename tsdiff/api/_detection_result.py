"""``DetectionResult``: everything one scoring pass of the detector yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tsdiff.data.frames import InputLayout
from tsdiff.scoring.events import extract_events


def arrange_per_step(layout: InputLayout, per_series: list[np.ndarray], name: str) -> Any:
    """Arrange per-series ``(n_steps,)`` or ``(n_steps, m)`` arrays like the input.

    Frames give a Series (a DataFrame when ``m > 1`` columns are given as ``name`` list),
    lists of frames a list of those, a 2-D array a 1-D array, a 3-D array ``(n_series,
    n_steps)``.
    """
    stacked = layout.stack([a[:, None] if a.ndim == 1 else a for a in per_series])
    squeeze = all(a.ndim == 1 for a in per_series)

    def one(values: np.ndarray, index: Any) -> Any:
        if squeeze:
            return pd.Series(values[:, 0], index=index, name=name)
        return pd.DataFrame(values, index=index, columns=["normal", "anomaly"])

    if layout.kind in ("frame", "multiindex"):
        return one(stacked, layout.frame_index)
    if layout.kind == "frames":
        return [one(a, idx) for a, idx in zip(stacked, layout.indexes, strict=True)]
    if layout.kind == "arrays":
        return [a[:, 0] if squeeze else a for a in stacked]
    return stacked[..., 0] if squeeze else stacked


@dataclass
class DetectionResult:
    """Scores, flags and per-sensor scores of one call to
    :meth:`~tsdiff.TSDiffAnomalyDetector.detect`, arranged like its input.

    Attributes
    ----------
    scores : Series, list of Series, or ndarray
        Anomaly score per time step (higher = more anomalous; NaN where no sensor was observed).
    labels : Series, list of Series, or ndarray of int
        1 where the score exceeds the series' threshold, else 0.
    sensor_scores : DataFrame, list of DataFrames, or ndarray
        Per-sensor contribution to each step's score (NaN for missing cells).
    thresholds : list of float
        The threshold applied to each series (``threshold_``, raised for drift if enabled).
    seconds : float
        Wall time of the scoring pass.
    """

    scores: Any
    labels: Any
    sensor_scores: Any
    thresholds: list[float]
    layout: InputLayout = field(repr=False)
    step_scores: list[np.ndarray] = field(repr=False)
    step_labels: list[np.ndarray] = field(repr=False)
    sensor_tables: list[np.ndarray] = field(repr=False)
    sensor_names: list[str] = field(repr=False)
    seconds: float = 0.0

    def events(
        self, *, max_gap: int = 0, min_length: int = 1, top_sensors: int = 3
    ) -> pd.DataFrame:
        """Group flagged time steps into events with the sensors that drive each one.

        Parameters
        ----------
        max_gap : int, default=0
            Alarms at most this many quiet steps apart form one event.
        min_length : int, default=1
            Shorter events are dropped.
        top_sensors : int, default=3
            Sensors listed per event.

        Returns
        -------
        DataFrame
            One row per event: ``start``, ``end`` (index labels of the first and last flagged
            step, inclusive), ``peak``, ``peak_score``, ``n_steps``, ``sensors`` (largest
            contribution first) and ``sensor_scores``; plus ``series`` (MultiIndex key or list
            position) for multi-series input.
        """
        layout = self.layout
        multi = layout.kind not in ("frame", "array")
        if layout.kind == "multiindex":
            assert layout.frame_index is not None
            keys: list[Any] = list(pd.unique(layout.frame_index.get_level_values(0)))
        else:
            keys = list(range(len(self.step_scores)))
        rows = []
        for key, index, scores, flags, sensors in zip(
            keys,
            layout.indexes,
            self.step_scores,
            self.step_labels,
            self.sensor_tables,
            strict=True,
        ):
            for event in extract_events(
                flags,
                scores,
                sensors,
                max_gap=max_gap,
                min_length=min_length,
                top_sensors=top_sensors,
            ):
                row: dict[str, Any] = {"series": key} if multi else {}
                row.update(
                    start=index[event.start],
                    end=index[event.end],
                    peak=index[event.peak],
                    peak_score=event.peak_score,
                    n_steps=event.end - event.start + 1,
                    sensors=[self.sensor_names[i] for i in event.sensors],
                    sensor_scores=event.sensor_scores,
                )
                rows.append(row)
        columns = [*(["series"] if multi else []), "start", "end", "peak", "peak_score"]
        columns += ["n_steps", "sensors", "sensor_scores"]
        return pd.DataFrame(rows, columns=columns)
