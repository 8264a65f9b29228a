"""Embeddings of the diffusion step and of real time stamps."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(
    positions: torch.Tensor, dim: int, max_period: float = 10000.0
) -> torch.Tensor:
    """Transformer-style sinusoidal embedding of real-valued positions.

    Parameters
    ----------
    positions : torch.Tensor
        Real positions of any shape ``S`` (time stamps in units of the base step, possibly
        irregular, or diffusion steps).
    dim : int
        Embedding width (even).
    max_period : float
        Longest wavelength.

    Returns
    -------
    torch.Tensor
        Shape ``S + (dim,)``: ``sin`` in the even channels, ``cos`` in the odd ones.
    """
    if dim % 2:
        raise ValueError(f"Embedding width must be even, got {dim}.")
    half = dim // 2
    frequencies = torch.exp(
        -math.log(max_period)
        * torch.arange(half, device=positions.device, dtype=torch.float32)
        / half
    )
    angles = positions.float().unsqueeze(-1) * frequencies
    embedding = torch.empty(*positions.shape, dim, device=positions.device, dtype=torch.float32)
    embedding[..., 0::2] = torch.sin(angles)
    embedding[..., 1::2] = torch.cos(angles)
    return embedding


class DiffusionStepEmbedding(nn.Module):
    """Sinusoidal embedding of the diffusion step followed by a two-layer SiLU MLP (as CSDI).

    Parameters
    ----------
    num_steps : int
        Number of training diffusion steps (the table is precomputed).
    embedding_dim : int
        Width of the sinusoidal code and of the MLP.
    """

    table: torch.Tensor

    def __init__(self, num_steps: int, embedding_dim: int = 128) -> None:
        super().__init__()
        table = sinusoidal_embedding(torch.arange(num_steps, dtype=torch.float32), embedding_dim)
        self.register_buffer("table", table, persistent=False)
        self.mlp = nn.Sequential(
            nn.Linear(embedding_dim, embedding_dim),
            nn.SiLU(),
            nn.Linear(embedding_dim, embedding_dim),
            nn.SiLU(),
        )

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        """Embed integer steps of shape ``(B,)`` to ``(B, embedding_dim)``."""
        return self.mlp(self.table[steps])
