"""The imputer's output paths: draw samples of the gaps (windows stitched back, calibrated, in
original units), and give them as filled input (:meth:`transform`), samples
(:meth:`sample`) or intervals (:meth:`predict_interval`)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tsdiff.api._imputer_calibration import ImputerCalibration
from tsdiff.api._memory import check_memory
from tsdiff.data.frames import ParsedInput, SeriesSet
from tsdiff.data.windows import stitch


class ImputerOutput(ImputerCalibration):
    """Sample the gaps of ``X`` and return fills, samples or intervals in ``X``'s structure."""

    inference_stride: int | None
    #: :meth:`OutputContainerMixin._wrap_output <tsdiff.api._output.OutputContainerMixin>`.
    _wrap_output: Callable[[Any, ParsedInput], Any]

    def _draw_samples(self, series: SeriesSet, n_samples: int) -> list[np.ndarray]:
        """Samples in original units, per series ``(n_samples, n_steps, n_columns)``.

        Windows without a missing cell are not sampled. Observed cells hold their exact input
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
        store = self._window_store(series, self.inference_stride or self.window_length)
        check_memory(
            # window samples (float32) + stitched samples, calibrated and in original units
            # (three float64 copies of n_samples x n_rows x n_columns)
            n_samples * n_columns * (store.n_windows * store.length * 4 + n_rows * 8 * 3),
            f"Sampling {n_samples} samples of {n_rows} rows x {n_columns} columns",
            "lower n_samples, or pass the rows in chunks (each chunk is imputed from its own "
            "context).",
        )
        rows = store.starts[:, None] + np.arange(store.length)
        valid = np.zeros(len(store.values), dtype=bool)
        for offset, n in zip(store.offsets, store.lengths, strict=True):
            valid[offset : offset + n] = True
        needs = (~store.observed[rows] & valid[rows][:, :, None]).any(axis=(1, 2))
        window_samples = np.broadcast_to(
            store.values[rows].transpose(0, 2, 1)[:, None],
            (store.n_windows, n_samples, store.values.shape[1], store.length),
        ).copy()
        if needs.any():
            start = time.perf_counter()
            window_samples[needs] = self._sample_windows(
                store.subset(np.flatnonzero(needs)),
                n_samples=n_samples,
                sampler=self.sampler,
                sampling_steps=self.sampling_steps,
                batch_size=self.inference_batch_size,
            )
            self.last_sampling_seconds_ = time.perf_counter() - start
        results = []
        standardised = self._standardise(series)
        for samples, original, scaled, stamps in zip(
            stitch(store, window_samples),
            series.values,
            standardised,
            series.timestamps,
            strict=True,
        ):
            calibrated = self._calibrated(samples.astype(np.float64), scaled, stamps)
            values = self.scaler_.inverse_transform(calibrated)
            observed = ~np.isnan(original)
            values[:, observed] = original[observed]
            results.append(values)
        return results

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
        samples = self._samples(parsed, self.n_samples)
        medians = [np.median(s, axis=0) for s in samples]
        return self._wrap_output(parsed.layout.fill(X, medians, missing), parsed)

    def _samples(self, parsed: ParsedInput, n_samples: int) -> list[np.ndarray]:
        return self._draw_samples(parsed.series(self.time_step_), n_samples)

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
        samples = self._samples(parsed, self.n_samples)
        tail = (1.0 - coverage) / 2.0
        bounds = [np.quantile(s, [tail, 1.0 - tail], axis=0) for s in samples]
        lower = parsed.layout.frames([b[0] for b in bounds])
        upper = parsed.layout.frames([b[1] for b in bounds])
        return lower, upper
