"""The input layout of a logged model: which index columns and features its pyfunc takes."""

from __future__ import annotations

from typing import Any

import numpy as np

EXAMPLE_ROWS = 24


def feature_columns(estimator: Any) -> list[str]:
    """The estimator's feature names (``x0, x1, ...`` when fitted without names)."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{i}" for i in range(int(estimator.n_features_in_))]


def _index_kind(index: Any) -> str:
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        return "datetime"
    if isinstance(index, pd.TimedeltaIndex):
        return "timedelta"
    if pd.api.types.is_integer_dtype(index.dtype):
        return "integer"
    if pd.api.types.is_float_dtype(index.dtype):
        return "float"
    return "string"


def _json_label(label: Any) -> Any:
    if isinstance(label, (bool, np.bool_)):
        return str(label)
    if isinstance(label, (int, np.integer)):
        return int(label)
    return str(label)


def input_layout(estimator: Any, X: Any) -> tuple[Any, dict[str, Any]]:
    """A flat example frame of ``X`` and what the pyfunc model needs to rebuild the input.

    The pyfunc model takes the frame the estimator was fitted on (index and all) or a flat
    frame where the index (a time index, or a ``(series, time)`` MultiIndex) travels as ordinary
    columns named in ``metadata["index_columns"]`` (their kinds in ``metadata["index_kinds"]``),
    as model serving sends it.

    Returns
    -------
    example : DataFrame or None
        Up to 24 rows of ``X`` with the index as columns (None when ``X`` is None).
    metadata : dict
        ``index_columns``, ``index_kinds``, ``feature_columns`` (str), ``column_labels`` (the
        fitted column labels, ints kept), ``feature_names_in_input`` and ``estimator``.
    """
    import pandas as pd

    features = feature_columns(estimator)
    named = getattr(estimator, "feature_names_in_", None) is not None
    metadata: dict[str, Any] = {
        "index_columns": [],
        "index_kinds": [],
        "feature_columns": features,
        "column_labels": features if named else list(range(len(features))),
        "feature_names_in_input": named,
        "estimator": type(estimator).__name__,
    }
    if X is None:
        return None, metadata
    frame: Any = X
    if isinstance(frame, (list, tuple)) and len(frame) > 0:
        frame = frame[0]
    if not isinstance(frame, pd.DataFrame):
        array = np.asarray(frame)
        if array.ndim == 3:
            array = array[0]
        frame = pd.DataFrame(array)
    else:
        metadata["column_labels"] = [_json_label(c) for c in frame.columns]
    frame = frame.iloc[:EXAMPLE_ROWS]
    index = frame.index
    if isinstance(index, pd.MultiIndex):
        names = [
            str(n) if n is not None else ("series" if i == 0 else "time")
            for i, n in enumerate(index.names)
        ]
        kinds = [_index_kind(index.get_level_values(i)) for i in range(index.nlevels)]
    elif isinstance(index, pd.RangeIndex) and index.name is None:
        names, kinds = [], []
    else:
        names = [str(index.name) if index.name is not None else "time"]
        kinds = [_index_kind(index)]
    clash = [n for n in names if n in {str(c) for c in frame.columns}]
    if clash:
        raise ValueError(
            f"The index name(s) {clash} are also feature column names; rename the index."
        )
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    if names:
        frame.index = (
            index.set_names(names) if isinstance(index, pd.MultiIndex) else index.rename(names[0])
        )
        frame = frame.reset_index()
        for name, kind in zip(names, kinds, strict=True):
            if kind == "timedelta":  # MLflow has no duration type: text ("0 days 01:00:00")
                frame[name] = frame[name].astype(str)
    else:
        frame = frame.reset_index(drop=True)
    metadata["index_columns"] = names
    metadata["index_kinds"] = kinds
    return frame, metadata
