"""Plots of imputations, anomaly scores and per-sensor attributions (needs matplotlib).

matplotlib is an optional dependency: install it with ``pip install "tsdiff[plot]"``.
``import tsdiff`` never imports it; importing :mod:`tsdiff.plot` does.

Every function returns the :class:`matplotlib.figure.Figure` it drew on. Without ``ax`` the
figure is created through :mod:`matplotlib.pyplot` with the user's backend (nothing here calls
``matplotlib.use`` or ``plt.show``); close it with ``plt.close(fig)`` when drawing many.

Functions
---------
plot_imputation
    Observed points, imputed values, the interval band and hidden ground truth per column.
plot_anomaly_scores
    Anomaly score line with its threshold, labelled anomalies and flagged events.
plot_attribution
    Sensor-by-time heatmap of per-sensor scores.
plot_detection
    A :class:`~tsdiff.api._detection_result.DetectionResult` as scores over attribution.
"""

from __future__ import annotations

try:
    import matplotlib  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised by reloading without matplotlib
    raise ImportError(
        'tsdiff.plot needs matplotlib, an optional dependency: pip install "tsdiff[plot]"'
    ) from err

from tsdiff.plot._attribution import plot_attribution
from tsdiff.plot._detection import plot_detection
from tsdiff.plot._imputation import plot_imputation
from tsdiff.plot._scores import plot_anomaly_scores

__all__ = ["plot_anomaly_scores", "plot_attribution", "plot_detection", "plot_imputation"]
