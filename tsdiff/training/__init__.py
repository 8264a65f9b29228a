"""Training with PyTorch Lightning (the only package that imports it)."""

from tsdiff.training.callbacks import BudgetLRDecay, LossHistory, RestoreBestWeights
from tsdiff.training.datamodule import WindowDataModule
from tsdiff.training.fit import TrainingConfig, TrainingResult, quiet_lightning, train_denoiser
from tsdiff.training.module import DiffusionImputationModule, masked_noise_loss
from tsdiff.training.trainer import make_trainer

__all__ = [
    "BudgetLRDecay",
    "DiffusionImputationModule",
    "LossHistory",
    "RestoreBestWeights",
    "WindowDataModule",
    "TrainingConfig",
    "TrainingResult",
    "make_trainer",
    "quiet_lightning",
    "train_denoiser",
    "masked_noise_loss",
]
