"""Data layer: the only place that sees pandas (frames <-> arrays, scaling, windows, masks)."""

from tsdiff.data.dataset import WindowDataset, collate_batch
from tsdiff.data.frames import InputLayout, ParsedInput, SeriesSet, base_time_step, parse_input
from tsdiff.data.masking import TARGET_STRATEGIES, condition_mask
from tsdiff.data.scaling import NaNStandardScaler
from tsdiff.data.windows import WindowStore, build_window_store, stitch, window_starts

__all__ = [
    "TARGET_STRATEGIES",
    "InputLayout",
    "NaNStandardScaler",
    "ParsedInput",
    "SeriesSet",
    "WindowDataset",
    "WindowStore",
    "base_time_step",
    "build_window_store",
    "collate_batch",
    "condition_mask",
    "parse_input",
    "stitch",
    "window_starts",
]
