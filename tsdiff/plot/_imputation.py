"""``plot_imputation``: observed points, imputed values, interval band and hidden truth."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tsdiff.plot._common import (
    as_frame,
    axes_for,
    check_aligned,
    legend_above,
    select_columns,
    set_title,
    x_values,
)


def plot_imputation(
    original: pd.DataFrame | pd.Series | np.ndarray,
    filled: pd.DataFrame | pd.Series | np.ndarray,
    lower: pd.DataFrame | pd.Series | np.ndarray | None = None,
    upper: pd.DataFrame | pd.Series | np.ndarray | None = None,
    hidden: pd.DataFrame | pd.Series | np.ndarray | None = None,
    columns: Any = None,
    ax: Any = None,
    *,
    clip_band: bool = True,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Plot an imputation, one panel per column.

    Each panel shows the observed values of ``original`` as dots, the imputed series
    ``filled`` as a line (it passes through the observed values and fills the gaps), the
    interval ``lower``-``upper`` as a band and, when given, the ground truth of cells that were
    hidden from the imputer as crosses.

    Parameters
    ----------
    original : DataFrame, Series or ndarray
        The data given to the imputer, NaN where missing. A DataFrame's index (datetime-like or
        numeric) is the x axis; arrays get positions 0, 1, ...
    filled : DataFrame, Series or ndarray
        The imputed data, e.g. ``imputer.transform(original)`` (the median of the samples).
        Same index and columns as ``original`` (an array of the same shape takes them).
    lower, upper : DataFrame, Series or ndarray, optional
        Bounds of the interval band, e.g. ``imputer.predict_interval(original)``; both or
        neither.
    hidden : DataFrame, Series or ndarray, optional
        Ground truth: drawn where ``original`` is missing and ``hidden`` is not (a full copy of
        the data before cells were hidden works).
    columns : label or list of labels, optional
        Columns to plot (default: all).
    ax : Axes or sequence of Axes, optional
        One Axes per plotted column; default a new figure.
    clip_band : bool, default=True
        Keep the y axis on the data (observed, imputed and hidden values, with a margin) when
        the band reaches far beyond it, so that a wide interval does not flatten the series.
    title : str, optional
        Title of the panel (of the figure with several panels).
    figsize : (float, float), optional
        Size of a new figure in inches; default 11 wide and 2.6 high per plotted column.

    Returns
    -------
    Figure
        The figure drawn on.

    Raises
    ------
    ValueError
        When the inputs do not share ``original``'s index and columns, when only one of
        ``lower`` and ``upper`` is given, or for unknown ``columns`` (listed).
    TypeError
        For inputs that are not frames, series or arrays, non-numeric columns, or an index that
        is neither datetime-like nor numeric.

    Examples
    --------
    >>> lower, upper = imputer.predict_interval(data, coverage=0.9)  # doctest: +SKIP
    >>> fig = plot_imputation(data, imputer.transform(data), lower, upper)  # doctest: +SKIP
    """
    base = as_frame(original, "original")
    frames: dict[str, pd.DataFrame | None] = {"filled": as_frame(filled, "filled", like=base)}
    if (lower is None) != (upper is None):
        raise ValueError("pass both lower and upper for the interval band, or neither.")
    for name, value in (("lower", lower), ("upper", upper), ("hidden", hidden)):
        frames[name] = None if value is None else as_frame(value, name, like=base)
    for name, frame in frames.items():
        if frame is not None:
            if isinstance(original, pd.Series) and frame.shape[1] == 1:
                frame = frames[name] = frame.set_axis(base.columns, axis=1)
            check_aligned(base, frame, "original", name)
    chosen = select_columns(base, columns, "original")
    fig, axes, created = axes_for(len(chosen), ax, figsize, height=2.6, sharex=True)
    x = x_values(base.index)
    for i, (column, axis) in enumerate(zip(chosen, axes, strict=True)):
        parts = {
            name: None if frame is None else frame[column].to_numpy(dtype=np.float64)
            for name, frame in frames.items()
        }
        _draw_column(axis, x, base[column].to_numpy(dtype=np.float64), parts, clip_band)
        axis.set_ylabel(str(column))
        if i == 0:
            legend_above(axis)
    set_title(fig, axes, title, created)
    if base.index.name is not None:
        axes[-1].set_xlabel(str(base.index.name))
    if created:
        if np.issubdtype(x.dtype, np.datetime64):
            fig.autofmt_xdate()
        fig.tight_layout()
    return fig


def _draw_column(
    ax: Any,
    x: np.ndarray,
    observed: np.ndarray,
    parts: dict[str, np.ndarray | None],
    clip_band: bool,
) -> None:
    filled, lower, upper, hidden = (parts[k] for k in ("filled", "lower", "upper", "hidden"))
    assert filled is not None
    if lower is not None and upper is not None:
        band = ax.fill_between(
            x, lower, upper, color="tab:blue", alpha=0.25, linewidth=0, label="interval"
        )
        band.set_gid("band")
    (line,) = ax.plot(x, filled, color="tab:blue", linewidth=1.2, label="imputed")
    line.set_gid("filled")
    seen = ~np.isnan(observed)
    (dots,) = ax.plot(x[seen], observed[seen], ".", color="black", markersize=4, label="observed")
    dots.set_gid("observed")
    shown = [observed[seen], filled[np.isfinite(filled)]]
    if hidden is not None:
        truth = np.isnan(observed) & ~np.isnan(hidden)
        if truth.any():
            (marks,) = ax.plot(
                x[truth], hidden[truth], "x", color="tab:red", markersize=6, label="hidden truth"
            )
            marks.set_gid("hidden")
            shown.append(hidden[truth])
    if clip_band and lower is not None and upper is not None:
        values = np.concatenate(shown)
        if values.size:
            low, high = float(values.min()), float(values.max())
            margin = 0.25 * max(high - low, 1e-9)
            below = lower[np.isfinite(lower)]
            above = upper[np.isfinite(upper)]
            if (below.size and below.min() < low - margin) or (
                above.size and above.max() > high + margin
            ):
                ax.set_ylim(low - margin, high + margin)
