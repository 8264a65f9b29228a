"""``TSDiffAnomalyDetector``: anomaly scores from how well a conditional diffusion model can
re-impute each observed value from its surroundings."""

from __future__ import annotations

import hashlib
import time
import warnings
import weakref
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_array, check_is_fitted

from tsdiff.api._base import SHARED_PARAMETER_CONSTRAINTS, DiffusionEstimatorBase
from tsdiff.api._detection_result import DetectionResult, arrange_per_step
from tsdiff.data.frames import ParsedInput, SeriesSet
from tsdiff.model.config import DETECTOR_MODEL, ModelConfig
from tsdiff.scoring.aggregators import TopK
from tsdiff.scoring.probabilities import outlier_probability, prediction_confidence
from tsdiff.scoring.scorers import MaskedReimputationScorer
from tsdiff.scoring.thresholders import POT

#: Per detector, run-time state kept off the estimator (``predict`` must not change
#: ``__dict__``): the last detection result and its input fingerprint, the compiled network.
_RUNTIME: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

#: Fraction at the end of each training series held out to calibrate (and stop early).
CALIBRATION_FRACTION = 0.2
#: Scoring runs of at least this many window-samples use a compiled network on the CPU (the
#: compilation costs seconds; it pays off on long series).
_COMPILE_FROM_WINDOW_SAMPLES = 4096


class TSDiffAnomalyDetector(DiffusionEstimatorBase):
    """Score anomalies in multivariate time series by masked re-imputation with a diffusion model.

    The detector composes three parts around one diffusion model (the CSDI-style network of
    :class:`~tsdiff.TSDiffImputer`, trained on mostly normal data):

    * a **scorer** hides parts of each window, imputes them from the rest and scores each real
      value by how unlikely it is under the samples
      (:class:`~tsdiff.scoring.MaskedReimputationScorer`);
    * an **aggregator** normalises each sensor's scores on held-out normal data, smooths them
      over several time scales and combines the sensors of a time step
      (:class:`~tsdiff.scoring.TopK`);
    * a **thresholder** sets a label-free alarm threshold on the held-out scores
      (:class:`~tsdiff.scoring.POT`, :class:`~tsdiff.scoring.Contamination`,
      :class:`~tsdiff.scoring.FixedThreshold`).

    The last 20 % of each training series is not trained on: it stops training early, fits the
    aggregator and the thresholder. Conventions follow PyOD: :meth:`decision_function` is higher
    for more anomalous steps, :meth:`predict` returns 0 (normal) or 1 (anomaly), and ``fit``
    sets ``decision_scores_``, ``labels_`` and ``threshold_`` on the held-out part. One
    :meth:`detect` call samples once and gives scores, flags, per-sensor scores and events; the
    other methods read the result of the last call for the same input.

    Parameters
    ----------
    window_length : int, default=32
        Time steps per window.
    train_stride : int, default=2
        Step between the starts of training windows.
    max_epochs : int, default=100
        Epoch limit.
    max_time : float or None, default=None
        Wall-clock training budget in seconds.
    batch_size : int, default=32
        Training windows per step.
    model : ModelConfig, dict or None, default=None
        The network (None: :data:`tsdiff.model.config.DETECTOR_MODEL`, 32 channels, 2 layers,
        1 head, 10 diffusion steps; smaller than the imputer's because scoring runs it
        ``n_masks * n_samples * sampling_steps`` times per window).
    scorer : MaskedReimputationScorer or None, default=None
        How cells are hidden and scored (None: ``MaskedReimputationScorer()``: two complementary
        16-step strips, 4 samples of 5 steps each). The network is also trained on its masks.
    aggregator : TopK or None, default=None
        Per-sensor normalisation, smoothing and combination (None: ``TopK(k=6, cap=50,
        smoothing=(1, 31, 63))``).
    thresholder : POT, Contamination, FixedThreshold or None, default=None
        Label-free threshold (None: ``POT(risk=0.002)``).
    trainer_kwargs : dict or None, default=None
        Hardware settings for Lightning's ``Trainer`` (``accelerator``, ``devices``,
        ``num_nodes``, ``strategy``, ``precision`` — default ``"bf16-mixed"``, also used for
        scoring — ``callbacks``, ``logger``).
    random_state : int or None, default=None
        Seed of training and scoring.
    verbose : bool, default=True
        Show progress bars.

    Attributes
    ----------
    model_ : CSDIDenoiser
        The trained network.
    scorer_, aggregator_, thresholder_ : objects
        Fitted copies of the parts.
    threshold_ : float
        The calibrated threshold on time-step scores.
    decision_scores_ : ndarray
        Time-step scores of the held-out calibration part (finite ones, in time order).
    labels_ : ndarray of int
        ``decision_scores_ > threshold_``.
    calibration_on_training_data_ : bool
        True when the data was too short to hold out a calibration part.

    Examples
    --------
    >>> from tsdiff import TSDiffAnomalyDetector
    >>> from tsdiff.scoring import POT, TopK
    >>> detector = TSDiffAnomalyDetector(  # doctest: +SKIP
    ...     aggregator=TopK(k=6, cap=50), thresholder=POT(risk=0.002), max_time=600
    ... ).fit(normal_period)
    >>> result = detector.detect(new_period)  # doctest: +SKIP
    >>> result.scores, result.labels, result.events()  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SHARED_PARAMETER_CONSTRAINTS,
        "train_stride": [Interval(Integral, 1, None, closed="left")],
        "scorer": [None, HasMethods(["cell_scores", "masks", "validate"])],
        "aggregator": [None, HasMethods(["fit", "sensor_scores", "aggregate"])],
        "thresholder": [None, HasMethods(["fit", "threshold_for"])],
    }
    _default_model: ClassVar[ModelConfig] = DETECTOR_MODEL
    _default_trainer: ClassVar[dict[str, Any]] = {"precision": "bf16-mixed"}
    #: Set when torch.compile failed once in this process (no C++ toolchain): stay eager.
    _compile_failed: ClassVar[bool] = False

    def __init__(
        self,
        *,
        window_length: int = 32,
        train_stride: int = 2,
        max_epochs: int = 100,
        max_time: float | None = None,
        batch_size: int = 32,
        model: ModelConfig | dict[str, Any] | None = None,
        scorer: MaskedReimputationScorer | None = None,
        aggregator: TopK | None = None,
        thresholder: Any = None,
        trainer_kwargs: dict[str, Any] | None = None,
        random_state: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.window_length = window_length
        self.train_stride = train_stride
        self.max_epochs = max_epochs
        self.max_time = max_time
        self.batch_size = batch_size
        self.model = model
        self.scorer = scorer
        self.aggregator = aggregator
        self.thresholder = thresholder
        self.trainer_kwargs = trainer_kwargs
        self.random_state = random_state
        self.verbose = verbose

    # -- parts ----------------------------------------------------------------------------------
    def _parts(self) -> tuple[MaskedReimputationScorer, TopK, Any]:
        """Unfitted copies of the scorer, aggregator and thresholder (defaults for None)."""
        scorer = clone(self.scorer) if self.scorer is not None else MaskedReimputationScorer()
        aggregator = clone(self.aggregator) if self.aggregator is not None else TopK()
        thresholder = clone(self.thresholder) if self.thresholder is not None else POT()
        return scorer, aggregator, thresholder

    def _check_params(self) -> ModelConfig:
        config = super()._check_params()
        scorer, aggregator, thresholder = self._parts()
        scorer.validate(self.window_length, config.diffusion_steps)
        aggregator.validate()
        thresholder.validate()
        return config

    def _training_settings(self) -> dict[str, Any]:
        scorer = self.scorer if self.scorer is not None else MaskedReimputationScorer()
        # issue 14: a whole-window scorer needs the network trained on fully hidden windows too.
        full = bool(getattr(scorer, "trains_full_window", False))
        return {
            "target_strategy": "strips_mix_full" if full else "strips_mix",
            "patience": 10,
            "learning_rate": 1e-3,
            "weight_decay": 1e-6,
        }

    def _training_hide_masks(self, n_features: int) -> np.ndarray | None:
        """The scorer's masks: the ``"strips_mix"`` training targets."""
        scorer = self.scorer if self.scorer is not None else MaskedReimputationScorer()
        return scorer.masks(n_features, self.window_length)

    def _parse(self, X: Any, *, reset: bool) -> ParsedInput:
        if not isinstance(X, (pd.DataFrame, pd.Series, list, tuple)):
            check_array(
                X,
                accept_sparse=False,
                ensure_all_finite="allow-nan",
                dtype="numeric",
                allow_nd=True,
            )
        return super()._parse(X, reset=reset)

    # -- fitting --------------------------------------------------------------------------------
    def fit(
        self, X: Any, y: Any = None, *, ckpt_path: Any = None, warm_start: bool = False
    ) -> TSDiffAnomalyDetector:
        """Train the model on ``X`` (mostly normal) and calibrate scores and threshold.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or 2-D/3-D ndarray
            Training series; NaN marks missing cells. The last 20 % of each series is held out
            for calibration and never trained on.
        y : None
            Ignored (no labels are used).
        ckpt_path : str or path, optional
            Lightning checkpoint to resume an interrupted training run from (see
            :meth:`TSDiffImputer.fit <tsdiff.TSDiffImputer.fit>`).
        warm_start : bool, default=False
            Fine-tune the fitted network on ``X`` (scaler and network settings kept).

        Returns
        -------
        self : TSDiffAnomalyDetector
        """
        with self._fitting(X) as session:
            parsed, held_out = self._fit_diffusion(
                X, session, CALIBRATION_FRACTION, ckpt_path=ckpt_path, warm_start=warm_start
            )
            n_rows = sum(len(v) for v in parsed.values)
            if n_rows < 2:
                raise ValueError(
                    f"n_samples = {n_rows}: the detector needs more than 1 sample (row) to "
                    "calibrate a threshold; pass a longer training period."
                )
            self.calibration_on_training_data_ = held_out is None
            if held_out is None:
                warnings.warn(
                    "The training data is too short to hold out a calibration part (window_length"
                    f"={self.window_length}); calibrating on the training data, so the threshold "
                    "is optimistic. Pass longer or more series.",
                    stacklevel=2,
                )
                held_out = parsed.series(self.time_step_)
            self._calibrate(held_out)
        return self

    @classmethod
    def from_imputer(cls, imputer: Any, X_calibration: Any, **params: Any) -> TSDiffAnomalyDetector:
        """Build a fitted detector from a fitted :class:`~tsdiff.TSDiffImputer`, without retraining.

        Parameters
        ----------
        imputer : TSDiffImputer
            Fitted imputer; its network, scaler and time step are shared (not copied).
        X_calibration : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
            Normal data the imputer was not trained on, with the imputer's columns.
        **params
            Detector parameters (``scorer``, ``aggregator``, ``thresholder``, ...); the network
            and window length come from the imputer.

        Returns
        -------
        TSDiffAnomalyDetector
            Fitted.
        """
        check_is_fitted(imputer, "model_")
        fixed = sorted({"model", "window_length"} & set(params))
        if fixed:
            raise ValueError(
                f"Parameter(s) {fixed} describe the imputer's trained network; leave them out."
            )
        shared = ("max_epochs", "max_time", "batch_size", "train_stride", "random_state", "verbose")
        inherited = {name: getattr(imputer, name) for name in shared}
        detector = cls(
            **{
                **inherited,
                "window_length": imputer.window_length,
                "model": imputer.model_config_,
                "trainer_kwargs": imputer.trainer_kwargs,
                **params,
            }
        )
        detector._check_params()
        for name, value in vars(imputer).items():
            if (
                name.endswith("_")
                and not name.startswith("_")
                and name
                not in (
                    "blend_weights_",
                    "interval_scale_",
                    "calibrated_sampler_",
                )
            ):
                setattr(detector, name, value)
        detector.calibration_on_training_data_ = False
        return detector.calibrate(X_calibration)

    def calibrate(self, X: Any) -> TSDiffAnomalyDetector:
        """Refit the aggregator and the thresholder on normal data ``X`` (network unchanged).

        Needed after changing the scorer, aggregator or thresholder with ``set_params``.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
            Normal data the model was not trained on, with the columns seen in ``fit``, at
            least ``window_length`` rows in all.

        Returns
        -------
        self : TSDiffAnomalyDetector
        """
        parsed = self._check_fitted_input(X)
        series = parsed.series(self.time_step_)
        n_rows = sum(len(v) for v in series.values)
        if n_rows < self.window_length:
            raise ValueError(
                f"Calibration data has {n_rows} rows, fewer than window_length "
                f"({self.window_length}); pass more normal data."
            )
        self._calibrate(series)
        return self

    def _calibrate(self, series: SeriesSet) -> None:
        """Fit the parts on ``series`` and set the PyOD-style attributes."""
        scorer, aggregator, thresholder = self._parts()
        raw = self._cell_scores(scorer, series)
        aggregator.fit(raw)
        steps = [aggregator.aggregate(_fold(scorer, aggregator.sensor_scores(r))) for r in raw]
        scores = np.concatenate(steps)
        scores = scores[np.isfinite(scores)]
        thresholder.fit(scores)
        self.scorer_, self.aggregator_, self.thresholder_ = scorer, aggregator, thresholder
        self.threshold_ = float(thresholder.threshold_)
        self.decision_scores_ = scores
        self.labels_ = (scores > self.threshold_).astype(np.int64)
        _RUNTIME.pop(self, None)

    # -- scoring --------------------------------------------------------------------------------
    def _cell_scores(
        self, scorer: Any, series: SeriesSet, row_offset: int = 0, base_seed: int | None = None
    ) -> list[np.ndarray]:
        """Raw cell scores of ``series``; each window's noise is seeded from the detector's
        seed and the window's start row (plus ``row_offset``), so a window scores the same in
        any call (streaming relies on it; :mod:`tsdiff.scoring.seeded`)."""
        store = self._window_store(series, scorer.stride or self.window_length)
        work = store.n_windows * int(getattr(scorer, "n_masks", 2)) * int(scorer.n_samples)
        network = self._scoring_network() if work >= _COMPILE_FROM_WINDOW_SAMPLES else None
        if base_seed is None:
            base_seed = (
                int(self.random_state)
                if self.random_state is not None
                else int(np.random.default_rng().integers(2**32))
            )

        def sample(
            store: Any,
            condition: np.ndarray,
            n_samples: int,
            steps: int,
            start_step: int | None = None,
        ) -> np.ndarray:
            kwargs: dict[str, Any] = {
                "n_samples": n_samples,
                "sampling_steps": steps,
                "condition_masks": condition,
                "start_step": start_step,
                "row_offset": row_offset,
                "base_seed": base_seed,
            }
            if network is not None and not type(self)._compile_failed:
                try:
                    return self._sample_windows(store, network=network, **kwargs)
                except Exception as err:  # compilation needs a working C++ toolchain
                    warnings.warn(
                        f"torch.compile failed ({type(err).__name__}: {err}); scoring with the "
                        "plain network.",
                        stacklevel=4,
                    )
                    type(self)._compile_failed = True
            return self._sample_windows(store, **kwargs)

        return scorer.cell_scores(store, sample)

    def _sample_windows(
        self,
        store: Any,
        *,
        n_samples: int,
        sampler: str = "ddim",
        sampling_steps: int,
        condition_masks: np.ndarray | None = None,
        batch_size: int | None = None,
        network: Any = None,
        start_step: int | None = None,
        row_offset: int = 0,
        base_seed: int | None = None,
    ) -> np.ndarray:
        """Samples ``(n_windows, n_samples, K, L)`` with each window's noise seeded on its own
        (:mod:`tsdiff.scoring.seeded`; DDIM with the model's ``eta``); ``start_step``: SDEdit
        from the windows' own values noised to that step."""
        from tsdiff.diffusion.schedules import NoiseSchedule
        from tsdiff.scoring.seeded import sample_seeded, window_seeds

        if sampler != "ddim":
            raise ValueError(f"the detector samples with DDIM, got sampler={sampler!r}.")
        config = self.model_config_
        if base_seed is None:
            base_seed = 0 if self.random_state is None else int(self.random_state)
        seeds = window_seeds(
            base_seed, store, condition_masks, row_offset=row_offset, start_step=start_step
        )
        device = self._inference_device()
        try:
            return sample_seeded(
                network if network is not None else self.model_.to(device),
                NoiseSchedule(**config.schedule_config()),
                store,
                seeds,
                n_samples=n_samples,
                sampling_steps=sampling_steps,
                eta=config.eta,
                condition_masks=condition_masks,
                start_step=start_step,
                batch_size=self._inference_batch_size(batch_size),
                device=device,
                precision=self._inference_precision(),
                pad=network is not None,
            )
        finally:
            self.model_ = self.model_.cpu()

    def _scoring_network(self) -> Any:
        """A compiled copy of the network for long scoring runs on the CPU (None: eager)."""
        if type(self)._compile_failed or self._inference_device().type != "cpu":
            return None
        runtime = _RUNTIME.setdefault(self, {})
        cached = runtime.get("compiled")
        if cached is not None and cached[0] is self.model_:
            return cached[1]
        import torch

        # inductor's pattern matcher rewrites the explicit attention into fused SDPA, which is
        # slower at these sizes on CPU (docs/design.md).
        compiled = torch.compile(self.model_, dynamic=False, options={"pattern_matcher": False})
        runtime["compiled"] = (self.model_, compiled)
        return compiled

    def _check_parts_current(self) -> None:
        """Refuse scoring when the parts were changed with ``set_params`` after calibration."""
        current = self._parts()
        for fitted, now, name in zip(
            (self.scorer_, self.aggregator_, self.thresholder_),
            current,
            ("scorer", "aggregator", "thresholder"),
            strict=True,
        ):
            if type(fitted) is not type(now) or _comparable(fitted.get_params()) != _comparable(
                now.get_params()
            ):
                raise ValueError(
                    f"The {name} changed since calibration; call calibrate(X_normal) with "
                    "held-out normal data before scoring."
                )

    def _fingerprint(self, parsed: ParsedInput) -> str:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(repr((parsed.layout.kind, self.get_params(deep=False))).encode())
        digest.update(repr(self.threshold_).encode())
        for values, index in zip(parsed.values, parsed.layout.indexes, strict=True):
            digest.update(np.ascontiguousarray(values).tobytes())
            digest.update(
                pd.util.hash_pandas_object(pd.Index(index), index=False).to_numpy().tobytes()
            )
        return digest.hexdigest()

    def detect(self, X: Any) -> DetectionResult:
        """Score ``X`` once: time-step scores, flags, per-sensor scores and events.

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or 2-D/3-D ndarray
            Series with the columns seen in ``fit``; NaN allowed (imputed, not scored).

        Returns
        -------
        DetectionResult
            Arranged like ``X``; ``result.events()`` groups the flags into events. The result
            is kept, so :meth:`decision_function`, :meth:`predict`, :meth:`feature_scores` and
            :meth:`predict_events` on the same input do not sample again.
        """
        check_is_fitted(self, "threshold_")
        parsed = self._check_fitted_input(X)
        self._check_parts_current()
        key = self._fingerprint(parsed)
        runtime = _RUNTIME.setdefault(self, {})
        cached = runtime.get("result")
        if cached is not None and cached[0] == key:
            return cached[1]
        start = time.perf_counter()
        raw = self._cell_scores(self.scorer_, parsed.series(self.time_step_))
        tables = [_fold(self.scorer_, self.aggregator_.sensor_scores(r)) for r in raw]
        steps = [self.aggregator_.aggregate(t) for t in tables]
        thresholds = [self.thresholder_.threshold_for(s) for s in steps]
        flags = []
        for s, t in zip(steps, thresholds, strict=True):
            with np.errstate(invalid="ignore"):
                flags.append((np.nan_to_num(s, nan=-np.inf) > t).astype(np.int64))
        layout = parsed.layout
        result = DetectionResult(
            scores=arrange_per_step(layout, steps, "score"),
            labels=arrange_per_step(layout, flags, "anomaly"),
            sensor_scores=layout.frames(tables),
            thresholds=thresholds,
            layout=layout,
            step_scores=steps,
            step_labels=flags,
            sensor_tables=tables,
            sensor_names=self._sensor_names(parsed),
            seconds=time.perf_counter() - start,
        )
        runtime["result"] = (key, result)
        return result

    def _sensor_names(self, parsed: ParsedInput) -> list[str]:
        if parsed.layout.columns is not None:
            return [str(c) for c in parsed.layout.columns]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def decision_function(self, X: Any) -> Any:
        """Anomaly score of each time step (higher = more anomalous).

        Returns
        -------
        Series, list of Series, or ndarray
            A Series named ``"score"`` on ``X``'s index for a DataFrame, a list of them for a
            list of frames, a 1-D array for a 2-D array (``(n_series, n_steps)`` for a 3-D
            array). Steps with no observed sensor get NaN.
        """
        return self.detect(X).scores

    def score_samples(self, X: Any) -> Any:
        """Opposite of :meth:`decision_function`, scikit-learn's convention (lower = more
        anomalous), as ``IsolationForest.score_samples``."""
        return _negate(self.decision_function(X))

    def predict(self, X: Any) -> Any:
        """Flag anomalous time steps: 1 where the score exceeds the threshold, else 0."""
        return self.detect(X).labels

    def fit_predict(self, X: Any, y: Any = None) -> Any:
        """Fit on ``X`` and flag its anomalies (see :meth:`predict`)."""
        return self.fit(X).predict(X)

    def feature_scores(self, X: Any) -> Any:
        """Per-sensor contribution to each time step's score (same index and columns as ``X``
        for frames; NaN for unscored cells)."""
        return self.detect(X).sensor_scores

    def predict_events(
        self, X: Any, *, max_gap: int = 0, min_length: int = 1, top_sensors: int = 3
    ) -> pd.DataFrame:
        """Group flagged time steps into events (see :meth:`DetectionResult.events`)."""
        return self.detect(X).events(
            max_gap=max_gap, min_length=min_length, top_sensors=top_sensors
        )

    def predict_proba(self, X: Any, method: str = "linear") -> Any:
        """Probability of each time step being normal / anomalous (PyOD's convention).

        Parameters
        ----------
        X : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
        method : {"linear", "unify"}, default="linear"
            ``"linear"`` min-max scales the score by the range of ``decision_scores_``;
            ``"unify"`` maps its standardised value through the Gaussian error function
            (Kriegel et al., 2011).

        Returns
        -------
        DataFrame (columns ``normal``, ``anomaly``), list of DataFrames, or ndarray ``(..., 2)``
            NaN where the step has no score.
        """
        result = self.detect(X)
        probs = []
        for s in result.step_scores:
            p = outlier_probability(s, self.decision_scores_, method)
            probs.append(np.stack([1.0 - p, p], axis=1))
        return arrange_per_step(result.layout, probs, "proba")

    def predict_confidence(self, X: Any) -> Any:
        """Confidence in each flag, from how the score ranks among ``decision_scores_``
        (ExCeeD, Perini et al., 2020): near 1 where more calibration data could hardly change
        the flag, near 0.5 at the threshold.

        Returns
        -------
        Series, list of Series, or ndarray
            In the structure of :meth:`decision_function`'s output; NaN where no score.
        """
        result = self.detect(X)
        alarms = int(self.labels_.sum())
        confidences = [
            prediction_confidence(s, f, self.decision_scores_, alarms)
            for s, f in zip(result.step_scores, result.step_labels, strict=True)
        ]
        return arrange_per_step(result.layout, confidences, "confidence")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.random_state is None
        return tags


def _negate(output: Any) -> Any:
    if isinstance(output, list):
        return [-o for o in output]
    return -output


def _comparable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters in a form that compares by meaning (``[1, 9]`` equals ``(1, 9)``; nested
    parts by type and parameters)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if hasattr(v, "get_params") and not isinstance(v, type):
            out[k] = (type(v).__name__, repr(sorted(_comparable(v.get_params()).items())))
        elif isinstance(v, (list, tuple, np.ndarray)):
            out[k] = tuple(np.asarray(v).ravel().tolist())
        else:
            out[k] = v
    return out


def _fold(scorer: Any, table: np.ndarray) -> np.ndarray:
    """Per-sensor table of a scorer with several columns per sensor (issue 14's
    :class:`~tsdiff.scoring.CombinedScorer`) folded to one column per sensor."""
    fold = getattr(scorer, "fold_sensors", None)
    return table if fold is None else fold(table)
