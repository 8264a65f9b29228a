"""Anomaly scoring: the detector's parts (scorers, aggregators, thresholders) and the plain
functions they use: cell scores from imputation samples, normalisation, aggregation,
thresholds and events (detection metrics are in :mod:`tsdiff.metrics`).

Nothing here knows about estimators or pandas: inputs and outputs are numpy arrays (and a
:class:`~tsdiff.data.WindowStore` for :func:`combine_windows`).
"""

from tsdiff.scoring.aggregate import aggregate_sensors, combine_windows, smooth_scores
from tsdiff.scoring.aggregators import TopK
from tsdiff.scoring.cells import CELL_SCORES, cell_scores, gaussian_nll, standardised_error
from tsdiff.scoring.combined import CombinedScorer  # issue 14
from tsdiff.scoring.events import Event, extract_events, rank_sensors
from tsdiff.scoring.masks import MASK_PATTERNS, complementary_masks
from tsdiff.scoring.neighbours import WindowNeighbours
from tsdiff.scoring.normalise import SensorNormaliser
from tsdiff.scoring.reconstruction import WholeWindowScorer  # issue 14
from tsdiff.scoring.scales import MultiScaleSmoother, smoothing_windows
from tsdiff.scoring.scorers import MaskedReimputationScorer
from tsdiff.scoring.thresholders import POT, Contamination, FixedThreshold
from tsdiff.scoring.thresholds import (
    drift_adjusted_threshold,
    pot_threshold,
    quantile_threshold,
)

__all__ = [
    "POT",
    "Contamination",
    "FixedThreshold",
    "MaskedReimputationScorer",
    "WholeWindowScorer",
    "CombinedScorer",
    "WindowNeighbours",
    "TopK",
    "CELL_SCORES",
    "MASK_PATTERNS",
    "Event",
    "MultiScaleSmoother",
    "SensorNormaliser",
    "aggregate_sensors",
    "cell_scores",
    "combine_windows",
    "complementary_masks",
    "drift_adjusted_threshold",
    "extract_events",
    "gaussian_nll",
    "pot_threshold",
    "quantile_threshold",
    "rank_sensors",
    "smooth_scores",
    "smoothing_windows",
    "standardised_error",
]
