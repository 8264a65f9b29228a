"""Building blocks of the CSDI denoiser, in a channels-last layout ``(B, K, L, C)``.

Keeping channels last lets the time transformer read ``(B*K, L, C)`` as a free view and turns
CSDI's 1x1 convolutions into plain linear layers, so the only layout copy per block is the
transpose around the feature transformer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_ATTENTION_CHUNK_ELEMENTS = 1 << 20
_RANDOM_BITS = 15
_RANDOM_LEVELS = 1 << _RANDOM_BITS


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout, as ``F.dropout``, with a cheaper random mask on CPU.

    ``F.dropout`` draws one 32-bit random number per element with the CPU generator, which made
    dropout over half of the training time of the CSDI network on CPU. Here each 64-bit draw
    gives four 15-bit uniform numbers, so the keep probability is ``1 - p`` rounded to a multiple
    of ``2**-15`` (within 1.6e-5 of it). Other devices use ``F.dropout``. Both use the global
    torch generator, so seeded runs stay reproducible.
    """
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    n = x.numel()
    draws = torch.empty((n + 3) // 4, dtype=torch.int64).random_()
    levels = draws.view(torch.int16)[:n].view(x.shape) & (_RANDOM_LEVELS - 1)
    keep = levels >= round(p * _RANDOM_LEVELS)
    return x * (keep.to(x.dtype) * (1.0 / (1.0 - p)))


class TransformerLayer(nn.Module):
    """One post-norm transformer encoder layer (as ``nn.TransformerEncoderLayer``) on SDPA.

    Parameters
    ----------
    channels : int
        Model width ``C``.
    n_heads : int
        Attention heads; must divide ``channels``.
    feedforward_dim : int
        Hidden width of the feed-forward part (CSDI uses 64).
    dropout : float
        Dropout after attention and in the feed-forward part.
    """

    def __init__(
        self, channels: int, n_heads: int, feedforward_dim: int = 64, dropout: float = 0.1
    ) -> None:
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"channels ({channels}) must be divisible by n_heads ({n_heads}).")
        self.n_heads = n_heads
        self.dropout = dropout
        self.qkv = nn.Linear(channels, 3 * channels)
        self.attention_out = nn.Linear(channels, channels)
        self.norm_attention = nn.LayerNorm(channels)
        self.feedforward_in = nn.Linear(channels, feedforward_dim)
        self.feedforward_out = nn.Linear(feedforward_dim, channels)
        self.norm_feedforward = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, S, C)`` sequences to ``(N, S, C)``."""
        n, s, c = x.shape
        heads = self.n_heads
        qkv = self.qkv(x).view(n, s, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        head_dim = c // heads
        # Explicit batched matmuls: on CPU they beat the fused SDPA kernel for these short
        # sequences (length K or L, head width 8), most of all under bf16 autocast.
        query = qkv[0].reshape(n * heads, s, head_dim) * head_dim**-0.5
        key = qkv[1].reshape(n * heads, s, head_dim)
        value = qkv[2].reshape(n * heads, s, head_dim)
        # The (sequences, s, s) attention weights are built a slice at a time: one big weight
        # tensor does not stay in cache and costs page faults on every call (on CPU, sampling
        # batches of 256 windows were 3x slower per window than batches of 16 before this).
        rows = max(_ATTENTION_CHUNK_ELEMENTS // (s * s), 1)
        pieces = []
        for start in range(0, n * heads, rows):
            part = slice(start, start + rows)
            weights = torch.bmm(query[part], key[part].transpose(1, 2)).softmax(dim=-1)
            pieces.append(torch.bmm(dropout(weights, p, self.training), value[part]))
        attended = (pieces[0] if len(pieces) == 1 else torch.cat(pieces)).view(
            n, heads, s, head_dim
        )
        attended = attended.transpose(1, 2).reshape(n, s, c)
        x = self.norm_attention(x + dropout(self.attention_out(attended), p, self.training))
        hidden = dropout(F.gelu(self.feedforward_in(x)), p, self.training)
        return self.norm_feedforward(x + dropout(self.feedforward_out(hidden), p, self.training))


class ResidualBlock(nn.Module):
    """CSDI residual block: time transformer, feature transformer, gated activation, skip.

    Parameters
    ----------
    channels : int
        Width ``C`` of the residual stream.
    diffusion_embedding_dim : int
        Width of the diffusion-step embedding.
    n_heads : int
        Attention heads of both transformers.
    dropout : float
        Dropout inside the transformers.
    """

    def __init__(
        self, channels: int, diffusion_embedding_dim: int, n_heads: int, dropout: float
    ) -> None:
        super().__init__()
        self.diffusion_projection = nn.Linear(diffusion_embedding_dim, channels)
        self.time_layer = TransformerLayer(channels, n_heads, dropout=dropout)
        self.feature_layer = TransformerLayer(channels, n_heads, dropout=dropout)
        self.mid_projection = nn.Linear(channels, 2 * channels)
        self.output_projection = nn.Linear(channels, 2 * channels)
        nn.init.kaiming_normal_(self.mid_projection.weight)
        nn.init.kaiming_normal_(self.output_projection.weight)

    def forward(
        self, x: torch.Tensor, step_embedding: torch.Tensor, side: torch.Tensor, repeats: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the block.

        Parameters
        ----------
        x : torch.Tensor
            ``(B * repeats, K, L, C)`` residual stream.
        step_embedding : torch.Tensor
            ``(B * repeats, E)`` diffusion-step embedding.
        side : torch.Tensor
            ``(B, K, L, 2C)`` projected side information, shared by the ``repeats`` copies.
        repeats : int
            Number of samples drawn per conditioning window.

        Returns
        -------
        (residual_out, skip) : tuple of torch.Tensor
            Both ``(B * repeats, K, L, C)``.
        """
        batch, features, length, channels = x.shape
        y = x + self.diffusion_projection(step_embedding)[:, None, None, :]
        y = self.time_layer(y.reshape(batch * features, length, channels))
        y = y.view(batch, features, length, channels)
        if features > 1:
            y = y.transpose(1, 2).reshape(batch * length, features, channels)
            y = self.feature_layer(y).view(batch, length, features, channels).transpose(1, 2)
        y = self.mid_projection(y)
        y = (y.view(-1, repeats, features, length, 2 * channels) + side.unsqueeze(1)).view(
            batch, features, length, 2 * channels
        )
        gate, value = y.chunk(2, dim=-1)
        y = torch.sigmoid(gate) * torch.tanh(value)
        residual, skip = self.output_projection(y).chunk(2, dim=-1)
        return (x + residual) / math.sqrt(2.0), skip
