"""ProbAttn (MODA `models/componments/networks.py`, `TemporalVAEBlock`): the one-to-many mapping, a transformer VAE
with one latent per frame.

Fixes (docs/moda.md, "Fixes" #7, #8): a batch-first positional encoding along time (the original added it along the
batch), a KL term is returned for the loss (the original dropped it), and the decoder's self-attention mask is a real
boolean mask when `causal=True` (the original's float +1 "mask" favoured the future; default here: bidirectional,
which is what the original effectively computed).

Two modes:
- `motion_dim = 0` (MODA's code): the encoder sees audio + subject only; KL(N(mu, sigma) ‖ N(0, I)).
- `motion_dim > 0` (conditional VAE, this project's addition; docs/moda.md, "Diversity"): in training the encoder
  also sees the target motion (eyes, head, torso), giving the posterior q(z | audio, motion); the same encoder on
  audio alone is a learned prior p(z | audio); the loss gets KL(q ‖ p) and inference samples p. The decoder then has
  a reason to use z — the part of eye and head motion the audio does not determine — which is what makes samples
  diverse (with the prior-only mode under an MSE loss the decoder learns to ignore z and the diversity all but
  vanishes).
"""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.moda.positional import causal_mask, sinusoid_table


def gaussian_kl(
    mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor | None = None, logvar_p: torch.Tensor | None = None
) -> torch.Tensor:
    """KL(N(mu_q, exp(logvar_q)) ‖ N(mu_p, exp(logvar_p))) per element ([...]); p defaults to N(0, I)."""
    if mu_p is None or logvar_p is None:
        return -0.5 * (1 + logvar_q - mu_q.square() - logvar_q.exp())
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).square()) / logvar_p.exp() - 1)


class ProbAttn(nn.Module):
    """Transformer VAE: e = x_a + x_s + PE; encoder → (mu, logvar); z = mu + temperature · eps · sigma;
    decoder(tgt=e, memory=Linear(z)) → Linear → [B, T, d].

    Sampling happens in train and eval mode alike (the source of diversity); temperature 0 gives the mean.

    Args:
        hidden: d. heads, layers (encoder and decoder each), ffn, dropout: transformer settings.
        latent: size of the per-frame latent (MODA: = d). causal: boolean causal mask in the decoder self-attention.
        motion_dim: size of the per-frame target motion the posterior sees in training (0: MODA's prior-only VAE).
        aligned_latent: also add Linear(z) to the decoder's target frame by frame. MODA feeds z only as the
            cross-attention memory, so frame t can read its own latent only through a learned, sharp diagonal
            attention; short events carried by z (blinks: 4–6 frames) are then not learned in a CPU budget.
        prior_boost: conditional mode only: the learned prior's share of the KL gradient, × this (KL balancing).
            With a small kl_weight the prior otherwise learns far slower than the posterior, and samples of an
            untrained prior carry none of the variation the posterior encodes. 1 = the plain KL gradient.
    """

    def __init__(
        self,
        hidden: int = 128,
        heads: int = 4,
        layers: int = 3,
        ffn: int = 128,
        dropout: float = 0.1,
        latent: int | None = None,
        causal: bool = False,
        motion_dim: int = 0,
        aligned_latent: bool = False,
        prior_boost: float = 1.0,
    ) -> None:
        super().__init__()
        latent = latent or hidden
        self.hidden, self.causal, self.motion_dim, self.latent_dim = hidden, causal, motion_dim, latent
        self.aligned_latent, self.prior_boost = aligned_latent, prior_boost
        self.dropout = nn.Dropout(dropout)
        enc_layer = nn.TransformerEncoderLayer(hidden, heads, ffn, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(enc_layer, layers, enable_nested_tensor=False)
        self.motion_in = nn.Linear(motion_dim, hidden) if motion_dim > 0 else None
        self.to_mu = nn.Linear(hidden, latent)
        self.to_logvar = nn.Linear(hidden, latent)
        self.from_latent = nn.Linear(latent, hidden)
        dec_layer = nn.TransformerDecoderLayer(hidden, heads, ffn, dropout, batch_first=True)
        self.decoder = nn.TransformerDecoder(dec_layer, layers)
        self.out = nn.Linear(hidden, hidden)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = self.encoder(x)
        return self.to_mu(encoded), self.to_logvar(encoded).clamp(-10.0, 10.0)

    def forward(
        self,
        audio: torch.Tensor,
        subject: torch.Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        motion: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """audio x_a [B, T, d], subject x_s [B, d] → (out [B, T, d], mu, logvar [B, T, latent], kl [B, T]).

        motion: target motion [B, T, motion_dim] (training only, when motion_dim > 0): z comes from the posterior.
        generator: draws eps (seedable sampling); None uses the global RNG.
        noise: eps itself, [B, T, latent] (overrides generator): a stream gives each frame its own fixed draw, so
        overlapping windows sample the same latent for the same frame.
        """
        length, device = audio.shape[1], audio.device
        pe = sinusoid_table(length, self.hidden, device).to(audio.dtype)
        e = self.dropout(audio + subject[:, None, :] + pe[None])
        mu, logvar = self._encode(e)
        if self.motion_in is not None and motion is not None:
            mu_q, logvar_q = self._encode(e + self.motion_in(motion))
            # value KL(q ‖ p); gradient 1× into the posterior, prior_boost× into the prior (KL balancing)
            to_posterior = gaussian_kl(mu_q, logvar_q, mu.detach(), logvar.detach())
            to_prior = gaussian_kl(mu_q.detach(), logvar_q.detach(), mu, logvar)
            kl = (to_posterior + self.prior_boost * (to_prior - to_prior.detach())).mean(-1)
            mu, logvar = mu_q, logvar_q
        else:
            kl = gaussian_kl(mu, logvar).mean(-1) if self.motion_in is None else torch.zeros_like(mu[..., 0])
        if temperature > 0:
            if noise is not None:
                eps = noise.to(device=device, dtype=mu.dtype)
            else:
                eps = torch.randn(mu.shape, generator=generator, device=device, dtype=mu.dtype)
            z = mu + temperature * eps * torch.exp(0.5 * logvar)
        else:
            z = mu
        mask = causal_mask(length, device) if self.causal else None
        memory = self.from_latent(z)
        target = e + memory if self.aligned_latent else e
        decoded = self.decoder(target, memory, tgt_mask=mask, tgt_is_causal=self.causal)
        return self.out(decoded), mu, logvar, kl
