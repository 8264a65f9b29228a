"""MLflow pyfunc loader of tsdiff models (``loader_module`` of :func:`tsdiff.tracking.log_model`).

MLflow calls :func:`_load_pyfunc` with the model's data directory: the weights-only directory
written by :func:`tsdiff.api.persistence.save_estimator`. Nothing is unpickled: the estimator is
rebuilt from ``config.json`` and its weights are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class TSDiffPyfuncModel:
    """The object MLflow's ``PyFuncModel`` wraps: ``predict(frame)`` runs the estimator.

    Parameters
    ----------
    estimator : fitted tsdiff estimator
    metadata : dict
        ``index_columns``, ``index_kinds``, ``feature_columns`` (written by ``log_model``).
    """

    def __init__(self, estimator: Any, metadata: dict[str, Any]) -> None:
        self.estimator = estimator
        self.metadata = metadata

    def _prepare(self, model_input: Any) -> tuple[Any, Any, list[str]]:
        import pandas as pd

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        frame = frame.copy()
        frame.columns = [str(c) for c in frame.columns]
        index_columns = [c for c in self.metadata.get("index_columns", []) if c in frame.columns]
        kinds = dict(
            zip(
                self.metadata.get("index_columns", []),
                self.metadata.get("index_kinds", []),
                strict=False,
            )
        )
        for column in index_columns:
            if kinds.get(column) == "datetime" and not pd.api.types.is_datetime64_any_dtype(
                frame[column]
            ):
                try:
                    frame[column] = pd.to_datetime(frame[column])
                except (TypeError, ValueError) as err:
                    raise ValueError(f"Column {column!r} must hold time stamps: {err}") from err
            if kinds.get(column) == "timedelta" and not pd.api.types.is_timedelta64_dtype(
                frame[column]
            ):
                frame[column] = pd.to_timedelta(frame[column])
        features = list(self.metadata.get("feature_columns", []))
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise ValueError(
                f"The input lacks the feature column(s) {missing} the model was fitted on."
            )
        if index_columns:
            frame = frame.set_index(index_columns)
        data = frame[features].astype(np.float64)
        if not self.metadata.get("feature_names_in_input", True):
            return data.to_numpy(), frame, index_columns
        return data, frame, index_columns

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Impute (imputer) or score (detector) a flat DataFrame.

        Parameters
        ----------
        model_input : DataFrame
            The index columns named at logging time (e.g. ``time``, ``series``) and the feature
            columns; NaN marks missing cells.
        params : dict, optional
            ``{"n_samples": int}`` overrides the number of imputation samples.

        Returns
        -------
        DataFrame
            Imputer: the index columns and the features with every gap filled. Detector (an
            estimator with ``decision_function``): the index columns and a ``score`` column.
        """
        import pandas as pd

        estimator = self.estimator
        if params and params.get("n_samples") is not None:
            n_samples = int(params["n_samples"])
            if n_samples < 1:
                raise ValueError(f"n_samples must be >= 1, got {n_samples}.")
            estimator.set_params(n_samples=n_samples)
        data, frame, index_columns = self._prepare(model_input)
        features = list(self.metadata.get("feature_columns", []))
        if hasattr(estimator, "decision_function"):
            scores = np.asarray(estimator.decision_function(data), dtype=np.float64).reshape(-1)
            out = pd.DataFrame({"score": scores}, index=frame.index)
        else:
            result = estimator.transform(data)
            if isinstance(result, pd.DataFrame):
                out = result
            else:
                out = pd.DataFrame(np.asarray(result), columns=features, index=frame.index)
        return out.reset_index() if index_columns else out.reset_index(drop=True)


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> TSDiffPyfuncModel:
    """Load the tsdiff model in ``data_path`` for MLflow (weights read with ``weights_only``)."""
    from tsdiff.api.persistence import load_estimator, read_config

    config = read_config(data_path)
    estimator = load_estimator(data_path)
    estimator.set_params(verbose=False, tracking=False)
    metadata = (config.get("metadata") or {}).get("pyfunc") or {}
    if not metadata:
        from tsdiff.tracking._model import input_layout

        _, metadata = input_layout(estimator, None)
    return TSDiffPyfuncModel(estimator, metadata)
