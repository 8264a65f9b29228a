"""The parameters both estimators share: their constraints, the network config and the
Lightning ``trainer_kwargs`` (validated again after every ``set_params``)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from tsdiff.diffusion.schedules import NoiseSchedule
from tsdiff.model.config import ModelConfig

#: Keys of ``trainer_kwargs`` (Lightning ``Trainer`` arguments tsdiff passes through).
TRAINER_KEYS: tuple[str, ...] = (
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "precision",
    "callbacks",
    "logger",
    "deterministic",
    "checkpoint_dir",
)

#: ``trainer_kwargs`` entries used when neither the user nor the estimator gives them.
_TRAINER_DEFAULTS: dict[str, Any] = {
    "accelerator": "auto",
    "devices": 1,
    "num_nodes": 1,
    "strategy": "auto",
    "callbacks": [],
    "logger": None,
    "deterministic": None,
    "checkpoint_dir": None,
}

#: Constraints of the parameters every estimator has (declared once).
SHARED_PARAMETER_CONSTRAINTS: dict[str, list[Any]] = {
    "window_length": [Interval(Integral, 2, None, closed="left")],
    "train_stride": [Interval(Integral, 1, None, closed="left")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "max_time": [None, Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "model": [None, ModelConfig, dict],
    "trainer_kwargs": [None, dict],
    "random_state": [None, Interval(Integral, 0, 2**32 - 1, closed="both")],
    "verbose": ["boolean"],
}


class EstimatorParameters(BaseEstimator):
    """The shared parameters: their constraints, the network and the trainer settings."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = dict(SHARED_PARAMETER_CONSTRAINTS)
    #: The network when ``model`` is None.
    _default_model: ClassVar[ModelConfig] = ModelConfig()
    #: ``trainer_kwargs`` entries used when the user gives none for them.
    _default_trainer: ClassVar[dict[str, Any]] = {"precision": "auto"}

    window_length: int
    train_stride: int
    max_epochs: int
    max_time: float | None
    batch_size: int
    model: ModelConfig | dict[str, Any] | None
    trainer_kwargs: dict[str, Any] | None
    random_state: int | None
    verbose: bool

    def _model_config(self) -> ModelConfig:
        """``model`` as a :class:`ModelConfig` (None: the estimator's default network)."""
        if self.model is None:
            return self._default_model
        if isinstance(self.model, ModelConfig):
            return self.model
        return ModelConfig.from_dict(dict(self.model), base=self._default_model)

    def _trainer_settings(self) -> dict[str, Any]:
        """``trainer_kwargs`` over the estimator's defaults; unknown keys raise."""
        given = dict(self.trainer_kwargs or {})
        unknown = sorted(set(given) - set(TRAINER_KEYS))
        if unknown:
            raise ValueError(
                f"trainer_kwargs has unsupported key(s) {unknown}; supported: {list(TRAINER_KEYS)}"
                ". Training length is set by max_epochs/max_time on the estimator."
            )
        settings = {**_TRAINER_DEFAULTS, "callbacks": [], **self._default_trainer}
        settings.update(given)
        return settings

    def _training_settings(self) -> dict[str, Any]:
        """Training settings that are not shared parameters (target strategy, optimiser...)."""
        raise NotImplementedError

    def _check_params(self) -> ModelConfig:
        """Validate every parameter (also after ``set_params``); return the model config."""
        self._validate_params()
        config = self._model_config()
        self._trainer_settings()
        return config

    def _schedule(self) -> NoiseSchedule:
        """The noise schedule of the fitted model (one object for training and sampling)."""
        config = getattr(self, "model_config_", None) or self._model_config()
        return NoiseSchedule.from_config(config.schedule_config())
