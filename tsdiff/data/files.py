"""Read and write data files (CSV, Parquet) and turn flat tables into indexed frames and back.

Used by the command line. A *table* is a flat :class:`pandas.DataFrame` as stored in a file (the
time stamps and series ids are ordinary columns); a *frame* is what the estimators take: the
feature columns with the time (and series) as index.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tsdiff.data.table_columns import (
    DataFileError,
    _bad_cell_error,
    _check_time_order,
    _holds_numbers,
    _is_numeric,
    _parse_time,
)

FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".csv.bz2": "csv",
    ".csv.zip": "csv",
    ".csv.xz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
DEFAULT_TIME_COLUMN = "time"


def table_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from the file name's extension.

    Raises
    ------
    DataFileError
        For any other extension (the message lists the supported ones).
    """
    name = Path(path).name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    raise DataFileError(
        f"{path}: unsupported file type; use one of {', '.join(sorted(FORMATS))} "
        "(the format is chosen by the extension)."
    )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally compressed) or Parquet file.

    Raises
    ------
    DataFileError
        If the file is missing, empty, unreadable, or of an unsupported type.
    """
    file = Path(path)
    kind = table_format(file)
    if not file.is_file():
        raise DataFileError(f"{file}: no such file.")
    try:
        table = pd.read_parquet(file) if kind == "parquet" else pd.read_csv(file)
    except ImportError as err:
        raise DataFileError(f"{file}: reading Parquet needs pyarrow ({err}).") from err
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataFileError(f"{file}: cannot be read as {kind.upper()} ({err}).") from err
    if table.shape[0] == 0:
        raise DataFileError(f"{file}: the file has no data rows.")
    table.columns = [str(c) for c in table.columns]
    if len(set(table.columns)) != len(table.columns):
        dup = sorted({c for c in table.columns if list(table.columns).count(c) > 1})
        raise DataFileError(f"{file}: duplicate column name(s) {dup}.")
    return table


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a flat table to CSV or Parquet (by extension); parent folders are created.

    Raises
    ------
    DataFileError
        For an unsupported extension or a failed write.
    """
    file = Path(path)
    kind = table_format(file)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        if kind == "parquet":
            table.to_parquet(file, index=False)
        else:
            table.to_csv(file, index=False)
    except ImportError as err:
        raise DataFileError(f"{file}: writing Parquet needs pyarrow ({err}).") from err
    except OSError as err:
        raise DataFileError(f"{file}: cannot be written ({err}).") from err
    return file


@dataclass
class Table:
    """A table split into features, labels and pass-through columns, indexed by time (and series).

    Attributes
    ----------
    features : DataFrame
        Float feature columns, indexed by time, ``(series, time)`` or position.
    labels : Series or None
        The label column (same index), when present.
    extra : DataFrame
        Other columns (non-numeric or not selected), same index; written back unchanged.
    time_column, series_column : str or None
        The columns that became the index.
    order : list of str
        The columns of the original table, in order.
    ignored : list of str
        Columns without a single number (such as a text id) that were left out of the features
        (not asked for explicitly); :func:`split_table` warns about them.
    time_values : Series or None
        The time column as read, written back unchanged (numeric time stamps are turned into a
        ``TimedeltaIndex`` for the model, see :func:`split_table`).
    """

    features: pd.DataFrame
    labels: pd.Series | None
    extra: pd.DataFrame
    time_column: str | None
    series_column: str | None
    order: list[str]
    ignored: list[str]
    time_values: pd.Series | None = None

    def to_table(
        self, features: pd.DataFrame | None = None, added: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """A flat table: the original columns in order (``features`` replacing the features),
        then ``added`` columns."""
        data = self.features if features is None else features
        parts = [data, self.extra]
        if self.labels is not None:
            parts.append(self.labels.to_frame())
        if added is not None:
            parts.append(added)
        merged = pd.concat([p.reset_index(drop=True) for p in parts], axis=1)
        index_columns = [c for c in (self.series_column, self.time_column) if c is not None]
        if index_columns:
            index_frame = self.features.index.to_frame(index=False)
            index_frame.columns = index_columns
            if self.time_values is not None and self.time_column is not None:
                index_frame[self.time_column] = self.time_values.to_numpy()
            merged = pd.concat([index_frame, merged], axis=1)
        ordered = [c for c in self.order if c in merged.columns]
        rest = [c for c in merged.columns if c not in set(ordered)]
        return merged[ordered + rest]


def split_table(
    table: pd.DataFrame,
    *,
    time_column: str | None = None,
    series_column: str | None = None,
    label_column: str | None = "label",
    columns: list[str] | None = None,
    time_format: str | None = None,
    source: str = "",
) -> Table:
    """Split a flat table into an indexed feature frame, labels and pass-through columns.

    Parameters
    ----------
    table : DataFrame
        As read from a file.
    time_column : str, optional
        Time column (must exist). Default: ``"time"`` when present, else no time index.
    series_column : str, optional
        Series id column: the frame gets a ``(series, time)`` MultiIndex (time = position within
        the series when there is no time column).
    label_column : str or None, default="label"
        Label column, separated when present.
    columns : list of str, optional
        Feature columns (each must exist and be numeric). Default: every other numeric column.
    time_format : str, optional
        ``strftime`` format of text time stamps.
    source : str
        File name for messages.

    Raises
    ------
    DataFileError
        Naming the file and the column at fault.
    """
    where = f"{source}: " if source else ""
    available = list(table.columns)
    for name, flag in ((time_column, "--time-column"), (series_column, "--series-column")):
        if name is not None and name not in table.columns:
            raise DataFileError(f"{where}no column {name!r} ({flag}); the columns are {available}.")
    if time_column is None and DEFAULT_TIME_COLUMN in table.columns:
        time_column = DEFAULT_TIME_COLUMN
    if time_column is not None and time_column == series_column:
        raise DataFileError(f"{where}the time and series columns are both {time_column!r}.")
    reserved = {c for c in (time_column, series_column) if c is not None}
    label = (
        label_column
        if label_column is not None
        and label_column in table.columns
        and label_column not in reserved
        else None
    )
    reserved |= {label} if label else set()
    ignored: list[str] = []
    if columns is not None:
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise DataFileError(
                f"{where}missing feature column(s) {missing}; the columns are {available}."
            )
        clash = [c for c in columns if c in reserved]
        if clash:
            raise DataFileError(
                f"{where}column(s) {clash} cannot be both a feature and the time/series/label "
                "column."
            )
        partial = [c for c in columns if not _is_numeric(table[c]) and _holds_numbers(table[c])]
        error = _bad_cell_error(table, partial, where)
        if error is not None:
            raise error
        bad = [c for c in columns if not _is_numeric(table[c])]
        if bad:
            raise DataFileError(
                f"{where}feature column(s) {bad} are not numeric (dtypes "
                f"{[str(table[c].dtype) for c in bad]}); check the file's decimal separator or "
                "choose other columns."
            )
        features = list(columns)
    else:
        features = [c for c in table.columns if c not in reserved and _is_numeric(table[c])]
        others = [c for c in table.columns if c not in reserved and c not in features]
        error = _bad_cell_error(table, [c for c in others if _holds_numbers(table[c])], where)
        if error is not None:
            raise error
        ignored = others
        if not features:
            raise DataFileError(
                f"{where}no numeric feature column found; the columns are {available}."
            )
        if ignored:
            warnings.warn(
                f"{where}column(s) {ignored} hold no numbers and are not modelled (they are "
                "passed through to the output unchanged); choose the feature columns "
                "explicitly with --columns (columns=) to silence this.",
                UserWarning,
                stacklevel=2,
            )
    if time_column is not None:
        time_index: pd.Index = _parse_time(table[time_column], time_column, time_format, where)
    else:
        time_index = pd.RangeIndex(len(table))
    ids = table[series_column] if series_column is not None else None
    if ids is not None and ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DataFileError(
            f"{where}column {series_column!r} has a missing series id at row {row}."
        )
    if time_column is not None:
        _check_time_order(time_index, ids, time_column, table[time_column], where)
    if series_column is not None:
        assert ids is not None
        if time_column is None:
            time_index = pd.Index(
                table.groupby(series_column, sort=False).cumcount().to_numpy(), name="step"
            )
        index: pd.Index = pd.MultiIndex.from_arrays(
            [ids.to_numpy(), time_index], names=[series_column, time_index.name]
        )
    else:
        index = time_index
    frame = table[features].astype(np.float64)
    frame.index = index
    extra = table[[c for c in table.columns if c not in reserved and c not in features]].copy()
    extra.index = index
    labels = None
    if label is not None:
        labels = table[label].copy()
        labels.index = index
    time_values = table[time_column].copy() if time_column is not None else None
    return Table(
        frame, labels, extra, time_column, series_column, list(table.columns), ignored, time_values
    )


def select_features(table: Table, names: list[str], source: str = "") -> pd.DataFrame:
    """The feature columns ``names`` (those of a fitted model) from ``table``, in that order.

    Columns of ``table.extra`` that are numeric-convertible may be chosen too (a model fitted on
    columns that were passed through here).

    Raises
    ------
    DataFileError
        If a column is missing (listing them).
    """
    where = f"{source}: " if source else ""
    pool = pd.concat([table.features, table.extra], axis=1)
    missing = [n for n in names if n not in pool.columns]
    if missing:
        raise DataFileError(
            f"{where}missing column(s) {missing} that the model was fitted on; the file has "
            f"{list(table.order)}."
        )
    error = _bad_cell_error(pool, [n for n in names if not _is_numeric(pool[n])], where)
    if error is not None:
        raise error
    try:
        return pool[names].astype(np.float64)
    except (TypeError, ValueError) as err:
        raise DataFileError(f"{where}the model's columns must be numeric: {err}") from err


def regroup(table: Table, names: list[str]) -> Table:
    """``table`` with exactly ``names`` as features (the rest moved to the pass-through columns)."""
    pool = pd.concat([table.features, table.extra], axis=1)
    features = pool[names].astype(np.float64)
    extra = pool[[c for c in pool.columns if c not in set(names)]]
    return Table(
        features,
        table.labels,
        extra,
        table.time_column,
        table.series_column,
        table.order,
        [],
        table.time_values,
    )
