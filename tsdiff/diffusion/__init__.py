"""Diffusion math: noise schedules and reverse samplers (pure torch)."""

from tsdiff.diffusion.samplers import (
    SAMPLERS,
    DDIMSampler,
    DDPMSampler,
    DPMSolverMultistepSampler,
    SamplerStepOutput,
    make_sampler,
    spaced_timesteps,
)
from tsdiff.diffusion.schedules import SCHEDULES, NoiseSchedule, make_betas

__all__ = [
    "SAMPLERS",
    "SCHEDULES",
    "DDIMSampler",
    "DDPMSampler",
    "DPMSolverMultistepSampler",
    "NoiseSchedule",
    "SamplerStepOutput",
    "make_betas",
    "make_sampler",
    "spaced_timesteps",
]
