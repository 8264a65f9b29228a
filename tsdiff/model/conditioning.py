"""Fill the unobserved cells of the conditioning channel (vectorised, no loops over time)."""

from __future__ import annotations

from typing import NamedTuple

import torch

CONDITION_FILLS: tuple[str, ...] = ("linear", "zero")


class Anchors(NamedTuple):
    """Observed neighbours of windows just outside them, per feature (see ``WindowStore``).

    Each field is ``(B, K, 2)``: index 0 is the last observation before the window, index 1 the
    first one after it; ``times`` are relative to the window start like the window's time stamps.
    """

    values: torch.Tensor
    times: torch.Tensor
    observed: torch.Tensor


def interpolate_along_time(
    values: torch.Tensor,
    mask: torch.Tensor,
    timestamps: torch.Tensor,
    anchors: Anchors | None = None,
) -> torch.Tensor:
    """Linearly interpolate masked-out cells along the last axis, per row.

    Cells before the first observation take the first observed value, cells after the last one
    take the last (nearest-value extrapolation); rows with no observation become 0 (the column
    mean after standardisation). With ``anchors``, the observed neighbours outside the window
    take part, so a gap that crosses a window's edge is interpolated as it would be on the whole
    series. Observed cells are returned unchanged.

    Parameters
    ----------
    values : torch.Tensor
        ``(B, K, L)`` values; entries where ``mask`` is 0 are ignored.
    mask : torch.Tensor
        ``(B, K, L)``, 1 where a value may be used.
    timestamps : torch.Tensor
        ``(B, L)`` real time stamps, increasing along ``L`` (irregular spacing allowed).
    anchors : Anchors, optional
        Observed neighbours before and after each window.

    Returns
    -------
    torch.Tensor
        ``(B, K, L)`` filled values.
    """
    batch, features, length = values.shape
    times = timestamps.to(values.dtype).unsqueeze(1).expand(batch, features, length)
    if anchors is None:
        return _interpolate(values, mask, times)
    anchor_values = anchors.values.to(values.dtype)
    anchor_times = anchors.times.to(values.dtype)
    anchor_mask = anchors.observed.to(mask.dtype)
    extended = _interpolate(
        torch.cat([anchor_values[..., :1], values, anchor_values[..., 1:]], -1),
        torch.cat([anchor_mask[..., :1], mask, anchor_mask[..., 1:]], -1),
        torch.cat([anchor_times[..., :1], times, anchor_times[..., 1:]], -1),
    )
    return extended[..., 1:-1]


def _interpolate(values: torch.Tensor, mask: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """:func:`interpolate_along_time` with ``(B, K, L)`` times."""
    batch, features, length = values.shape
    observed = mask > 0
    index = torch.arange(length, device=values.device).expand(batch, features, length)
    previous = torch.where(observed, index, torch.full_like(index, -1)).cummax(dim=-1).values
    following = torch.where(observed, index, torch.full_like(index, length))
    following = following.flip(-1).cummin(dim=-1).values.flip(-1)
    has_previous = previous >= 0
    has_following = following < length
    previous_safe = previous.clamp(min=0)
    following_safe = following.clamp(max=length - 1)
    value_previous = values.gather(-1, previous_safe)
    value_following = values.gather(-1, following_safe)
    time_previous = times.gather(-1, previous_safe)
    time_following = times.gather(-1, following_safe)
    span = (time_following - time_previous).clamp(min=1e-12)
    weight = ((times - time_previous) / span).clamp(0.0, 1.0)
    both = has_previous & has_following
    filled = torch.where(both, value_previous + weight * (value_following - value_previous), values)
    filled = torch.where(has_previous & ~has_following, value_previous, filled)
    filled = torch.where(~has_previous & has_following, value_following, filled)
    filled = torch.where(~has_previous & ~has_following, torch.zeros_like(values), filled)
    return torch.where(observed, values, filled)


def fill_condition(
    values: torch.Tensor,
    mask: torch.Tensor,
    timestamps: torch.Tensor,
    how: str,
    anchors: Anchors | None = None,
) -> torch.Tensor:
    """Build the conditioning channel: observed values, unobserved cells filled by ``how``.

    ``"zero"`` is CSDI's choice (``mask * values``); ``"linear"`` fills gaps by linear
    interpolation in time, as PriSTI does, which gives the network a strong prior to correct
    (with ``anchors``, using the observed neighbours outside the window too).
    """
    if how == "zero":
        return values * mask
    if how == "linear":
        return interpolate_along_time(values * mask, mask, timestamps, anchors)
    raise ValueError(f"Unknown condition fill {how!r}; choose one of {CONDITION_FILLS}.")
