"""tsdiff: conditional diffusion models for imputing and scoring sensor time series.

The estimators are imported lazily so that ``import tsdiff`` (and the CLI's ``--help``) stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tsdiff._version import __version__

if TYPE_CHECKING:
    from tsdiff.api.detector import TSDiffAnomalyDetector
    from tsdiff.api.imputer import TSDiffImputer
    from tsdiff.model.config import ModelConfig

__all__ = ["ModelConfig", "TSDiffAnomalyDetector", "TSDiffImputer", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("TSDiffImputer", "TSDiffAnomalyDetector"):
        import tsdiff.api

        return getattr(tsdiff.api, name)
    if name == "ModelConfig":
        from tsdiff.model.config import ModelConfig

        return ModelConfig
    raise AttributeError(f"module 'tsdiff' has no attribute {name!r}")
