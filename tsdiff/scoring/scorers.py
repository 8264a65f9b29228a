"""Scorers: per-cell anomaly scores of windows from a fitted conditional diffusion model.

A scorer knows how to hide cells and how to turn samples into scores; it does not know the
network. The estimator gives it a ``sample`` callable that draws imputation samples of windows
with given condition masks.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from tsdiff._params import store_params
from tsdiff.data.windows import WindowStore
from tsdiff.scoring.aggregate import combine_windows
from tsdiff.scoring.cells import SCORER_PARAMETER_CONSTRAINTS, cell_scores
from tsdiff.scoring.masks import MASK_PATTERNS, complementary_masks

#: ``sample(store, condition_masks, n_samples, sampling_steps) -> (n_windows, S, K, L)``.
SampleFunction = Callable[[WindowStore, np.ndarray, int, int], np.ndarray]

# Window-samples kept in memory at once while scoring (bounds the sample array).
_CELLS_PER_CHUNK = 2**23


class MaskedReimputationScorer(BaseEstimator):
    """Hide complementary parts of each window, re-impute them, score the real values.

    Each window is scored ``n_masks`` times; each mask hides a different set of cells (together
    they hide every cell once). A hidden observed cell's score is the negative log-likelihood of
    its real value under a Gaussian fitted to the imputation samples (or the standardised error).
    Cells covered by several windows get the mean of their scores.

    Parameters
    ----------
    n_samples : int, default=4
        Imputation samples per hidden cell.
    sampling_steps : int, default=5
        Reverse-diffusion steps per sample.
    n_masks : int, default=2
        Complementary masks per window (at least 2).
    strip_length : int, default=16
        Time steps per hidden strip (``mask_pattern="strips"``); ``n_masks * strip_length``
        must not exceed the window length.
    mask_pattern : {"strips", "checkerboard", "sensors"}, default="strips"
        Shape of the hidden parts: time strips across all sensors, a sensor-by-time
        checkerboard, or whole sensors (each re-imputed from the others).
    cell_score : {"nll", "error"}, default="nll"
        Gaussian negative log-likelihood, or absolute error in sample standard deviations.
    std_floor : float, default=1.0
        Added to the sample spread (in standardised units) so that agreeing samples cannot make
        a cell's score explode.
    stride : int or None, default=None
        Step between scored windows (None: the window length, no overlap).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SCORER_PARAMETER_CONSTRAINTS,
        "n_masks": [Interval(Integral, 2, None, closed="left")],
        "strip_length": [Interval(Integral, 1, None, closed="left")],
        "mask_pattern": [StrOptions(set(MASK_PATTERNS))],
    }

    def __init__(
        self,
        n_samples: int = 4,
        sampling_steps: int = 5,
        n_masks: int = 2,
        strip_length: int = 16,
        mask_pattern: str = "strips",
        cell_score: str = "nll",
        std_floor: float = 1.0,
        stride: int | None = None,
    ) -> None:
        store_params(self, locals())

    def validate(self, window_length: int, diffusion_steps: int) -> None:
        """Check the parameters against the model's window length and diffusion steps."""
        self._validate_params()
        if self.n_masks > window_length:
            raise ValueError(
                f"scorer n_masks ({self.n_masks}) cannot exceed window_length ({window_length}):"
                " each mask must hide at least one time step."
            )
        if self.mask_pattern == "strips" and self.n_masks * self.strip_length > window_length:
            raise ValueError(
                f"scorer n_masks * strip_length ({self.n_masks} * {self.strip_length}) exceeds "
                f"window_length ({window_length}), so some masks would hide nothing; lower "
                "strip_length or n_masks."
            )
        if self.sampling_steps > diffusion_steps:
            raise ValueError(
                f"scorer sampling_steps ({self.sampling_steps}) cannot exceed the model's "
                f"diffusion_steps ({diffusion_steps})."
            )

    def masks(self, n_features: int, window_length: int) -> np.ndarray:
        """The hidden-cell masks ``(n_masks, n_features, window_length)`` (also trained on)."""
        return complementary_masks(
            n_features, window_length, self.n_masks, self.strip_length, self.mask_pattern
        )

    def cell_scores(self, store: WindowStore, sample: SampleFunction) -> list[np.ndarray]:
        """Raw cell scores of every window of ``store``, put back on each series' time axis.

        Parameters
        ----------
        store : WindowStore
            Standardised windows to score.
        sample : callable
            ``sample(store, condition_masks, n_samples, sampling_steps)`` returning samples
            ``(n_windows, n_samples, K, L)`` of the given windows, conditioned on the cells
            where ``condition_masks`` is True.

        Returns
        -------
        list of ndarray
            Per series, ``(n_steps, n_columns)`` scores (NaN: missing or never scored).
        """
        n_features, length, n_masks = store.values.shape[1], store.length, int(self.n_masks)
        hide = self.masks(n_features, length)
        window_scores = np.full((store.n_windows, n_features, length), np.nan)
        per_chunk = max(1, _CELLS_PER_CHUNK // (n_masks * self.n_samples * n_features * length))
        for first in range(0, store.n_windows, per_chunk):
            ids = np.arange(first, min(first + per_chunk, store.n_windows))
            repeated = np.repeat(ids, n_masks)
            hidden = np.tile(hide, (len(ids), 1, 1))
            values, observed, _ = store.gather(repeated)
            drawn = sample(
                store.subset(repeated), ~hidden, int(self.n_samples), int(self.sampling_steps)
            )
            scores = cell_scores(np.moveaxis(drawn, 1, 0), values, self.cell_score, self.std_floor)
            targets = hidden & observed
            summed = (
                np.where(targets, scores, 0.0)
                .reshape(len(ids), n_masks, n_features, length)
                .sum(axis=1)
            )
            scored = targets.reshape(len(ids), n_masks, n_features, length).any(axis=1)
            window_scores[ids] = np.where(scored, summed, np.nan)
        return combine_windows(store, window_scores, "mean")
