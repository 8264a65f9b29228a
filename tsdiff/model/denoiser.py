"""The CSDI conditional score network as a plain ``nn.Module``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tsdiff.model.blocks import ResidualBlock
from tsdiff.model.conditioning import Anchors, fill_condition
from tsdiff.model.embeddings import DiffusionStepEmbedding, sinusoidal_embedding


@dataclass
class DenoiserContext:
    """Everything about a batch of windows that does not change across diffusion steps.

    Computed once by :meth:`CSDIDenoiser.encode_context` and reused for every step and sample.

    Attributes
    ----------
    cond_mask : torch.Tensor
        ``(B, K, L)``, 1 where a value is given to the model.
    condition : torch.Tensor
        ``(B, K, L)``, the conditioning channel (observed values, gaps filled).
    cond_input : torch.Tensor
        ``(B, K, L, C)``, the conditioning channel's part of the input projection.
    side : list of torch.Tensor
        Per residual block, ``(B, K, L, 2C)`` projected side information.
    """

    cond_mask: torch.Tensor
    condition: torch.Tensor
    cond_input: torch.Tensor
    side: list[torch.Tensor]


class CSDIDenoiser(nn.Module):
    """Conditional noise predictor of CSDI (Tashiro et al., 2021).

    Input per cell: the conditioning value (observed, gaps filled by ``condition_fill``) and the
    noisy target value (zero where conditioned). Side information: a sinusoidal embedding of the
    real time stamps, a learned feature embedding and the conditioning mask.

    Parameters
    ----------
    n_features : int
        Number of series columns ``K``.
    num_steps : int
        Number of training diffusion steps.
    channels : int, default=64
    n_layers : int, default=4
    n_heads : int, default=8
    diffusion_embedding_dim : int, default=128
    time_embedding_dim : int, default=128
    feature_embedding_dim : int, default=16
    dropout : float, default=0.1
    condition_fill : {"linear", "zero"}, default="linear"
        How unobserved cells of the conditioning channel are filled.
    prior_skip : bool, default=False
        Predict the noise as an analytic Gaussian-prior term plus a learned residual (see
        :meth:`forward`); the caller then passes each example's ``abar_t`` to :meth:`forward`.
        The network holds no noise schedule: ``abar_t`` comes from the caller's
        :class:`~tsdiff.diffusion.NoiseSchedule`.
    """

    def __init__(
        self,
        n_features: int,
        num_steps: int,
        *,
        channels: int = 64,
        n_layers: int = 4,
        n_heads: int = 8,
        diffusion_embedding_dim: int = 128,
        time_embedding_dim: int = 128,
        feature_embedding_dim: int = 16,
        dropout: float = 0.1,
        condition_fill: str = "linear",
        prior_skip: bool = False,
    ) -> None:
        super().__init__()
        self.prior_variance: torch.Tensor
        self.prior_skip = bool(prior_skip)
        # Per-feature variance of x_0 around the conditioning channel (set from data in fit).
        self.register_buffer("prior_variance", torch.ones(n_features))
        self.n_features = n_features
        self.channels = channels
        self.n_layers = n_layers
        self.time_embedding_dim = time_embedding_dim
        self.condition_fill = condition_fill
        self.step_embedding = DiffusionStepEmbedding(num_steps, diffusion_embedding_dim)
        self.feature_embedding = nn.Embedding(n_features, feature_embedding_dim)
        self.input_projection = nn.Linear(2, channels)
        nn.init.kaiming_normal_(self.input_projection.weight)
        side_width = 2 * channels * n_layers
        self.side_time = nn.Linear(time_embedding_dim, side_width)
        self.side_feature = nn.Linear(feature_embedding_dim, side_width, bias=False)
        self.side_mask = nn.Linear(1, side_width, bias=False)
        self.blocks = nn.ModuleList(
            ResidualBlock(channels, diffusion_embedding_dim, n_heads, dropout)
            for _ in range(n_layers)
        )
        self.output_hidden = nn.Linear(channels, channels)
        nn.init.kaiming_normal_(self.output_hidden.weight)
        self.output = nn.Linear(channels, 1)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def encode_context(
        self,
        values: torch.Tensor,
        cond_mask: torch.Tensor,
        timestamps: torch.Tensor,
        anchors: Anchors | None = None,
    ) -> DenoiserContext:
        """Precompute the step-independent part of the network for a batch of windows.

        Parameters
        ----------
        values : torch.Tensor
            ``(B, K, L)`` standardised values (anything where ``cond_mask`` is 0).
        cond_mask : torch.Tensor
            ``(B, K, L)`` conditioning mask.
        timestamps : torch.Tensor
            ``(B, L)`` time stamps relative to the window start, in base steps.
        anchors : Anchors, optional
            Observed neighbours just outside each window; the ``"linear"`` condition fill
            interpolates gaps at the window's edges towards them.
        """
        features = values.shape[1]
        if features != self.n_features:
            raise ValueError(f"Expected {self.n_features} features, got {features}.")
        cond_mask = cond_mask.to(values.dtype)
        condition = fill_condition(values, cond_mask, timestamps, self.condition_fill, anchors)
        weight = self.input_projection.weight
        cond_input = condition.unsqueeze(-1) * weight[:, 0] + self.input_projection.bias
        time_code = sinusoidal_embedding(timestamps, self.time_embedding_dim).to(values.dtype)
        side = (
            self.side_time(time_code)[:, None, :, :]
            + self.side_feature(self.feature_embedding.weight)[None, :, None, :]
            + self.side_mask(cond_mask.unsqueeze(-1))
        )
        return DenoiserContext(
            cond_mask=cond_mask,
            condition=condition,
            cond_input=cond_input,
            side=list(side.chunk(self.n_layers, dim=-1)),
        )

    def forward(
        self,
        noisy: torch.Tensor,
        steps: torch.Tensor,
        context: DenoiserContext,
        repeats: int = 1,
        alpha_bar: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict the noise in ``noisy``.

        Parameters
        ----------
        noisy : torch.Tensor
            ``(B * repeats, K, L)`` noisy targets ``x_t`` (values at conditioned cells are ignored).
        steps : torch.Tensor
            ``(B * repeats,)`` integer diffusion steps.
        context : DenoiserContext
            From :meth:`encode_context` for the ``B`` windows; sample ``i`` uses window
            ``i // repeats``.
        repeats : int, default=1
            Number of noisy copies per window.
        alpha_bar : torch.Tensor, optional
            ``(B * repeats,)`` (or a scalar) ``abar_t`` of each example's step under the training
            schedule (``schedule.alpha_bar(steps)``); required with ``prior_skip``.

        Returns
        -------
        torch.Tensor
            ``(B * repeats, K, L)`` predicted noise.

        Notes
        -----
        With ``prior_skip`` the prediction is ``eps_prior + residual``, where
        ``eps_prior = sqrt(1 - abar_t) * (x_t - sqrt(abar_t) * m) / (abar_t * v + 1 - abar_t)`` is
        the exact noise posterior mean if ``x_0 ~ N(m, v)`` around the conditioning channel ``m``,
        with ``v`` the per-feature buffer ``prior_variance`` (estimated from data before training).
        An untrained network then already imputes ``m`` with spread ``sqrt(v)``, and errors of the
        learned part are not blown up by ``1 / sqrt(abar_t)`` at the noisiest steps.
        """
        total, features, length = noisy.shape
        batch = total // repeats
        target_mask = 1.0 - context.cond_mask
        noisy_part = (
            noisy.view(batch, repeats, features, length) * target_mask.unsqueeze(1)
        ).unsqueeze(-1)
        x = context.cond_input.unsqueeze(1) + noisy_part * self.input_projection.weight[:, 1]
        x = F.relu(x).view(total, features, length, self.channels)
        step_embedding = self.step_embedding(steps)
        skip_sum = torch.zeros_like(x)
        for block, side in zip(self.blocks, context.side, strict=True):
            x, skip = block(x, step_embedding, side, repeats)
            skip_sum = skip_sum + skip
        hidden = F.relu(self.output_hidden(skip_sum / math.sqrt(self.n_layers)))
        residual = self.output(hidden).squeeze(-1)
        if not self.prior_skip:
            return residual
        if alpha_bar is None:
            raise ValueError(
                "This network has prior_skip=True: pass alpha_bar=schedule.alpha_bar(steps)."
            )
        abar = alpha_bar.to(device=noisy.device, dtype=noisy.dtype).reshape(-1, 1, 1)
        centre = context.condition.to(noisy.dtype).repeat_interleave(repeats, dim=0)
        variance = self.prior_variance.to(noisy.dtype).view(1, features, 1)
        prior = (
            (1.0 - abar).sqrt() * (noisy - abar.sqrt() * centre) / (abar * variance + 1.0 - abar)
        )
        return prior + residual
