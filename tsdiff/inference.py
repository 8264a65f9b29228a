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
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from tsdiff.data.windows import WindowStore
from tsdiff.diffusion.samplers import make_sampler
from tsdiff.diffusion.schedules import NoiseSchedule
from tsdiff.model.conditioning import Anchors
from tsdiff.model.denoiser import CSDIDenoiser, DenoiserContext


def _chunks(n_windows: int, n_samples: int, batch_size: int) -> Iterator[tuple[slice, slice]]:
    """Split (windows x samples) into rectangles of at most ``batch_size`` window-samples.

    With more samples than ``batch_size``, each window's samples are split into pieces of
    (nearly) equal size, so that no call is left with a small remainder; otherwise whole
    windows are grouped.
    """
    if n_samples > batch_size:
        pieces = -(-n_samples // batch_size)
        size = -(-n_samples // pieces)
        for start in range(0, n_windows):
            for s in range(0, n_samples, size):
                yield slice(start, start + 1), slice(s, min(s + size, n_samples))
    else:
        per_chunk = max(batch_size // n_samples, 1)
        for start in range(0, n_windows, per_chunk):
            yield slice(start, min(start + per_chunk, n_windows)), slice(0, n_samples)


def _call_shape(n_windows: int, n_samples: int, batch_size: int) -> tuple[int, int]:
    """(windows, samples per window) of the largest network call of :func:`_chunks` (its
    first)."""
    for window_slice, sample_slice in _chunks(n_windows, n_samples, batch_size):
        return window_slice.stop - window_slice.start, sample_slice.stop - sample_slice.start
    return 0, 0


def native_bf16_cpu() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    for name in checks:
        check = getattr(torch.cpu, name, None)
        if check is not None and check():
            return True
    return False


def resolve_precision(precision: str | int, device: torch.device) -> str:
    """The Lightning precision string ``precision`` means on ``device``.

    ``"auto"`` is ``"bf16-mixed"`` on a CPU with native bfloat16 (where it is about twice as
    fast as float32) and ``"32-true"`` elsewhere (GPUs included, where float32 is exact and
    bf16 gained little at these model sizes); any other value is returned as a string.
    """
    text = str(precision)
    if text != "auto":
        return text
    return "bf16-mixed" if device.type == "cpu" and native_bf16_cpu() else "32-true"


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
        #: (time, calls done) at the end of the first call: the rate is measured from there
        self._warm: tuple[float, int] | None = None
        self._bar = tqdm(
            total=self.total_calls, desc="sampling", unit="step", disable=not enabled, leave=False
        )

    def start(self) -> None:
        """Start the clock (at the first network call, so set-up is not counted)."""
        if self._started is None:
            self._started = time.perf_counter()

    def update(self, calls: int = 1) -> None:
        """Count finished network calls; estimate the run's duration once.

        The rate is taken after the first call, which may include compiling the network.
        """
        self._done += calls
        self._bar.update(calls)
        if self._started is None:
            return
        now = time.perf_counter()
        if self._warm is None:
            self._warm = now, self._done
            return
        if self.expected_seconds is None:
            elapsed = now - self._warm[0]
            timed = self._done - self._warm[1]
            if timed >= max(3, self.total_calls // 50) or elapsed > 10.0:
                remaining = (self.total_calls - self._done) * elapsed / timed
                self.expected_seconds = now - self._started + remaining
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


def _seeded_noise(
    seeds: np.ndarray, n_samples: int, sample_slice: slice, draws: int, shape: Any
) -> torch.Tensor:
    """Noise ``(draws, windows x samples in sample_slice, *shape)`` of windows seeded on their
    own: each window's generator draws the initial noise of all ``n_samples`` samples, then the
    noise of each step, and the slice is cut from those, so a window's samples do not depend
    on how its samples or its neighbours are split into calls."""
    pieces = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        full = torch.stack(
            [torch.randn((n_samples, *shape), generator=generator) for _ in range(draws)]
        )
        pieces.append(full[:, sample_slice])
    return torch.cat(pieces, dim=1)


def _encode_windows(
    network: CSDIDenoiser,
    store: WindowStore,
    ids: np.ndarray,
    condition_masks: np.ndarray | None,
    device: torch.device,
    precision: str,
) -> tuple[torch.Tensor, torch.Tensor, DenoiserContext]:
    """Values, conditioning mask and network context of windows ``ids`` of ``store``."""
    values_np, observed_np, stamps_np = store.gather(ids)
    values = torch.from_numpy(np.ascontiguousarray(values_np)).to(device)
    if condition_masks is not None:
        observed_np = observed_np & condition_masks[ids]
    observed = torch.from_numpy(np.ascontiguousarray(observed_np)).to(device).to(values.dtype)
    stamps = torch.from_numpy(np.ascontiguousarray(stamps_np)).to(device)
    anchors = Anchors(
        *(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in store.anchors(ids))
    )
    with precision_autocast(device, precision):
        context = network.encode_context(values, observed, stamps, anchors)
    return values, observed, context


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
    pad: bool = False,
    window_seeds: np.ndarray | None = None,
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
    pad : bool, default=False
        Give every network call the shape of the largest one (for a compiled network, which
        would otherwise be compiled again for the last, smaller call). The padding is cut off
        before each sampler step, so the samples are the same as without it.
    window_seeds : ndarray of shape (n_windows,), optional
        Draw each window's noise from a generator of its own with this seed (instead of one
        stream through all windows, seeded with ``seed``): a window's samples then do not
        depend on which windows share its calls (used to split a series between workers).

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
    if window_seeds is not None and np.shape(window_seeds) != (n_windows,):
        raise ValueError(
            f"window_seeds has shape {np.shape(window_seeds)}, expected one seed per window "
            f"({n_windows},)."
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
    call_windows, call_samples = _call_shape(n_windows, n_samples, batch_size)
    for window_slice, sample_slice in chunks:
        diffusion_sampler.set_timesteps(sampling_steps)  # clears multistep state per chunk
        ids = np.arange(n_windows)[window_slice]
        repeats = sample_slice.stop - sample_slice.start
        batch = len(ids) * repeats
        if pad:
            # repeat the last window (its samples are cut off) and sample as many as the
            # largest call; only the network sees the padding
            ids = np.concatenate([ids, np.full(call_windows - len(ids), ids[-1])])
            repeats = call_samples
        values, observed, context = _encode_windows(
            network, store, ids, condition_masks, device, precision
        )
        shape = values.shape[1:]
        step_noise: torch.Tensor | None = None
        if window_seeds is None:
            x = torch.randn((batch, *shape), generator=generator, device=device)
        else:
            draws = 1 + (len(timesteps) if diffusion_sampler.draws_noise else 0)
            noise = _seeded_noise(window_seeds[window_slice], n_samples, sample_slice, draws, shape)
            noise = noise.to(device)
            x, step_noise = noise[0], noise[1:]
        padding = len(ids) * repeats - batch
        for i, t in enumerate(timesteps):
            network_input = x if not padding else torch.cat([x, x.new_zeros(padding, *x.shape[1:])])
            steps = torch.full((len(network_input),), t, dtype=torch.long, device=device)
            alpha_bar = schedule.alpha_bar(steps)
            with precision_autocast(device, precision):
                eps = network(network_input, steps, context, repeats=repeats, alpha_bar=alpha_bar)
            x = diffusion_sampler.step(
                eps[:batch].float(),
                t,
                x,
                generator=generator,
                noise=None if step_noise is None or not len(step_noise) else step_noise[i],
            ).prev_sample
            bar.update(1)
        n_real = window_slice.stop - window_slice.start
        x = x.view(n_real, batch // n_real, *values.shape[1:])
        cond = observed[:n_real].unsqueeze(1)
        x = cond * values[:n_real].unsqueeze(1) + (1.0 - cond) * x
        out[window_slice, sample_slice] = x.float().cpu().numpy()
    if not shared:
        bar.close()
    return out
