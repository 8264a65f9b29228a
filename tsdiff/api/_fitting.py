"""The fitting lifecycle shared by the estimators: hold out validation data, fit the scaler,
train the network, and put the estimator back as it was when ``fit`` raises."""

from __future__ import annotations

import contextlib
import copy
import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from tsdiff.api._sampling import EstimatorSampling
from tsdiff.data.frames import ParsedInput, SeriesSet, base_time_step
from tsdiff.data.scaling import NaNStandardScaler
from tsdiff.model.config import ModelConfig
from tsdiff.model.denoiser import CSDIDenoiser
from tsdiff.observers import observe_fit


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


class EstimatorFitting(EstimatorSampling):
    """Train the diffusion model of an estimator (subclasses add what they fit on top)."""

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
            precision=self._precision(),
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
