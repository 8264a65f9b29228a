"""Columns of a flat table: time stamps parsed and checked for order, feature cells checked."""

from __future__ import annotations

import numpy as np
import pandas as pd


class DataFileError(ValueError):
    """A data file cannot be read or written, or lacks a column it should have."""


def _parse_time(values: pd.Series, column: str, time_format: str | None, source: str) -> pd.Index:
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataFileError(f"{source}column {column!r} has a missing time stamp at row {row}.")
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or pd.api.types.is_timedelta64_dtype(
        values.dtype
    ):
        return pd.Index(values, name=column)
    if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_float_dtype(values.dtype):
        return _numeric_time(values, column)
    parsed = pd.to_datetime(values, format=time_format, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        hint = f" with format {time_format!r}" if time_format else ""
        raise DataFileError(
            f"{source}column {column!r} holds {values.iloc[row]!r} at row {row}, which is not a "
            "time "
            f"stamp{hint}; fix it, choose another --time-column, or set data.time_format."
        )
    return pd.DatetimeIndex(parsed, name=column)


def _numeric_time(values: pd.Series, column: str) -> pd.TimedeltaIndex:
    """Numeric time stamps (epoch seconds, sample numbers, ...) as a ``TimedeltaIndex`` from the
    first stamp, so the model sees their real, possibly irregular, spacing.

    The unit does not matter (time is measured in multiples of the median step): integers count
    nanoseconds exactly, floats count seconds (nanoseconds when their range is too wide for that).
    """
    if pd.api.types.is_integer_dtype(values.dtype):
        raw = values.to_numpy(dtype=np.int64)
        return pd.TimedeltaIndex(pd.to_timedelta(raw - raw.min(), unit="ns"), name=column)
    floats = values.to_numpy(dtype=np.float64)
    if not np.isfinite(floats).all():
        row = int(np.flatnonzero(~np.isfinite(floats))[0])
        raise DataFileError(f"column {column!r} holds {floats[row]!r} at row {row}.")
    shifted = floats - floats.min()
    if shifted.max() < 9e9:
        return pd.TimedeltaIndex(pd.to_timedelta(shifted, unit="s"), name=column)
    return pd.TimedeltaIndex(pd.to_timedelta(shifted, unit="ns"), name=column)


def _check_time_order(
    time_index: pd.Index, ids: pd.Series | None, column: str, values: pd.Series, where: str
) -> None:
    """Refuse time stamps that go backwards or repeat (within a series), naming the first row."""
    if isinstance(time_index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        stamps = time_index.as_unit("ns").asi8
    else:
        stamps = np.asarray(time_index, dtype=np.float64)
    groups = (
        [np.arange(len(stamps))]
        if ids is None
        else list(ids.groupby(ids, sort=False).indices.values())
    )
    first: int | None = None
    for rows in groups:
        bad = np.flatnonzero(np.diff(stamps[rows]) <= 0)
        if bad.size:
            row = int(rows[bad[0] + 1])
            first = row if first is None else min(first, row)
    if first is None:
        return
    series = ids.iloc[first] if ids is not None else None
    previous = (
        int(np.flatnonzero((ids == series).to_numpy()[:first])[-1])
        if ids is not None
        else first - 1
    )
    kind = "repeats" if stamps[previous] == stamps[first] else "goes back in time"
    in_series = f" in series {series!r}" if ids is not None else ""
    now, before = _plain(values.iloc[first]), _plain(values.iloc[previous])
    raise DataFileError(
        f"{where}column {column!r}{in_series} {kind} at row {first}: {now!r} "
        f"after {before!r} at row {previous}. The rows must be in time order "
        "with no duplicate time stamps (numbers in a time column are time stamps, not row "
        f"positions); sort the file by {column!r}, and drop or merge duplicate rows."
    )


def _plain(value: object) -> object:
    """A numpy scalar as the Python value (for readable messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _first_bad_cell(column: pd.Series) -> tuple[int, object] | None:
    """Row and value of the first non-empty cell of a column that is not a number."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna().to_numpy() & column.notna().to_numpy()
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad)[0])
    return row, _plain(column.iloc[row])


def _holds_numbers(column: pd.Series) -> bool:
    """Whether a text column holds at least one number (it is meant to be numeric)."""
    return bool(pd.to_numeric(column, errors="coerce").notna().any())


def _bad_cell_error(table: pd.DataFrame, names: list[str], where: str) -> DataFileError | None:
    for name in names:
        found = _first_bad_cell(table[name])
        if found is not None:
            row, value = found
            n_bad = int(
                (pd.to_numeric(table[name], errors="coerce").isna() & table[name].notna()).sum()
            )
            return DataFileError(
                f"{where}column {name!r} is numeric but holds {value!r} at row {row} "
                f"({n_bad} such cell(s) in all), which is not a number; the column cannot be "
                "modelled as it is. Fix the cell, leave it empty to mark it missing (it is then "
                "imputed), or choose the feature columns explicitly with --columns."
            )
    return None


def _is_numeric(column: pd.Series) -> bool:
    dtype = column.dtype
    return bool(
        (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
        or (dtype is np.dtype(object) and column.isna().all())
    )
