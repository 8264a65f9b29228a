"""A torch ``Dataset`` of windows that fetches whole batches with one fancy index."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tsdiff.data.windows import WindowStore
from tsdiff.model.conditioning import Anchors

Batch = dict[str, torch.Tensor]


class WindowDataset(Dataset[Batch]):
    """Windows of a :class:`WindowStore` as tensors.

    ``__getitems__`` (used by ``DataLoader`` for batched fetching) returns a whole batch as a
    dict with ``values (B, K, L)``, ``observed (B, K, L)``, ``timestamps (B, L)`` and the
    windows' outside neighbours ``anchor_values``, ``anchor_times``, ``anchor_observed``
    (``(B, K, 2)`` each); use it with :func:`collate_batch`.
    """

    def __init__(self, store: WindowStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return self.store.n_windows

    def __getitems__(self, indices: list[int]) -> Batch:
        ids = np.asarray(indices, dtype=np.int64)
        values, observed, stamps = self.store.gather(ids)
        anchor_values, anchor_times, anchor_observed = self.store.anchors(ids)
        arrays = {
            "values": values,
            "observed": observed,
            "timestamps": stamps,
            "anchor_values": anchor_values,
            "anchor_times": anchor_times,
            "anchor_observed": anchor_observed,
        }
        return {key: torch.from_numpy(np.ascontiguousarray(a)) for key, a in arrays.items()}

    def __getitem__(self, index: int) -> Batch:
        batch = self.__getitems__([index])
        return {key: value[0] for key, value in batch.items()}


def collate_batch(batch: Any) -> Batch:
    """Collate function for :class:`WindowDataset`: batches arrive already stacked."""
    return batch


def batch_anchors(batch: Batch) -> Anchors | None:
    """The :class:`~tsdiff.model.conditioning.Anchors` of a batch (None if it has none)."""
    if "anchor_values" not in batch:
        return None
    return Anchors(batch["anchor_values"], batch["anchor_times"], batch["anchor_observed"])
