"""Several scorers on the same windows, combined after the aggregator's normalisation."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import StrOptions

from tsdiff._params import store_params
from tsdiff.data.windows import WindowStore
from tsdiff.scoring.reconstruction import WholeWindowScorer
from tsdiff.scoring.scorers import MaskedReimputationScorer

FOLDS: tuple[str, ...] = ("max", "mean")


def _build(part: Any, cls: type) -> Any:
    if part is None:
        return cls()
    if isinstance(part, dict):
        return cls(**part)
    return part


class CombinedScorer(BaseEstimator):
    """Masked re-imputation and whole-window reconstruction scores of the same windows.

    :meth:`cell_scores` puts the two scorers' cell tables side by side (``2 K`` columns), so
    the aggregator normalises and smooths each (scorer, sensor) column on its own calibration
    scores; :meth:`fold` then takes, per sensor, the larger (``"max"``) or the mean of the two
    normalised scores before the sensors are combined. A sensor thus scores high when either
    its re-imputation from the rest of the window fails (spikes, broken relations) or the whole
    window lies off the training manifold (sustained shifts).

    Parameters
    ----------
    masked : MaskedReimputationScorer, dict or None, default=None
        The masked scorer (a dict: its parameters; None: its defaults). Its ``stride`` is
        ignored: both scorers score the windows of ``stride``.
    whole : WholeWindowScorer, dict or None, default=None
        The whole-window scorer (likewise; its ``stride`` is ignored).
    fold : {"max", "mean"}, default="max"
        How the two normalised scores of a sensor are combined.
    stride : int or None, default=None
        Step between scored windows (None: the window length).
    """

    #: The detector trains on fully hidden windows too (``"strips_mix_full"``).
    trains_full_window: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "masked": [None, dict, MaskedReimputationScorer],
        "whole": [None, dict, WholeWindowScorer],
        "fold": [StrOptions(set(FOLDS))],
        "stride": [None, int],
    }

    def __init__(
        self,
        masked: MaskedReimputationScorer | dict[str, Any] | None = None,
        whole: WholeWindowScorer | dict[str, Any] | None = None,
        fold: str = "max",
        stride: int | None = None,
    ) -> None:
        store_params(self, locals())

    def parts(self) -> tuple[MaskedReimputationScorer, WholeWindowScorer]:
        """The two scorers (defaults for None)."""
        return _build(self.masked, MaskedReimputationScorer), _build(self.whole, WholeWindowScorer)

    @property
    def n_masks(self) -> int:
        """Passes per window of both scorers."""
        masked, _ = self.parts()
        return int(masked.n_masks) + 1

    @property
    def n_samples(self) -> int:
        """Samples per pass (the masked scorer's)."""
        masked, _ = self.parts()
        return int(masked.n_samples)

    def validate(self, window_length: int, diffusion_steps: int) -> None:
        """Check both scorers."""
        self._validate_params()
        if self.stride is not None and self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}.")
        for part in self.parts():
            part.validate(window_length, diffusion_steps)

    def masks(self, n_features: int, window_length: int) -> np.ndarray:
        """The masked scorer's masks (the fully hidden window is the strategy's own target)."""
        masked, _ = self.parts()
        return masked.masks(n_features, window_length)

    def cell_scores(self, store: WindowStore, sample: Any) -> list[np.ndarray]:
        """Per series, ``(n_steps, 2 K)``: the masked scorer's columns, then the whole-window
        scorer's."""
        masked, whole = self.parts()
        first = masked.cell_scores(store, sample)
        second = whole.cell_scores(store, sample)
        return [np.concatenate([a, b], axis=1) for a, b in zip(first, second, strict=True)]

    def fold_sensors(self, table: np.ndarray) -> np.ndarray:
        """``(n_steps, 2 K)`` normalised scores -> ``(n_steps, K)`` by :attr:`fold`."""
        table = np.asarray(table)
        half = table.shape[1] // 2
        a, b = table[:, :half], table[:, half:]
        if self.fold == "max":
            return np.fmax(a, b)
        with np.errstate(invalid="ignore"):
            both = np.stack([a, b])
            count = (~np.isnan(both)).sum(axis=0)
            total = np.nansum(both, axis=0)
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)
