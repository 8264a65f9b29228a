"""``TSDiffAnomalyDetector``: anomaly scores from how well a conditional diffusion model can
re-impute each observed value from its surroundings."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from tsdiff.api._base import DIFFUSION_PARAMETER_CONSTRAINTS, DiffusionEstimatorBase
from tsdiff.data.frames import ParsedInput, SeriesSet
from tsdiff.data.masking import TARGET_STRATEGIES
from tsdiff.data.windows import WindowStore, build_window_store
from tsdiff.diffusion.schedules import NoiseSchedule
from tsdiff.observers import observe_fit
from tsdiff.scoring.aggregate import (
    AGGREGATIONS,
    WINDOW_COMBINATIONS,
    aggregate_sensors,
    combine_windows,
    smooth_scores,
)
from tsdiff.scoring.cells import CELL_SCORES, cell_scores
from tsdiff.scoring.events import extract_events
from tsdiff.scoring.masks import MASK_PATTERNS, complementary_masks
from tsdiff.scoring.normalise import NORMALISATIONS, SensorNormaliser
from tsdiff.scoring.scales import MultiScaleSmoother, smoothing_windows
from tsdiff.scoring.thresholds import (
    drift_adjusted_threshold,
    pot_threshold,
    quantile_threshold,
)

THRESHOLD_METHODS: tuple[str, ...] = ("auto", "pot", "quantile")

DETECTOR_PARAMETER_CONSTRAINTS: dict[str, list[Any]] = {
    **{k: v for k, v in DIFFUSION_PARAMETER_CONSTRAINTS.items() if k != "validation_fraction"},
    "target_strategy": [StrOptions(set(TARGET_STRATEGIES))],
    "contamination": [None, Interval(Real, 0, 0.5, closed="right")],
    "threshold": [StrOptions(set(THRESHOLD_METHODS)), Interval(Real, None, None, closed="neither")],
    "risk": [Interval(Real, 0, 1, closed="neither")],
    "pot_level": [Interval(Real, 0, 1, closed="neither")],
    "threshold_drift": ["boolean"],
    "calibration_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_masks": [Interval(Integral, 2, None, closed="left")],
    "strip_length": [Interval(Integral, 1, None, closed="left")],
    "mask_pattern": [StrOptions(set(MASK_PATTERNS))],
    "cell_score": [StrOptions(set(CELL_SCORES))],
    "std_floor": [Interval(Real, 0, None, closed="neither")],
    "normalisation": [StrOptions(set(NORMALISATIONS))],
    "aggregation": [StrOptions(set(AGGREGATIONS))],
    "top_k": [Interval(Integral, 1, None, closed="left")],
    "score_cap": [None, Interval(Real, 0, None, closed="neither")],
    "smoothing": [Interval(Integral, 1, None, closed="left"), "array-like"],
    "window_combination": [StrOptions(set(WINDOW_COMBINATIONS))],
    "compile_network": ["boolean"],
}

# Parameters that describe the trained network: taken from the imputer by ``from_imputer``.
_MODEL_PARAMETERS = (
    "diffusion_steps",
    "schedule",
    "beta_start",
    "beta_end",
    "channels",
    "n_layers",
    "n_heads",
    "diffusion_embedding_dim",
    "time_embedding_dim",
    "feature_embedding_dim",
    "dropout",
    "condition_fill",
    "edge_anchors",
    "prior_skip",
)
# Parameters copied from the imputer unless given (they do not change the network).
_SHARED_PARAMETERS = (
    "window_length",
    "train_stride",
    "target_strategy",
    "max_epochs",
    "max_time",
    "patience",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "precision",
    "random_state",
    "verbose",
)
_FITTED_FROM_IMPUTER = (
    "model_",
    "scaler_",
    "time_step_",
    "real_time_",
    "n_features_in_",
    "feature_names_in_",
    "history_",
    "n_epochs_",
    "best_epoch_",
    "best_val_loss_",
    "training_seconds_",
    "n_train_windows_",
    "n_val_windows_",
    "train_windows_per_second_",
)

# Parameters that change the scores (calibration must be redone when they change) and the
# threshold (refresh_threshold is enough).
_SCORING_PARAMETERS = (
    "window_length",
    "inference_stride",
    "n_samples",
    "sampler",
    "sampling_steps",
    "eta",
    "n_masks",
    "strip_length",
    "mask_pattern",
    "cell_score",
    "std_floor",
    "normalisation",
    "aggregation",
    "top_k",
    "score_cap",
    "smoothing",
    "window_combination",
)
_THRESHOLD_PARAMETERS = ("contamination", "threshold", "risk", "pot_level")

# Window-samples kept in memory at once while scoring (bounds the sample array).
_CELLS_PER_CHUNK = 2**23


class TSDiffAnomalyDetector(DiffusionEstimatorBase):
    """Score anomalies in multivariate time series by masked re-imputation with a diffusion model.

    The model (the same CSDI-style network and training as :class:`~tsdiff.TSDiffImputer`)
    learns on mostly normal data to impute hidden values from the rest of a window. To score a
    window, ``n_masks`` complementary masks hide time strips so that every time step is hidden
    exactly once; each hidden part is imputed ``n_samples`` times from the visible part, and each
    observed cell is scored by the negative log-likelihood of its real value under a Gaussian
    fitted to its samples (with a spread floor, robust to few samples). Cell scores are
    normalised per sensor on held-out normal data, a time step's score is the largest (or the
    top-k mean) of its sensors' scores, and overlapping windows are averaged. Missing cells
    (NaN) are imputed as context but never scored.

    The last ``calibration_fraction`` of the training data is not trained on: it normalises the
    sensors and sets the label-free threshold (peaks-over-threshold or a quantile), unless
    ``contamination`` fixes the alarm rate.

    Conventions follow PyOD: :meth:`decision_function` is higher for more anomalous steps and
    :meth:`predict` returns 0 (normal) or 1 (anomaly).

    Parameters
    ----------
    window_length : int, default=32
        Time steps per window.
    train_stride : int, default=1
        Step between the starts of training windows.
    inference_stride : int or None, default=None
        Step between scoring windows; None means ``window_length`` (no overlap, fastest).
        Smaller strides score each step in several windows and average the scores.
    n_samples : int, default=4
        Imputation samples per hidden cell.
    sampler : {"ddim", "ddpm"}, default="ddim"
    sampling_steps : int, default=5
        Reverse-diffusion steps per sample.
    eta : float, default=1.0
        DDIM noise scale (1: stochastic steps, which spread the few samples better).
    diffusion_steps : int, default=10
        Training diffusion steps. Fewer than the imputer's 50 so that a few sampling steps do
        not skip across the steep end of the schedule (a 5-step DDIM pass on a 50-step ``quad``
        schedule amplifies the noise-prediction error about 40-fold in its first step).
    schedule : {"quad", "linear", "cosine"}, default="quad"
    beta_start, beta_end : float, default=1e-4, 0.8
        With 10 steps, ``beta_end=0.8`` leaves about 1 % of the signal variance at the last step.
    channels : int, default=32
    n_layers : int, default=2
    n_heads : int, default=1
        Network size: smaller than the imputer's, because scoring runs the network
        ``n_masks * n_samples * sampling_steps`` times per window.
    diffusion_embedding_dim, time_embedding_dim, feature_embedding_dim : int, default=128, 128, 16
    dropout : float, default=0.1
    condition_fill : {"linear", "zero"}, default="linear"
    edge_anchors : bool, default=False
        Let the linear conditioning fill interpolate towards observations just outside each
        window (see :class:`~tsdiff.TSDiffImputer`). Off by default for detection: with it, a
        short level shift that straddles two hidden strips is interpolated from both of its
        sides and scored lower (the synthetic level-shift test missed it).
    prior_skip : bool, default=False
        The imputer's Gaussian-prior skip (see :class:`~tsdiff.TSDiffImputer`). Off by default:
        the detector's defaults and benchmark figures were tuned without it.
    target_strategy : {"strips_mix", "strips", "random", "historical", "mix"}, default="strips_mix"
        Training targets. ``"strips"`` hides, in each training window, the cells of one of the
        scoring masks (``n_masks``, ``strip_length``, ``mask_pattern``), so the network learns
        exactly the imputation it performs when scoring; ``"strips_mix"`` uses those masks for
        half the windows and CSDI's ``"mix"`` (see :class:`~tsdiff.TSDiffImputer`) for the
        rest. Against ``"mix"`` at the same budget (docs/benchmarks_detection.md): mean VUS-PR
        0.451 vs 0.442 over four SMD machines (+0.14 on one, -0.09 on another) and 0.786 vs
        0.764 on SKAB; principled rather than a large measured gain.
    max_epochs : int, default=100
    max_time : float or None, default=None
        Training budget in seconds.
    patience : int or None, default=10
        Early stopping on the loss of the calibration part.
    batch_size : int, default=32
    learning_rate, weight_decay : float, default=1e-3, 1e-6
    accelerator, devices, num_nodes, strategy
        Lightning settings.
    precision : str or int, default="bf16-mixed"
        Training and scoring precision; bf16 autocast is about 1.5-2x faster on CPUs with bf16
        instructions.
    inference_batch_size : int or None, default=None
        Window-samples per network call while scoring. None picks for the device: on CPU about
        20k cells per call (bigger batches fall out of cache), on a GPU 256.
    random_state : int or None, default=None
    verbose : bool, default=True
    contamination : float or None, default=None
        If set, in (0, 0.5]: the threshold flags this fraction of the calibration scores,
        overriding ``threshold``.
    threshold : {"auto", "pot", "quantile"} or float, default="auto"
        How the threshold is set without labels: ``"pot"`` fits a generalised Pareto tail to the
        calibration scores and extrapolates to ``risk``; ``"quantile"`` takes their ``1 - risk``
        quantile; ``"auto"`` is ``"pot"`` falling back to ``"quantile"`` when the tail has too few
        points; a number is used as the threshold itself.
    risk : float, default=0.002
        Target false-alarm probability per time step on normal data.
    pot_level : float, default=0.98
        Quantile of the calibration scores above which the tail is fitted.
    threshold_drift : bool, default=False
        If True, :meth:`predict` and :meth:`predict_events` raise the threshold for each scored
        series by how far its median score lies above the calibration median
        (:func:`~tsdiff.scoring.drift_adjusted_threshold`; never lower than ``threshold_``).
        For long series whose sensors drift away from the training period, so that their
        normal steps all score higher than the calibration data did. It assumes well under half
        of each scored series is anomalous; leave it off for short or mostly anomalous series,
        and when chunks of one stream must share one threshold. Scores are unchanged. On four
        SMD machines' test halves it raised the F1 at the threshold from 0.70 to 0.80 of the
        best F1 (0.71 to 0.82 with a second training run); on SKAB, whose test series are half
        anomalous, and on the demo's short SMD slice it lowered it
        (docs/benchmarks_detection.md).
    calibration_fraction : float, default=0.2
        Last part of each training series held out for normalisation, threshold and early
        stopping (whole series when none is long enough).
    n_masks : int, default=2
        Complementary masks per window (each hides ``1 / n_masks`` of it).
    strip_length : int, default=16
        Width of the hidden time strips. Strips at least as long as the anomalies to find work
        best: a value is then imputed from normal context rather than from the anomaly itself
        (the default hides each half of a 32-step window in turn).
    mask_pattern : {"strips", "checkerboard"}, default="strips"
        ``"strips"`` hides all sensors at once; ``"checkerboard"`` staggers the strips by sensor
        so other sensors stay partly visible at each hidden step.
    cell_score : {"nll", "error"}, default="nll"
        Gaussian negative log-likelihood, or the absolute error in sample standard deviations.
    std_floor : float, default=1.0
        Spread (in training standard deviations of the sensor) added in quadrature to the
        samples' spread, so that few, tightly agreeing samples cannot make a small deviation
        look extreme.
    normalisation : {"standard", "robust"}, default="standard"
        Per-sensor mean/std or median/IQR of the calibration cell scores.
    aggregation : {"max", "topk"}, default="max"
        How a time step's sensor scores become one score.
    top_k : int, default=3
        Sensors averaged by ``aggregation="topk"``.
    score_cap : float or None, default=None
        With ``aggregation="topk"``: sensor scores (the normalised, smoothed values of
        :meth:`feature_scores`, in calibration standard deviations) above it count as
        ``score_cap`` in the top-k mean. Beyond the cap a sensor is taken as anomalous for
        certain; more sensors agreeing then raise a step's score, and one sensor far outside
        its training range (a drifted or broken sensor, whose Gaussian likelihood grows with
        the square of its distance) cannot outweigh all the others. On SMD, 50 with
        ``top_k=6`` lifted the mean VUS-PR of the same cached scores from 0.495 to 0.578, SKAB
        unchanged (docs/benchmarks_detection.md). With ``"max"`` every step above the cap
        would tie, so leave it None there. :meth:`feature_scores` and the sensor ranking of
        :meth:`predict_events` are not capped.
    smoothing : int or sequence of int, default=(1, 31, 63)
        Centred moving average (in steps) of the normalised per-sensor scores. With four
        samples per cell the raw scores are noisy; averaging over about one window makes
        sustained anomalies (most of those in server and plant logs) stand out, at the price
        of spreading and diluting one-step spikes. Several lengths score every scale: each
        one's averages are re-normalised per sensor on the calibration data and a cell keeps
        its most unusual scale (:class:`~tsdiff.scoring.MultiScaleSmoother`), so spikes and
        sustained shifts both stand out. A single int uses that one length (1: none).
    window_combination : {"mean", "centre"}, default="mean"
        How overlapping windows are combined (only with ``inference_stride < window_length``).
    compile_network : bool, default=False
        Score with a ``torch.compile``-d copy of the network (about 2x faster on CPU once
        compiled; the first call compiles for 20-60 s and needs a C++ compiler). Falls back to
        the plain network, with a warning, when compiling fails.

    Attributes
    ----------
    threshold_ : float
        Scores above it are anomalies.
    threshold_method_ : str
        ``"pot"``, ``"quantile"``, ``"contamination"`` or ``"fixed"``.
    calibration_scores_ : ndarray
        Time-step scores of the calibration data.
    score_centre_, score_scale_ : ndarray of shape (n_features_in_,)
        Per-sensor normalisation of the cell scores.
    smoothing_centre_, smoothing_scale_ : ndarray of shape (n_scales, n_features_in_) or None
        Per-scale, per-sensor normalisation of the smoothed scores when ``smoothing`` has
        several lengths (None for a single length).
    n_calibration_steps_ : int
        Time steps the calibration was computed on.
    calibration_params_ : dict
        The scoring and threshold parameters in force at calibration.
    calibration_on_training_data_ : bool
        True when no data could be held out, so calibration used training data (the threshold
        is then optimistic).
    model_, scaler_, time_step_, history_, training_seconds_, ...
        As in :class:`~tsdiff.TSDiffImputer`.

    Notes
    -----
    The estimator does not declare itself an outlier detector to scikit-learn: scikit-learn's
    convention (``predict`` in {-1, +1}, negative ``decision_function`` for outliers) is the
    opposite of PyOD's, which this class follows.

    Examples
    --------
    >>> from tsdiff import TSDiffAnomalyDetector
    >>> detector = TSDiffAnomalyDetector(max_time=120, random_state=0)  # doctest: +SKIP
    >>> detector.fit(train_frame)  # doctest: +SKIP
    >>> scores = detector.decision_function(test_frame)  # doctest: +SKIP
    >>> events = detector.predict_events(test_frame)  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = dict(DETECTOR_PARAMETER_CONSTRAINTS)

    contamination: float | None
    threshold: str | float
    risk: float
    pot_level: float
    threshold_drift: bool
    calibration_fraction: float
    n_masks: int
    strip_length: int
    mask_pattern: str
    cell_score: str
    std_floor: float
    normalisation: str
    aggregation: str
    top_k: int
    score_cap: float | None
    smoothing: int | tuple[int, ...]
    window_combination: str
    compile_network: bool

    def __init__(
        self,
        *,
        window_length: int = 32,
        train_stride: int = 1,
        inference_stride: int | None = None,
        n_samples: int = 4,
        sampler: str = "ddim",
        sampling_steps: int = 5,
        eta: float = 1.0,
        diffusion_steps: int = 10,
        schedule: str = "quad",
        beta_start: float = 1e-4,
        beta_end: float = 0.8,
        channels: int = 32,
        n_layers: int = 2,
        n_heads: int = 1,
        diffusion_embedding_dim: int = 128,
        time_embedding_dim: int = 128,
        feature_embedding_dim: int = 16,
        dropout: float = 0.1,
        condition_fill: str = "linear",
        edge_anchors: bool = False,
        prior_skip: bool = False,
        target_strategy: str = "strips_mix",
        max_epochs: int = 100,
        max_time: float | None = None,
        patience: int | None = 10,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-6,
        accelerator: str = "auto",
        devices: Any = 1,
        num_nodes: int = 1,
        strategy: str = "auto",
        precision: Any = "bf16-mixed",
        inference_batch_size: int | None = None,
        random_state: int | None = None,
        verbose: bool = True,
        contamination: float | None = None,
        threshold: str | float = "auto",
        risk: float = 0.002,
        pot_level: float = 0.98,
        threshold_drift: bool = False,
        calibration_fraction: float = 0.2,
        n_masks: int = 2,
        strip_length: int = 16,
        mask_pattern: str = "strips",
        cell_score: str = "nll",
        std_floor: float = 1.0,
        normalisation: str = "standard",
        aggregation: str = "max",
        top_k: int = 3,
        score_cap: float | None = None,
        smoothing: int | tuple[int, ...] = (1, 31, 63),
        window_combination: str = "mean",
        compile_network: bool = False,
    ) -> None:
        self.window_length = window_length
        self.train_stride = train_stride
        self.inference_stride = inference_stride
        self.n_samples = n_samples
        self.sampler = sampler
        self.sampling_steps = sampling_steps
        self.eta = eta
        self.diffusion_steps = diffusion_steps
        self.schedule = schedule
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.channels = channels
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.diffusion_embedding_dim = diffusion_embedding_dim
        self.time_embedding_dim = time_embedding_dim
        self.feature_embedding_dim = feature_embedding_dim
        self.dropout = dropout
        self.condition_fill = condition_fill
        self.edge_anchors = edge_anchors
        self.prior_skip = prior_skip
        self.target_strategy = target_strategy
        self.max_epochs = max_epochs
        self.max_time = max_time
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.accelerator = accelerator
        self.devices = devices
        self.num_nodes = num_nodes
        self.strategy = strategy
        self.precision = precision
        self.inference_batch_size = inference_batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.contamination = contamination
        self.threshold = threshold
        self.risk = risk
        self.pot_level = pot_level
        self.threshold_drift = threshold_drift
        self.calibration_fraction = calibration_fraction
        self.n_masks = n_masks
        self.strip_length = strip_length
        self.mask_pattern = mask_pattern
        self.cell_score = cell_score
        self.std_floor = std_floor
        self.normalisation = normalisation
        self.aggregation = aggregation
        self.top_k = top_k
        self.score_cap = score_cap
        self.smoothing = smoothing
        self.window_combination = window_combination
        self.compile_network = compile_network

    # -- validation ---------------------------------------------------------------------------
    def _check_parameter_consistency(self) -> None:
        super()._check_parameter_consistency()
        if self.n_masks > self.window_length:
            raise ValueError(
                f"n_masks ({self.n_masks}) cannot exceed window_length ({self.window_length}): "
                "each mask must hide at least one time step."
            )
        if self.mask_pattern != "sensors" and self.n_masks * self.strip_length > self.window_length:
            raise ValueError(
                f"n_masks * strip_length ({self.n_masks} * {self.strip_length}) exceeds "
                f"window_length ({self.window_length}), so some masks would hide nothing; "
                "lower strip_length or n_masks."
            )
        smoothing_windows(self.smoothing)  # clear error for bad lengths
        if self.score_cap is not None and (self.aggregation == "max" or self.top_k == 1):
            warnings.warn(
                f"score_cap={self.score_cap} with a single sensor per step (aggregation="
                f"{self.aggregation!r}, top_k={self.top_k}) makes every step above the cap tie; "
                "use aggregation='topk' with top_k > 1, or score_cap=None.",
                UserWarning,
                stacklevel=3,
            )
        if isinstance(self.threshold, str) and self.threshold not in THRESHOLD_METHODS:
            raise ValueError(
                f"threshold must be one of {THRESHOLD_METHODS} or a number, got {self.threshold!r}."
            )

    def _parse(self, X: Any, *, reset: bool) -> ParsedInput:
        """Validate ``X``; array-likes first go through scikit-learn's checks (standard errors
        for sparse, complex, non-numeric or empty input)."""
        if not isinstance(X, (pd.DataFrame, pd.Series, list, tuple)):
            check_array(
                X,
                accept_sparse=False,
                ensure_all_finite="allow-nan",
                dtype="numeric",
                allow_nd=True,
            )
        return super()._parse(X, reset=reset)

    # -- fitting ------------------------------------------------------------------------------
    def _training_hide_masks(self, n_features: int) -> np.ndarray | None:
        """The scoring masks, which the ``"strips"`` target strategies train on.

        Built for every strategy, before training, so that masks the data cannot support (e.g.
        ``mask_pattern="sensors"`` with more masks than sensors) fail before the training run.
        """
        masks = complementary_masks(
            n_features, self.window_length, self.n_masks, self.strip_length, self.mask_pattern
        )
        return masks if self.target_strategy in ("strips", "strips_mix") else None

    def _split_validation(
        self, series: SeriesSet, fraction: float | None = None
    ) -> tuple[SeriesSet, SeriesSet | None]:
        """Hold out the calibration part (also the validation data of the training)."""
        train, held = super()._split_validation(series, self.calibration_fraction)
        self._calibration_series = held if held is not None else series
        self.calibration_on_training_data_ = held is None
        return train, held

    def fit(self, X: Any, y: Any = None) -> TSDiffAnomalyDetector:
        """Train the model on ``X`` (mostly normal) and calibrate scores and threshold.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or 2-D/3-D ndarray
            Training series; NaN marks missing cells. The last ``calibration_fraction`` of each
            series is held out for calibration and never trained on.
        y : None
            Ignored (no labels are used).

        Returns
        -------
        self : TSDiffAnomalyDetector
        """
        self._validate_params()
        self._check_parameter_consistency()
        with observe_fit(self, X) as session:
            self._fit_diffusion(X, session=session)
            calibration = self._calibration_series
            del self._calibration_series
            if self.calibration_on_training_data_:
                warnings.warn(
                    "The training data is too short to hold out a calibration part "
                    f"(calibration_fraction={self.calibration_fraction}, window_length="
                    f"{self.window_length}); calibrating on the training data, so the threshold "
                    "is optimistic. Pass longer or more series.",
                    stacklevel=2,
                )
            self._calibrate(calibration)
        return self

    @classmethod
    def from_imputer(cls, imputer: Any, X_calibration: Any, **params: Any) -> TSDiffAnomalyDetector:
        """Build a fitted detector from a fitted :class:`~tsdiff.TSDiffImputer`, without retraining.

        Parameters
        ----------
        imputer : TSDiffImputer
            Fitted imputer; its network, scaler and time step are shared (not copied).
        X_calibration : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
            Normal data the imputer was not trained on, with the imputer's columns: it
            normalises the sensor scores and sets the threshold.
        **params
            Detector parameters (scoring, threshold, window length, ...). Network parameters
            come from the imputer and cannot be changed.

        Returns
        -------
        TSDiffAnomalyDetector
            Fitted.
        """
        check_is_fitted(imputer, "model_")
        fixed = [p for p in params if p in _MODEL_PARAMETERS and params[p] != getattr(imputer, p)]
        if fixed:
            raise ValueError(
                f"Parameter(s) {fixed} describe the imputer's trained network and cannot differ "
                "from it; leave them out."
            )
        unknown = sorted(set(params) - set(cls().get_params()))
        if unknown:
            raise ValueError(f"Unknown detector parameter(s) {unknown}.")
        inherited = {p: getattr(imputer, p) for p in (*_MODEL_PARAMETERS, *_SHARED_PARAMETERS)}
        detector = cls(**{**inherited, **params})
        detector._validate_params()
        detector._check_parameter_consistency()
        for name in _FITTED_FROM_IMPUTER:
            if hasattr(imputer, name):
                setattr(detector, name, getattr(imputer, name))
        detector.calibration_on_training_data_ = False
        return detector.calibrate(X_calibration)

    def calibrate(self, X: Any) -> TSDiffAnomalyDetector:
        """Re-learn the per-sensor normalisation and the threshold on normal data ``X``.

        Needed after changing a scoring parameter (masks, samples, aggregation, smoothing, ...)
        with ``set_params``; the network is not retrained.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
            Normal data the model was not trained on, with the columns seen in ``fit``.

        Returns
        -------
        self : TSDiffAnomalyDetector
        """
        check_is_fitted(self, "model_")
        self._validate_params()
        self._check_parameter_consistency()
        parsed = self._parse(X, reset=False)
        self._calibrate(parsed.series(self.time_step_))
        return self

    def _calibrate(self, series: SeriesSet) -> None:
        """Learn the per-sensor normalisation and the threshold on ``series``."""
        self._calibrate_from_raw(self._raw_cell_scores(series))

    def _calibrate_from_raw(self, raw: list[np.ndarray]) -> None:
        """The post-processing half of calibration, from ``_raw_cell_scores`` tables (one per
        series): lets a development sweep re-calibrate other post-processings without sampling."""
        stacked = np.concatenate(raw, axis=0)
        if np.isnan(stacked).all():
            raise ValueError("The calibration data has no observed value to score.")
        normaliser = SensorNormaliser(self.normalisation).fit(stacked)
        self.score_centre_ = normaliser.centre_
        self.score_scale_ = normaliser.scale_
        normalised = [normaliser.transform(r) for r in raw]
        self.smoothing_centre_ = self.smoothing_scale_ = None
        windows = smoothing_windows(self.smoothing)
        if len(windows) > 1:
            smoother = MultiScaleSmoother(windows, self.normalisation).fit(normalised)
            self.smoothing_centre_ = smoother.centre_
            self.smoothing_scale_ = smoother.scale_
        scores = np.concatenate([self._aggregate(self._smooth(n)) for n in normalised])
        scores = scores[np.isfinite(scores)]
        self.calibration_scores_ = scores
        self.n_calibration_steps_ = int(scores.size)
        self.threshold_, self.threshold_method_ = self._label_free_threshold(scores)
        self.calibration_params_ = {
            name: getattr(self, name) for name in (*_SCORING_PARAMETERS, *_THRESHOLD_PARAMETERS)
        }

    @staticmethod
    def _comparable(name: str, value: Any) -> Any:
        """A parameter in a form that compares by meaning (smoothing ``31`` equals ``[31]``)."""
        return smoothing_windows(value) if name == "smoothing" else value

    def _warn_if_stale(self) -> None:
        calibrated = getattr(self, "calibration_params_", {})
        changed = [
            n
            for n in _SCORING_PARAMETERS
            if n in calibrated
            and self._comparable(n, calibrated[n]) != self._comparable(n, getattr(self, n))
        ]
        if changed:
            warnings.warn(
                f"Scoring parameter(s) {changed} changed since calibration, so the sensor "
                "normalisation and threshold_ no longer match the scores; call "
                "calibrate(X_normal) with held-out normal data.",
                stacklevel=3,
            )
            return
        moved = [
            n
            for n in _THRESHOLD_PARAMETERS
            if n in calibrated and calibrated[n] != getattr(self, n)
        ]
        if moved:
            warnings.warn(
                f"Threshold parameter(s) {moved} changed since calibration; call "
                "refresh_threshold() to update threshold_.",
                stacklevel=3,
            )

    def refresh_threshold(self) -> TSDiffAnomalyDetector:
        """Recompute ``threshold_`` from ``calibration_scores_`` after changing ``contamination``,
        ``threshold``, ``risk`` or ``pot_level`` with ``set_params`` (nothing is re-scored).

        Returns
        -------
        self : TSDiffAnomalyDetector
        """
        check_is_fitted(self, "calibration_scores_")
        self._validate_params()
        self.threshold_, self.threshold_method_ = self._label_free_threshold(
            self.calibration_scores_
        )
        for name in _THRESHOLD_PARAMETERS:
            self.calibration_params_[name] = getattr(self, name)
        return self

    def _label_free_threshold(self, scores: np.ndarray) -> tuple[float, str]:
        if self.contamination is not None:
            return quantile_threshold(scores, float(self.contamination)), "contamination"
        if not isinstance(self.threshold, str):
            return float(self.threshold), "fixed"
        if self.threshold in ("auto", "pot"):
            try:
                return pot_threshold(scores, self.risk, self.pot_level), "pot"
            except ValueError as err:
                if self.threshold == "pot":
                    raise ValueError(f"threshold='pot' failed: {err}") from err
        rate = min(max(self.risk, 1.0 / max(scores.size, 1)), 0.5)
        return quantile_threshold(scores, rate), "quantile"

    # -- scoring ------------------------------------------------------------------------------
    def _scoring_store(self, series: SeriesSet) -> WindowStore:
        stride = self.inference_stride or self.window_length
        return build_window_store(
            series, self._standardise(series), self.window_length, stride, self.edge_anchors
        )

    def _scoring_network(self) -> Any:
        """The network used for scoring: a compiled copy when ``compile_network`` is set."""
        if not self.compile_network or getattr(self, "_compile_failed", False):
            return self.model_
        device = self._inference_device().type
        cached = getattr(self, "_compiled", None)
        if cached is not None and cached[0] is self.model_ and cached[1] == device:
            return cached[2]
        import torch

        # On CPU, inductor's pattern matcher rewrites the network's explicit attention into
        # fused scaled-dot-product attention (half of the compiled scoring time in a profile),
        # which is slower at these sizes: without it, one SMD test half (23.7k rows x 38) took
        # 36-45 s instead of 48-58 s, interleaved in one process, same VUS-PR.
        options: dict[str, Any] = {"pattern_matcher": False} if device == "cpu" else {}
        compiled = torch.compile(self.model_, dynamic=False, options=options)
        self._compiled = (self.model_, device, compiled)
        return compiled

    def _sample(self, store: WindowStore, hidden: np.ndarray) -> np.ndarray:
        """Samples ``(n_windows, n_samples, K, L)`` of the windows, ``hidden`` cells hidden."""
        from tsdiff.inference import sample_windows

        kwargs: dict[str, Any] = {
            "n_samples": self.n_samples,
            "sampler": self.sampler,
            "sampling_steps": self.sampling_steps,
            "eta": self.eta,
            "batch_size": self._inference_batch_size(),
            "seed": self.random_state,
            "device": self._inference_device(),
            "precision": self._inference_precision(),
            "progress": self.verbose,
        }
        schedule = NoiseSchedule(**self._schedule_config())
        network = self._scoring_network()
        if network is not self.model_:
            # A compiled network is specialised to one batch shape: pad to whole network batches.
            per_call = max(self._inference_batch_size() // self.n_samples, 1)
            n = store.n_windows
            padded = -(-n // per_call) * per_call
            ids = np.r_[np.arange(n), np.full(padded - n, n - 1)]
            hidden_padded = np.concatenate([hidden, np.repeat(hidden[-1:], padded - n, axis=0)])
            try:
                drawn = sample_windows(
                    network, schedule, store.subset(ids), condition_masks=~hidden_padded, **kwargs
                )
                return drawn[:n]
            except Exception as err:  # compilation needs a working C++ toolchain
                warnings.warn(
                    f"torch.compile failed ({type(err).__name__}: {err}); scoring with the "
                    "plain network.",
                    stacklevel=3,
                )
                self._compile_failed = True
                del self._compiled
        return sample_windows(self.model_, schedule, store, condition_masks=~hidden, **kwargs)

    def _raw_cell_scores(self, series: SeriesSet) -> list[np.ndarray]:
        """Per series, ``(n_steps, n_columns)`` cell scores before normalisation (NaN: unscored)."""
        store = self._scoring_store(series)
        n_features, length, n_masks = store.values.shape[1], store.length, self.n_masks
        hide = complementary_masks(
            n_features, length, n_masks, self.strip_length, self.mask_pattern
        )
        window_scores = np.full((store.n_windows, n_features, length), np.nan)
        per_chunk = max(1, _CELLS_PER_CHUNK // (n_masks * self.n_samples * n_features * length))
        for first in range(0, store.n_windows, per_chunk):
            ids = np.arange(first, min(first + per_chunk, store.n_windows))
            repeated = np.repeat(ids, n_masks)
            hidden = np.tile(hide, (len(ids), 1, 1))
            values, observed, _ = store.gather(repeated)
            drawn = self._sample(store.subset(repeated), hidden)
            scores = cell_scores(np.moveaxis(drawn, 1, 0), values, self.cell_score, self.std_floor)
            targets = hidden & observed
            summed = (
                np.where(targets, scores, 0.0)
                .reshape(len(ids), n_masks, n_features, length)
                .sum(axis=1)
            )
            scored = targets.reshape(len(ids), n_masks, n_features, length).any(axis=1)
            window_scores[ids] = np.where(scored, summed, np.nan)
        self.model_ = self.model_.cpu()
        return combine_windows(store, window_scores, self.window_combination)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_compiled", None)  # compiled graphs are not picklable; rebuilt on demand
        state.pop("_compile_failed", None)
        return state

    def _normalise(self, raw: np.ndarray) -> np.ndarray:
        normaliser = SensorNormaliser(self.normalisation)
        normaliser.centre_, normaliser.scale_ = self.score_centre_, self.score_scale_
        return self._smooth(normaliser.transform(raw))

    def _smooth(self, normalised: np.ndarray) -> np.ndarray:
        windows = smoothing_windows(self.smoothing)
        if len(windows) == 1:
            return smooth_scores(normalised, windows[0])
        centre = getattr(self, "smoothing_centre_", None)
        if centre is None or len(centre) != len(windows):
            raise ValueError(
                f"smoothing={self.smoothing!r} needs a normalisation per length, learned at "
                "calibration with the same lengths; call calibrate(X_normal) with held-out "
                "normal data."
            )
        smoother = MultiScaleSmoother(windows, self.normalisation)
        smoother.centre_, smoother.scale_ = centre, np.asarray(self.smoothing_scale_)
        return smoother.transform(normalised)

    def _aggregate(self, sensor_scores: np.ndarray) -> np.ndarray:
        return aggregate_sensors(sensor_scores, self.aggregation, self.top_k, self.score_cap)

    def _sensor_scores(self, X: Any) -> tuple[ParsedInput, list[np.ndarray]]:
        check_is_fitted(self, "threshold_")
        self._warn_if_stale()
        parsed = self._parse(X, reset=False)
        raw = self._raw_cell_scores(parsed.series(self.time_step_))
        return parsed, [self._normalise(r) for r in raw]

    @staticmethod
    def _per_step_output(parsed: ParsedInput, per_series: list[np.ndarray], name: str) -> Any:
        """Arrange per-series ``(n_steps,)`` arrays like the input (Series for frames)."""
        layout = parsed.layout
        stacked = layout.stack([a[:, None] for a in per_series])
        if layout.kind in ("frame", "multiindex"):
            return pd.Series(stacked[:, 0], index=layout.frame_index, name=name)
        if layout.kind == "frames":
            return [
                pd.Series(a[:, 0], index=idx, name=name)
                for a, idx in zip(stacked, layout.indexes, strict=True)
            ]
        if layout.kind == "arrays":
            return [a[:, 0] for a in stacked]
        return stacked[..., 0]

    def decision_function(self, X: Any) -> Any:
        """Anomaly score of each time step (higher = more anomalous).

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or 2-D/3-D ndarray
            Series with the columns seen in ``fit``; NaN allowed (imputed, not scored).

        Returns
        -------
        Series, list of Series, or ndarray
            A Series named ``"score"`` on ``X``'s index for a DataFrame (MultiIndex included), a
            list of them for a list of frames, a 1-D array for a 2-D array (``(n_series,
            n_steps)`` for a 3-D array). Steps with no observed sensor get NaN.
        """
        parsed, sensor_scores = self._sensor_scores(X)
        return self._per_step_output(parsed, [self._aggregate(s) for s in sensor_scores], "score")

    def score_samples(self, X: Any) -> Any:
        """Alias of :meth:`decision_function` (higher = more anomalous)."""
        return self.decision_function(X)

    def predict(self, X: Any) -> Any:
        """Flag anomalous time steps: 1 where the score exceeds ``threshold_``, else 0.

        With ``threshold_drift=True`` each series (each frame of a list, each MultiIndex key,
        each row of a 3-D array) is compared with its own drift-adjusted threshold.

        Returns
        -------
        Series, list of Series, or ndarray of int
            In the structure of :meth:`decision_function`'s output (steps with no score are 0).
        """
        parsed, sensor_scores = self._sensor_scores(X)
        flags = [self._flags(self._aggregate(s)) for s in sensor_scores]
        return self._per_step_output(parsed, flags, "anomaly")

    def _series_threshold(self, scores: np.ndarray) -> float:
        """The threshold for one scored series: ``threshold_``, or with ``threshold_drift`` that
        raised by the rise of the series' median score over the calibration median."""
        if not self.threshold_drift:
            return float(self.threshold_)
        return drift_adjusted_threshold(self.threshold_, scores, self.calibration_scores_)

    def _flags(self, scores: np.ndarray) -> np.ndarray:
        threshold = self._series_threshold(scores)
        with np.errstate(invalid="ignore"):
            return (np.nan_to_num(scores, nan=-np.inf) > threshold).astype(np.int64)

    def fit_predict(self, X: Any, y: Any = None) -> Any:
        """Fit on ``X`` and flag its anomalies (see :meth:`predict`)."""
        return self.fit(X).predict(X)

    def feature_scores(self, X: Any) -> Any:
        """Per-sensor contribution to each time step's score (normalised cell scores).

        Returns
        -------
        DataFrame, list of DataFrames, or ndarray
            Same index and columns as ``X`` for frames; NaN for unscored (missing) cells. The
            time-step score is the row maximum (or top-k mean) of this table, with values above
            ``score_cap`` counted as ``score_cap``.
        """
        parsed, sensor_scores = self._sensor_scores(X)
        return parsed.layout.frames(sensor_scores)

    def _sensor_names(self, parsed: ParsedInput) -> list[str]:
        if parsed.layout.columns is not None:
            return [str(c) for c in parsed.layout.columns]
        names = getattr(self, "feature_names_in_", None)
        return (
            [str(c) for c in names]
            if names is not None
            else [f"x{i}" for i in range(self.n_features_in_)]
        )

    def predict_events(
        self, X: Any, *, max_gap: int = 0, min_length: int = 1, top_sensors: int = 3
    ) -> pd.DataFrame:
        """Group the flagged time steps into events, with the sensors that drive each one.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
        max_gap : int, default=0
            Alarms at most this many quiet steps apart form one event.
        min_length : int, default=1
            Shorter events are dropped.
        top_sensors : int, default=3
            Sensors listed per event.

        Returns
        -------
        DataFrame
            One row per event with ``start``, ``end`` (index labels of the first and last
            flagged step, inclusive), ``peak`` (label of the highest score), ``peak_score``,
            ``n_steps`` (steps from start to end), ``sensors`` (names, largest contribution
            first) and ``sensor_scores``; plus ``series`` (MultiIndex key or list position) for
            multi-series input.
        """
        parsed, sensor_scores = self._sensor_scores(X)
        names = self._sensor_names(parsed)
        multi = parsed.layout.kind not in ("frame", "array")
        if parsed.layout.kind == "multiindex":
            assert parsed.layout.frame_index is not None
            keys: list[Any] = list(pd.unique(parsed.layout.frame_index.get_level_values(0)))
        else:
            keys = list(range(len(sensor_scores)))
        rows = []
        for key, index, sensors in zip(keys, parsed.layout.indexes, sensor_scores, strict=True):
            scores = self._aggregate(sensors)
            events = extract_events(
                self._flags(scores),
                scores,
                sensors,
                max_gap=max_gap,
                min_length=min_length,
                top_sensors=top_sensors,
            )
            for event in events:
                row: dict[str, Any] = {"series": key} if multi else {}
                row.update(
                    {
                        "start": index[event.start],
                        "end": index[event.end],
                        "peak": index[event.peak],
                        "peak_score": event.peak_score,
                        "n_steps": event.end - event.start + 1,
                        "sensors": [names[i] for i in event.sensors],
                        "sensor_scores": event.sensor_scores,
                    }
                )
                rows.append(row)
        columns = (["series"] if multi else []) + [
            "start",
            "end",
            "peak",
            "peak_score",
            "n_steps",
            "sensors",
            "sensor_scores",
        ]
        return pd.DataFrame(rows, columns=columns)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.random_state is None
        return tags
