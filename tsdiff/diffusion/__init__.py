"""Diffusion math: noise schedules and reverse samplers (pure torch)."""

from tsdiff.diffusion.samplers import (
    SAMPLERS,
    DDIMSampler,
    DDPMSampler,
    SamplerStepOutput,
    make_sampler,
)
from tsdiff.diffusion.schedules import SCHEDULES, NoiseSchedule, make_betas

__all__ = [
    "SAMPLERS",
    "SCHEDULES",
    "DDIMSampler",
    "DDPMSampler",
    "NoiseSchedule",
    "SamplerStepOutput",
    "make_betas",
    "make_sampler",
]
