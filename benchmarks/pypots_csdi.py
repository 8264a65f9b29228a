"""PyPOTS's CSDI with the published architecture, the baseline of the imputation benchmarks."""

from __future__ import annotations

from typing import Any


def pypots_csdi(**kwargs: Any) -> Any:
    """A ``pypots.imputation.CSDI`` with CSDI's published AQI-36 architecture and schedule.

    4 residual layers, 8 heads, 64 channels, embeddings of 128 (time and diffusion step) and 16
    (feature), a quadratic schedule from 1e-4 to 0.5; on the CPU, saving nothing. ``kwargs``
    (sizes, ``n_diffusion_steps``, ``target_strategy``, training settings) are passed on and
    override these.
    """
    from pypots.imputation import CSDI

    settings: dict[str, Any] = {
        "n_layers": 4,
        "n_heads": 8,
        "n_channels": 64,
        "d_time_embedding": 128,
        "d_feature_embedding": 16,
        "d_diffusion_embedding": 128,
        "schedule": "quad",
        "beta_start": 1e-4,
        "beta_end": 0.5,
        "device": "cpu",
        "saving_path": None,
        "model_saving_strategy": None,
    }
    return CSDI(**{**settings, **kwargs})
