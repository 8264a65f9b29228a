"""The composed detection figure: scores, events and per-sensor attribution of one result."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure

from tsdiff.plot._attribution import plot_attribution
from tsdiff.plot._common import (
    half_step,
    x_values,
)
from tsdiff.plot._scores import _series_list, plot_anomaly_scores


def _result_keys(result: Any) -> list[Hashable]:
    layout = result.layout
    if layout.kind == "multiindex":
        return list(pd.unique(layout.frame_index.get_level_values(0)))
    return list(range(len(result.step_scores)))


def plot_detection(
    result: Any,
    labels: pd.Series | np.ndarray | Sequence[Any] | None = None,
    *,
    series: Hashable | None = None,
    events: bool | pd.DataFrame = True,
    top: int | None = None,
    clip_quantile: float | None = 0.995,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Plot one series of a :class:`~tsdiff.api._detection_result.DetectionResult`.

    Two panels over a shared time axis: the scores with the threshold, the true labels and
    the flagged events (:func:`plot_anomaly_scores`), and the per-sensor scores
    (:func:`plot_attribution`).

    Parameters
    ----------
    result : DetectionResult
        ``detector.detect(X)``.
    labels : Series, ndarray, or list of them, optional
        True labels (1 = anomalous) of the plotted series (or one per series of the result).
    series : label, optional
        Which series to plot for a multi-series result: its list position, or its level-0 key
        for a MultiIndex input. Needed when the result holds several series.
    events : bool or DataFrame, default=True
        True shades ``result.events()``; a DataFrame (e.g. ``result.events(max_gap=5)``)
        shades those; False shades none.
    top : int, optional
        Only the ``top`` sensors by maximum score in the heatmap.
    clip_quantile : float or None, default=0.995
        See :func:`plot_anomaly_scores`.
    title : str, optional
        Figure title.
    figsize : (float, float), optional
        Figure size in inches.

    Returns
    -------
    Figure
        A new figure with the two panels (and the heatmap's colour bar).

    Raises
    ------
    TypeError
        When ``result`` is not a DetectionResult.
    ValueError
        For a multi-series result without ``series``, an unknown ``series`` (the keys are
        listed) or labels that do not match.

    Examples
    --------
    >>> fig = plot_detection(detector.detect(test), labels=y, top=10)  # doctest: +SKIP
    """
    from tsdiff.api._detection_result import DetectionResult

    if not isinstance(result, DetectionResult):
        raise TypeError(
            f"result must be a DetectionResult (detector.detect(X)), got {type(result).__name__}."
        )
    keys = _result_keys(result)
    listed = ", ".join(repr(k) for k in keys[:10]) + (", ..." if len(keys) > 10 else "")
    if series is None:
        if len(keys) != 1:
            raise ValueError(
                f"the result holds {len(keys)} series ({listed}); pass series= to pick one."
            )
        pos = 0
    else:
        if series not in keys:
            raise ValueError(f"unknown series {series!r}; the result holds {listed}.")
        pos = keys.index(series)
    key = keys[pos]
    index = result.layout.indexes[pos]
    scores = pd.Series(result.step_scores[pos], index=index, name="score")
    table = pd.DataFrame(result.sensor_tables[pos], index=index, columns=result.sensor_names)
    if events is True:
        flagged: pd.DataFrame | None = result.events()
    elif events is False or events is None:
        flagged = None
    else:
        flagged = events
    if flagged is not None and "series" in flagged.columns:
        flagged = flagged[flagged["series"] == key].drop(columns="series")
    if labels is not None:
        given = _series_list(labels, "labels")
        if len(given) == len(keys) and len(keys) > 1:
            by_key = {k: (values, from_pandas) for k, values, from_pandas in given}
            values, from_pandas = by_key.get(key, given[pos][1:])
            labels = values if from_pandas else values.to_numpy()
    n_sensors = min(len(result.sensor_names), top) if top else len(result.sensor_names)
    import matplotlib.pyplot as plt

    fig = plt.figure(
        figsize=figsize if figsize is not None else (11.0, 3.4 + max(2.0, 0.24 * n_sensors)),
        layout="constrained",
    )
    grid = fig.add_gridspec(
        2, 2, width_ratios=[1.0, 0.018], height_ratios=[3.0, max(2.0, 0.24 * n_sensors)]
    )
    top_ax = fig.add_subplot(grid[0, 0])
    heat_ax = fig.add_subplot(grid[1, 0], sharex=top_ax)
    plot_anomaly_scores(
        scores,
        threshold=result.thresholds[pos],
        labels=labels,
        events=flagged,
        ax=top_ax,
        clip_quantile=clip_quantile,
    )
    top_ax.tick_params(labelbottom=False)
    top_ax.set_xlabel("")
    plot_attribution(table, top=top, ax=heat_ax, colorbar=False)
    mesh = next(c for c in heat_ax.collections if isinstance(c, QuadMesh))
    data = np.asarray(table.to_numpy(dtype=np.float64))
    finite = data[np.isfinite(data)]
    high = mesh.norm.vmax
    clipped = bool(finite.size) and isinstance(high, float) and float(finite.max()) > high
    fig.colorbar(
        mesh,
        cax=fig.add_subplot(grid[1, 1]),
        label="sensor score",
        extend="max" if clipped else "neither",
    )
    if len(scores):
        x = x_values(index)
        h = half_step(x)
        top_ax.set_xlim(x[0] - h, x[-1] + h)
    if len(scores) and np.issubdtype(x_values(index).dtype, np.datetime64):
        fig.autofmt_xdate()
    if title is not None:
        fig.suptitle(title)
    elif len(keys) > 1:
        fig.suptitle(f"series {key}")
    return fig
