"""The detector's read methods in PyOD's conventions (scores, flags, probabilities,
confidence), each a view of the :class:`~tsdiff.api._detection_result.DetectionResult` of
:meth:`detect`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tsdiff.api._detection_result import arrange_per_step
from tsdiff.api._detector_results import DetectorResults
from tsdiff.scoring.probabilities import outlier_probability, prediction_confidence


class PyODReadMixin(DetectorResults):
    """``decision_function``, ``predict``, ``predict_proba`` and the other read methods."""

    def decision_function(self, X: Any) -> Any:
        """Anomaly score of each time step (higher = more anomalous).

        Returns
        -------
        Series, list of Series, or ndarray
            A Series named ``"score"`` on ``X``'s index for a DataFrame, a list of them for a
            list of frames, a 1-D array for a 2-D array (``(n_series, n_steps)`` for a 3-D
            array). Steps with no observed sensor get NaN.
        """
        return self.detect(X).scores

    def score_samples(self, X: Any) -> Any:
        """Opposite of :meth:`decision_function`, scikit-learn's convention (lower = more
        anomalous), as ``IsolationForest.score_samples``."""
        return _negate(self.decision_function(X))

    def predict(self, X: Any) -> Any:
        """Flag anomalous time steps: 1 where the score exceeds the threshold, else 0."""
        return self.detect(X).labels

    def fit_predict(self, X: Any, y: Any = None) -> Any:
        """Fit on ``X`` and flag its anomalies (see :meth:`predict`)."""
        return self.fit(X).predict(X)

    def feature_scores(self, X: Any) -> Any:
        """Per-sensor contribution to each time step's score (same index and columns as ``X``
        for frames; NaN for unscored cells)."""
        return self.detect(X).sensor_scores

    def predict_events(
        self, X: Any, *, max_gap: int = 0, min_length: int = 1, top_sensors: int = 3
    ) -> pd.DataFrame:
        """Group flagged time steps into events (see :meth:`DetectionResult.events`)."""
        return self.detect(X).events(
            max_gap=max_gap, min_length=min_length, top_sensors=top_sensors
        )

    def predict_proba(self, X: Any, method: str = "linear") -> Any:
        """Probability of each time step being normal / anomalous (PyOD's convention).

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
        method : {"linear", "unify"}, default="linear"
            ``"linear"`` min-max scales the score by the range of ``decision_scores_``;
            ``"unify"`` maps its standardised value through the Gaussian error function
            (Kriegel et al., 2011).

        Returns
        -------
        DataFrame (columns ``normal``, ``anomaly``), list of DataFrames, or ndarray ``(..., 2)``
            NaN where the step has no score.
        """
        result = self.detect(X)
        probs = []
        for s in result.step_scores:
            p = outlier_probability(s, self.decision_scores_, method)
            probs.append(np.stack([1.0 - p, p], axis=1))
        return arrange_per_step(result.layout, probs, "proba")

    def predict_confidence(self, X: Any) -> Any:
        """Confidence in each flag, from how the score ranks among ``decision_scores_``
        (ExCeeD, Perini et al., 2020): near 1 where more calibration data could hardly change
        the flag, near 0.5 at the threshold.

        Returns
        -------
        Series, list of Series, or ndarray
            In the structure of :meth:`decision_function`'s output; NaN where no score.
        """
        result = self.detect(X)
        alarms = int(self.labels_.sum())
        confidences = [
            prediction_confidence(s, f, self.decision_scores_, alarms)
            for s, f in zip(result.step_scores, result.step_labels, strict=True)
        ]
        return arrange_per_step(result.layout, confidences, "confidence")


def _negate(output: Any) -> Any:
    if isinstance(output, list):
        return [-o for o in output]
    return -output
