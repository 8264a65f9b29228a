"""Convert user input (frames, lists of frames, MultiIndex frames, arrays) to series and back.

This is the only module that knows pandas. Everything above it sees a :class:`SeriesSet`: a list
of ``(n_steps, n_columns)`` float arrays with NaN for missing cells and, per series, real time
stamps. :class:`InputLayout` remembers the input's structure so results come back in it.

Accepted inputs
---------------
* one ``pandas.DataFrame`` (any index; a ``DatetimeIndex`` or ``TimedeltaIndex`` gives real,
  possibly irregular, time stamps, any other index gives positions ``0, 1, 2, ...``, with a
  ``UserWarning`` when it evidently holds time: a numeric index that is not strictly increasing,
  or date strings that were not parsed);
* a list of DataFrames with the same columns (one series each);
* a DataFrame with a two-level ``MultiIndex`` ``(series id, time)``;
* a 2-D ndarray ``[n_steps, n_columns]`` (one series) or a list of them;
* a 3-D ndarray ``[n_series, n_steps, n_columns]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tsdiff.data.columns import check_column_identity, column_identity
from tsdiff.data.layout import InputLayout, LayoutKind, output_dtype
from tsdiff.data.timestamps import base_time_step, time_stamps

__all__ = [
    "InputLayout",
    "LayoutKind",
    "ParsedInput",
    "SeriesSet",
    "base_time_step",
    "check_column_identity",
    "column_identity",
    "column_names",
    "has_observed",
    "output_dtype",
    "parse_input",
    "require_observed",
    "time_stamps",
]


@dataclass
class SeriesSet:
    """Series as plain arrays.

    Attributes
    ----------
    values : list of ndarray
        Per series, ``(n_steps, n_columns)`` float64 with NaN where missing.
    timestamps : list of ndarray
        Per series, ``(n_steps,)`` float64 time stamps in units of the base time step (real
        spacing for datetime-like indexes, positions otherwise), starting at 0.
    """

    values: list[np.ndarray]
    timestamps: list[np.ndarray]

    @property
    def n_columns(self) -> int:
        """Number of columns shared by every series."""
        return int(self.values[0].shape[1])

    @property
    def lengths(self) -> list[int]:
        """Number of time steps of each series."""
        return [int(v.shape[0]) for v in self.values]


def _check_numeric_frame(frame: pd.DataFrame, where: str) -> None:
    if frame.columns.duplicated().any():
        dup = [str(c) for c in frame.columns[frame.columns.duplicated()]]
        raise ValueError(f"{where}duplicate column name(s) {dup}; rename them so each is unique.")
    bad = {
        str(c): str(frame[c].dtype)
        for c in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[c].dtype)
        or pd.api.types.is_complex_dtype(frame[c].dtype)
    }
    if bad:
        raise ValueError(
            f"{where}column(s) {list(bad)} are not real numbers (dtypes {list(bad.values())}); "
            "tsdiff works on numeric sensor columns: drop them, or encode them as numbers, "
            "before calling."
        )


def _check_finite(
    values: np.ndarray, labels: pd.Index | None, index: pd.Index | None, where: str
) -> None:
    infinite = np.isinf(values)
    if infinite.any():
        row, col = (int(i[0]) for i in np.nonzero(infinite))
        col_name = repr(labels[col]) if labels is not None else str(col)
        row_name = repr(index[row]) if index is not None else str(row)
        raise ValueError(
            f"{where}column {col_name} holds an infinite value at row {row_name} "
            f"({int(infinite.sum())} infinite cells in all); replace infinities with NaN to have "
            "them imputed, or with a finite value."
        )


def _is_sparse(X: Any) -> bool:
    try:
        import scipy.sparse
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        return False
    return bool(scipy.sparse.issparse(X))


def _check_not_empty(shape: tuple[int, ...]) -> None:
    if shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required."
        )
    if shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required."
        )


@dataclass
class ParsedInput:
    """Series values, raw time stamps and layout of one input."""

    values: list[np.ndarray]
    raw_stamps: list[np.ndarray]
    real_time: bool
    layout: InputLayout

    def series(self, time_step: float | None) -> SeriesSet:
        """The series with time stamps divided by ``time_step`` and starting at 0 (``None``:
        by this input's own base step, the median spacing of its time stamps)."""
        if not self.real_time:
            step = 1.0
        elif time_step is None:
            step = base_time_step(self.raw_stamps)
        else:
            step = time_step
        stamps = [(r - r[0]) / step if len(r) else r for r in self.raw_stamps]
        return SeriesSet(values=self.values, timestamps=stamps)


def _frame_values(frame: pd.DataFrame, where: str) -> np.ndarray:
    _check_numeric_frame(frame, where)
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    _check_finite(values, frame.columns, frame.index, where)
    return values


def _array_values(array: np.ndarray, where: str) -> np.ndarray:
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise type(err)(f"{where}the array is not numeric ({array.dtype}): {err}") from err
    if np.iscomplexobj(array):
        raise ValueError(f"{where}Complex data not supported; pass real numbers.")
    values = array.astype(np.float64)
    _check_finite(values, None, None, where)
    return values


def parse_input(X: Any) -> ParsedInput:
    """Validate ``X`` and split it into series.

    Raises
    ------
    ValueError
        For empty input, non-numeric columns, infinite values, mismatched columns between the
        frames of a list, a MultiIndex with other than two levels, or an unsorted time index;
        each message names the column, row or list position at fault.
    TypeError
        For unsupported input types.

    Warns
    -----
    UserWarning
        When an index used as positions evidently holds time (see the module docstring).

    Notes
    -----
    Pandas nullable columns (``Int64``, ``Float64``, ``boolean``, with ``pd.NA``) become float64
    with NaN here; :meth:`InputLayout.fill` gives them back as described in
    :func:`output_dtype`.
    """
    if isinstance(X, pd.Series):
        raise ValueError("Got a pandas Series; pass a DataFrame (use series.to_frame()).")
    if isinstance(X, pd.DataFrame):
        if X.shape == (0, 0):
            raise ValueError("Found an empty DataFrame; tsdiff needs rows and columns.")
        _check_not_empty(X.shape)
        if isinstance(X.index, pd.MultiIndex):
            return _parse_multiindex(X)
        values = _frame_values(X, "")
        raw, real = time_stamps(X.index)
        layout = InputLayout(
            kind="frame",
            columns=X.columns,
            indexes=[X.index],
            frame_index=X.index,
            dtypes=list(X.dtypes),
        )
        return ParsedInput([values], [raw], real, layout)
    if _is_sparse(X):
        raise TypeError(
            "Sparse data was passed, but dense data is required: tsdiff treats missing cells as "
            "NaN. Convert it with X.toarray() (zeros stay zeros) before calling."
        )
    if isinstance(X, (list, tuple)):
        if X and not any(isinstance(item, (pd.DataFrame, np.ndarray)) for item in X):
            return parse_input(
                np.asarray(X)
            )  # a nested list is an array-like, not a list of series
        return _parse_list(X)
    if hasattr(X, "__array__") or isinstance(X, np.ndarray):
        array = np.asarray(X)
        if array.ndim == 3:
            if 0 in array.shape:
                raise ValueError(f"Found an empty 3-D array of shape {array.shape}.")
            values = _array_values(array, "")
            series = [values[i] for i in range(values.shape[0])]
            stamps = [np.arange(values.shape[1], dtype=np.float64)] * len(series)
            layout = InputLayout(
                kind="array3d",
                columns=None,
                indexes=[pd.RangeIndex(values.shape[1])] * len(series),
                dtypes=[array.dtype],
            )
            return ParsedInput(series, stamps, False, layout)
        if array.ndim != 2:
            raise ValueError(
                f"Expected a 2-D array [n_steps, n_columns] or a 3-D array [n_series, n_steps, "
                f"n_columns], got {array.ndim} dimension(s) of shape {array.shape}. Reshape your "
                "data, e.g. array.reshape(-1, 1) for a single sensor."
            )
        _check_not_empty(array.shape)
        values = _array_values(array, "")
        layout = InputLayout(
            kind="array", columns=None, indexes=[pd.RangeIndex(len(values))], dtypes=[array.dtype]
        )
        return ParsedInput([values], [np.arange(len(values), dtype=np.float64)], False, layout)
    raise TypeError(
        f"Unsupported input type {type(X).__name__}; pass a DataFrame, a list of DataFrames, a "
        "DataFrame with a (series, time) MultiIndex, or a 2-D/3-D numpy array."
    )


def _parse_list(items: Sequence[Any]) -> ParsedInput:
    if len(items) == 0:
        raise ValueError("Got an empty list; pass at least one series.")
    if all(isinstance(f, pd.DataFrame) for f in items):
        frames: Sequence[pd.DataFrame] = items
        columns = frames[0].columns
        values, stamps, realness = [], [], []
        for i, frame in enumerate(frames):
            where = f"list item {i}: "
            if not frame.columns.equals(columns):
                missing = [str(c) for c in columns if c not in frame.columns]
                extra = [str(c) for c in frame.columns if c not in columns]
                raise ValueError(
                    f"{where}columns differ from item 0 (missing {missing}, extra {extra}, or in "
                    "another order); give every series the same columns in the same order."
                )
            if frame.shape[0] == 0:
                raise ValueError(f"{where}the DataFrame has no rows.")
            if isinstance(frame.index, pd.MultiIndex):
                raise ValueError(f"{where}a list item may not have a MultiIndex.")
            values.append(_frame_values(frame, where))
            raw, real = time_stamps(frame.index, where)
            stamps.append(raw)
            realness.append(real)
        if len(set(realness)) > 1:
            raise ValueError(
                "Mix of datetime-indexed and other frames in the list; "
                "use one kind of index for all."
            )
        layout = InputLayout(
            kind="frames",
            columns=columns,
            indexes=[f.index for f in frames],
            dtypes=list(frames[0].dtypes),
        )
        return ParsedInput(values, stamps, realness[0], layout)
    if all(isinstance(a, np.ndarray) for a in items):
        arrays = [np.asarray(a) for a in items]
        width = arrays[0].shape[1] if arrays[0].ndim == 2 else None
        for i, a in enumerate(arrays):
            if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] != width:
                raise ValueError(
                    f"list item {i}: expected a non-empty 2-D array with {width} columns, "
                    f"got shape {a.shape}."
                )
        values = [_array_values(a, f"list item {i}: ") for i, a in enumerate(arrays)]
        layout = InputLayout(
            kind="arrays",
            columns=None,
            indexes=[pd.RangeIndex(len(a)) for a in arrays],
            dtypes=[arrays[0].dtype],
        )
        return ParsedInput(
            values, [np.arange(len(v), dtype=np.float64) for v in values], False, layout
        )
    kinds = sorted({type(f).__name__ for f in items})
    raise TypeError(f"A list input must hold only DataFrames or only 2-D arrays, got {kinds}.")


def _parse_multiindex(frame: pd.DataFrame) -> ParsedInput:
    index = frame.index
    assert isinstance(index, pd.MultiIndex)
    if index.nlevels != 2:
        raise ValueError(
            f"A MultiIndex input needs exactly two levels (series id, time), got {index.nlevels}: "
            f"{list(index.names)}."
        )
    values_all = _frame_values(frame, "")
    codes, uniques = pd.factorize(index.get_level_values(0))
    values, stamps, positions, indexes, realness = [], [], [], [], []
    for code, key in enumerate(uniques):
        rows = np.flatnonzero(codes == code)
        time_index = index.get_level_values(1)[rows]
        raw, real = time_stamps(pd.Index(time_index), f"series {key!r}: ")
        values.append(values_all[rows])
        stamps.append(raw)
        positions.append(rows)
        indexes.append(pd.Index(time_index))
        realness.append(real)
    if len(set(realness)) > 1:
        raise ValueError(
            "Some series have datetime time stamps and others not; use one kind for all."
        )
    layout = InputLayout(
        kind="multiindex",
        columns=frame.columns,
        indexes=indexes,
        row_positions=positions,
        frame_index=frame.index,
        dtypes=list(frame.dtypes),
    )
    return ParsedInput(values, stamps, realness[0], layout)


def column_names(parsed: ParsedInput) -> np.ndarray | None:
    """Column labels as an object array of strings, or None for array input."""
    columns = parsed.layout.columns
    if columns is None:
        return None
    return np.asarray([str(c) for c in columns], dtype=object)


def has_observed(parsed: ParsedInput) -> bool:
    """Whether ``parsed`` holds at least one observed (non-NaN) cell.

    An estimator must not return a confident constant for an input with nothing observed; call
    this (or :func:`require_observed`) at transform/score time.
    """
    return any(bool((~np.isnan(v)).any()) for v in parsed.values)


def require_observed(parsed: ParsedInput, *, where: str = "") -> None:
    """Raise if ``parsed`` holds no observed cell at all.

    Raises
    ------
    ValueError
        When every cell is missing (the message says so and what to do).
    """
    if not has_observed(parsed):
        n_cells = sum(int(v.size) for v in parsed.values)
        raise ValueError(
            f"{where}every one of the {n_cells} cells is missing (NaN), so there is nothing to "
            "condition on and any result would be the training mean presented as an estimate; "
            "pass data with at least some observed values."
        )
