"""scikit-learn's estimator checks on a tiny TSDiffImputer."""

from __future__ import annotations

from typing import Any

from conftest import TINY
from sklearn.utils.estimator_checks import parametrize_with_checks

from tsdiff import TSDiffImputer

CHECKED = TSDiffImputer(
    **{**TINY, "window_length": 4, "max_epochs": 1, "n_samples": 2, "sampling_steps": 2}
)


@parametrize_with_checks([CHECKED])
def test_sklearn_compatible_estimator(estimator: Any, check: Any) -> None:
    check(estimator)
