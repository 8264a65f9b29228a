"""Reverse diffusion with noise seeded per window, and from a partly noised window (SDEdit).

:func:`tsdiff.inference.sample_windows` runs one noise stream through all windows of a call, so
a window's draws depend on which windows share the call. Scoring draws each window's noise from
its own generator instead, seeded from the detector's seed, the window's series and start row
and its condition mask: a window scores the same whether it is scored alone, with a whole
series or in a stream of new rows (:class:`~tsdiff.api.streaming.StreamingScorer`).

The reverse loop is the generalised DDIM update of :mod:`tsdiff.diffusion.samplers` (Song et
al., 2021). With ``start_step`` it does not start from pure noise: the window's own values are
noised to that step, ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``, and denoised back (SDEdit,
Meng et al., 2022), which pulls a window that left the training data's manifold back towards it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from tsdiff.data.windows import WindowStore
from tsdiff.diffusion.schedules import NoiseSchedule
from tsdiff.inference import precision_autocast
from tsdiff.model.conditioning import Anchors


def window_seeds(
    base: int,
    store: WindowStore,
    condition_masks: np.ndarray | None = None,
    *,
    row_offset: int = 0,
    start_step: int | None = None,
) -> np.ndarray:
    """One 32-bit seed per window of ``store``.

    Parameters
    ----------
    base : int
        The estimator's seed.
    store : WindowStore
        The windows; a window is identified by its series and its start row in that series.
    condition_masks : ndarray of shape (n_windows, K, L), optional
        Each window's condition mask (windows scored under several masks draw different noise).
    row_offset : int, default=0
        Added to every start row: the row of the store's first row in a longer stream.
    start_step : int, optional
        The SDEdit start step (another noise stream than sampling from pure noise).

    Returns
    -------
    ndarray of shape (n_windows,), uint32
    """
    seeds = np.empty(store.n_windows, dtype=np.uint32)
    for w in range(store.n_windows):
        row = int(store.local_starts[w]) + int(row_offset)
        series = int(store.series_of_window[w])
        digest = hashlib.blake2b(f"{base}:{series}:{row}:{start_step}".encode(), digest_size=8)
        if condition_masks is not None:
            digest.update(np.packbits(np.ascontiguousarray(condition_masks[w])).tobytes())
        seeds[w] = int.from_bytes(digest.digest()[:4], "little")
    return seeds


def reverse_steps(total: int, sampling_steps: int, start_step: int | None = None) -> list[int]:
    """The diffusion steps visited, from ``start_step`` (default the last, ``total - 1``) to 0.

    ``sampling_steps`` evenly spaced steps, rounded and without repeats (as
    :meth:`~tsdiff.diffusion.samplers.DDIMSampler.set_timesteps` from the last step).
    """
    first = total - 1 if start_step is None else int(start_step)
    if not 0 <= first <= total - 1:
        raise ValueError(f"start_step must be between 0 and {total - 1}, got {start_step}.")
    count = max(1, min(int(sampling_steps), first + 1))
    grid = np.linspace(first, 0, count).round().astype(np.int64)
    return list(dict.fromkeys(grid.tolist()))


def _noise(seeds: np.ndarray, n_draws: int, shape: tuple[int, ...]) -> torch.Tensor:
    """``(n_draws, n_windows, *shape)`` standard normal noise, each window from its own seed."""
    out = torch.empty((n_draws, len(seeds), *shape))
    for i, seed in enumerate(seeds.tolist()):
        generator = torch.Generator().manual_seed(int(seed))
        out[:, i] = torch.randn((n_draws, *shape), generator=generator)
    return out


@torch.no_grad()
def sample_seeded(
    network: Any,
    schedule: NoiseSchedule,
    store: WindowStore,
    seeds: np.ndarray,
    *,
    n_samples: int,
    sampling_steps: int,
    eta: float = 0.0,
    condition_masks: np.ndarray | None = None,
    start_step: int | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    precision: str = "32-true",
    pad: bool = False,
) -> np.ndarray:
    """Samples of every window of ``store``, each window's noise drawn from its own seed.

    Parameters
    ----------
    network : CSDIDenoiser (or a compiled copy)
        Trained noise predictor.
    schedule : NoiseSchedule
        Its training schedule.
    store : WindowStore
        The windows.
    seeds : ndarray of shape (n_windows,)
        Per-window seeds (:func:`window_seeds`).
    n_samples, sampling_steps : int
        Samples per window; reverse steps.
    eta : float, default=0.0
        DDIM noise scale.
    condition_masks : ndarray of shape (n_windows, K, L), optional
        ANDed with the observed mask; False cells are hidden from the model.
    start_step : int, optional
        SDEdit: noise each window's own values to this step and denoise from there (None: from
        pure noise at the last step).
    batch_size : int, default=256
        Window-samples per network call.
    device : str or torch.device, default="cpu"
    precision : str, default="32-true"
    pad : bool, default=False
        Pad every network call to the same number of windows (one shape for a compiled network).

    Returns
    -------
    ndarray of shape (n_windows, n_samples, K, L)
        Standardised samples; conditioning cells hold their value.
    """
    device = torch.device(device)
    steps = reverse_steps(schedule.num_train_timesteps, sampling_steps, start_step)
    abar = schedule.alphas_cumprod.double().cpu().numpy()
    n_windows, n_features, length = store.n_windows, store.values.shape[1], store.length
    if len(seeds) != n_windows:
        raise ValueError(f"got {len(seeds)} seeds for {n_windows} windows.")
    out = np.empty((n_windows, n_samples, n_features, length), dtype=np.float32)
    per_call = max(int(batch_size) // n_samples, 1)
    for first in range(0, n_windows, per_call):
        ids = np.arange(first, min(first + per_call, n_windows))
        real = len(ids)
        if pad and real < per_call:
            ids = np.r_[ids, np.full(per_call - real, ids[-1])]
        values_np, observed_np, stamps_np = store.gather(ids)
        cond_np = observed_np if condition_masks is None else observed_np & condition_masks[ids]
        values = torch.from_numpy(np.ascontiguousarray(values_np)).to(device)
        cond = torch.from_numpy(np.ascontiguousarray(cond_np)).to(device).to(values.dtype)
        stamps = torch.from_numpy(np.ascontiguousarray(stamps_np)).to(device)
        anchors = Anchors(
            *(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in store.anchors(ids))
        )
        noise = _noise(seeds[ids], len(steps) + 1, (n_samples, n_features, length)).to(device)
        noise = noise.flatten(1, 2)  # (draws, windows * samples, K, L)
        with precision_autocast(device, precision):
            context = network.encode_context(values, cond, stamps, anchors)
        batch = len(ids) * n_samples
        if start_step is None:
            x = noise[0]
        else:
            a = float(abar[steps[0]])
            x0 = values.repeat_interleave(n_samples, dim=0)
            x = a**0.5 * x0 + (1.0 - a) ** 0.5 * noise[0]
        for i, t in enumerate(steps):
            t_prev = steps[i + 1] if i + 1 < len(steps) else -1
            timestep = torch.full((batch,), t, dtype=torch.long, device=device)
            with precision_autocast(device, precision):
                eps = network(
                    x, timestep, context, repeats=n_samples, alpha_bar=schedule.alpha_bar(timestep)
                ).float()
            abar_t = float(abar[t])
            abar_prev = 1.0 if t_prev < 0 else float(abar[t_prev])
            pred_x0 = (x - (1.0 - abar_t) ** 0.5 * eps) / abar_t**0.5
            variance = (1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev)
            sigma = eta * max(variance, 0.0) ** 0.5
            direction = max(1.0 - abar_prev - sigma**2, 0.0) ** 0.5
            x = abar_prev**0.5 * pred_x0 + direction * eps
            if sigma > 0:
                x = x + sigma * noise[i + 1]
        x = x.view(len(ids), n_samples, n_features, length)
        kept = cond.unsqueeze(1)
        x = kept * values.unsqueeze(1) + (1.0 - kept) * x
        out[ids[:real]] = x[:real].float().cpu().numpy()
    return out
