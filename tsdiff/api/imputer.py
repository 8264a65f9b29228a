"""``TSDiffImputer``: probabilistic imputation of time series with a conditional diffusion model.

The class holds the parameters and ``fit``; the held-out calibration of blend and intervals
(:mod:`~tsdiff.api._imputer_calibration`) and the output paths ``transform``, ``sample`` and
``predict_interval`` (:mod:`~tsdiff.api._imputer_output`) live in the classes it stacks on.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from tsdiff._params import store_params
from tsdiff.api._base import SHARED_PARAMETER_CONSTRAINTS
from tsdiff.api._imputer_output import ImputerOutput
from tsdiff.api._output import OutputContainerMixin
from tsdiff.data.masking import IMPUTATION_TARGET_STRATEGIES
from tsdiff.diffusion.samplers import SAMPLERS
from tsdiff.model.config import ModelConfig


class TSDiffImputer(  # type: ignore[call-arg]
    OutputContainerMixin, TransformerMixin, ImputerOutput, auto_wrap_output_keys=None
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
        ``num_nodes``, ``strategy``, ``precision`` (default ``"auto"``: ``"bf16-mixed"`` on
        CPUs that compute in bfloat16 natively, else ``"32-true"``; also used for sampling),
        ``deterministic``, ``callbacks``/``logger`` added to tsdiff's own, and
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
        Factor applied to sample deviations from the median, learnt on all held-out cells
        (1.0: uncalibrated).
    interval_scales_ : ndarray of shape (len(tsdiff.data.gaps.DISTANCE_BANDS),)
        The same factor per distance band of a missing cell to the nearest observation of its
        sensor (1, 2, 3-4, 5-8, 9-16, 17+ rows); a band with too few held-out cells has the
        pooled one. Intervals use it, so their calibration carries over between inputs with
        short and long gaps.

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
        store_params(self, locals())

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
            self._calibrate_on_held_out(held_out if held_out is not None else self._series(parsed))
            self._agree_across_ranks(("blend_weights_", "interval_scale_", "interval_scales_"))
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.random_state is None
        return tags
