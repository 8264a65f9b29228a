"""Per-sensor attribution plots: a sensor-by-time heatmap of anomaly scores."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

from tsdiff.plot._common import (
    as_frame,
    axes_for,
    half_step,
    x_values,
)


def plot_attribution(
    sensor_scores: pd.DataFrame | np.ndarray,
    top: int | None = None,
    ax: Axes | None = None,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str | Colormap = "viridis",
    colorbar: bool = True,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Plot per-sensor anomaly scores as a sensor-by-time heatmap.

    Parameters
    ----------
    sensor_scores : DataFrame or 2-D ndarray
        Per-sensor score of each time step, e.g. ``detector.feature_scores(X)``: rows are time
        steps (index datetime-like or numeric), columns sensors. NaN cells (not scored) are
        left blank.
    top : int, optional
        Only the ``top`` sensors with the largest maximum score, largest first; default every
        sensor in column order.
    ax : Axes, optional
        Axes to draw on; default a new figure.
    vmin, vmax : float, optional
        Range of the colour scale; default the smallest score and the 99.5 % quantile of the
        scores, so that one extreme cell does not wash out the rest (larger scores take the top
        colour and the colour bar shows an arrow).
    cmap : str or Colormap, default="viridis"
        Colour map.
    colorbar : bool, default=True
        Draw a colour bar beside the axes.
    title : str, optional
        Title of the axes.
    figsize : (float, float), optional
        Size of a new figure in inches; default 11 wide and 0.24 high per sensor.

    Returns
    -------
    Figure
        The figure drawn on (with the colour bar when ``colorbar``).

    Raises
    ------
    ValueError
        For ``top`` < 1, or an empty table.
    TypeError
        For unsupported input types, non-numeric columns, or an index that is neither
        datetime-like nor numeric (a MultiIndex: select one series first).

    Examples
    --------
    >>> fig = plot_attribution(detector.feature_scores(test), top=8)  # doctest: +SKIP
    """
    frame = as_frame(sensor_scores, "sensor_scores")
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise ValueError(f"sensor_scores is empty (shape {frame.shape}).")
    if top is not None:
        if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
            raise ValueError(f"top must be a positive int or None, got {top!r}.")
        peak = frame.max(axis=0, skipna=True)
        order = np.argsort(-peak.fillna(-np.inf).to_numpy(), kind="stable")[: int(top)]
        frame = frame.iloc[:, order]
    x = x_values(frame.index)
    values = frame.to_numpy(dtype=np.float64).T
    n_sensors = values.shape[0]
    fig, axes, created = axes_for(
        1,
        ax,
        figsize if figsize is not None else (11.0, max(3.0, 0.24 * n_sensors + 1.4)),
        height=0.0,
        sharex=False,
    )
    axis = axes[0]
    finite = values[np.isfinite(values)]
    low = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    high = vmax if vmax is not None else (float(np.quantile(finite, 0.995)) if finite.size else 1)
    if high <= low:
        high = low + 1.0
    base = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    colours = base.with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    mesh = axis.pcolormesh(
        _edges(x),
        np.arange(n_sensors + 1) - 0.5,
        np.ma.masked_invalid(values),
        cmap=colours,
        vmin=low,
        vmax=high,
        shading="flat",
        rasterized=True,
    )
    mesh.set_gid("attribution")
    axis.set_yticks(np.arange(n_sensors))
    axis.set_yticklabels([str(c) for c in frame.columns], fontsize=8 if n_sensors <= 30 else 6)
    axis.set_ylim(n_sensors - 0.5, -0.5)
    axis.set_ylabel("sensor")
    if frame.index.name is not None:
        axis.set_xlabel(str(frame.index.name))
    if title is not None:
        axis.set_title(title)
    if colorbar:
        clipped = bool(finite.size) and float(finite.max()) > high
        fig.colorbar(
            mesh, ax=axis, label="sensor score", pad=0.01, extend="max" if clipped else "neither"
        )
    if created:
        if np.issubdtype(x.dtype, np.datetime64):
            fig.autofmt_xdate()
        fig.tight_layout()
    return fig


def _edges(x: np.ndarray) -> np.ndarray:
    """Cell edges around the time steps ``x`` (midpoints, half a step beyond the ends)."""
    h = half_step(x)
    if len(x) < 2:
        return np.asarray([x[0] - h, x[0] + h])
    inner = x[:-1] + (x[1:] - x[:-1]) / 2
    return np.concatenate([[x[0] - h], inner, [x[-1] + h]])
