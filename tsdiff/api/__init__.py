"""scikit-learn style estimators (imported lazily)."""

from __future__ import annotations

from typing import Any

__all__ = ["TSDiffAnomalyDetector", "TSDiffImputer"]


def __getattr__(name: str) -> Any:
    if name == "TSDiffImputer":
        from tsdiff.api.imputer import TSDiffImputer

        return TSDiffImputer
    if name == "TSDiffAnomalyDetector":
        from tsdiff.api.detector import TSDiffAnomalyDetector

        return TSDiffAnomalyDetector
    raise AttributeError(f"module 'tsdiff.api' has no attribute {name!r}")
