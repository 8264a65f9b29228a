"""The imputer's output paths: draw samples of the gaps (windows stitched back, calibrated, in
original units), and give them as filled input (:meth:`transform`), samples
(:meth:`sample`) or intervals (:meth:`predict_interval`)."""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tsdiff.api._imputer_calibration import ImputerCalibration, apply_blend_and_scale
from tsdiff.api._memory import check_memory
from tsdiff.data.frames import ParsedInput, SeriesSet
from tsdiff.data.windows import WindowStore, step_owners, stitch_block
from tsdiff.diffusion.samplers import make_sampler
from tsdiff.inference import SamplingProgress, count_network_calls

#: Sampling runs of at least this much work (window-samples x network calls x cells x
#: channels x layers) use a compiled network on the CPU: compiling costs seconds (fewer once
#: inductor's on-disk cache holds it) and the compiled network is about 1.4x faster
#: (docs/imputation.md). The threshold is 16,384 network passes of the default network on
#: 36 x 36 windows, a few minutes of eager sampling on 2 cores.
COMPILE_FROM_WORK = 16384 * 36 * 36 * 64 * 4

#: Bytes of window samples (float32) drawn and reduced at a time by ``transform`` and
#: ``predict_interval``: a long input is sampled in blocks of this size. Stitching, calibrating
#: and converting a block to float64 in original units holds about five times as much at once.
BLOCK_BYTES = 64 * 2**20

#: Maps one block's samples ``(n_samples, n, n_columns)`` to ``(*r, n, n_columns)``.
SampleReducer = Callable[[np.ndarray], np.ndarray]


def _median(samples: np.ndarray) -> np.ndarray:
    return np.asarray(np.median(samples, axis=0))


def _windows_with_gaps(store: WindowStore) -> np.ndarray:
    """Whether each window has a missing cell within its series' true length."""
    rows = store.starts[:, None] + np.arange(store.length)
    valid = np.zeros(len(store.values), dtype=bool)
    for offset, n in zip(store.offsets, store.lengths, strict=True):
        valid[offset : offset + n] = True
    return np.asarray((~store.observed[rows] & valid[rows][:, :, None]).any(axis=(1, 2)))


class ImputerOutput(ImputerCalibration):
    """Sample the gaps of ``X`` and return fills, samples or intervals in ``X``'s structure."""

    inference_stride: int | None
    #: :meth:`OutputContainerMixin._wrap_output <tsdiff.api._output.OutputContainerMixin>`.
    _wrap_output: Callable[[Any, ParsedInput], Any]

    def _draw_samples(
        self, series: SeriesSet, n_samples: int, reduce: SampleReducer | None = None
    ) -> list[np.ndarray]:
        """Samples in original units reduced per cell, per series ``(*r, n_steps, n_columns)``.

        ``reduce`` maps one block's samples ``(n_samples, n, n_columns)`` to ``(*r, n,
        n_columns)`` (e.g. their median); without it every sample is kept (``r`` is
        ``(n_samples,)``). Windows are sampled block by block (:data:`BLOCK_BYTES` of samples
        at a time) and each block is stitched, calibrated and reduced before the next, so a
        reduced output needs memory for one block and the result only, however long the input.
        Windows without a missing cell are not sampled; observed cells hold their exact input
        value in every sample.
        """
        for position, values in enumerate(series.values):
            if np.isnan(values).all():
                raise ValueError(
                    f"Series {position} of X has no observed value, so there is nothing to "
                    "condition on; drop it or give it some observations."
                )
        n_rows = sum(len(v) for v in series.values)
        n_columns = self.n_features_in_
        if reduce is None:
            check_memory(
                # the samples returned (float64) and a working copy of them
                n_samples * n_rows * n_columns * 8 * 2,
                f"Sampling {n_samples} samples of {n_rows} rows x {n_columns} columns",
                "lower n_samples, use transform or predict_interval (they reduce the samples "
                "as they are drawn), or pass the rows in chunks.",
            )
        store = self._window_store(series, self.inference_stride or self.window_length)
        needs = _windows_with_gaps(store)
        per_window = n_samples * n_columns * store.length * 4
        block = max(1, BLOCK_BYTES // per_window)
        progress = self._progress_for(store, needs, n_samples, block)
        network = self._compiled_network(self._is_long_run(int(needs.sum()) * n_samples))
        owners = step_owners(store)
        calibration = self._calibration(series)
        bands = self._distance_bands(series)
        results: list[np.ndarray | None] = [None] * len(series.values)
        sampling_seconds = 0.0
        try:
            for number, first in enumerate(range(0, store.n_windows, block)):
                ids = np.arange(first, min(first + block, store.n_windows))
                rows = store.starts[ids][:, None] + np.arange(store.length)
                window_samples = np.broadcast_to(
                    store.values[rows].transpose(0, 2, 1)[:, None],
                    (len(ids), n_samples, n_columns, store.length),
                ).copy()
                if needs[ids].any():
                    start = time.perf_counter()
                    window_samples[needs[ids]] = self._eager_if_compiling_fails(
                        functools.partial(
                            self._sample_block,
                            store.subset(ids[needs[ids]]),
                            n_samples,
                            progress,
                            number,
                        ),
                        network,
                    )
                    sampling_seconds += time.perf_counter() - start
                for position, steps, picked in stitch_block(store, owners, first, window_samples):
                    values = self._in_original_units(
                        picked.astype(np.float64),
                        series.values[position][steps],
                        None if calibration is None else calibration[position][steps],
                        None if bands is None else bands[position][steps],
                    )
                    reduced = values if reduce is None else reduce(values)
                    target = results[position]
                    if target is None:
                        shape = (*reduced.shape[:-2], len(series.values[position]), n_columns)
                        target = results[position] = np.empty(shape, dtype=np.float64)
                    target[..., steps, :] = reduced
        finally:
            if progress is not None:
                progress.close()
        if needs.any():
            self.last_sampling_seconds_ = sampling_seconds
        filled = [r for r in results if r is not None]
        assert len(filled) == len(results), "every step of every series is stitched"
        return filled

    def _is_long_run(self, window_samples: int) -> bool:
        """Whether sampling ``window_samples`` is long enough for a compiled network."""
        config = self.model_config_
        work = window_samples * self.sampling_steps * self.n_features_in_ * self.window_length
        return work * config.channels * config.n_layers >= COMPILE_FROM_WORK

    def _sample_block(
        self,
        store: WindowStore,
        n_samples: int,
        progress: SamplingProgress | None,
        number: int,
        network: Any,
    ) -> np.ndarray:
        """Samples of block ``number`` of a long input (``network``: a compiled one or None)."""
        return self._sample_windows(
            store,
            n_samples=n_samples,
            sampler=self.sampler,
            sampling_steps=self.sampling_steps,
            batch_size=self.inference_batch_size,
            network=network,
            progress=progress,
            block=number,
        )

    def _progress_for(
        self, store: WindowStore, needs: np.ndarray, n_samples: int, block: int
    ) -> SamplingProgress | None:
        """One progress bar over every block's network calls (None when nothing is sampled)."""
        if not needs.any():
            return None
        sampler = make_sampler(self.sampler, self._schedule())
        sampler.set_timesteps(self.sampling_steps)
        per_call = self._inference_batch_size(self.inference_batch_size)
        counts = np.add.reduceat(needs.astype(np.int64), np.arange(0, store.n_windows, block))
        total = sum(
            count_network_calls(int(n), n_samples, per_call, len(sampler.timesteps))
            for n in counts
            if n
        )
        what = f"{n_samples} samples of {int(needs.sum())} windows"
        return SamplingProgress(total, enabled=self.verbose, what=what)

    def _calibration(self, series: SeriesSet) -> list[np.ndarray] | None:
        """Per series, the interpolation baseline the fitted blend pulls samples towards
        (standardised units); None when no blend applies."""
        if not self._is_calibrated() or float(self.blend_weights_[0]) >= 1.0:
            return None
        from tsdiff.data.interpolation import interpolate_series

        return [
            interpolate_series(v, t)
            for v, t in zip(self._standardise(series), series.timestamps, strict=True)
        ]

    def _distance_bands(self, series: SeriesSet) -> list[np.ndarray] | None:
        """Per series, the distance band of each cell (:mod:`tsdiff.data.gaps`), which picks
        its interval scale; None when the imputer has one scale for all cells (a model saved
        before scales per band were learnt, or not calibrated)."""
        if not self._is_calibrated() or getattr(self, "interval_scales_", None) is None:
            return None
        from tsdiff.data.gaps import distance_band, rows_to_observed

        return [distance_band(rows_to_observed(~np.isnan(v))) for v in series.values]

    def _in_original_units(
        self,
        samples: np.ndarray,
        original: np.ndarray,
        baseline: np.ndarray | None,
        bands: np.ndarray | None = None,
    ) -> np.ndarray:
        """Standardised samples ``(S, n, K)`` of some rows -> calibrated, in original units,
        with the observed cells of ``original`` (``(n, K)``) restored exactly; ``bands``
        (``(n, K)``) picks each cell's interval scale from ``interval_scales_``."""
        if self._is_calibrated():
            scale = (
                float(self.interval_scale_)
                if bands is None
                else np.asarray(self.interval_scales_)[bands]
            )
            samples = apply_blend_and_scale(samples, baseline, float(self.blend_weights_[0]), scale)
        values = self.scaler_.inverse_transform(samples)
        observed = ~np.isnan(original)
        values[:, observed] = original[observed]
        return values

    def _missing(self, parsed: ParsedInput) -> list[np.ndarray]:
        return [np.isnan(v) for v in parsed.values]

    def transform(self, X: Any) -> Any:
        """Fill every missing cell with the median of the imputation samples.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or 2-D/3-D ndarray
            Series with the columns seen in ``fit``.

        Returns
        -------
        Same type as ``X``
            Same index, columns and dtypes (integer columns with gaps become float); observed
            cells are returned bit for bit, and no NaN is left.
        """
        parsed = self._check_fitted_input(X)
        missing = self._missing(parsed)
        if not any(m.any() for m in missing):
            return self._wrap_output(
                parsed.layout.fill(X, [v.copy() for v in parsed.values], missing), parsed
            )
        medians = self._samples(parsed, self.n_samples, _median)
        return self._wrap_output(parsed.layout.fill(X, medians, missing), parsed)

    def _samples(
        self, parsed: ParsedInput, n_samples: int, reduce: SampleReducer | None = None
    ) -> list[np.ndarray]:
        return self._draw_samples(self._series(parsed), n_samples, reduce)

    def sample(self, X: Any, n_samples: int | None = None) -> Any:
        """Draw imputation samples.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or 2-D/3-D ndarray
        n_samples : int, optional
            Number of samples (default ``self.n_samples``).

        Returns
        -------
        ndarray or list of ndarray
            ``[n_samples, n_rows, n_columns]`` in original units for a single frame or 2-D array
            (rows in the order of a MultiIndex frame's rows), a list of those for a list input,
            ``[n_samples, n_series, n_steps, n_columns]`` for a 3-D array. Observed cells hold
            their value in every sample.
        """
        parsed = self._check_fitted_input(X)
        n = self.n_samples if n_samples is None else int(n_samples)
        if n < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}.")
        return parsed.layout.stack(self._samples(parsed, n))

    def predict_interval(self, X: Any, coverage: float = 0.9) -> tuple[Any, Any]:
        """Central prediction interval of each cell from the imputation samples.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or 2-D/3-D ndarray
        coverage : float, default=0.9
            Probability mass of the interval, in (0, 1).

        Returns
        -------
        (lower, upper)
            In the structure of ``X`` (DataFrames for frame inputs); observed cells have
            ``lower == upper ==`` the observed value.
        """
        if not 0 < coverage < 1:
            raise ValueError(f"coverage must be in (0, 1), got {coverage}.")
        parsed = self._check_fitted_input(X)
        if self.n_samples < 2:
            warnings.warn(
                f"n_samples={self.n_samples} gives intervals of zero width; use n_samples >= 20 "
                "for intervals.",
                UserWarning,
                stacklevel=2,
            )
        tail = (1.0 - coverage) / 2.0
        bounds = self._samples(
            parsed, self.n_samples, lambda s: np.quantile(s, [tail, 1.0 - tail], axis=0)
        )
        lower = parsed.layout.frames([b[0] for b in bounds])
        upper = parsed.layout.frames([b[1] for b in bounds])
        return lower, upper
