"""Imputer-only calibration: blend with interpolation and widen intervals, learned on held-out
cells (:class:`ImputerCalibration`, on top of plain-array functions)."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch

from tsdiff.api._base import DiffusionEstimatorBase
from tsdiff.data.frames import SeriesSet

#: Held-out cells a distance band needs for a scale of its own (else the pooled scale).
MIN_CELLS_PER_BAND = 200


def fit_blend_and_scale(
    draws: np.ndarray, truth: np.ndarray, interpolated: np.ndarray
) -> tuple[float, np.ndarray]:
    """Learn the blend weight and the interval scale of each cell from held-out cells.

    Parameters
    ----------
    draws : ndarray of shape (n_samples, n_cells)
        Imputation samples of hidden observed cells (standardised units).
    truth : ndarray of shape (n_cells,)
        Their real values.
    interpolated : ndarray of shape (n_cells,)
        Linear interpolation in time of the same cells from the visible ones.

    Returns
    -------
    weight : float
        Weight ``w`` in [0, 1] of the sample median against interpolation minimising the pooled
        absolute error (a stacking step: on held-out cells the blend is never worse than either
        alone). Searched on a grid of 0.1.
    ratios : ndarray of shape (n_cells,)
        Each cell's distance of the truth from the blended median in units of the
        median-to-5 %/95 %-quantile distance on the truth's side: a factor ``c`` such that
        ``median + c * (sample - median)`` gives 90 % intervals covering 90 % of some cells is
        the 0.9-quantile of their ratios (:func:`interval_scale`).
    """
    median = np.median(draws, axis=0)
    grid = np.linspace(0.0, 1.0, 11)[:, None]
    errors = np.abs(grid * median + (1.0 - grid) * interpolated - truth)
    weight = float(grid[np.argmin(errors.sum(axis=1)), 0])
    draws = draws + (1.0 - weight) * (interpolated - median)
    median = np.median(draws, axis=0)
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    width = np.where(truth >= median, high - median, median - low)
    return weight, np.abs(truth - median) / np.maximum(width, 1e-6)


def interval_scale(ratios: np.ndarray) -> float:
    """The factor that makes 90 % intervals cover 90 % of cells with these ``ratios``
    (:func:`fit_blend_and_scale`), clipped to [0.2, 20]."""
    return float(np.clip(np.quantile(ratios, 0.9), 0.2, 20.0))


def band_scales(ratios: np.ndarray, bands: np.ndarray, n_bands: int) -> np.ndarray:
    """Interval scale per distance band (:mod:`tsdiff.data.gaps`): each band with at least
    :data:`MIN_CELLS_PER_BAND` held-out cells gets its own, the others the pooled one."""
    pooled = interval_scale(ratios)
    scales = np.full(n_bands, pooled)
    for band in range(n_bands):
        picked = ratios[bands == band]
        if len(picked) >= MIN_CELLS_PER_BAND:
            scales[band] = interval_scale(picked)
    return scales


def apply_blend_and_scale(
    samples: np.ndarray, baseline: np.ndarray | None, weight: float, scale: float | np.ndarray
) -> np.ndarray:
    """Shift samples ``(S, n, K)`` so their median is ``w * median + (1 - w) * baseline`` and
    stretch their deviations from the median by ``scale`` (a number, or one per cell
    ``(n, K)``)."""
    if baseline is not None and weight < 1.0:
        median = np.median(samples, axis=0, keepdims=True)
        samples = samples + (1.0 - weight) * (baseline - median)
    if np.any(np.asarray(scale) != 1.0):
        median = np.median(samples, axis=0, keepdims=True)
        samples = median + scale * (samples - median)
    return samples


_Imputer = TypeVar("_Imputer", bound="ImputerCalibration")


class ImputerCalibration(DiffusionEstimatorBase):
    """Learn the imputer's blend weight and interval scale on held-out cells, and apply them."""

    n_samples: int
    sampler: str
    sampling_steps: int
    target_strategy: str
    inference_batch_size: int | None
    calibration_windows: int
    blend_weights_: np.ndarray
    interval_scale_: float
    interval_scales_: np.ndarray

    def _sampler_key(self) -> list[Any]:
        return [self.sampler, int(self.sampling_steps), float(self.model_config_.eta)]

    def calibrate(self: _Imputer, X: Any) -> _Imputer:
        """Re-learn the blend weight and interval scale on ``X`` for the current sampler
        settings (network unchanged).

        ``fit`` learns them for the sampler settings it ran with; after changing ``sampler``,
        ``sampling_steps`` or ``calibration_windows`` with ``set_params``, samples are used as
        drawn until the imputer is calibrated again.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
            Data the model was not trained on, with the columns seen in ``fit``: observed cells
            of up to ``calibration_windows`` of its windows are hidden and imputed.

        Returns
        -------
        self : TSDiffImputer
        """
        parsed = self._check_fitted_input(X)
        self._calibrate_on_held_out(self._series(parsed))
        return self

    def _calibrate_on_held_out(self, series: SeriesSet) -> None:
        """Learn ``blend_weights_`` and ``interval_scale_`` on held-out cells.

        Observed cells of up to ``calibration_windows`` held-out windows are hidden (with the
        training target strategy) and imputed with the current sampler settings; see
        :func:`~tsdiff.api._imputer_calibration.fit_blend_and_scale`. Both hold for the sampler
        settings at fit time (``calibrated_sampler_``).
        """
        from tsdiff.data.gaps import DISTANCE_BANDS, distance_band, rows_to_observed
        from tsdiff.data.masking import condition_mask
        from tsdiff.model.conditioning import Anchors, interpolate_along_time

        self.blend_weights_ = np.ones(self.n_features_in_)
        self.interval_scale_ = 1.0
        self.interval_scales_ = np.ones(len(DISTANCE_BANDS))
        self.calibrated_sampler_ = self._sampler_key()
        if self.calibration_windows == 0:
            return
        store = self._window_store(series, self.window_length)
        rng = np.random.default_rng(self.random_state)
        keep = rng.permutation(store.n_windows)[: self.calibration_windows]
        store = store.subset(np.sort(keep))
        every = np.arange(store.n_windows)
        values, observed, stamps = store.gather(every)
        anchors = Anchors(*(torch.from_numpy(a) for a in store.anchors(every)))
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        cond = condition_mask(torch.from_numpy(observed), self.target_strategy, generator).numpy()
        hidden = observed & ~cond
        if hidden.sum() < 20:
            return
        drawn = self._sample_windows(
            store,
            n_samples=min(self.n_samples, 20),
            sampler=self.sampler,
            sampling_steps=self.sampling_steps,
            condition_masks=cond,
            batch_size=self.inference_batch_size,
        )
        interpolated = interpolate_along_time(
            torch.from_numpy(values * cond),
            torch.from_numpy(cond.astype(np.float32)),
            torch.from_numpy(stamps),
            anchors,
        ).numpy()[hidden]
        draws = drawn.transpose(1, 0, 2, 3)[:, hidden].astype(np.float64)
        weight, ratios = fit_blend_and_scale(draws, values[hidden], interpolated)
        self.interval_scale_ = interval_scale(ratios)
        # distance of each hidden cell to the nearest visible one of its sensor (window rows)
        distances = rows_to_observed(cond.transpose(0, 2, 1)).transpose(0, 2, 1)[hidden]
        self.interval_scales_ = band_scales(ratios, distance_band(distances), len(DISTANCE_BANDS))
        self.blend_weights_ = np.full(self.n_features_in_, weight)

    def _is_calibrated(self) -> bool:
        """Whether the fitted blend and interval scale apply: they were learnt for the current
        sampler settings (samples are used as drawn otherwise)."""
        return getattr(self, "calibrated_sampler_", None) == self._sampler_key()
