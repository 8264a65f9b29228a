"""``TSDiffAnomalyDetector``: anomaly scores from how well a conditional diffusion model can
re-impute each observed value from its surroundings.

The class holds the parameters, the training settings and ``fit``; its scoring runs
(:mod:`~tsdiff.api._detector_scoring`), calibration (:mod:`~tsdiff.api._detector_calibration`),
result cache (:mod:`~tsdiff.api._detector_results`) and PyOD-style read methods
(:mod:`~tsdiff.api._detector_read`) live in the classes it stacks on.
"""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import HasMethods, Interval, Options
from sklearn.utils.validation import check_array, check_is_fitted

from tsdiff._params import store_params
from tsdiff.api._base import SHARED_PARAMETER_CONSTRAINTS
from tsdiff.api._detector_read import PyODReadMixin
from tsdiff.api._detector_scoring import _RUNTIME as _RUNTIME  # the cache, for tests
from tsdiff.data.frames import ParsedInput
from tsdiff.model.config import DETECTOR_MODEL, ModelConfig
from tsdiff.scoring.aggregators import TopK
from tsdiff.scoring.neighbours import WindowNeighbours
from tsdiff.scoring.scorers import MaskedReimputationScorer

#: Fraction at the end of each training series held out to calibrate (and stop early).
CALIBRATION_FRACTION = 0.2


class TSDiffAnomalyDetector(PyODReadMixin):
    """Score anomalies in multivariate time series by masked re-imputation with a diffusion model.

    The detector composes its parts around one diffusion model (the CSDI-style network of
    :class:`~tsdiff.TSDiffImputer`, trained on mostly normal data):

    * a **scorer** hides parts of each window, imputes them from the rest and scores each real
      value by how unlikely it is under the samples
      (:class:`~tsdiff.scoring.MaskedReimputationScorer`);
    * a **neighbour view** (:class:`~tsdiff.scoring.WindowNeighbours`, on by default) adds, per
      sensor, the distance of its short windows to its nearest training windows, so sustained
      level shifts, which re-imputation explains by their shifted context, score high too;
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
    neighbours : WindowNeighbours, None or False, default=None
        A second, per-sensor view: how far each sensor's short windows lie from its nearest
        training windows (None: ``WindowNeighbours()``, 16-step windows, the 5th nearest of up
        to 4,096 training windows per sensor; False: scores come from the scorer alone). Its
        distances are normalised like the scorer's cell scores and a sensor takes the larger of
        the two, so sustained level shifts, which re-imputation explains by their own context,
        still score high.
    trainer_kwargs : dict or None, default=None
        Hardware settings for Lightning's ``Trainer`` (``accelerator``, ``devices``,
        ``num_nodes``, ``strategy``, ``precision`` — default ``"auto"``: ``"bf16-mixed"`` on CPUs
        that compute in bfloat16 natively, else ``"32-true"``; also used for scoring —
        ``callbacks``, ``logger``).
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
    neighbours_ : WindowNeighbours or None
        The neighbour component (None when switched off).
    neighbour_reference_ : Tensor of shape (n_features, n_reference, length) or None
        Its reference windows, drawn from the training part of ``X`` (saved with the weights).
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
        "neighbours": [None, HasMethods(["reference", "cell_scores"]), Options(bool, {False})],
    }
    #: Parameters added after the model format's version 2.0, with the value a model saved
    #: before them behaves as (the loader fills them in).
    _saved_before: ClassVar[dict[str, Any]] = {"neighbours": False}
    _default_model: ClassVar[ModelConfig] = DETECTOR_MODEL
    _default_trainer: ClassVar[dict[str, Any]] = {"precision": "auto"}

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
        neighbours: WindowNeighbours | bool | None = None,
        trainer_kwargs: dict[str, Any] | None = None,
        random_state: int | None = None,
        verbose: bool = True,
    ) -> None:
        store_params(self, locals())

    def _check_params(self) -> ModelConfig:
        config = super()._check_params()
        scorer, aggregator, thresholder = self._parts()
        scorer.validate(self.window_length, config.diffusion_steps)
        aggregator.validate()
        thresholder.validate()
        neighbours = self._neighbours_part()
        if neighbours is not None:
            neighbours.validate()
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
            series = parsed.series(self.time_step_)
            if held_out is not None:  # the reference windows come from the trained-on part
                series = self._split_validation(series, CALIBRATION_FRACTION)[0]
            self._fit_neighbours(series)
            if held_out is None:
                warnings.warn(
                    "The training data is too short to hold out a calibration part (window_length"
                    f"={self.window_length}); calibrating on the training data, so the threshold "
                    "is optimistic. Pass longer or more series.",
                    stacklevel=2,
                )
                held_out = self._series(parsed)
            self._calibrate(held_out)
            # each process scored the calibration part on its own device: keep rank 0's parts
            self._agree_across_ranks(
                (
                    "scorer_",
                    "aggregator_",
                    "thresholder_",
                    "threshold_",
                    "decision_scores_",
                    "labels_",
                    "neighbours_",
                    "neighbour_reference_",
                )
            )
        return self

    @classmethod
    def from_imputer(
        cls, imputer: Any, X_calibration: Any, X_reference: Any = None, **params: Any
    ) -> TSDiffAnomalyDetector:
        """Build a fitted detector from a fitted :class:`~tsdiff.TSDiffImputer`, without retraining.

        Parameters
        ----------
        imputer : TSDiffImputer
            Fitted imputer; its network, scaler and time step are shared (not copied).
        X_calibration : DataFrame, list of DataFrames, MultiIndex DataFrame, or ndarray
            Normal data the imputer was not trained on, with the imputer's columns.
        X_reference : DataFrame, list of DataFrames, MultiIndex DataFrame, ndarray or None
            Normal data (for example the imputer's training data) whose windows the neighbour
            component compares against. None: the detector has no neighbour component
            (``neighbours=False``), unless ``neighbours`` is given, which then needs it.
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
        if X_reference is None and params.get("neighbours") not in (None, False):
            raise ValueError(
                "neighbours needs reference windows of normal data; pass X_reference (for "
                "example the imputer's training data)."
            )
        detector = cls(
            **{
                **inherited,
                "window_length": imputer.window_length,
                "model": imputer.model_config_,
                "trainer_kwargs": imputer.trainer_kwargs,
                **({"neighbours": False} if X_reference is None else {}),
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
        reference = None if X_reference is None else detector._check_fitted_input(X_reference)
        detector._fit_neighbours(detector._series(reference) if reference is not None else None)
        return detector.calibrate(X_calibration)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.random_state is None
        return tags
