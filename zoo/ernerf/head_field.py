"""ER-NeRF head field (its `nerf_triplane/network.py`): density, colour, uncertainty and ambient terms at points in
[-1, 1]³."""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.encoders.triplane import TriPlaneEncoder
from talkzoo.zoo.ernerf.audio_att_net import AudioAttNet
from talkzoo.zoo.ernerf.audio_net import AudioNet
from talkzoo.zoo.ernerf.mlp import MLP
from talkzoo.zoo.ernerf.region_attention import RegionAttention
from talkzoo.zoo.ernerf.sh import SHEncoder
from talkzoo.zoo.rendering.activations import trunc_exp


class HeadField(nn.Module):
    """The dynamic head NeRF conditioned on audio, blink and a per-frame code.

    Args:
        audio_in: feature dimension of the audio windows (29 DeepSpeech, 1024 HuBERT, 80 log-mel, …).
        audio_dim: audio code size (32). audio_window: feature steps per window fed to AudioNet (16).
        audio_context: frames smoothed by AudioAttNet (8); 1 disables the attention (single frame).
        levels, base_resolution, finest_resolution, log2_hashmap_size: tri-plane hash grids (12, 64, 512, 14).
        hidden: sigma/colour width (64). geo_dim: geometry feature size (64). ind_num/ind_dim: per-frame codes
        (10000 × 4). unc_hidden: uncertainty width (32).
        density_bias: added to the raw density before the truncated exp (0 as the original).
    """

    def __init__(
        self,
        audio_in: int = 29,
        audio_dim: int = 32,
        audio_window: int = 16,
        audio_context: int = 8,
        levels: int = 12,
        base_resolution: int = 64,
        finest_resolution: int = 512,
        log2_hashmap_size: int = 14,
        hidden: int = 64,
        geo_dim: int = 64,
        ind_num: int = 10000,
        ind_dim: int = 4,
        unc_hidden: int = 32,
        density_bias: float = 0.0,
    ) -> None:
        super().__init__()
        self.audio_net = AudioNet(audio_in, audio_dim, audio_window)
        self.audio_att_net = AudioAttNet(audio_dim, audio_context) if audio_context > 1 else None
        self.encoder = TriPlaneEncoder(levels, 1, base_resolution, finest_resolution, log2_hashmap_size)
        f_dim = self.encoder.output_dim
        self.attention = RegionAttention(f_dim, audio_dim)
        self.sigma_net = MLP(f_dim + audio_dim + 1, 1 + geo_dim, hidden, 3)
        self.dir_encoder = SHEncoder(4)
        self.color_net = MLP(self.dir_encoder.output_dim + geo_dim + ind_dim, 3, hidden, 2)
        self.unc_net = MLP(f_dim, 1, unc_hidden, 2)
        self.individual_codes = nn.Parameter(torch.randn(ind_num, ind_dim) * 0.1)
        self.density_bias = density_bias

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [B, S, K, D] windows (S context frames, K steps, D dims; FrameDataModule's layout) → [B, A]."""
        b, s, k, d = audio.shape
        codes = self.audio_net(audio.reshape(b * s, k, d).transpose(1, 2)).reshape(b, s, -1)  # [B, S, A]
        if self.audio_att_net is None:
            return codes[:, s // 2]
        return self.audio_att_net(codes)

    def code(self, index: torch.Tensor | None) -> torch.Tensor:
        """Per-frame individual code [B, ind_dim]: codes[index] when given (training), else codes[0]."""
        if index is None:
            return self.individual_codes[:1]
        return self.individual_codes[index.clamp(0, self.individual_codes.shape[0] - 1)]

    def density(self, x: torch.Tensor, audio: torch.Tensor, eye: torch.Tensor) -> dict[str, torch.Tensor]:
        """x [M, 3], audio code [M|1, A], eye [M|1, 1] → sigma [M], geo [M, G], f [M, 36], amb_aud [M], amb_eye [M]."""
        f = self.encoder(x)
        a_r, e_r, amb_aud, amb_eye = self.attention(f, audio, eye)
        h = self.sigma_net(torch.cat((f, a_r, e_r), dim=-1))
        sigma = trunc_exp(h[:, 0] + self.density_bias)
        return {"sigma": sigma, "geo": h[:, 1:], "f": f, "amb_aud": amb_aud, "amb_eye": amb_eye}

    def forward(
        self,
        x: torch.Tensor,
        d: torch.Tensor,
        audio: torch.Tensor,
        eye: torch.Tensor,
        code: torch.Tensor,
        uncertainty: bool = True,
    ) -> dict[str, torch.Tensor]:
        """x [M, 3], d [M, 3] unit, audio [M|1, A], eye [M|1, 1], code [M|1, C] → sigma [M], rgb [M, 3],
        amb_aud [M], amb_eye [M], unc [M] (zeros when `uncertainty` is False)."""
        out = self.density(x, audio, eye)
        code = code.expand(x.shape[0], -1)
        h = self.color_net(torch.cat((self.dir_encoder(d), out["geo"], code), dim=-1))
        out["rgb"] = torch.sigmoid(h) * (1 + 2 * 0.001) - 0.001
        if uncertainty:
            out["unc"] = nn.functional.softplus(self.unc_net(out["f"].detach()))[:, 0]
        else:
            out["unc"] = torch.zeros_like(out["sigma"])
        return out
