"""Evaluation metrics, the one home for them: plain functions of numpy arrays.

:mod:`tsdiff.metrics.imputation`
    Scores of imputations on an evaluation mask (cells hidden from the model whose truth is
    known): MAE, RMSE, CSDI's CRPS, interval coverage and width.
:mod:`tsdiff.metrics.detection`
    Scores of anomaly scores against 0/1 labels, without point adjustment: VUS-PR, AUC-PR,
    AUC-ROC, best F1 and F1 at a threshold.
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
from tsdiff.metrics.imputation import (
    CRPS_QUANTILES,
    coverage,
    crps,
    imputation_report,
    interval_from_samples,
    interval_width,
    mae,
    rmse,
)

__all__ = [
    "CRPS_QUANTILES",
    "auc_pr",
    "auc_roc",
    "best_f1",
    "coverage",
    "crps",
    "detection_report",
    "f1_at_threshold",
    "imputation_report",
    "interval_from_samples",
    "interval_width",
    "label_segments",
    "mae",
    "rmse",
    "vus_pr",
]
