"""Batched multi-sample imputation of windows by reverse diffusion.

All samples of all windows go through the network together, in chunks of at most
``batch_size`` window-samples: the step-independent part of the network (side information,
conditioning) is computed once per window and shared by its samples.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from tsdiff.data.windows import WindowStore
from tsdiff.diffusion.samplers import make_sampler
from tsdiff.diffusion.schedules import NoiseSchedule
from tsdiff.model.conditioning import Anchors
from tsdiff.model.denoiser import CSDIDenoiser


def _chunks(n_windows: int, n_samples: int, batch_size: int) -> Iterator[tuple[slice, slice]]:
    """Split (windows x samples) into rectangles of at most ``batch_size`` window-samples."""
    if n_samples >= batch_size:
        for start in range(0, n_windows):
            for s in range(0, n_samples, batch_size):
                yield slice(start, start + 1), slice(s, min(s + batch_size, n_samples))
    else:
        per_chunk = max(batch_size // n_samples, 1)
        for start in range(0, n_windows, per_chunk):
            yield slice(start, min(start + per_chunk, n_windows)), slice(0, n_samples)


def precision_autocast(
    device: torch.device, precision: str
) -> contextlib.AbstractContextManager[object]:
    """The autocast context of a Lightning ``precision`` string on ``device``.

    ``"bf16..."`` runs in bfloat16, ``"16..."`` in float16, anything else (``"32-true"``) as is.
    """
    if precision.startswith("bf16"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision.startswith("16"):
        return torch.autocast(device.type, dtype=torch.float16)
    return contextlib.nullcontext()


#: A sampling run expected to take longer than this (seconds) is announced with its estimate.
ANNOUNCE_AFTER_SECONDS = 60.0


class SamplingProgress:
    """One progress bar over the network calls of a sampling run, which may span several calls
    of :func:`sample_windows` (long inputs are sampled block by block).

    Once a few calls have been timed, a run expected to take more than
    :data:`ANNOUNCE_AFTER_SECONDS` says so in one line above the bar.

    Parameters
    ----------
    total_calls : int
        Network calls of the whole run (:func:`count_network_calls`).
    enabled : bool
        Show the bar and the estimate; ``False`` keeps the console silent.
    what : str
        What is sampled, for the estimate line (e.g. ``"20 samples of 1000 windows"``).
    """

    def __init__(self, total_calls: int, enabled: bool = True, what: str = "sampling") -> None:
        self.total_calls = int(total_calls)
        self.enabled = bool(enabled)
        self.what = what
        self.expected_seconds: float | None = None
        self._done = 0
        self._started: float | None = None
        self._bar = tqdm(
            total=self.total_calls, desc="sampling", unit="step", disable=not enabled, leave=False
        )

    def start(self) -> None:
        """Start the clock (at the first network call, so set-up is not counted)."""
        if self._started is None:
            self._started = time.perf_counter()

    def update(self, calls: int = 1) -> None:
        """Count finished network calls; estimate the run's duration once."""
        self._done += calls
        self._bar.update(calls)
        if self.expected_seconds is None and self._started is not None:
            elapsed = time.perf_counter() - self._started
            if self._done >= max(3, self.total_calls // 50) or elapsed > 10.0:
                self.expected_seconds = elapsed / self._done * self.total_calls
                if self.enabled and self.expected_seconds > ANNOUNCE_AFTER_SECONDS:
                    minutes = self.expected_seconds / 60.0
                    self._bar.write(
                        f"tsdiff: {self.what}: {self.total_calls} network calls, expected to "
                        f"take about {minutes:.0f} min on {self._device_text()}",
                        file=sys.stderr,
                    )

    def _device_text(self) -> str:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            return "this GPU"
        return f"{torch.get_num_threads()} CPU thread(s)"

    def close(self) -> None:
        """Remove the bar."""
        self._bar.close()


def count_network_calls(n_windows: int, n_samples: int, batch_size: int, n_timesteps: int) -> int:
    """Network calls :func:`sample_windows` makes for ``n_windows`` windows.

    Parameters
    ----------
    n_windows, n_samples, batch_size : int
        As given to :func:`sample_windows`.
    n_timesteps : int
        Reverse steps of the sampler after ``set_timesteps`` (its ``timesteps`` length).
    """
    return sum(1 for _ in _chunks(n_windows, n_samples, batch_size)) * n_timesteps


@torch.no_grad()
def sample_windows(
    network: CSDIDenoiser,
    schedule: NoiseSchedule,
    store: WindowStore,
    *,
    n_samples: int,
    sampler: str = "ddim",
    sampling_steps: int = 10,
    eta: float = 0.0,
    batch_size: int = 256,
    seed: int | None = None,
    device: str | torch.device = "cpu",
    precision: str = "32-true",
    progress: bool | SamplingProgress = True,
    condition_masks: np.ndarray | None = None,
) -> np.ndarray:
    """Draw imputation samples for every window of ``store``.

    Parameters
    ----------
    network : CSDIDenoiser
        Trained noise predictor.
    schedule : NoiseSchedule
        The schedule it was trained with.
    store : WindowStore
        Windows to impute; their observed cells are the condition.
    n_samples : int
        Samples per window.
    sampler : {"ddim", "ddpm", "dpmpp_2m"}
    sampling_steps : int
        Reverse steps (at most the training steps).
    eta : float
        DDIM noise scale.
    batch_size : int
        Window-samples per network call.
    seed : int, optional
        Seed of the initial and per-step noise.
    device : str or torch.device
    precision : str
        ``"32-true"``, ``"bf16-mixed"`` or ``"16-mixed"``: autocast for the network.
    progress : bool or SamplingProgress
        Show a progress bar over network calls; a :class:`SamplingProgress` is updated (and
        left open) instead, so that several calls share one bar.
    condition_masks : ndarray of shape (n_windows, n_columns, length), optional
        Boolean masks ANDed with the observed mask: cells where it is False are hidden from the
        model and imputed even if observed (used for reconstruction-based anomaly scores).

    Returns
    -------
    ndarray of shape (n_windows, n_samples, n_columns, length)
        Standardised samples; conditioning cells hold their value in every sample.
    """
    device = torch.device(device)
    network = network.to(device).eval()
    diffusion_sampler = make_sampler(sampler, schedule, eta=eta)
    diffusion_sampler.set_timesteps(sampling_steps)
    timesteps = diffusion_sampler.timesteps.tolist()
    generator = torch.Generator(device=device)
    if seed is not None:
        generator.manual_seed(int(seed))
    else:
        generator.seed()
    n_windows = store.n_windows
    if condition_masks is not None and condition_masks.shape != (
        n_windows,
        store.values.shape[1],
        store.length,
    ):
        raise ValueError(
            f"condition_masks has shape {condition_masks.shape}, expected "
            f"{(n_windows, store.values.shape[1], store.length)}."
        )
    out = np.empty((n_windows, n_samples, store.values.shape[1], store.length), dtype=np.float32)
    chunks = list(_chunks(n_windows, n_samples, batch_size))
    shared = isinstance(progress, SamplingProgress)
    bar = (
        progress
        if isinstance(progress, SamplingProgress)
        else SamplingProgress(len(chunks) * len(timesteps), enabled=bool(progress))
    )
    bar.start()
    for window_slice, sample_slice in chunks:
        diffusion_sampler.set_timesteps(sampling_steps)  # clears multistep state per chunk
        ids = np.arange(n_windows)[window_slice]
        values_np, observed_np, stamps_np = store.gather(ids)
        values = torch.from_numpy(np.ascontiguousarray(values_np)).to(device)
        if condition_masks is not None:
            observed_np = observed_np & condition_masks[ids]
        observed = torch.from_numpy(np.ascontiguousarray(observed_np)).to(device).to(values.dtype)
        stamps = torch.from_numpy(np.ascontiguousarray(stamps_np)).to(device)
        anchors = Anchors(
            *(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in store.anchors(ids))
        )
        repeats = sample_slice.stop - sample_slice.start
        with precision_autocast(device, precision):
            context = network.encode_context(values, observed, stamps, anchors)
        batch = len(ids) * repeats
        x = torch.randn((batch, *values.shape[1:]), generator=generator, device=device)
        for t in timesteps:
            steps = torch.full((batch,), t, dtype=torch.long, device=device)
            alpha_bar = schedule.alpha_bar(steps)
            with precision_autocast(device, precision):
                eps = network(x, steps, context, repeats=repeats, alpha_bar=alpha_bar)
            x = diffusion_sampler.step(eps.float(), t, x, generator=generator).prev_sample
            bar.update(1)
        x = x.view(len(ids), repeats, *values.shape[1:])
        cond = observed.unsqueeze(1)
        x = cond * values.unsqueeze(1) + (1.0 - cond) * x
        out[window_slice, sample_slice] = x.float().cpu().numpy()
    if not shared:
        bar.close()
    return out
