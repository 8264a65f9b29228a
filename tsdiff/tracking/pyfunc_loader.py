"""MLflow pyfunc loader of tsdiff models (``loader_module`` of :func:`tsdiff.tracking.log_model`).

MLflow calls :func:`_load_pyfunc` with the model's data directory: the weights-only directory
written by :func:`tsdiff.persistence.save_estimator`. Nothing is unpickled: the estimator is
rebuilt from ``config.json`` and its weights are read with ``torch.load(weights_only=True)``.

The logged model has no strict input schema (MLflow's schema enforcement drops columns it does
not know, such as integer column labels, and cannot describe an index); the input is checked
and converted here instead.
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
        The layout written by ``log_model`` (see :func:`tsdiff.tracking._layout.input_layout`).
    """

    def __init__(self, estimator: Any, metadata: dict[str, Any]) -> None:
        self.estimator = estimator
        self.metadata = metadata

    # -- input -------------------------------------------------------------------------------
    def _set_index(self, frame: Any) -> tuple[Any, bool]:
        """Move the index columns of a flat frame into the index; True when there were any."""
        import pandas as pd

        index_columns = list(self.metadata.get("index_columns", []))
        kinds = dict(zip(index_columns, self.metadata.get("index_kinds", []), strict=False))
        by_name = {str(c): c for c in frame.columns}
        present = [c for c in index_columns if c in by_name]
        if not present:
            if "datetime" in kinds.values() and not _has_time_index(frame.index):
                raise ValueError(
                    f"The model was fitted on time-indexed data: pass the column(s) "
                    f"{index_columns} or a frame indexed by them."
                )
            return frame, False
        if len(present) != len(index_columns):
            missing = [c for c in index_columns if c not in by_name]
            raise ValueError(f"The input lacks the index column(s) {missing}.")
        frame = frame.rename(columns={by_name[c]: c for c in index_columns})
        for column in index_columns:
            kind = kinds.get(column)
            try:
                if kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(frame[column]):
                    frame[column] = pd.to_datetime(frame[column])
                if kind == "timedelta" and not pd.api.types.is_timedelta64_dtype(frame[column]):
                    frame[column] = pd.to_timedelta(frame[column])
            except (TypeError, ValueError) as err:
                raise ValueError(f"Column {column!r} must hold time stamps: {err}") from err
        return frame.set_index(index_columns), True

    def _features(self, frame: Any) -> Any:
        """The feature columns, labelled as in ``fit`` (string names or integer labels)."""
        features = list(self.metadata.get("feature_columns", []))
        labels = list(self.metadata.get("column_labels", features))
        by_name = {str(c): c for c in frame.columns}
        if self.metadata.get("feature_names_in_input", True):
            missing = [c for c in features if c not in by_name]
            if missing:
                raise ValueError(
                    f"The input lacks the feature column(s) {missing} the model was fitted on."
                )
            data = frame[[by_name[c] for c in features]]
            data.columns = features
        else:
            wanted = [str(c) for c in labels]
            if all(c in by_name for c in wanted):
                data = frame[[by_name[c] for c in wanted]]
            elif frame.shape[1] == len(labels):
                data = frame
            else:
                raise ValueError(
                    f"The input has {frame.shape[1]} columns; the model was fitted on "
                    f"{len(labels)} unnamed columns {labels}."
                )
            data = data.copy()
            data.columns = labels
        return data.astype(np.float64)

    # -- prediction --------------------------------------------------------------------------
    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Impute (imputer) or score (detector) a frame.

        Parameters
        ----------
        model_input : DataFrame or 2-D array
            The frame the model was fitted on (time index and all), or a flat frame holding the
            index columns named at logging time (e.g. ``time``, ``series``; text time stamps
            are parsed) and the feature columns. Integer column labels are accepted as fitted
            (as text too, as model serving sends them); NaN marks missing cells.
        params : dict, optional
            ``{"n_samples": int}`` overrides the number of imputation samples (imputers).

        Returns
        -------
        DataFrame
            Imputer: the input's index (as columns for a flat input) and the features with every
            gap filled. Detector: the index and the columns ``score`` and ``is_anomaly``.
        """
        import pandas as pd

        estimator = self.estimator
        if params and params.get("n_samples") is not None and "n_samples" in estimator.get_params():
            n_samples = int(params["n_samples"])
            if n_samples < 1:
                raise ValueError(f"n_samples must be >= 1, got {n_samples}.")
            estimator.set_params(n_samples=n_samples)
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        frame, flat = self._set_index(frame.copy())
        data = self._features(frame)
        if hasattr(estimator, "decision_function"):
            scores, labels = _detect(estimator, data)
            out = pd.DataFrame({"score": scores, "is_anomaly": labels}, index=data.index)
        else:
            result = estimator.transform(data)
            if isinstance(result, pd.DataFrame):
                out = result
            else:
                out = pd.DataFrame(np.asarray(result), columns=data.columns, index=data.index)
        return out.reset_index() if flat else out


def _has_time_index(index: Any) -> bool:
    import pandas as pd

    levels = (
        [index.get_level_values(i) for i in range(index.nlevels)]
        if isinstance(index, pd.MultiIndex)
        else [index]
    )
    return any(
        pd.api.types.is_datetime64_any_dtype(level) or pd.api.types.is_timedelta64_dtype(level)
        for level in levels
    )


def _detect(estimator: Any, data: Any) -> tuple[np.ndarray, np.ndarray]:
    """Scores and 0/1 flags of one frame, from one scoring pass."""
    from tsdiff.evaluation import score_once

    return score_once(estimator, data)


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> TSDiffPyfuncModel:
    """Load the tsdiff model in ``data_path`` for MLflow (weights read with ``weights_only``)."""
    from tsdiff.persistence import load_estimator, read_config
    from tsdiff.tracking._layout import input_layout

    config = read_config(data_path)
    estimator = load_estimator(data_path)
    estimator.set_params(verbose=False)
    metadata = (config.get("metadata") or {}).get("pyfunc") or {}
    if not metadata:
        _, metadata = input_layout(estimator, None)
    return TSDiffPyfuncModel(estimator, metadata)
