"""Sampling shared by the estimators: device, precision and batch size of the network calls,
and the memory guard in front of the sampler."""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from tsdiff.api._input import EstimatorInput
from tsdiff.api._memory import check_memory
from tsdiff.data.windows import WindowStore

# Cells (window-samples x features x steps) per network call when sampling on CPU with 64
# channels (scaled inversely with the channels): activations of bigger calls fall out of cache.
_CPU_CELLS_PER_CALL = 16 * 36 * 36

#: Per estimator, its compiled network (kept off the estimator: ``predict`` must not change
#: ``__dict__``), with the network it was compiled from.
_COMPILED: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()


def _local_rank() -> int:
    """This process's rank on its node in a distributed run (0 otherwise)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return 0
    value = os.environ.get("LOCAL_RANK", "0").strip()
    return int(value) if value.isdigit() else 0


def block_seed(random_state: Any, block: int) -> int | None:
    """The sampling seed of block ``block`` of a long input (``random_state`` for block 0)."""
    if random_state is None:
        return None
    if block == 0:
        return int(random_state)
    sequence = np.random.SeedSequence([int(random_state) & 0xFFFFFFFF, int(block)])
    return int(sequence.generate_state(1)[0])


class EstimatorSampling(EstimatorInput):
    """Draw samples of windows with the fitted network on the configured device."""

    model_: Any
    #: Set when torch.compile failed once in this process (no C++ toolchain): stay eager.
    _compile_failed: ClassVar[bool] = False

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

    def _precision(self) -> str:
        """The Lightning precision of training and sampling (``"auto"`` resolved for the
        device: bf16 on CPUs that compute in it natively)."""
        from tsdiff.inference import resolve_precision

        return resolve_precision(self._trainer_settings()["precision"], self._inference_device())

    def _inference_precision(self) -> str:
        text = self._precision()
        if text.startswith("bf16"):
            return "bf16-mixed"
        if text.startswith("16"):
            return "16-mixed" if self._inference_device().type == "cuda" else "bf16-mixed"
        return "32-true"

    def _compiled_network(self, long_run: bool) -> Any:
        """A compiled copy of the network for a long sampling run on the CPU (None: not a long
        run, or not on the CPU, or compiling failed before); the caller says what is long."""
        if not long_run or type(self)._compile_failed or self._inference_device().type != "cpu":
            return None
        cached = _COMPILED.get(self)
        if cached is not None and cached[0] is self.model_:
            return cached[1]
        # inductor's pattern matcher rewrites the explicit attention into fused SDPA, which is
        # slower at these sizes on CPU (docs/design.md).
        compiled = torch.compile(self.model_, dynamic=False, options={"pattern_matcher": False})
        _COMPILED[self] = (self.model_, compiled)
        return compiled

    def _eager_if_compiling_fails(self, sample: Callable[[Any], np.ndarray], network: Any) -> Any:
        """``sample(network)``; if compiling ``network`` fails (no working C++ toolchain),
        warn once and ``sample(None)`` with the plain network from then on."""
        if network is not None and not type(self)._compile_failed:
            try:
                return sample(network)
            except Exception as err:
                warnings.warn(
                    f"torch.compile failed ({type(err).__name__}: {err}); sampling with the "
                    "plain network.",
                    stacklevel=4,
                )
                type(self)._compile_failed = True
        return sample(None)

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
        progress: Any = None,
        block: int = 0,
        window_seeds: np.ndarray | None = None,
    ) -> np.ndarray:
        """Samples ``(n_windows, n_samples, K, L)`` of ``store``'s windows (standardised units).

        The one place the estimators call the sampler; the network is moved back to the CPU
        afterwards. ``progress`` is a shared :class:`~tsdiff.inference.SamplingProgress` (else
        a bar of its own when verbose); ``block`` numbers the blocks of a long input sampled
        one after the other: block 0 is seeded with ``random_state``, later ones with seeds
        derived from it, so that blocks do not repeat each other's noise.
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
                seed=block_seed(self.random_state, block),
                device=self._inference_device(),
                precision=self._inference_precision(),
                progress=self.verbose if progress is None else progress,
                condition_masks=condition_masks,
                pad=network is not None,
                window_seeds=window_seeds,
            )
        finally:
            self.model_ = self.model_.cpu()
        return drawn
