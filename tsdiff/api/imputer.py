"""``TSDiffImputer``: probabilistic imputation of time series with a conditional diffusion model."""

from __future__ import annotations

import time
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from tsdiff.api._base import SHARED_PARAMETER_CONSTRAINTS, DiffusionEstimatorBase
from tsdiff.api._imputer_calibration import apply_blend_and_scale, fit_blend_and_scale
from tsdiff.api._memory import check_memory
from tsdiff.api._output import OutputContainerMixin
from tsdiff.data.frames import ParsedInput, SeriesSet
from tsdiff.data.masking import IMPUTATION_TARGET_STRATEGIES
from tsdiff.data.windows import stitch
from tsdiff.diffusion.samplers import SAMPLERS
from tsdiff.model.config import ModelConfig


class TSDiffImputer(  # type: ignore[call-arg]
    OutputContainerMixin, TransformerMixin, DiffusionEstimatorBase, auto_wrap_output_keys=None
):
    """Fill gaps in time series with a CSDI-style conditional diffusion model.

    The model learns, on windows of the training series, to denoise artificially hidden observed
    values given the rest of the window (values, mask, time stamps and feature identity). Imputing
    runs reverse diffusion many times per window: the per-cell median of the samples fills the
    gaps, and their quantiles give calibrated intervals.

    Parameters
    ----------
    window_length : int, default=36
        Time steps per window. Longer series are cut into overlapping windows and stitched back;
        shorter ones are padded and masked.
    n_samples : int, default=50
        Samples drawn per window by :meth:`transform`, :meth:`sample` and
        :meth:`predict_interval`.
    sampler : {"dpmpp_2m", "ddim", "ddpm"}, default="dpmpp_2m"
        Reverse-diffusion sampler: DPM-Solver++ 2M (second order, trailing time steps), DDIM, or
        CSDI's ancestral DDPM (use it with all ``diffusion_steps``).
    sampling_steps : int, default=4
        Network calls per sample (at most the model's ``diffusion_steps``). DPM-Solver++ 2M at 4
        calls matched DDIM at 10 on AQI-36 (docs/imputation.md, "Few-step sampling").
    model : ModelConfig, dict or None, default=None
        Architecture, noise schedule and sampling noise (:class:`~tsdiff.ModelConfig`; a dict
        overrides some of its fields). None: CSDI's published network (64 channels, 4 layers,
        8 heads) with linear-interpolation conditioning and the Gaussian-prior skip.
    target_strategy : {"random", "historical", "mix"}, default="mix"
        Training targets: a random fraction of the observed cells, the missing pattern of another
        window, or either with equal odds.
    train_stride : int, default=1
        Step between the starts of training windows.
    inference_stride : int or None, default=None
        Step between the starts of imputation windows (None: ``window_length``, no overlap; the
        last window is aligned to the series end). With overlap, each step is imputed in the
        window where it lies closest to the centre.
    validation_fraction : float, default=0.1
        Fraction at the end of each series held out to monitor the validation loss (early
        stopping, best-weight restore) and to calibrate; 0 disables validation. Ignored when
        ``fit`` gets ``validation_data``.
    max_epochs : int, default=200
        Epoch limit.
    max_time : float or None, default=None
        Wall-clock training budget in seconds; the learning rate decays at 75 % and 90 % of
        whichever budget (epochs or time) runs out first.
    patience : int or None, default=20
        Epochs without validation improvement before stopping (None: never stop early).
    batch_size : int, default=16
        Training windows per step.
    learning_rate : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=1e-6
        Adam weight decay.
    inference_batch_size : int or None, default=None
        Window-samples per network call while sampling (None: chosen for the device).
    calibration_windows : int, default=32
        Held-out windows on which ``fit`` hides and imputes observed cells to learn one weight
        blending the sample median with linear interpolation, and the spread that gives
        intervals their nominal coverage; 0 disables both. They hold for the sampler settings
        at fit time (``calibrated_sampler_``).
    trainer_kwargs : dict or None, default=None
        Hardware settings passed to Lightning's ``Trainer``: ``accelerator``, ``devices``,
        ``num_nodes``, ``strategy``, ``precision`` (default ``"32-true"``; also used for
        sampling), ``deterministic``, ``callbacks``/``logger`` added to tsdiff's own, and
        ``checkpoint_dir`` (write ``last.ckpt`` and the best epoch's checkpoint there; resume
        with ``fit(X, ckpt_path=...)``).
    random_state : int or None, default=None
        Seed of training and sampling; an int makes results reproducible on CPU. The caller's
        global random generators are left as they were.
    verbose : bool, default=True
        Show progress bars (training and sampling).

    Attributes
    ----------
    model_config_ : ModelConfig
        The network settings the model was trained with.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (frame inputs with string column names only).
    scaler_ : NaNStandardScaler
        Per-column statistics (``mean_``, ``scale_``) learned in ``fit``.
    time_step_ : float
        Base time step (nanoseconds for datetime indexes, 1 for positions).
    model_ : CSDIDenoiser
        The trained network (on the CPU).
    history_ : list of dict
        Per-epoch ``train_loss`` and ``val_loss``.
    n_epochs_, best_epoch_ : int
        Epochs run, and the epoch whose weights were kept.
    training_seconds_ : float
        Wall-clock training time.
    blend_weights_ : ndarray of shape (n_features_in_,)
        Weight of the diffusion samples against linear interpolation, per column (1.0: samples
        only).
    interval_scale_ : float
        Factor applied to sample deviations from the median (1.0: uncalibrated).

    Examples
    --------
    >>> from tsdiff import TSDiffImputer
    >>> imputer = TSDiffImputer(window_length=24, max_epochs=5, random_state=0)  # doctest: +SKIP
    >>> filled = imputer.fit(frame).transform(frame)  # doctest: +SKIP
    >>> lower, upper = imputer.predict_interval(frame, coverage=0.9)  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SHARED_PARAMETER_CONSTRAINTS,
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "sampler": [StrOptions(set(SAMPLERS))],
        "sampling_steps": [Interval(Integral, 1, None, closed="left")],
        "target_strategy": [StrOptions(set(IMPUTATION_TARGET_STRATEGIES))],
        "inference_stride": [None, Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [None, Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "inference_batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "calibration_windows": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        window_length: int = 36,
        n_samples: int = 50,
        sampler: str = "dpmpp_2m",
        sampling_steps: int = 4,
        model: ModelConfig | dict[str, Any] | None = None,
        target_strategy: str = "mix",
        train_stride: int = 1,
        inference_stride: int | None = None,
        validation_fraction: float = 0.1,
        max_epochs: int = 200,
        max_time: float | None = None,
        patience: int | None = 20,
        batch_size: int = 16,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-6,
        inference_batch_size: int | None = None,
        calibration_windows: int = 32,
        trainer_kwargs: dict[str, Any] | None = None,
        random_state: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.window_length = window_length
        self.n_samples = n_samples
        self.sampler = sampler
        self.sampling_steps = sampling_steps
        self.model = model
        self.target_strategy = target_strategy
        self.train_stride = train_stride
        self.inference_stride = inference_stride
        self.validation_fraction = validation_fraction
        self.max_epochs = max_epochs
        self.max_time = max_time
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.inference_batch_size = inference_batch_size
        self.calibration_windows = calibration_windows
        self.trainer_kwargs = trainer_kwargs
        self.random_state = random_state
        self.verbose = verbose

    def _training_settings(self) -> dict[str, Any]:
        return {
            "target_strategy": self.target_strategy,
            "patience": self.patience,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
        }

    def _check_params(self) -> ModelConfig:
        config = super()._check_params()
        if self.sampling_steps > config.diffusion_steps:
            raise ValueError(
                f"sampling_steps ({self.sampling_steps}) cannot exceed the model's "
                f"diffusion_steps ({config.diffusion_steps}); lower sampling_steps."
            )
        return config

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        validation_data: Any = None,
        ckpt_path: Any = None,
        warm_start: bool = False,
    ) -> TSDiffImputer:
        """Learn column statistics and train the diffusion model on ``X``.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or 2-D/3-D ndarray
            Training series; NaN marks missing cells (they are never used as targets).
        y : None
            Ignored.
        validation_data : same kinds as ``X``, optional
            Series to compute the validation loss on (early stopping, best-weight restore);
            by default the last ``validation_fraction`` of each series is held out.
        ckpt_path : str or path, optional
            Lightning checkpoint to resume an interrupted run from (e.g. ``last.ckpt`` of
            ``trainer_kwargs["checkpoint_dir"]``): weights, optimiser, epoch, early-stopping and
            best-weight state continue where they stopped. Pass the same ``X`` and parameters.
        warm_start : bool, default=False
            Fine-tune the fitted network on ``X`` instead of training a new one: the scaler,
            time step and network settings of the first fit are kept, and a new training run
            (``max_epochs``, early stopping) starts from the fitted weights.

        Returns
        -------
        self : TSDiffImputer
        """
        with self._fitting(X) as session:
            parsed, held_out = self._fit_diffusion(
                X,
                session,
                self.validation_fraction,
                validation_data,
                ckpt_path=ckpt_path,
                warm_start=warm_start,
            )
            self._calibrate_on_held_out(
                held_out if held_out is not None else parsed.series(self.time_step_)
            )
            self._agree_across_ranks(("blend_weights_", "interval_scale_"))
        return self

    # -- calibration ------------------------------------------------------------------------
    def _sampler_key(self) -> list[Any]:
        return [self.sampler, int(self.sampling_steps), float(self.model_config_.eta)]

    def _calibrate_on_held_out(self, series: SeriesSet) -> None:
        """Learn ``blend_weights_`` and ``interval_scale_`` on held-out cells.

        Observed cells of up to ``calibration_windows`` held-out windows are hidden (with the
        training target strategy) and imputed with the current sampler settings; see
        :func:`~tsdiff.api._imputer_calibration.fit_blend_and_scale`. Both hold for the sampler
        settings at fit time (``calibrated_sampler_``).
        """
        from tsdiff.data.masking import condition_mask
        from tsdiff.model.conditioning import Anchors, interpolate_along_time

        self.blend_weights_ = np.ones(self.n_features_in_)
        self.interval_scale_ = 1.0
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
        weight, self.interval_scale_ = fit_blend_and_scale(draws, values[hidden], interpolated)
        self.blend_weights_ = np.full(self.n_features_in_, weight)

    def _calibrated(
        self, samples: np.ndarray, standardised: np.ndarray, stamps: np.ndarray
    ) -> np.ndarray:
        """One series' standardised samples ``(S, n, K)`` with the fitted blend and scale (as
        drawn when the sampler settings differ from those calibrated in fit)."""
        if getattr(self, "calibrated_sampler_", None) != self._sampler_key():
            return samples
        weight = float(self.blend_weights_[0])
        baseline = None
        if weight < 1.0:
            from tsdiff.data.interpolation import interpolate_series

            baseline = interpolate_series(standardised, stamps)
        return apply_blend_and_scale(samples, baseline, weight, float(self.interval_scale_))

    # -- sampling ---------------------------------------------------------------------------
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

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.random_state is None
        return tags
