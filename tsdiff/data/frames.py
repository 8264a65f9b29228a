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

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

LayoutKind = Literal["frame", "frames", "multiindex", "array", "arrays", "array3d"]


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


@dataclass
class InputLayout:
    """The structure of an input, to return results in the same structure.

    Attributes
    ----------
    kind : str
        One of ``"frame"``, ``"frames"``, ``"multiindex"``, ``"array"``, ``"arrays"``,
        ``"array3d"``.
    columns : pandas.Index or None
        Column labels of frame inputs.
    indexes : list of pandas.Index
        Per series, its rows' index.
    row_positions : list of ndarray
        For ``"multiindex"``, per series, the positions of its rows in the input frame.
    frame_index : pandas.Index or None
        The whole input index (``"frame"`` and ``"multiindex"``).
    dtypes : list
        Per column, the input dtype (frames) or the array dtype.
    """

    kind: LayoutKind
    columns: pd.Index | None
    indexes: list[pd.Index]
    row_positions: list[np.ndarray] = field(default_factory=list)
    frame_index: pd.Index | None = None
    dtypes: list[Any] = field(default_factory=list)

    def fill(self, original: Any, filled: list[np.ndarray], missing: list[np.ndarray]) -> Any:
        """Return ``original`` with its missing cells replaced, in the input's structure.

        Parameters
        ----------
        original : object
            The input as given to the estimator.
        filled : list of ndarray
            Per series, ``(n_steps, n_columns)`` values to put in the missing cells.
        missing : list of ndarray
            Per series, boolean ``(n_steps, n_columns)``, True where the input was missing.
        """
        if self.kind in ("frame", "multiindex"):
            assert isinstance(original, pd.DataFrame)
            full_values = np.empty(original.shape, dtype=np.float64)
            full_missing = np.zeros(original.shape, dtype=bool)
            if self.kind == "frame":
                full_values[:] = filled[0]
                full_missing[:] = missing[0]
            else:
                for rows, vals, miss in zip(self.row_positions, filled, missing, strict=True):
                    full_values[rows] = vals
                    full_missing[rows] = miss
            return _fill_frame(original, full_values, full_missing)
        if self.kind == "frames":
            return [
                _fill_frame(frame, vals, miss)
                for frame, vals, miss in zip(original, filled, missing, strict=True)
            ]
        if self.kind == "array":
            return _fill_array(np.asarray(original), filled[0], missing[0])
        if self.kind == "arrays":
            return [
                _fill_array(np.asarray(a), v, m)
                for a, v, m in zip(original, filled, missing, strict=True)
            ]
        stacked = np.asarray(original)
        out = stacked.astype(
            stacked.dtype if np.issubdtype(stacked.dtype, np.floating) else np.float64
        )
        for i, (vals, miss) in enumerate(zip(filled, missing, strict=True)):
            out[i][miss] = vals[miss]
        return out

    def stack(self, per_series: list[np.ndarray]) -> Any:
        """Arrange per-series arrays ``(..., n_steps, n_columns)`` in the input's row layout.

        A single frame or array gives one array, a list input a list, a MultiIndex frame one array
        whose rows follow the frame's rows, a 3-D array a ``(..., n_series, n_steps, n_columns)``
        array.
        """
        if self.kind in ("frame", "array"):
            return per_series[0]
        if self.kind in ("frames", "arrays"):
            return per_series
        if self.kind == "array3d":
            return np.stack(per_series, axis=-3)
        total = sum(len(rows) for rows in self.row_positions)
        lead = per_series[0].shape[:-2]
        out = np.empty((*lead, total, per_series[0].shape[-1]), dtype=per_series[0].dtype)
        for rows, arr in zip(self.row_positions, per_series, strict=True):
            out[..., rows, :] = arr
        return out

    def frames(self, per_series: list[np.ndarray]) -> Any:
        """Like :meth:`stack` for 2-D per-series arrays, but as DataFrames for frame inputs."""
        stacked = self.stack(per_series)
        if self.kind == "frame":
            return pd.DataFrame(stacked, index=self.frame_index, columns=self.columns)
        if self.kind == "multiindex":
            return pd.DataFrame(stacked, index=self.frame_index, columns=self.columns)
        if self.kind == "frames":
            return [
                pd.DataFrame(a, index=idx, columns=self.columns)
                for a, idx in zip(stacked, self.indexes, strict=True)
            ]
        return stacked


def output_dtype(dtype: Any) -> Any:
    """The dtype a filled column gets, from its input dtype alone.

    * numpy floats (``float16``/``float32``/``float64``) and pandas nullable floats
      (``Float32``/``Float64``) keep their dtype;
    * pandas nullable integers and booleans (``Int64``, ``UInt8``, ``boolean``, ...) become
      ``Float64``: imputed cells are real numbers, and they are never rounded silently (round the
      result yourself and cast back with ``.round().astype("Int64")`` if you need integers). The
      rule depends on the dtype only, so a column's output dtype does not change with whether this
      particular frame has gaps;
    * anything else (numpy integers and booleans, which cannot hold gaps) becomes ``float64``
      when it needs filling.
    """
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        if isinstance(dtype, (pd.Float32Dtype, pd.Float64Dtype)):
            return dtype
        if _is_nullable_non_float(dtype):
            return pd.Float64Dtype()
        return np.dtype(np.float64)
    np_dtype = np.dtype(dtype)
    return np_dtype if np.issubdtype(np_dtype, np.floating) else np.dtype(np.float64)


def _is_nullable_non_float(dtype: Any) -> bool:
    return isinstance(dtype, pd.BooleanDtype) or (
        isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(dtype)
    )


def _fill_frame(frame: pd.DataFrame, values: np.ndarray, missing: np.ndarray) -> pd.DataFrame:
    out = frame.copy()
    for j in range(frame.shape[1]):
        miss = missing[:, j]
        col = out.iloc[:, j]
        if not miss.any() and not _is_nullable_non_float(col.dtype):
            continue
        dtype = output_dtype(col.dtype)
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):
            numpy_dtype = np.dtype(np.float32 if isinstance(dtype, pd.Float32Dtype) else np.float64)
            new = col.to_numpy(dtype=numpy_dtype, na_value=np.nan, copy=True)
            new[miss] = values[miss, j].astype(numpy_dtype)
            filled: Any = pd.Series(new, index=out.index, dtype=dtype).array
        else:
            filled = col.to_numpy(dtype=dtype, na_value=np.nan, copy=True)
            filled[miss] = values[miss, j].astype(dtype)
        out.isetitem(j, filled)
    return out


def _fill_array(array: np.ndarray, values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.float64
    out = array.astype(dtype, copy=True)
    out[missing] = values[missing].astype(dtype)
    return out


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


def time_stamps(index: pd.Index, where: str = "") -> tuple[np.ndarray, bool]:
    """Return raw time stamps of an index and whether they are real times.

    A ``DatetimeIndex`` gives nanoseconds (whatever its stored unit), a ``TimedeltaIndex`` too;
    they must be strictly
    increasing. Any other index gives positions.

    Raises
    ------
    ValueError
        If a datetime-like index has NaT, or is not strictly increasing (naming the first row).
    """
    if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        if index.hasnans:
            row = int(np.flatnonzero(index.isna())[0])
            raise ValueError(
                f"{where}the time index has a missing time stamp (NaT) at row {row}; "
                "drop or fix that row."
            )
        # pandas may store datetimes in s, ms, us or ns: always measure in nanoseconds.
        raw = index.as_unit("ns").asi8.astype(np.float64)
        if len(raw) > 1:
            steps = np.diff(raw)
            if (steps <= 0).any():
                row = int(np.flatnonzero(steps <= 0)[0]) + 1
                raise ValueError(
                    f"{where}the time index is not strictly increasing at row {row} "
                    f"({index[row - 1]} then {index[row]}); sort it with sort_index() and remove "
                    "duplicate time stamps before calling."
                )
        return raw, True
    _warn_positional_index(index, where)
    return np.arange(len(index), dtype=np.float64), False


def _looks_like_dates(index: pd.Index) -> bool:
    if not (pd.api.types.is_object_dtype(index.dtype) or pd.api.types.is_string_dtype(index.dtype)):
        return False
    sample = [v for v in index[:20] if isinstance(v, str)]
    if not sample or len(sample) < min(len(index), 20):
        return False
    # Dates have separators: plain numbers or words ("1", "pump") are labels, not dates.
    if not all(any(ch.isdigit() for ch in v) and any(ch in "-/:T" for ch in v) for v in sample):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(pd.Series(sample), errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def _warn_positional_index(index: pd.Index, where: str) -> None:
    """Warn when an index that is used as positions evidently holds time (issue 16)."""
    if isinstance(index, pd.RangeIndex) or len(index) < 2:
        return
    name = repr(index.name) if index.name is not None else "the index"
    if pd.api.types.is_numeric_dtype(index.dtype) and not pd.api.types.is_bool_dtype(index.dtype):
        if not (index.is_monotonic_increasing and index.is_unique):
            steps = np.diff(index.to_numpy(dtype=np.float64))
            row = int(np.flatnonzero(~(steps > 0))[0]) + 1  # NaN labels count as a step back
            before, after = (
                v.item() if isinstance(v, np.generic) else v for v in (index[row - 1], index[row])
            )
            warnings.warn(
                f"{where}{name} is numeric but not strictly increasing (row {row}: "
                f"{before!r} then {after!r}); tsdiff treats rows as consecutive time "
                "steps in the order given, so the series is read in row order, not in index "
                "order. Sort it with sort_index() (and drop duplicates) if the index is time.",
                UserWarning,
                stacklevel=4,
            )
        return
    if _looks_like_dates(index):
        warnings.warn(
            f"{where}{name} holds date strings ({index[0]!r}, ...) that are used as plain "
            "positions 0, 1, 2, ...; convert them so real time spacing is used: "
            "read_csv(..., parse_dates=[...], index_col=...) or "
            "frame.index = pd.to_datetime(frame.index).",
            UserWarning,
            stacklevel=4,
        )


def base_time_step(raw_stamps: list[np.ndarray]) -> float:
    """The median positive spacing of the given raw time stamps (1.0 if none)."""
    diffs = [np.diff(r) for r in raw_stamps if len(r) > 1]
    if not diffs:
        return 1.0
    all_diffs = np.concatenate(diffs)
    all_diffs = all_diffs[all_diffs > 0]
    return float(np.median(all_diffs)) if all_diffs.size else 1.0


@dataclass
class ParsedInput:
    """Series values, raw time stamps and layout of one input."""

    values: list[np.ndarray]
    raw_stamps: list[np.ndarray]
    real_time: bool
    layout: InputLayout

    def series(self, time_step: float) -> SeriesSet:
        """The series with time stamps divided by ``time_step`` and starting at 0."""
        step = time_step if self.real_time else 1.0
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


# -- column identity (issue 16) -----------------------------------------------------------------
def _label_token(label: Any) -> str:
    """A JSON-safe text that identifies a column label, type included (``1`` differs from
    ``"1"``, ``np.int64(3)`` equals ``3``)."""
    if isinstance(label, np.generic):
        label = label.item()
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return "none:"
    if isinstance(label, bool):
        return f"bool:{label}"
    if isinstance(label, int):
        return f"int:{label}"
    if isinstance(label, float):
        return f"float:{label!r}"
    if isinstance(label, str):
        return f"str:{label}"
    if isinstance(label, tuple):
        return "tuple:" + json.dumps([_label_token(item) for item in label])
    if isinstance(label, (pd.Timestamp, pd.Timedelta)):
        return f"{type(label).__name__.lower()}:{label.isoformat()}"
    return f"{type(label).__name__}:{label!r}"


def _token_text(token: str) -> str:
    """A readable form of a label token, for messages."""
    kind, _, text = token.partition(":")
    if kind == "str":
        return repr(text)
    if kind == "tuple":
        return "(" + ", ".join(_token_text(t) for t in json.loads(text)) + ")"
    if kind == "none":
        return "None"
    return text


def column_identity(columns: pd.Index | None) -> list[str] | None:
    """Record the identity of frame columns, JSON-safely, for every kind of label.

    Parameters
    ----------
    columns : pandas.Index or None
        The columns of the fitted frame (``ParsedInput.layout.columns``); None for array input.

    Returns
    -------
    list of str or None
        One token per column, in order, e.g. ``"str:temp"``, ``"int:3"``, ``'tuple:["str:a",
        "int:1"]'``. The type is part of the token, so integer ``1`` and text ``"1"`` differ,
        while numpy and Python integers of the same value are the same. A plain list of strings:
        it can be stored as a fitted attribute and saved as JSON. None for array input.
    """
    if columns is None:
        return None
    return [_label_token(c) for c in columns]


def check_column_identity(
    expected: Sequence[str] | None, columns: pd.Index | None, *, where: str = ""
) -> None:
    """Check that a frame has the fitted columns, the same labels in the same order.

    Parameters
    ----------
    expected : list of str or None
        :func:`column_identity` of the fitted frame; None (fitted on an array, or a model saved
        before identities were recorded) skips the check.
    columns : pandas.Index or None
        The columns of the new input; None (an array) skips the check.
    where : str
        A prefix for the message (e.g. ``"transform: "``).

    Raises
    ------
    ValueError
        Naming the missing and unexpected columns, or, when the labels are the same, the first
        position where the order differs, and what to do.
    """
    if expected is None or columns is None:
        return
    given = column_identity(columns)
    assert given is not None
    if list(expected) == given:
        return
    expected_set, given_set = set(expected), set(given)
    missing = [_token_text(t) for t in expected if t not in given_set]
    unexpected = [_token_text(t) for t in given if t not in expected_set]
    if missing or unexpected:
        hint = ""
        if any(
            _token_text(a) == _token_text(b) or a.partition(":")[2] == b.partition(":")[2]
            for a in expected
            for b in given
            if a != b
        ):
            hint = (
                " Some labels match in text but not in type (e.g. integer 1 versus text '1', as "
                "read_csv(header=None) gives integers): use the same label types as in fit."
            )
        raise ValueError(
            f"{where}the columns differ from those seen in fit: missing "
            f"[{', '.join(missing)}], unexpected [{', '.join(unexpected)}].{hint} Pass exactly the "
            "columns the model was fitted on, in the same order "
            "(X = X[fitted_columns])."
        )
    position = next(i for i, (a, b) in enumerate(zip(expected, given, strict=True)) if a != b)
    raise ValueError(
        f"{where}the columns are those seen in fit but in another order: position {position} "
        f"holds {_token_text(given[position])} where fit had {_token_text(expected[position])} "
        f"(fit order: [{', '.join(_token_text(t) for t in expected)}]). Each column is scaled "
        "and modelled by position, so reorder them first: X = X[fitted_columns]."
    )


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
