"""A torch ``Dataset`` of windows that fetches whole batches with one fancy index."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tsdiff.data.windows import WindowStore

Batch = dict[str, torch.Tensor]


class WindowDataset(Dataset[Batch]):
    """Windows of a :class:`WindowStore` as tensors.

    ``__getitems__`` (used by ``DataLoader`` for batched fetching) returns a whole batch as a
    dict with ``values (B, K, L)``, ``observed (B, K, L)`` and ``timestamps (B, L)``; use it with
    :func:`collate_batch`.
    """

    def __init__(self, store: WindowStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return self.store.n_windows

    def __getitems__(self, indices: list[int]) -> Batch:
        values, observed, stamps = self.store.gather(np.asarray(indices, dtype=np.int64))
        return {
            "values": torch.from_numpy(np.ascontiguousarray(values)),
            "observed": torch.from_numpy(np.ascontiguousarray(observed)),
            "timestamps": torch.from_numpy(np.ascontiguousarray(stamps)),
        }

    def __getitem__(self, index: int) -> Batch:
        batch = self.__getitems__([index])
        return {key: value[0] for key, value in batch.items()}


def collate_batch(batch: Any) -> Batch:
    """Collate function for :class:`WindowDataset`: batches arrive already stacked."""
    return batch
