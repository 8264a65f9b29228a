"""The detector's results: score an input once (:meth:`detect`) and keep the result for the
read methods, keyed by a fingerprint of the input and the parameters."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from tsdiff.api._detection_result import DetectionResult, arrange_per_step
from tsdiff.api._detector_calibration import DetectorCalibration
from tsdiff.api._detector_scoring import _RUNTIME
from tsdiff.data.frames import ParsedInput


class DetectorResults(DetectorCalibration):
    """Score once per input and parameters; later calls on the same input read the result."""

    threshold_: float
    decision_scores_: np.ndarray
    labels_: np.ndarray

    def _check_parts_current(self) -> None:
        """Refuse scoring when the parts were changed with ``set_params`` after calibration."""
        current = (*self._parts(), self._neighbours_part())
        for fitted, now, name in zip(
            (self.scorer_, self.aggregator_, self.thresholder_, getattr(self, "neighbours_", None)),
            current,
            ("scorer", "aggregator", "thresholder", "neighbours"),
            strict=True,
        ):
            if fitted is None and now is None:
                continue
            if type(fitted) is not type(now) or _comparable(fitted.get_params()) != _comparable(
                now.get_params()
            ):
                raise ValueError(
                    f"The {name} changed since calibration; call calibrate(X_normal) with "
                    "held-out normal data before scoring."
                )

    def _fingerprint(self, parsed: ParsedInput) -> str:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(repr((parsed.layout.kind, self.get_params(deep=False))).encode())
        digest.update(repr(self.threshold_).encode())
        for values, index in zip(parsed.values, parsed.layout.indexes, strict=True):
            digest.update(np.ascontiguousarray(values).tobytes())
            digest.update(
                pd.util.hash_pandas_object(pd.Index(index), index=False).to_numpy().tobytes()
            )
        return digest.hexdigest()

    def detect(self, X: Any) -> DetectionResult:
        """Score ``X`` once: time-step scores, flags, per-sensor scores and events.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or 2-D/3-D ndarray
            Series with the columns seen in ``fit``; NaN allowed (imputed, not scored).

        Returns
        -------
        DetectionResult
            Arranged like ``X``; ``result.events()`` groups the flags into events. The result
            is kept, so :meth:`decision_function`, :meth:`predict`, :meth:`feature_scores` and
            :meth:`predict_events` on the same input do not sample again.
        """
        check_is_fitted(self, "threshold_")
        parsed = self._check_fitted_input(X)
        self._check_parts_current()
        key = self._fingerprint(parsed)
        runtime = _RUNTIME.setdefault(self, {})
        cached = runtime.get("result")
        if cached is not None and cached[0] == key:
            return cached[1]
        start = time.perf_counter()
        neighbours = getattr(self, "neighbours_", None)
        raw = self._raw_tables(self.scorer_, neighbours, self._series(parsed))
        tables = [
            self._fold(self.scorer_, neighbours, self.aggregator_.sensor_scores(r)) for r in raw
        ]
        steps = [self.aggregator_.aggregate(t) for t in tables]
        thresholds = [self.thresholder_.threshold_for(s) for s in steps]
        flags = []
        for s, t in zip(steps, thresholds, strict=True):
            with np.errstate(invalid="ignore"):
                flags.append((np.nan_to_num(s, nan=-np.inf) > t).astype(np.int64))
        layout = parsed.layout
        result = DetectionResult(
            scores=arrange_per_step(layout, steps, "score"),
            labels=arrange_per_step(layout, flags, "anomaly"),
            sensor_scores=layout.frames(tables),
            thresholds=thresholds,
            layout=layout,
            step_scores=steps,
            step_labels=flags,
            sensor_tables=tables,
            sensor_names=self._sensor_names(parsed),
            seconds=time.perf_counter() - start,
        )
        runtime["result"] = (key, result)
        return result

    def _sensor_names(self, parsed: ParsedInput) -> list[str]:
        if parsed.layout.columns is not None:
            return [str(c) for c in parsed.layout.columns]
        return [f"x{i}" for i in range(self.n_features_in_)]


def _comparable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters in a form that compares by meaning (``[1, 9]`` equals ``(1, 9)``; nested
    parts by type and parameters)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if hasattr(v, "get_params") and not isinstance(v, type):
            out[k] = (type(v).__name__, repr(sorted(_comparable(v.get_params()).items())))
        elif isinstance(v, (list, tuple, np.ndarray)):
            out[k] = tuple(np.asarray(v).ravel().tolist())
        else:
            out[k] = v
    return out
