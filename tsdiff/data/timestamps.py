"""Time stamps of an index: real spacing for datetime-like indexes, positions otherwise."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


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
