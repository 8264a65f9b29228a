"""Anomaly-score plots: scores with threshold, labels and flagged events."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tsdiff.plot._common import (
    axes_for,
    check_same_index,
    half_step,
    legend_above,
    readable_limits,
    runs,
    set_title,
    shade,
    to_x,
    x_values,
)

#: One series to plot: its key (None for single-series input, else a list position or a
#: MultiIndex level-0 key), its values, and whether its index came from pandas (else it is
#: positional and takes the index of the series it is matched with).
_Entry = tuple[Hashable | None, pd.Series, bool]


def _series_list(data: Any, name: str) -> list[_Entry]:
    """Split per-step input into one Series per series (see the docstring of ``scores``)."""
    if isinstance(data, pd.DataFrame):
        if data.shape[1] != 1:
            raise ValueError(
                f"{name} must hold one value per time step; got a DataFrame with columns "
                f"{', '.join(str(c) for c in data.columns)}."
            )
        data = data.iloc[:, 0]
    if isinstance(data, pd.Series):
        if isinstance(data.index, pd.MultiIndex):
            keys = pd.unique(data.index.get_level_values(0))
            return [(k, data.xs(k, level=0), True) for k in keys]
        return [(None, data, True)]
    if isinstance(data, np.ndarray) or (
        isinstance(data, list | tuple) and all(isinstance(v, Real) for v in data)
    ):
        values = np.asarray(data, dtype=np.float64)
        if values.ndim == 1:
            return [(None, pd.Series(values), False)]
        if values.ndim == 2:
            return [(i, pd.Series(row), False) for i, row in enumerate(values)]
        raise ValueError(f"{name} must be 1-D or 2-D, got an array of shape {values.shape}.")
    if isinstance(data, list | tuple):
        if not data:
            raise ValueError(f"{name} is empty.")
        entries: list[_Entry] = []
        for i, item in enumerate(data):
            inner = _series_list(item, f"{name}[{i}]")
            if len(inner) != 1:
                raise ValueError(f"{name}[{i}] holds several series; pass one per list item.")
            entries.append((i, inner[0][1], inner[0][2]))
        return entries
    raise TypeError(
        f"{name} must be a Series, a list of Series, or an ndarray, got {type(data).__name__}."
    )


def _thresholds(threshold: Any, n_series: int) -> list[float | None]:
    if threshold is None:
        return [None] * n_series
    if isinstance(threshold, Real):
        return [float(threshold)] * n_series
    values = list(np.asarray(threshold, dtype=np.float64).ravel())
    if len(values) != n_series:
        raise ValueError(
            f"threshold must be one number or one per series ({n_series}), got {len(values)}."
        )
    return [float(v) for v in values]


def _matched_labels(labels: Any, scores: list[_Entry]) -> list[np.ndarray]:
    entries = _series_list(labels, "labels")
    if len(entries) != len(scores):
        raise ValueError(f"labels hold {len(entries)} series but scores hold {len(scores)}.")
    out = []
    for (key, values, from_pandas), (_, score, _) in zip(entries, scores, strict=True):
        where = "labels" if key is None else f"labels of series {key}"
        if from_pandas:
            check_same_index(score.index, values.index, "scores", where)
        elif len(values) != len(score):
            raise ValueError(f"{where} have {len(values)} steps but the scores {len(score)}.")
        out.append(np.nan_to_num(values.to_numpy(dtype=np.float64)) > 0)
    return out


def _event_spans(
    events: pd.DataFrame | None, key: Hashable | None, n_series: int, x: np.ndarray
) -> list[tuple[Any, Any]]:
    if events is None:
        return []
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a DataFrame, got {type(events).__name__}.")
    missing = [c for c in ("start", "end") if c not in events.columns]
    if missing:
        raise ValueError(
            f"events lack the column(s) {', '.join(missing)} (it has "
            f"{', '.join(str(c) for c in events.columns)}); pass detector.predict_events(X)."
        )
    if "series" in events.columns and key is not None:
        events = events[events["series"] == key]
    elif n_series > 1:
        raise ValueError(
            "events need a 'series' column to be matched with several series of scores."
        )
    start = to_x(events["start"].to_numpy(), x, "events' start")
    end = to_x(events["end"].to_numpy(), x, "events' end")
    if len(x):
        inside = (end >= x.min()) & (start <= x.max())
        start, end = start[inside], end[inside]
    h = half_step(x)
    return [(s - h, e + h) for s, e in zip(start, end, strict=True)]


def plot_anomaly_scores(
    scores: pd.Series | Sequence[pd.Series] | np.ndarray,
    threshold: float | Sequence[float] | None = None,
    labels: pd.Series | Sequence[pd.Series] | np.ndarray | None = None,
    events: pd.DataFrame | None = None,
    ax: Any = None,
    *,
    clip_quantile: float | None = 0.995,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Plot anomaly scores with their threshold, labelled anomalies and flagged events.

    One panel per series: the score line, the threshold as a dashed horizontal line, the
    true-label regions shaded light red over the full height, and the flagged events
    (``detector.predict_events(X)`` or ``result.events()``) hatched in orange.

    Parameters
    ----------
    scores : Series, list of Series, or ndarray
        Score per time step, e.g. ``detector.decision_function(X)``: a Series (index
        datetime-like or numeric), a Series on a MultiIndex (one series per level-0 key), a list
        of Series or 1-D arrays, a 1-D array, or a 2-D array ``(n_series, n_steps)``.
    threshold : float or sequence of float, optional
        One threshold for every series (``detector.threshold_``) or one per series
        (``result.thresholds``).
    labels : Series, list of Series, or ndarray, optional
        True labels (1 = anomalous) in the structure of ``scores``; pandas labels must share
        the scores' index, arrays are matched by position.
    events : DataFrame, optional
        Flagged events with ``start`` and ``end`` columns (index labels, inclusive), and a
        ``series`` column when several series are plotted. Events wholly outside the plotted
        range are skipped.
    ax : Axes or sequence of Axes, optional
        One Axes per series; default a new figure.
    clip_quantile : float or None, default=0.995
        When a few extreme scores would flatten the rest, the y axis stops a little above this
        quantile (and always shows the threshold); None never clips.
    title : str, optional
        Title of the panel (of the figure with several panels).
    figsize : (float, float), optional
        Size of a new figure in inches; default 11 wide and 2.8 high per series.

    Returns
    -------
    Figure
        The figure drawn on, one panel per series.

    Raises
    ------
    ValueError
        When labels or thresholds do not match the scores (index or number of series), when
        ``events`` lacks ``start``/``end`` (or ``series`` for several series).
    TypeError
        For unsupported input types or event times unlike the scores' index.

    Examples
    --------
    >>> result = detector.detect(test)  # doctest: +SKIP
    >>> fig = plot_anomaly_scores(  # doctest: +SKIP
    ...     result.scores, result.thresholds, labels=y, events=result.events()
    ... )
    """
    entries = _series_list(scores, "scores")
    thresholds = _thresholds(threshold, len(entries))
    truth = _matched_labels(labels, entries) if labels is not None else None
    if clip_quantile is not None and not 0 < clip_quantile <= 1:
        raise ValueError(f"clip_quantile must be in (0, 1] or None, got {clip_quantile}.")
    fig, axes, created = axes_for(len(entries), ax, figsize, height=2.8, sharex=False)
    for i, ((key, series, _), axis) in enumerate(zip(entries, axes, strict=True)):
        x = x_values(series.index)
        values = series.to_numpy(dtype=np.float64)
        _draw_scores(
            axis,
            x,
            values,
            thresholds[i],
            None if truth is None else truth[i],
            _event_spans(events, key, len(entries), x),
            clip_quantile,
        )
        if len(entries) > 1:
            axis.set_title(f"series {key}", fontsize=9, loc="right")
        if series.index.name is not None:
            axis.set_xlabel(str(series.index.name))
    set_title(fig, axes, title, created)
    if created:
        if any(np.issubdtype(x_values(e[1].index).dtype, np.datetime64) for e in entries):
            fig.autofmt_xdate()
        fig.tight_layout()
    return fig


def _draw_scores(
    ax: Axes,
    x: np.ndarray,
    values: np.ndarray,
    threshold: float | None,
    truth: np.ndarray | None,
    events: list[tuple[Any, Any]],
    clip_quantile: float | None,
) -> None:
    h = half_step(x)
    if truth is not None:
        spans = [(x[a] - h, x[b] + h) for a, b in runs(truth)]
        shade(ax, spans, gid="label", label="labelled anomaly", color="tab:red", alpha=0.15, lw=0)
    shade(
        ax,
        events,
        gid="event",
        label="flagged event",
        facecolor=(1.0, 0.5, 0.05, 0.12),
        edgecolor="tab:orange",
        hatch="///",
        linewidth=0.6,
    )
    (line,) = ax.plot(x, values, color="tab:blue", linewidth=0.8, label="anomaly score")
    line.set_gid("score")
    if threshold is not None and np.isfinite(threshold):
        rule = ax.axhline(
            threshold,
            color="black",
            linestyle="--",
            linewidth=0.9,
            label=f"threshold ({threshold:.3g})",
        )
        rule.set_gid("threshold")
    ax.set_ylabel("anomaly score")
    limits = readable_limits(values, clip_quantile)
    if limits is not None:
        low, high = limits
        if threshold is not None and np.isfinite(threshold):
            low = min(low, threshold)
            high = max(high, threshold + 0.1 * (high - low))
        ax.set_ylim(low, high)
        ax.set_ylabel("anomaly score (axis clipped)")
    if len(x):
        ax.set_xlim(x[0] - h, x[-1] + h)
    legend_above(ax)
