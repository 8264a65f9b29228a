"""The conditional score network (plain ``torch.nn`` modules)."""

from tsdiff.model.conditioning import (
    CONDITION_FILLS,
    Anchors,
    fill_condition,
    interpolate_along_time,
)
from tsdiff.model.denoiser import CSDIDenoiser, DenoiserContext

__all__ = [
    "Anchors",
    "CONDITION_FILLS",
    "CSDIDenoiser",
    "DenoiserContext",
    "fill_condition",
    "interpolate_along_time",
]
