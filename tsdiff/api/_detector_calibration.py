"""The detector's calibration: fit the aggregator and the thresholder on held-out normal data
and set the PyOD-style attributes (``threshold_``, ``decision_scores_``, ``labels_``)."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

from tsdiff.api._detector_scoring import _RUNTIME, DetectorScoring
from tsdiff.data.frames import SeriesSet

_Detector = TypeVar("_Detector", bound="DetectorCalibration")


class DetectorCalibration(DetectorScoring):
    """Fit the detector's aggregator and thresholder on normal data (network unchanged)."""

    def calibrate(self: _Detector, X: Any) -> _Detector:
        """Refit the aggregator and the thresholder on normal data ``X`` (network unchanged).

        Needed after changing the scorer, aggregator or thresholder with ``set_params``.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
            Normal data the model was not trained on, with the columns seen in ``fit``, at
            least ``window_length`` rows in all.

        Returns
        -------
        self : TSDiffAnomalyDetector
        """
        parsed = self._check_fitted_input(X)
        series = self._series(parsed)
        n_rows = sum(len(v) for v in series.values)
        if n_rows < self.window_length:
            raise ValueError(
                f"Calibration data has {n_rows} rows, fewer than window_length "
                f"({self.window_length}); pass more normal data."
            )
        self._calibrate(series)
        return self

    def _calibrate(self, series: SeriesSet) -> None:
        """Fit the parts on ``series`` and set the PyOD-style attributes."""
        scorer, aggregator, thresholder = self._parts()
        neighbours = self._neighbours_part()
        if neighbours is not None:
            neighbours.validate()
        raw = self._raw_tables(scorer, neighbours, series)
        aggregator.fit(raw)
        steps = [
            aggregator.aggregate(self._fold(scorer, neighbours, aggregator.sensor_scores(r)))
            for r in raw
        ]
        scores = np.concatenate(steps)
        scores = scores[np.isfinite(scores)]
        thresholder.fit(scores)
        self.scorer_, self.aggregator_, self.thresholder_ = scorer, aggregator, thresholder
        self.neighbours_ = neighbours
        self.threshold_ = float(thresholder.threshold_)
        self.decision_scores_ = scores
        self.labels_ = (scores > self.threshold_).astype(np.int64)
        _RUNTIME.pop(self, None)
