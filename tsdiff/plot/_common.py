"""Input checks and drawing helpers shared by the plots."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: x positions as matplotlib takes them: float64 or datetime64 values.
XValues = np.ndarray


def as_frame(data: Any, name: str, like: pd.DataFrame | None = None) -> pd.DataFrame:
    """``data`` as a DataFrame of floats.

    A Series becomes a one-column frame; an ndarray takes ``like``'s index and columns when
    its shape matches, else a RangeIndex and columns ``x0, x1, ...``.
    """
    if isinstance(data, pd.Series):
        frame = data.to_frame(name=data.name if data.name is not None else "value")
    elif isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, np.ndarray | list):
        values = np.asarray(data, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"{name} must be 1-D or 2-D, got an array of shape {values.shape}.")
        if like is not None and values.shape == like.shape:
            frame = pd.DataFrame(values, index=like.index, columns=like.columns)
        else:
            columns = [f"x{i}" for i in range(values.shape[1])]
            frame = pd.DataFrame(values, columns=columns)
    else:
        raise TypeError(
            f"{name} must be a DataFrame, Series or ndarray, got {type(data).__name__}."
        )
    bad = [str(c) for c in frame.columns if not _is_numeric(frame[c])]
    if bad:
        raise TypeError(f"{name} has non-numeric columns: {', '.join(bad)}.")
    return frame


def _is_numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column.dtype))


def check_aligned(reference: pd.DataFrame, other: pd.DataFrame, ref: str, name: str) -> None:
    """Raise a ValueError naming what differs when ``other`` is not laid out like ``reference``."""
    missing = [str(c) for c in reference.columns if c not in other.columns]
    extra = [str(c) for c in other.columns if c not in reference.columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise ValueError(f"{name} must have the columns of {ref}: {'; '.join(parts)}.")
    check_same_index(reference.index, other.index, ref, name)


def check_same_index(reference: pd.Index, other: pd.Index, ref: str, name: str) -> None:
    """Raise a ValueError when two indexes differ, naming the first differing label."""
    if len(reference) != len(other):
        raise ValueError(
            f"{name} has {len(other)} rows but {ref} has {len(reference)}; their indexes "
            "must match."
        )
    if not reference.equals(other):
        diff = np.flatnonzero(np.asarray(reference != other))
        at = int(diff[0]) if diff.size else 0
        raise ValueError(
            f"{name}'s index differs from {ref}'s (row {at}: {other[at]!r} vs "
            f"{reference[at]!r}); pass them on the same index."
        )


def select_columns(frame: pd.DataFrame, columns: Any, name: str) -> list[Hashable]:
    """The columns to draw: all of them, one label, or a list of labels (all must exist)."""
    if columns is None:
        return list(frame.columns)
    chosen = [columns] if isinstance(columns, str) or not _is_list_like(columns) else columns
    chosen = list(chosen)
    if not chosen:
        raise ValueError("columns is empty; pass None to plot every column.")
    unknown = [str(c) for c in chosen if c not in frame.columns]
    if unknown:
        raise ValueError(
            f"unknown column(s) {', '.join(unknown)}; {name} has "
            f"{', '.join(str(c) for c in frame.columns)}."
        )
    return chosen


def _is_list_like(value: Any) -> bool:
    return isinstance(value, Sequence | pd.Index | np.ndarray)


def x_values(index: pd.Index) -> XValues:
    """Positions of ``index`` for matplotlib: datetime64 (UTC, naive) or float64."""
    if isinstance(index, pd.MultiIndex):
        raise TypeError(
            "a MultiIndex cannot be plotted along one axis; select one series first "
            "(e.g. frame.xs(key))."
        )
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    if isinstance(index, pd.DatetimeIndex):
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        return np.asarray(index.to_numpy())
    if pd.api.types.is_numeric_dtype(index.dtype):
        return np.asarray(index.to_numpy(), dtype=np.float64)
    raise TypeError(
        f"the index must be datetime-like or numeric to be plotted, got dtype {index.dtype}."
    )


def to_x(values: Any, like: XValues, name: str) -> XValues:
    """Convert labels (e.g. event starts) to the kind of x positions of ``like``."""
    index = pd.Index(values)
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    if np.issubdtype(like.dtype, np.datetime64):
        if not len(index):
            return np.asarray([], dtype=like.dtype)
        if not pd.api.types.is_datetime64_any_dtype(index.dtype):
            raise TypeError(f"{name} must be timestamps like the plotted index, got {index.dtype}.")
        return x_values(index).astype(like.dtype)
    if len(index) and not pd.api.types.is_numeric_dtype(index.dtype):
        raise TypeError(f"{name} must be numbers like the plotted index, got {index.dtype}.")
    return np.asarray(index, dtype=np.float64)


def half_step(x: XValues) -> Any:
    """Half the typical spacing of ``x`` (a timedelta64 for datetimes), for spans and cells."""
    if np.issubdtype(x.dtype, np.datetime64):
        if len(x) < 2:
            return np.timedelta64(30, "m")
        return np.median(np.diff(x)) / 2
    if len(x) < 2:
        return 0.5
    return float(np.median(np.diff(x))) / 2


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` positions of each run of True in ``flags``."""
    padded = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    change = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(change[::2], change[1::2], strict=True)]


def axes_for(
    n_panels: int, ax: Any, figsize: tuple[float, float] | None, *, height: float, sharex: bool
) -> tuple[Figure, list[Axes], bool]:
    """The axes to draw ``n_panels`` panels on: ``ax`` (checked) or a new pyplot figure.

    Returns the figure, the axes and whether the figure was created here.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        size = figsize if figsize is not None else (11.0, max(3.2, height * n_panels + 0.8))
        fig, grid = plt.subplots(n_panels, 1, figsize=size, sharex=sharex, squeeze=False)
        return fig, list(grid[:, 0]), True
    axes = [ax] if isinstance(ax, Axes) else list(np.asarray(ax, dtype=object).ravel())
    if not all(isinstance(a, Axes) for a in axes):
        raise TypeError("ax must be a matplotlib Axes or a sequence of Axes.")
    if len(axes) != n_panels:
        raise ValueError(f"{n_panels} panel(s) to draw but {len(axes)} Axes given in ax.")
    figure = axes[0].get_figure()
    assert isinstance(figure, Figure)
    return figure, axes, False


def shade(
    ax: Axes, spans: list[tuple[Any, Any]], *, gid: str, label: str, **style: Any
) -> list[Any]:
    """Shade each ``(left, right)`` span full height; only the first one gets ``label``."""
    patches = []
    for i, (left, right) in enumerate(spans):
        patch = ax.axvspan(left, right, label=label if i == 0 else "_nolegend_", **style)
        patch.set_gid(gid)
        patches.append(patch)
    return patches


def readable_limits(values: np.ndarray, quantile: float | None) -> tuple[float, float] | None:
    """y-limits that keep the bulk of heavy-tailed ``values`` readable, or None if not needed."""
    finite = values[np.isfinite(values)]
    if quantile is None or not finite.size:
        return None
    low, high = float(finite.min()), float(np.quantile(finite, quantile, method="lower"))
    if float(finite.max()) <= high + 2 * (high - low) or high <= low:
        return None
    return low - 0.05 * (high - low), high + 0.5 * (high - low)


def legend_above(ax: Axes) -> None:
    """A one-row legend just above the axes, off the data."""
    ax.legend(
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=5,
        fontsize=8,
        frameon=False,
        borderaxespad=0.2,
    )


def set_title(fig: Figure, axes: list[Axes], title: str | None, created: bool) -> None:
    """The figure's title when it was made here, else the title of the (first) given axes."""
    if title is None:
        return
    if created:
        fig.suptitle(title)
    else:
        axes[0].set_title(title, loc="right", fontsize=10)
