"""Whole-window reconstruction scores (SDEdit-style): noise a whole window, denoise it back.

Masked re-imputation sees the rest of a window as context and can explain a sustained shift
away. Here nothing is given to the network: each window is noised to an intermediate diffusion
step and denoised without conditioning, so a window that left the training data's manifold (a
level shift, a stuck sensor, a changed relation between sensors) is pulled back towards it and
its real values score high (Meng et al., 2022; Pintilie et al., 2023).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from tsdiff._params import store_params
from tsdiff.data.windows import WindowStore
from tsdiff.scoring.aggregate import combine_windows
from tsdiff.scoring.cells import SCORER_PARAMETER_CONSTRAINTS, cell_scores

# Window-samples kept in memory at once while scoring.
_CELLS_PER_CHUNK = 2**23


class WholeWindowScorer(BaseEstimator):
    """Noise each whole window to ``start_step``, denoise it unconditionally, score every cell.

    A cell's score is the negative log-likelihood of its real value under a Gaussian fitted to
    the reconstructions (with the spread floor ``std_floor``), as in
    :class:`~tsdiff.scoring.MaskedReimputationScorer`. The network must have been trained on
    fully hidden windows too: the detector then trains with the ``"strips_mix_full"`` target
    strategy (:mod:`tsdiff.data.masking`).

    Parameters
    ----------
    n_samples : int, default=2
        Reconstructions per window.
    start_step : int, default=4
        Diffusion step (0-based) the window is noised to; higher forgets more of the window.
        With the detector's 10-step schedule, step 4 keeps ``sqrt(abar) = 0.85`` of the signal.
    sampling_steps : int, default=3
        Reverse steps from ``start_step`` to 0.
    cell_score : {"nll", "error"}, default="nll"
    std_floor : float, default=1.0
        Added to the reconstruction spread (standardised units).
    stride : int or None, default=None
        Step between scored windows (None: the window length).
    """

    #: The detector trains on fully hidden windows for this scorer.
    trains_full_window: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SCORER_PARAMETER_CONSTRAINTS,
        "start_step": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_samples: int = 2,
        start_step: int = 4,
        sampling_steps: int = 3,
        cell_score: str = "nll",
        std_floor: float = 1.0,
        stride: int | None = None,
    ) -> None:
        store_params(self, locals())

    @property
    def n_masks(self) -> int:
        """Passes per window (one: the whole window)."""
        return 1

    def validate(self, window_length: int, diffusion_steps: int) -> None:
        """Check the parameters against the model's diffusion steps."""
        self._validate_params()
        if self.start_step >= diffusion_steps:
            raise ValueError(
                f"scorer start_step ({self.start_step}) must be below the model's "
                f"diffusion_steps ({diffusion_steps})."
            )

    def masks(self, n_features: int, window_length: int) -> np.ndarray:
        """The hiding mask trained on: ``(1, K, L)``, every cell hidden."""
        return np.ones((1, n_features, window_length), dtype=bool)

    def cell_scores(self, store: WindowStore, sample: Any) -> list[np.ndarray]:
        """Raw cell scores of every window of ``store`` on each series' time axis.

        Parameters
        ----------
        store : WindowStore
            Standardised windows.
        sample : callable
            ``sample(store, condition_masks, n_samples, sampling_steps, start_step=...)``
            returning ``(n_windows, n_samples, K, L)`` reconstructions.

        Returns
        -------
        list of ndarray
            Per series, ``(n_steps, n_columns)`` scores (NaN: missing).
        """
        n_features, length = store.values.shape[1], store.length
        window_scores = np.full((store.n_windows, n_features, length), np.nan)
        per_chunk = max(1, _CELLS_PER_CHUNK // (int(self.n_samples) * n_features * length))
        for first in range(0, store.n_windows, per_chunk):
            ids = np.arange(first, min(first + per_chunk, store.n_windows))
            values, observed, _ = store.gather(ids)
            hidden = np.zeros((len(ids), n_features, length), dtype=bool)
            drawn = sample(
                store.subset(ids),
                hidden,
                int(self.n_samples),
                int(self.sampling_steps),
                start_step=int(self.start_step),
            )
            scores = cell_scores(np.moveaxis(drawn, 1, 0), values, self.cell_score, self.std_floor)
            window_scores[ids] = np.where(observed, scores, np.nan)
        return combine_windows(store, window_scores, "mean")
