"""Shared core of the tsdiff estimators: parameters, input checks, training, sampling.

The estimators hold parameters and fitted state and delegate the work: the data layer turns
input into windows, :func:`tsdiff.training.train_denoiser` trains, and
:func:`tsdiff.inference.sample_windows` samples. Code used by one estimator only lives in it.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import warnings
from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from tsdiff.api._memory import check_memory
from tsdiff.data.frames import (
    ParsedInput,
    SeriesSet,
    base_time_step,
    check_column_identity,
    column_identity,
    column_names,
    parse_input,
    require_observed,
)
from tsdiff.data.scaling import NaNStandardScaler
from tsdiff.data.windows import WindowStore, build_window_store
from tsdiff.diffusion.schedules import NoiseSchedule
from tsdiff.model.config import ModelConfig
from tsdiff.model.denoiser import CSDIDenoiser
from tsdiff.observers import observe_fit

# Cells (window-samples x features x steps) per network call when sampling on CPU with 64
# channels (scaled inversely with the channels): activations of bigger calls fall out of cache.
_CPU_CELLS_PER_CALL = 16 * 36 * 36

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


@contextlib.contextmanager
def _global_rng_kept() -> Iterator[None]:
    """Restore the caller's global NumPy, ``random`` and torch generators afterwards."""
    numpy_state = np.random.get_state()  # noqa: NPY002 - the legacy global state itself
    python_state = random.getstate()
    torch_state = torch.random.get_rng_state()
    try:
        yield
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
        torch.random.set_rng_state(torch_state)


def _local_rank() -> int:
    """This process's rank on its node in a distributed run (0 otherwise)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return 0
    value = os.environ.get("LOCAL_RANK", "0").strip()
    return int(value) if value.isdigit() else 0


class DiffusionEstimatorBase(BaseEstimator):
    """Base of :class:`~tsdiff.TSDiffImputer` and :class:`~tsdiff.TSDiffAnomalyDetector`.

    Subclasses define ``__init__`` with the parameters of :data:`SHARED_PARAMETER_CONSTRAINTS`
    and their own, and :meth:`_training_settings` for the training settings they fix.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = dict(SHARED_PARAMETER_CONSTRAINTS)
    #: The network when ``model`` is None.
    _default_model: ClassVar[ModelConfig] = ModelConfig()
    #: ``trainer_kwargs`` entries used when the user gives none for them.
    _default_trainer: ClassVar[dict[str, Any]] = {"precision": "32-true"}

    window_length: int
    train_stride: int
    max_epochs: int
    max_time: float | None
    batch_size: int
    model: ModelConfig | dict[str, Any] | None
    trainer_kwargs: dict[str, Any] | None
    random_state: int | None
    verbose: bool

    # -- parameters ---------------------------------------------------------------------------
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
        settings = {
            "accelerator": "auto",
            "devices": 1,
            "num_nodes": 1,
            "strategy": "auto",
            "callbacks": [],
            "logger": None,
            "deterministic": None,
            "checkpoint_dir": None,
            **self._default_trainer,
        }
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

    # -- input --------------------------------------------------------------------------------
    def _parse(self, X: Any, *, reset: bool) -> ParsedInput:
        """Parse and validate ``X``; on ``reset`` record the feature count and names."""
        parsed = parse_input(X)
        if parsed.layout.kind in ("frame", "array"):
            validate_data(
                self,
                X,
                reset=reset,
                ensure_all_finite="allow-nan",
                dtype=None,
                ensure_min_samples=1,
                ensure_min_features=1,
            )
        else:
            n_columns = parsed.values[0].shape[1]
            if reset:
                self.n_features_in_ = n_columns
            elif n_columns != self.n_features_in_:
                raise ValueError(
                    f"X has {n_columns} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
        labels = parsed.layout.columns
        if reset:
            self.column_ids_ = column_identity(labels)
            names = column_names(parsed)
            if names is not None and all(isinstance(c, str) for c in labels):  # type: ignore[union-attr]
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            check_column_identity(getattr(self, "column_ids_", None), labels)
        return parsed

    def _check_fitted_input(self, X: Any) -> ParsedInput:
        """Validate the parameters (also after ``set_params``) and ``X`` against fit's columns;
        ``X`` must hold at least one observed value."""
        check_is_fitted(self, "model_")
        self._check_params()
        parsed = self._parse(X, reset=False)
        require_observed(parsed)
        return parsed

    def _standardise(self, series: SeriesSet) -> list[np.ndarray]:
        return [self.scaler_.transform(v) for v in series.values]

    def _window_store(self, series: SeriesSet, stride: int) -> WindowStore:
        return build_window_store(
            series,
            self._standardise(series),
            self.window_length,
            stride,
            self.model_config_.edge_anchors,
        )

    def _schedule(self) -> NoiseSchedule:
        """The noise schedule of the fitted model (one object for training and sampling)."""
        config = getattr(self, "model_config_", None) or self._model_config()
        return NoiseSchedule.from_config(config.schedule_config())

    # -- fitting ------------------------------------------------------------------------------
    def _split_validation(
        self, series: SeriesSet, fraction: float
    ) -> tuple[SeriesSet, SeriesSet | None]:
        """Hold out the last ``fraction`` of each long-enough series in time; with no
        long-enough series, hold out whole series."""
        length = self.window_length
        if fraction <= 0:
            return series, None
        train_v, train_t, val_v, val_t = [], [], [], []
        for values, stamps in zip(series.values, series.timestamps, strict=True):
            n = len(values)
            held = max(round(fraction * n), length)
            if n - held >= length:
                split = n - held
                train_v.append(values[:split])
                train_t.append(stamps[:split])
                val_v.append(values[split:])
                val_t.append(stamps[split:] - stamps[split])
            else:
                train_v.append(values)
                train_t.append(stamps)
        if not val_v and len(series.values) >= 2:
            n_val = max(1, round(fraction * len(series.values)))
            n_val = min(n_val, len(series.values) - 1)
            return (
                SeriesSet(series.values[:-n_val], series.timestamps[:-n_val]),
                SeriesSet(series.values[-n_val:], series.timestamps[-n_val:]),
            )
        if not val_v:
            return series, None
        return SeriesSet(train_v, train_t), SeriesSet(val_v, val_t)

    def _training_hide_masks(self, n_features: int) -> np.ndarray | None:
        """Masks ``(n_masks, K, L)`` of the ``"strips"`` target strategies (None: not used)."""
        return None

    def _build_network(self, n_features: int, config: ModelConfig) -> CSDIDenoiser:
        return CSDIDenoiser(
            n_features,
            config.diffusion_steps,
            **config.network_config(),
            prior_skip=config.prior_skip,
        )

    @contextlib.contextmanager
    def _fitting(self, X: Any) -> Iterator[Any]:
        """Run a ``fit`` body: fit observers around it, the caller's random generators kept,
        and the estimator's previous state restored if it raises."""
        previous = dict(self.__dict__)
        try:
            with _global_rng_kept(), observe_fit(self, X) as session:
                yield session
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise

    def _fit_diffusion(
        self,
        X: Any,
        session: Any,
        held_out_fraction: float,
        validation_data: Any = None,
        *,
        ckpt_path: Any = None,
        warm_start: bool = False,
    ) -> tuple[ParsedInput, SeriesSet | None]:
        """Validate input, fit the scaler and train the network; sets the fitted attributes.

        ``ckpt_path`` resumes training from a Lightning checkpoint (weights, optimiser, epoch,
        early stopping and best-weight state). ``warm_start`` fine-tunes the fitted network on
        ``X``, keeping its scaler, time step and network settings. Returns the parsed input and
        the held-out series (the validation part of the training run, or None).
        """
        config = self._check_params()
        trainer = self._trainer_settings()
        training = self._training_settings()
        previous_network = None
        if warm_start:
            check_is_fitted(self, "model_")
            if ckpt_path is not None:
                raise ValueError(
                    "Pass either ckpt_path (resume an interrupted run) or warm_start=True "
                    "(fine-tune the fitted model), not both."
                )
            fitted_config: ModelConfig = vars(self)["model_config_"]
            if config != fitted_config:
                raise ValueError(
                    "warm_start=True fine-tunes the fitted network, so model must describe it "
                    f"(fitted with {fitted_config}); refit without warm_start to change it."
                )
            previous_network = copy.deepcopy(vars(self)["model_"])
        parsed = self._parse(X, reset=not warm_start)
        self.model_config_ = config
        if not warm_start:
            self.time_step_ = base_time_step(parsed.raw_stamps) if parsed.real_time else 1.0
            self.real_time_ = parsed.real_time
        elif parsed.real_time != self.real_time_:
            raise ValueError(
                "warm_start=True needs X with the kind of time index the model was fitted on."
            )
        series = parsed.series(self.time_step_)
        val_series: SeriesSet | None
        if validation_data is not None:
            val_parsed = self._parse(validation_data, reset=False)
            if val_parsed.real_time != parsed.real_time:
                raise ValueError("validation_data must use the same kind of time index as X.")
            train_series, val_series = series, val_parsed.series(self.time_step_)
        else:
            train_series, val_series = self._split_validation(series, held_out_fraction)
        labels = None if parsed.layout.columns is None else [str(c) for c in parsed.layout.columns]
        if not warm_start:
            self.scaler_ = NaNStandardScaler().fit(train_series.values, labels)
        train_store = self._window_store(train_series, self.train_stride)
        val_store = None
        if val_series is not None:
            val_store = self._window_store(val_series, self.train_stride)
        if not train_store.observed.any():
            raise ValueError("The training data has no observed value.")
        if val_store is not None and not val_store.observed.any():
            if validation_data is not None:
                raise ValueError(
                    "validation_data has no observed value, so the validation loss would be 0 "
                    "for every epoch; pass validation series with observations, or none."
                )
            val_store = None  # a held-out tail with nothing observed cannot validate

        from tsdiff.training.fit import TrainingConfig, train_denoiser

        if self.random_state is not None:
            torch.manual_seed(self.random_state)
        n_features = parsed.values[0].shape[1]
        network = (
            previous_network
            if previous_network is not None
            else self._build_network(n_features, config)
        )
        loggers = [*session.loggers]
        if trainer["logger"] not in (None, False):
            loggers.append(trainer["logger"])
        training_config = TrainingConfig(
            target_strategy=training["target_strategy"],
            max_epochs=self.max_epochs,
            max_time_seconds=self.max_time,
            batch_size=self.batch_size,
            learning_rate=training["learning_rate"],
            weight_decay=training["weight_decay"],
            patience=training["patience"],
            accelerator=trainer["accelerator"],
            devices=trainer["devices"],
            num_nodes=trainer["num_nodes"],
            strategy=trainer["strategy"],
            precision=trainer["precision"],
            seed=self.random_state,
            verbose=self.verbose,
            logger=loggers if loggers else False,
            extra_callbacks=[*session.callbacks, *trainer["callbacks"]],
            hide_masks=self._training_hide_masks(n_features),
            checkpoint_dir=None
            if trainer["checkpoint_dir"] is None
            else os.fspath(trainer["checkpoint_dir"]),
            ckpt_path=None if ckpt_path is None else os.fspath(ckpt_path),
            deterministic=trainer["deterministic"],
            estimate_prior=not warm_start,
        )
        result = train_denoiser(network, self._schedule(), train_store, val_store, training_config)
        self.model_ = result.network
        self.history_ = result.history
        self.n_epochs_ = result.epochs
        self.best_epoch_ = result.best_epoch
        self.best_val_loss_ = result.best_val_loss
        self.training_seconds_ = result.seconds
        self.n_train_windows_ = train_store.n_windows
        self.n_val_windows_ = val_store.n_windows if val_store is not None else 0
        self.train_windows_per_second_ = result.windows_seen / max(result.seconds, 1e-9)
        return parsed, val_series

    def _agree_across_ranks(self, names: tuple[str, ...]) -> None:
        """In a distributed run, give every process rank 0's values of the attributes ``names``
        (e.g. calibration results drawn on each process's own device)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return
        values = [getattr(self, name) for name in names]
        dist.broadcast_object_list(values, src=0)
        for name, value in zip(names, values, strict=True):
            setattr(self, name, value)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Save the fitted estimator to the directory ``path`` (JSON config + weights).

        Loading never executes code from the files (weights are read with ``weights_only``).
        """
        from tsdiff.persistence import save_estimator

        save_estimator(self, path)

    @classmethod
    def load(cls, path: Any) -> Any:
        """Load an estimator saved with :meth:`save`.

        Raises
        ------
        ValueError
            If the directory was written by an incompatible tsdiff version, holds another
            estimator class, or its files were altered.
        """
        from tsdiff.persistence import load_estimator

        return load_estimator(path, expected_class=cls)

    # -- sampling -----------------------------------------------------------------------------
    def _inference_device(self) -> torch.device:
        settings = self._trainer_settings()
        wanted = str(settings["accelerator"]).lower()
        if wanted in ("gpu", "cuda") or (wanted == "auto" and torch.cuda.is_available()):
            if not torch.cuda.is_available():
                warnings.warn(
                    "accelerator asks for a GPU but CUDA is not available; sampling on CPU.",
                    stacklevel=3,
                )
                return torch.device("cpu")
            # under DDP each process samples on its own GPU (its local rank's device)
            local_rank = _local_rank()
            devices = settings["devices"]
            if isinstance(devices, (list, tuple)) and devices:
                index = devices[min(local_rank, len(devices) - 1)]
            elif isinstance(devices, str) and "," in devices:
                listed = [d for d in devices.split(",") if d.strip()]
                index = listed[min(local_rank, len(listed) - 1)]
            else:
                index = local_rank
            return torch.device("cuda", int(index))
        return torch.device("cpu")

    def _inference_precision(self) -> str:
        text = str(self._trainer_settings()["precision"])
        if text.startswith("bf16"):
            return "bf16-mixed"
        if text.startswith("16"):
            return "16-mixed" if self._inference_device().type == "cuda" else "bf16-mixed"
        return "32-true"

    def _inference_batch_size(self, requested: int | None = None) -> int:
        """Window-samples per network call: ``requested``, else the device's default."""
        if requested is not None:
            return int(requested)
        if self._inference_device().type == "cuda":
            return 256
        cells = self.n_features_in_ * self.window_length * max(self.model_config_.channels, 1)
        return int(np.clip(_CPU_CELLS_PER_CALL * 64 // cells, 1, 256))

    def _sample_windows(
        self,
        store: WindowStore,
        *,
        n_samples: int,
        sampler: str,
        sampling_steps: int,
        condition_masks: np.ndarray | None = None,
        batch_size: int | None = None,
        network: Any = None,
    ) -> np.ndarray:
        """Samples ``(n_windows, n_samples, K, L)`` of ``store``'s windows (standardised units).

        The one place the estimators call the sampler; the network is moved back to the CPU
        afterwards.
        """
        from tsdiff.inference import sample_windows

        config = self.model_config_
        per_call = self._inference_batch_size(batch_size)
        n_features = store.values.shape[1]
        check_memory(
            # the returned samples (float32), and one network call's activations: about
            # 12 tensors of (window-samples, K, L, channels) per layer plus attention slices
            store.n_windows * n_samples * n_features * store.length * 4
            + per_call * n_features * store.length * config.channels * 4 * 12 * config.n_layers,
            f"Sampling {n_samples} samples of {store.n_windows} windows of {store.length} x "
            f"{n_features}",
            "lower n_samples or inference_batch_size, or pass fewer rows at a time.",
        )
        try:
            drawn = sample_windows(
                network if network is not None else self.model_,
                self._schedule(),
                store,
                n_samples=n_samples,
                sampler=sampler,
                sampling_steps=sampling_steps,
                eta=config.eta,
                batch_size=per_call,
                seed=self.random_state,
                device=self._inference_device(),
                precision=self._inference_precision(),
                progress=self.verbose,
                condition_masks=condition_masks,
            )
        finally:
            self.model_ = self.model_.cpu()
        return drawn
