"""DataModule serving training and validation windows."""

from __future__ import annotations

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from tsdiff.data.dataset import WindowDataset, collate_batch
from tsdiff.data.windows import WindowStore


class WindowDataModule(pl.LightningDataModule):
    """Serve windows of prepared :class:`~tsdiff.data.WindowStore` objects.

    Parameters
    ----------
    train_store : WindowStore
        Training windows.
    val_store : WindowStore or None
        Validation windows; None disables validation.
    batch_size : int
        Windows per batch.
    num_workers : int
        DataLoader workers (0 is fastest for in-memory windows).
    """

    def __init__(
        self,
        train_store: WindowStore,
        val_store: WindowStore | None,
        batch_size: int,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.train_store = train_store
        self.val_store = val_store
        self.batch_size = batch_size
        self.num_workers = num_workers

    def setup(self, stage: str | None = None) -> None:
        self.train_dataset = WindowDataset(self.train_store)
        self.val_dataset = WindowDataset(self.val_store) if self.val_store is not None else None

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_dataset,
            batch_size=self.batch_size,
            shuffle=True,
            collate_fn=collate_batch,
            num_workers=self.num_workers,
            drop_last=len(self.train_dataset) > self.batch_size,
        )

    def val_dataloader(self) -> DataLoader:
        if self.val_dataset is None:
            return DataLoader(WindowDataset(self.train_store), batch_size=1, sampler=[])
        return DataLoader(
            self.val_dataset,
            batch_size=self.batch_size,
            shuffle=False,
            collate_fn=collate_batch,
            num_workers=self.num_workers,
        )
