"""Shared core of the tsdiff estimators: parameters, input checks, training, sampling.

The estimators hold parameters and fitted state and delegate the work: the data layer turns
input into windows, :func:`tsdiff.training.train_denoiser` trains, and
:func:`tsdiff.inference.sample_windows` samples. The core is stacked by responsibility, each
layer a class of its own module: parameters (:mod:`~tsdiff.api._parameters`), input
(:mod:`~tsdiff.api._input`), sampling (:mod:`~tsdiff.api._sampling`) and the fitting lifecycle
(:mod:`~tsdiff.api._fitting`); this module adds persistence. Code used by one estimator only
lives in it.
"""

from __future__ import annotations

from typing import Any

from tsdiff.api._fitting import EstimatorFitting
from tsdiff.api._parameters import SHARED_PARAMETER_CONSTRAINTS, TRAINER_KEYS

__all__ = ["SHARED_PARAMETER_CONSTRAINTS", "TRAINER_KEYS", "DiffusionEstimatorBase"]


class DiffusionEstimatorBase(EstimatorFitting):
    """Base of :class:`~tsdiff.TSDiffImputer` and :class:`~tsdiff.TSDiffAnomalyDetector`.

    Subclasses define ``__init__`` with the parameters of :data:`SHARED_PARAMETER_CONSTRAINTS`
    and their own, and :meth:`_training_settings` for the training settings they fix.
    """

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Save the fitted estimator to the directory ``path`` (JSON config + weights).

        Loading never executes code from the files (weights are read with ``weights_only``).
        """
        from tsdiff.persistence import save_estimator

        save_estimator(self, path)

    @classmethod
    def load(cls, path: Any) -> Any:
        """Load an estimator saved with :meth:`save`.

        Raises
        ------
        ValueError
            If the directory was written by an incompatible tsdiff version, holds another
            estimator class, or its files were altered.
        """
        from tsdiff.persistence import load_estimator

        return load_estimator(path, expected_class=cls)
