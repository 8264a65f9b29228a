"""scikit-learn style estimators."""

from tsdiff.api.imputer import TSDiffImputer

__all__ = ["TSDiffImputer"]
