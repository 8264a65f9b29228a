"""Input handling shared by the estimators: parse and check ``X``, standardise, cut windows."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from tsdiff.api._parameters import EstimatorParameters
from tsdiff.data.frames import (
    ParsedInput,
    SeriesSet,
    check_column_identity,
    column_identity,
    column_names,
    parse_input,
    require_observed,
)
from tsdiff.data.scaling import NaNStandardScaler
from tsdiff.data.windows import WindowStore, build_window_store
from tsdiff.model.config import ModelConfig


class EstimatorInput(EstimatorParameters):
    """Parse ``X`` against the columns seen in ``fit`` and turn it into standardised windows."""

    n_features_in_: int
    scaler_: NaNStandardScaler
    model_config_: ModelConfig
    time_step_: float

    def _parse(self, X: Any, *, reset: bool) -> ParsedInput:
        """Parse and validate ``X``; on ``reset`` record the feature count and names."""
        parsed = parse_input(X)
        if parsed.layout.kind in ("frame", "array"):
            validate_data(
                self,
                X,
                reset=reset,
                ensure_all_finite="allow-nan",
                dtype=None,
                ensure_min_samples=1,
                ensure_min_features=1,
            )
        else:
            n_columns = parsed.values[0].shape[1]
            if reset:
                self.n_features_in_ = n_columns
            elif n_columns != self.n_features_in_:
                raise ValueError(
                    f"X has {n_columns} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
        labels = parsed.layout.columns
        if reset:
            self.column_ids_ = column_identity(labels)
            names = column_names(parsed)
            if names is not None and all(isinstance(c, str) for c in labels):  # type: ignore[union-attr]
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            check_column_identity(getattr(self, "column_ids_", None), labels)
        return parsed

    def _check_fitted_input(self, X: Any) -> ParsedInput:
        """Validate the parameters (also after ``set_params``) and ``X`` against fit's columns;
        ``X`` must hold at least one observed value."""
        check_is_fitted(self, "model_")
        self._check_params()
        parsed = self._parse(X, reset=False)
        require_observed(parsed)
        return parsed

    def _series(self, parsed: ParsedInput) -> SeriesSet:
        """The series of a fitted estimator's input, time stamps in the fit's base steps.

        A plain index is read as consecutive base steps. Time stamps given to a model fitted on
        plain positions are read in the input's own base step (its median spacing), since the
        fit's is unknown: evenly spaced rows are then consecutive steps, as in fit.
        """
        fitted_on_time = getattr(self, "real_time_", True)
        return parsed.series(self.time_step_ if fitted_on_time else None)

    def _standardise(self, series: SeriesSet) -> list[np.ndarray]:
        return [self.scaler_.transform(v) for v in series.values]

    def _window_store(self, series: SeriesSet, stride: int) -> WindowStore:
        return build_window_store(
            series,
            self._standardise(series),
            self.window_length,
            stride,
            self.model_config_.edge_anchors,
        )
