"""Anomaly scoring as plain functions: cell scores from imputation samples, normalisation,
aggregation, thresholds, events and detection metrics.

Nothing here knows about estimators or pandas: inputs and outputs are numpy arrays (and a
:class:`~tsdiff.data.WindowStore` for :func:`combine_windows`).
"""

from tsdiff.metrics.detection import (
    auc_pr,
    auc_roc,
    best_f1,
    detection_report,
    f1_at_threshold,
    label_segments,
    vus_pr,
)
from tsdiff.scoring.aggregate import aggregate_sensors, combine_windows, smooth_scores
from tsdiff.scoring.cells import CELL_SCORES, cell_scores, gaussian_nll, standardised_error
from tsdiff.scoring.events import Event, extract_events, rank_sensors
from tsdiff.scoring.masks import MASK_PATTERNS, complementary_masks
from tsdiff.scoring.normalise import SensorNormaliser
from tsdiff.scoring.scales import MultiScaleSmoother, smoothing_windows
from tsdiff.scoring.thresholds import (
    drift_adjusted_threshold,
    pot_threshold,
    quantile_threshold,
)

__all__ = [
    "CELL_SCORES",
    "MASK_PATTERNS",
    "Event",
    "MultiScaleSmoother",
    "SensorNormaliser",
    "aggregate_sensors",
    "auc_pr",
    "auc_roc",
    "best_f1",
    "cell_scores",
    "combine_windows",
    "complementary_masks",
    "detection_report",
    "drift_adjusted_threshold",
    "extract_events",
    "f1_at_threshold",
    "gaussian_nll",
    "label_segments",
    "pot_threshold",
    "quantile_threshold",
    "rank_sensors",
    "smooth_scores",
    "smoothing_windows",
    "standardised_error",
    "vus_pr",
]
