"""DataModule serving training and validation windows."""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler

from tsdiff.data.dataset import WindowDataset, collate_batch
from tsdiff.data.windows import WindowStore


def per_rank_batch_size(n_windows: int, batch_size: int, world_size: int) -> tuple[int, bool]:
    """Batch size and ``drop_last`` for one process's share of ``n_windows`` training windows.

    Each of the ``world_size`` processes gets ``ceil(n_windows / world_size)`` windows (the
    distributed sampler pads the last share). A share smaller than ``batch_size`` is served as
    one batch of the whole share, so an epoch always has at least one step; otherwise the last
    incomplete batch is dropped.
    """
    share = max(math.ceil(n_windows / max(world_size, 1)), 1)
    size = min(batch_size, share)
    return size, share > size


class WindowDataModule(pl.LightningDataModule):
    """Serve windows of prepared :class:`~tsdiff.data.WindowStore` objects.

    The training order comes from a :class:`~torch.utils.data.DistributedSampler` seeded with
    ``seed``: each epoch's order depends on the seed and the epoch only (Lightning calls its
    ``set_epoch``), so a run resumed from a checkpoint sees the same batches as an uninterrupted
    one, and under DDP each process reads its own share.

    Parameters
    ----------
    train_store : WindowStore
        Training windows.
    val_store : WindowStore or None
        Validation windows; None disables validation.
    batch_size : int
        Windows per batch (per process; shrunk to the process's share when that is smaller).
    num_workers : int
        DataLoader workers (0 is fastest for in-memory windows).
    seed : int
        Seed of the training order.
    """

    def __init__(
        self,
        train_store: WindowStore,
        val_store: WindowStore | None,
        batch_size: int,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        # the datasets are views of the stores: nothing to defer to ``setup``
        self.train_dataset = WindowDataset(train_store)
        self.val_dataset = WindowDataset(val_store) if val_store is not None else None
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed

    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 1, 0
        return int(trainer.world_size), int(trainer.global_rank)

    def train_dataloader(self) -> DataLoader:
        world_size, rank = self._world()
        size, drop_last = per_rank_batch_size(len(self.train_dataset), self.batch_size, world_size)
        sampler: DistributedSampler[int] = DistributedSampler(
            self.train_dataset,
            num_replicas=world_size,
            rank=rank,
            shuffle=True,
            seed=self.seed,
            drop_last=False,
        )
        return self._loader(self.train_dataset, size, sampler=sampler, drop_last=drop_last)

    def val_dataloader(self) -> DataLoader:
        if self.val_dataset is None:
            return DataLoader(self.train_dataset, batch_size=1, sampler=[])
        return self._loader(self.val_dataset, self.batch_size, shuffle=False)

    def _loader(self, dataset: WindowDataset, batch_size: int, **options: Any) -> DataLoader:
        """A loader of ``dataset`` with the module's workers and collate function."""
        return DataLoader(
            dataset,
            batch_size=batch_size,
            collate_fn=collate_batch,
            num_workers=self.num_workers,
            # its own generator: starting an epoch never draws from the global one
            generator=torch.Generator().manual_seed(self.seed),
            **options,
        )
