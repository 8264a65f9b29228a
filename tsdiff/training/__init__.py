"""Training with PyTorch Lightning (the only package that imports it)."""

from tsdiff.training.callbacks import (
    BudgetLRDecay,
    DivergenceGuard,
    LossHistory,
    RestoreBestWeights,
    TrainingDivergedError,
)
from tsdiff.training.datamodule import WindowDataModule
from tsdiff.training.fit import TrainingConfig, TrainingResult, quiet_lightning, train_denoiser
from tsdiff.training.module import DiffusionImputationModule, masked_noise_loss
from tsdiff.training.trainer import make_trainer

__all__ = [
    "BudgetLRDecay",
    "DiffusionImputationModule",
    "DivergenceGuard",
    "LossHistory",
    "RestoreBestWeights",
    "WindowDataModule",
    "TrainingConfig",
    "TrainingResult",
    "TrainingDivergedError",
    "make_trainer",
    "quiet_lightning",
    "train_denoiser",
    "masked_noise_loss",
]
