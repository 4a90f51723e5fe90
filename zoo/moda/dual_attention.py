"""DualAttention (docs/moda.md, "Network shapes"): SpecAttn and ProbAttn side by side, fused by concatenation."""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.moda.body import BodyOutput
from talkzoo.zoo.moda.prob_attn import ProbAttn
from talkzoo.zoo.moda.spec_attn import SpecAttn


class DualAttention(nn.Module):
    """The MODA temporal body: (x_a [B, T, d], x_s [B, d]) → BodyOutput(features [B, T, 2d], mu, logvar, kl).

    Args:
        hidden: d. heads, layers, ffn, dropout: shared by both attentions (MODA: 4, 3, d, 0.1).
        period: SpecAttn's PPE / bias period in frames (= fps). slope: M_T bias slope. causal_prob: ProbAttn's
        decoder self-attention causal (False: bidirectional, as the original effectively was).
        motion_dim: > 0 makes ProbAttn a conditional VAE whose training posterior sees the target motion of that
        size (eyes + head + torso = 180 + 7 + 54 = 241); 0 is the public code's prior-only VAE.
        aligned_latent: ProbAttn's decoder also gets its latent frame by frame (see talkzoo.zoo.moda.ProbAttn).
        prior_boost: KL balancing of the conditional VAE (see talkzoo.zoo.moda.ProbAttn).
    """

    def __init__(
        self,
        hidden: int = 128,
        heads: int = 4,
        layers: int = 3,
        ffn: int = 128,
        dropout: float = 0.1,
        period: int = 25,
        slope: float = 2.0**-8,
        causal_prob: bool = False,
        motion_dim: int = 0,
        aligned_latent: bool = False,
        prior_boost: float = 1.0,
    ) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.motion_dim = hidden, 2 * hidden, motion_dim
        self.spec = SpecAttn(hidden, heads, layers, ffn, dropout, period, slope)
        self.prob = ProbAttn(
            hidden,
            heads,
            layers,
            ffn,
            dropout,
            causal=causal_prob,
            motion_dim=motion_dim,
            aligned_latent=aligned_latent,
            prior_boost=prior_boost,
        )
        self.latent_dim = self.prob.latent_dim  # per-frame noise the body samples (MotionBody protocol)

    def forward(
        self,
        audio: torch.Tensor,
        subject: torch.Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        motion: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> BodyOutput:
        """audio [B, T, d], subject [B, d] → features [B, T, 2d] = concat(SpecAttn, ProbAttn), mu, logvar, kl.

        motion: target motion [B, T, motion_dim], given in training only (conditional VAE posterior).
        noise: ProbAttn's eps [B, T, latent_dim] (see talkzoo.zoo.moda.ProbAttn), else drawn from `generator`."""
        spec = self.spec(audio, subject)
        prob, mu, logvar, kl = self.prob(audio, subject, temperature, generator, motion, noise)
        return BodyOutput(torch.cat([spec, prob], dim=-1), mu, logvar, kl)
