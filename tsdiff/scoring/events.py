"""Turn per-step alarms into events and rank the sensors behind each event."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Event:
    """A run of consecutive alarms (positions are row positions within one series).

    Attributes
    ----------
    start, end : int
        First and last row of the event (inclusive).
    peak : int
        Row of the highest score.
    peak_score : float
        The highest score.
    sensors : list of int
        Sensor positions ranked by their contribution (largest first).
    sensor_scores : list of float
        Their contributions (each sensor's largest score within the event).
    """

    start: int
    end: int
    peak: int
    peak_score: float
    sensors: list[int] = field(default_factory=list)
    sensor_scores: list[float] = field(default_factory=list)


def rank_sensors(sensor_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank sensors by their largest score over the rows of ``sensor_scores (n_rows, n_sensors)``.

    Returns
    -------
    (order, contribution)
        Sensor positions, largest contribution first (unscored sensors last), and each one's
        contribution (NaN for a sensor never scored).
    """
    scores = np.asarray(sensor_scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(
            f"sensor_scores must be 2-D (n_rows, n_sensors), got shape {scores.shape}."
        )
    present = ~np.isnan(scores)
    contribution = np.where(
        present.any(axis=0), np.max(np.where(present, scores, -np.inf), axis=0), np.nan
    )
    order = np.argsort(-np.where(np.isnan(contribution), -np.inf, contribution), kind="stable")
    return order, contribution[order]


def extract_events(
    flags: np.ndarray,
    scores: np.ndarray,
    sensor_scores: np.ndarray | None = None,
    *,
    max_gap: int = 0,
    min_length: int = 1,
    top_sensors: int = 3,
) -> list[Event]:
    """Group alarms into events.

    Parameters
    ----------
    flags : ndarray of shape (n_steps,)
        1 (or True) where a step is an alarm.
    scores : ndarray of shape (n_steps,)
        The aggregated scores (for the peak).
    sensor_scores : ndarray of shape (n_steps, n_sensors), optional
        Per-sensor scores; when given, each event lists its ``top_sensors`` sensors.
    max_gap : int, default=0
        Alarms separated by at most this many quiet steps belong to one event.
    min_length : int, default=1
        Events shorter than this (first to last alarm) are dropped.
    top_sensors : int, default=3
        Sensors listed per event.

    Returns
    -------
    list of Event
        In time order.
    """
    flags = np.asarray(flags).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if flags.shape != scores.shape:
        raise ValueError(f"flags {flags.shape} and scores {scores.shape} differ in shape.")
    if max_gap < 0 or min_length < 1 or top_sensors < 0:
        raise ValueError("max_gap must be >= 0, min_length >= 1 and top_sensors >= 0.")
    alarms = np.flatnonzero(flags)
    if alarms.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(alarms) > max_gap + 1)
    starts = np.r_[alarms[0], alarms[breaks + 1]]
    ends = np.r_[alarms[breaks], alarms[-1]]
    events = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if end - start + 1 < min_length:
            continue
        segment = scores[start : end + 1]
        finite = np.where(np.isnan(segment), -np.inf, segment)
        peak = start + int(np.argmax(finite))
        event = Event(start=start, end=end, peak=peak, peak_score=float(scores[peak]))
        if sensor_scores is not None and top_sensors > 0:
            order, contribution = rank_sensors(np.asarray(sensor_scores)[start : end + 1])
            keep = ~np.isnan(contribution)
            event.sensors = order[keep][:top_sensors].tolist()
            event.sensor_scores = contribution[keep][:top_sensors].tolist()
        events.append(event)
    return events
