"""Working copies of a cached estimator for one call, optionally seeding every window alone.

See :mod:`tsdiff.distributed.core` for the two seeding modes: with ``window_seeds`` a window's
noise depends on the model's ``random_state``, its start row in the whole series and its
condition mask only, so results do not depend on how a series is split into calls.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
from typing import Any

import numpy as np

__all__ = ["window_seed", "window_seeded", "working_copy"]


def window_seed(base: int, row: int, mask: np.ndarray | None) -> int:
    digest = hashlib.blake2b(f"{base}:{row}".encode(), digest_size=8)
    if mask is not None:
        digest.update(np.packbits(np.ascontiguousarray(mask)).tobytes())
    return int.from_bytes(digest.digest()[:4], "little")


def window_seeded(estimator: Any, row_offset: int) -> Any:
    """A copy of ``estimator`` whose sampling seeds each window on its own (see module doc)."""
    working = copy.copy(estimator)
    base = 0 if estimator.random_state is None else int(estimator.random_state)
    sample_all = type(estimator)._sample_windows
    if "row_offset" in inspect.signature(sample_all).parameters:
        # the detector seeds each window itself: only the chunk's first row must be added

        def shifted(store: Any, **kwargs: Any) -> np.ndarray:
            kwargs["row_offset"] = row_offset + int(kwargs.get("row_offset", 0))
            return np.asarray(sample_all(working, store, **kwargs))

        working._sample_windows = shifted
        return working

    def sample(store: Any, **kwargs: Any) -> np.ndarray:
        masks = kwargs.get("condition_masks")
        kwargs.pop("block", None)  # each window is seeded by its row alone, not by its block
        seeds = np.array(
            [
                window_seed(
                    base,
                    row_offset + int(store.local_starts[w]),
                    None if masks is None else masks[w : w + 1],
                )
                for w in range(store.n_windows)
            ],
            dtype=np.int64,
        )
        return np.asarray(sample_all(working, store, window_seeds=seeds, **kwargs))

    working._sample_windows = sample
    return working


def working_copy(estimator: Any, window_seeds: bool, row_offset: int) -> Any:
    working = window_seeded(estimator, row_offset) if window_seeds else copy.copy(estimator)
    working.verbose = False
    if hasattr(working, "_last_result"):
        working._last_result = None
    return working
