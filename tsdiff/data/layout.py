"""The structure of an input (:class:`InputLayout`) and results arranged in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

LayoutKind = Literal["frame", "frames", "multiindex", "array", "arrays", "array3d"]


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
