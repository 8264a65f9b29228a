"""Complementary hiding masks: every time step of a window is hidden by exactly one mask."""

from __future__ import annotations

import numpy as np

MASK_PATTERNS: tuple[str, ...] = ("strips", "checkerboard", "sensors")


def complementary_masks(
    n_features: int, length: int, n_masks: int = 2, strip_length: int = 4, pattern: str = "strips"
) -> np.ndarray:
    """Masks that together hide every cell of a ``(n_features, length)`` window exactly once.

    Parameters
    ----------
    n_features : int
        Number of sensors ``K``.
    length : int
        Window length ``L``.
    n_masks : int, default=2
        Number of masks ``M`` (each hides about ``1 / M`` of the window).
    strip_length : int, default=4
        Width in time steps of each hidden strip.
    pattern : {"strips", "checkerboard", "sensors"}, default="strips"
        ``"strips"`` hides all sensors in strips ``m, m + M, m + 2M, ...`` (so a hidden value is
        imputed from its sensor's and the other sensors' values before and after the strip);
        ``"checkerboard"`` shifts the strips by one per sensor, so at every time step the other
        sensors are partly visible; ``"sensors"`` hides sensors ``m, m + M, ...`` over the whole
        window (a value is imputed from the other sensors only; ``strip_length`` is unused).

    Returns
    -------
    ndarray of shape (n_masks, n_features, length), bool
        True where a cell is hidden by that mask; the masks sum to one everywhere.
    """
    if n_masks < 2:
        raise ValueError(
            f"n_masks must be >= 2 (one mask cannot hide and condition), got {n_masks}."
        )
    if strip_length < 1:
        raise ValueError(f"strip_length must be >= 1, got {strip_length}.")
    if pattern not in MASK_PATTERNS:
        raise ValueError(f"Unknown mask pattern {pattern!r}; choose one of {MASK_PATTERNS}.")
    if pattern == "sensors":
        if n_masks > n_features:
            raise ValueError(
                f"pattern 'sensors' with n_masks={n_masks} needs at least {n_masks} sensors, got "
                f"{n_features}; lower n_masks or use the 'strips' pattern."
            )
        owner = np.repeat((np.arange(n_features) % n_masks)[:, None], length, axis=1)
        return owner[None, :, :] == np.arange(n_masks)[:, None, None]
    strip = np.arange(length) // strip_length
    shift = (
        np.arange(n_features)[:, None]
        if pattern == "checkerboard"
        else np.zeros((n_features, 1), int)
    )
    owner = (strip[None, :] + shift) % n_masks  # (K, L): which mask hides the cell
    return owner[None, :, :] == np.arange(n_masks)[:, None, None]
