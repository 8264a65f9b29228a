"""The LightningModule ("system") that trains a denoiser to predict noise on target cells."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch

from tsdiff.data.dataset import Batch, batch_anchors
from tsdiff.data.masking import condition_mask
from tsdiff.diffusion.schedules import NoiseSchedule
from tsdiff.model.denoiser import CSDIDenoiser


def masked_noise_loss(
    network: CSDIDenoiser,
    schedule: NoiseSchedule,
    batch: Batch,
    strategy: str,
    generator: torch.Generator | None = None,
    hide_masks: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CSDI's training objective on one batch.

    Hide target cells (observed but not conditioned), noise them to a random step, and return
    the mean squared error of the predicted noise over target cells only, with the number of
    target cells. Conditioned cells and unobserved cells never enter the loss. ``hide_masks``
    are the masks of the ``"strips"`` strategies (see :func:`~tsdiff.data.masking.condition_mask`).
    """
    values, observed, stamps = batch["values"], batch["observed"], batch["timestamps"]
    cond = condition_mask(observed, strategy, generator, hide_masks)
    target = (observed & ~cond).to(values.dtype)
    steps = torch.randint(
        0, schedule.num_train_timesteps, (values.shape[0],), generator=generator, device="cpu"
    ).to(values.device)
    noise = torch.randn(values.shape, generator=generator, device="cpu").to(values.device)
    noisy = schedule.add_noise(values, noise, steps)
    context = network.encode_context(values, cond.to(values.dtype), stamps, batch_anchors(batch))
    predicted = network(noisy, steps, context, alpha_bar=schedule.alpha_bar(steps, values.dtype))
    n_targets = target.sum()
    loss = (((noise - predicted) * target) ** 2).sum() / n_targets.clamp(min=1.0)
    return loss, n_targets


class DiffusionImputationModule(pl.LightningModule):
    """Training system: the network, the noise schedule, the target strategy and the optimiser.

    Parameters
    ----------
    network : CSDIDenoiser
        The score network (a plain ``nn.Module``).
    schedule : NoiseSchedule
        The training noise schedule.
    target_strategy : {"random", "historical", "mix", "strips", "strips_mix"}
        How training targets are chosen among observed cells.
    learning_rate : float
        Adam learning rate.
    weight_decay : float
        Adam weight decay.
    validation_seed : int
        Seed of the fixed masks, steps and noise used for the validation loss.
    hide_masks : ndarray of shape (n_masks, K, L), optional
        Hiding masks of the ``"strips"`` strategies.
    """

    def __init__(
        self,
        network: CSDIDenoiser,
        schedule: NoiseSchedule,
        target_strategy: str = "mix",
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-6,
        validation_seed: int = 0,
        hide_masks: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        self.schedule = schedule
        self.target_strategy = target_strategy
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_seed = validation_seed
        self.hide_masks = (
            None if hide_masks is None else torch.as_tensor(hide_masks, dtype=torch.bool)
        )

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._logged_loss("train_loss", batch)

    def validation_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.validation_seed + batch_idx)
        return self._logged_loss("val_loss", batch, generator)

    def _logged_loss(
        self, name: str, batch: Batch, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The batch's :func:`masked_noise_loss`, logged as the epoch mean ``name``."""
        loss, _ = masked_noise_loss(
            self.network, self.schedule, batch, self.target_strategy, generator, self.hide_masks
        )
        self.log(
            name,
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            sync_dist=True,
            batch_size=len(batch["values"]),
        )
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            self.network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
