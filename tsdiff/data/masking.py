"""Training target masks: which observed cells to hide from the model and learn to impute.

All functions work on a whole batch at once (no loop over windows) and take an optional
``torch.Generator`` so validation masks can be fixed.
"""

from __future__ import annotations

import torch

TARGET_STRATEGIES: tuple[str, ...] = (
    "random",
    "historical",
    "mix",
    "strips",
    "strips_mix",
    "strips_mix_full",
)
#: Share of windows ``"strips_mix_full"`` trains with nothing observed (the whole-window
#: reconstruction target of :class:`~tsdiff.scoring.WholeWindowScorer`).
FULL_WINDOW_FRACTION = 0.25
# The strategies that need no hiding masks (CSDI's own); "strips" ones need ``hide_masks``.
IMPUTATION_TARGET_STRATEGIES: tuple[str, ...] = ("random", "historical", "mix")


def _uniform(
    shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    # a seeded generator lives on the CPU (validation, calibration): draw there, then move, so
    # the draws are the same on every device
    if generator is not None and generator.device != like.device:
        return torch.rand(shape, generator=generator, device=generator.device).to(like.device)
    return torch.rand(shape, generator=generator, device=like.device)


def random_condition_mask(
    observed: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """CSDI's random strategy: each window hides a uniformly drawn fraction of its observed cells.

    Parameters
    ----------
    observed : torch.Tensor
        ``(B, K, L)`` boolean mask of observed cells.

    Returns
    -------
    torch.Tensor
        ``(B, K, L)`` boolean conditioning mask (a subset of ``observed``).
    """
    batch = observed.shape[0]
    ratio = _uniform((batch, 1, 1), observed, generator)
    keep = _uniform(tuple(observed.shape), observed, generator) >= ratio
    return observed & keep


def historical_condition_mask(
    observed: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Borrow the missing pattern of another window of the batch (CSDI's historical strategy).

    Window ``i`` keeps the cells observed both in itself and in a randomly chosen other window,
    so the targets have the shape of real gaps. A window for which that leaves nothing to learn
    falls back to the random strategy.
    """
    batch = observed.shape[0]
    if batch < 2:
        return random_condition_mask(observed, generator)
    shift = int(torch.randint(1, batch, (1,), generator=generator, device="cpu"))
    donor = torch.roll(observed, shifts=shift, dims=0)
    borrowed = observed & donor
    no_target = (borrowed == observed).flatten(1).all(dim=1)
    fallback = random_condition_mask(observed, generator)
    return torch.where(no_target[:, None, None], fallback, borrowed)


def strip_condition_mask(
    observed: torch.Tensor, hide_masks: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Hide, in each window, the cells of one of ``hide_masks`` drawn at random.

    Trains the network on the very task the detector gives it when scoring: impute the
    strips one complementary mask hides from the rest of the window.

    Parameters
    ----------
    observed : torch.Tensor
        ``(B, K, L)`` boolean mask of observed cells.
    hide_masks : torch.Tensor
        ``(M, K, L)`` boolean masks, True where a mask hides a cell.

    Returns
    -------
    torch.Tensor
        ``(B, K, L)`` boolean conditioning mask (a subset of ``observed``).
    """
    if hide_masks.ndim != 3 or tuple(hide_masks.shape[1:]) != tuple(observed.shape[1:]):
        raise ValueError(
            f"hide_masks must have shape (n_masks, {observed.shape[1]}, {observed.shape[2]}), "
            f"got {tuple(hide_masks.shape)}."
        )
    pick = torch.randint(
        0, hide_masks.shape[0], (observed.shape[0],), generator=generator, device="cpu"
    ).to(observed.device)
    return observed & ~hide_masks.to(observed.device, torch.bool)[pick]


def condition_mask(
    observed: torch.Tensor,
    strategy: str,
    generator: torch.Generator | None = None,
    hide_masks: torch.Tensor | None = None,
) -> torch.Tensor:
    """Conditioning mask for a training batch by strategy name.

    ``"mix"`` draws ``"random"`` or ``"historical"`` with equal odds per window; ``"strips"``
    hides one of ``hide_masks`` per window (:func:`strip_condition_mask`); ``"strips_mix"``
    draws ``"strips"`` or ``"mix"`` with equal odds per window; ``"strips_mix_full"`` is
    ``"strips_mix"`` with a share :data:`FULL_WINDOW_FRACTION` of the windows given nothing
    (an all-False mask: the network learns to denoise a whole window unconditionally, which
    whole-window reconstruction scoring needs).
    """
    if strategy in ("strips", "strips_mix", "strips_mix_full") and hide_masks is None:
        raise ValueError(f"target strategy {strategy!r} needs hide_masks.")
    if strategy == "strips":
        assert hide_masks is not None
        return strip_condition_mask(observed, hide_masks, generator)
    if strategy == "strips_mix":
        assert hide_masks is not None
        strips = strip_condition_mask(observed, hide_masks, generator)
        mixed = condition_mask(observed, "mix", generator)
        pick = _uniform((observed.shape[0], 1, 1), observed, generator) < 0.5
        return torch.where(pick, strips, mixed)
    if strategy == "strips_mix_full":
        assert hide_masks is not None
        partial = condition_mask(observed, "strips_mix", generator, hide_masks)
        full = _uniform((observed.shape[0], 1, 1), observed, generator) < FULL_WINDOW_FRACTION
        return partial & ~full
    if strategy == "random":
        return random_condition_mask(observed, generator)
    if strategy == "historical":
        return historical_condition_mask(observed, generator)
    if strategy == "mix":
        random_mask = random_condition_mask(observed, generator)
        historical = historical_condition_mask(observed, generator)
        pick = _uniform((observed.shape[0], 1, 1), observed, generator) < 0.5
        return torch.where(pick, random_mask, historical)
    raise ValueError(f"Unknown target strategy {strategy!r}; choose one of {TARGET_STRATEGIES}.")
