"""Output containers of the imputer's ``transform`` (``set_output``, feature names)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import get_config

from tsdiff.data.frames import ParsedInput


class OutputContainerMixin:
    """``get_feature_names_out`` and ``set_output`` for an estimator that keeps every column."""

    n_features_in_: int

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names: the input's (the imputer keeps every column).

        Parameters
        ----------
        input_features : array-like of str, optional
            Must match ``feature_names_in_`` when that exists.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_features_in_")
        fitted = getattr(self, "feature_names_in_", None)
        if input_features is not None:
            names = np.asarray(input_features, dtype=object)
            if len(names) != self.n_features_in_:
                raise ValueError(
                    f"input_features has {len(names)} names, but the imputer was fitted on "
                    f"{self.n_features_in_} features."
                )
            if fitted is not None and not np.array_equal(names, fitted):
                raise ValueError("input_features is not equal to feature_names_in_.")
            return names
        if fitted is not None:
            return np.asarray(fitted, dtype=object)
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)

    def set_output(self, *, transform: str | None = None) -> Any:
        """Choose the container of :meth:`transform`'s output for array input.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, optional
            ``"pandas"`` returns a DataFrame (columns from :meth:`get_feature_names_out`) for a
            2-D array input and DataFrames for a list of arrays; frame inputs always give frames.
            None leaves the setting unchanged.
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas", "polars"):
            raise ValueError(
                f"transform must be 'default', 'pandas' or 'polars', got {transform!r}."
            )
        self._output_container = transform
        return self

    def _wrap_output(self, result: Any, parsed: ParsedInput) -> Any:
        container = getattr(self, "_output_container", None) or get_config().get(
            "transform_output", "default"
        )
        if container == "default" or parsed.layout.kind in (
            "frame",
            "frames",
            "multiindex",
            "array3d",
        ):
            if container == "polars" and parsed.layout.kind == "frame":
                return _to_polars(result)
            return result
        names = self.get_feature_names_out()
        frames = (
            pd.DataFrame(result, columns=names)
            if parsed.layout.kind == "array"
            else [pd.DataFrame(a, columns=names) for a in result]
        )
        if container == "polars":
            return (
                _to_polars(frames)
                if isinstance(frames, pd.DataFrame)
                else [_to_polars(f) for f in frames]
            )
        return frames


def _to_polars(frame: pd.DataFrame) -> Any:
    try:
        import polars as pl
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("set_output(transform='polars') needs the polars package.") from err
    return pl.from_pandas(frame.reset_index(drop=True).rename(columns=str))
