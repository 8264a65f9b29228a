"""Training target masks: which observed cells to hide from the model and learn to impute.

All functions work on a whole batch at once (no loop over windows) and take an optional
``torch.Generator`` so validation masks can be fixed.
"""

from __future__ import annotations

import torch

TARGET_STRATEGIES: tuple[str, ...] = ("random", "historical", "mix")


def _uniform(
    shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
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


def condition_mask(
    observed: torch.Tensor, strategy: str, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Conditioning mask for a training batch by strategy name.

    ``"mix"`` draws ``"random"`` or ``"historical"`` with equal odds per window.
    """
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
