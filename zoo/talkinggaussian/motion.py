"""TalkingGaussian's grid-based motion fields (its scene/motion_net.py): per-Gaussian offsets from a tri-plane
encoding of the canonical centre, the frame's audio code and, for the face, its upper-face expression.

Face (`FaceMotionNet`): f = TriPlane(μ) [36]; a = AudioAttNet(AudioNet(8 windows)) [32];
    a_r = a ⊙ MLP(36→32→32)(f)                                   (audio channel attention)
    e'  = cat(MLP(5→16→5)(e[:5]), e[5:]) ⊙ relu(MLP(36→16→6)(f)) (expression / eye attention; e[5] = AU45)
    h   = MLP(74→64→64→11)(cat(f, a_r, e'))                       (bias-free, ReLU)
    Δμ = 0.01·h[0:3], Δq = h[3:7], Δα = h[7] (regularised only), Δs = h[8:11];
    ambient_aud = ‖MLP(f)‖ of the audio attention, ambient_eye = ‖relu(eye attention)‖.
Mouth (`MouthMotionNet`): h = MLP(68→32→32→3)(cat(f, a)); Δμ = 0.01·h with the two horizontal axes damped ×0.2
(motion mostly along the head's vertical axis: the jaw). No attention (the original's unused one is left out).
"""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.encoders.triplane import TriPlaneEncoder
from talkzoo.zoo.ernerf.audio_att_net import AudioAttNet
from talkzoo.zoo.ernerf.audio_net import AudioNet
from talkzoo.zoo.ernerf.mlp import MLP


class _AudioCode(nn.Module):
    """AudioNet per window + AudioAttNet over the context frames: audio [B, S, K, D] → [B, A]."""

    def __init__(self, audio_in: int, audio_dim: int, audio_window: int, audio_context: int) -> None:
        super().__init__()
        self.audio_net = AudioNet(audio_in, audio_dim, audio_window)
        self.audio_att_net = AudioAttNet(audio_dim, audio_context)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        b, s, k, d = audio.shape
        codes = self.audio_net(audio.reshape(b * s, k, d).transpose(1, 2)).reshape(b, s, -1)
        return self.audio_att_net(codes)


class FaceMotionNet(nn.Module):
    """Face-branch motion field: canonical centres [N, 3] + audio + expression → offsets (see the module docstring).

    Args:
        audio_in: audio feature dimension (80 log-mel; 29 DeepSpeech; 1024 HuBERT). audio_dim: code size (32).
        audio_window: feature steps per window (16). audio_context: frames attended over (8).
        bound: the tri-plane covers [−bound, bound]³ (0.15); levels, base_resolution, finest_resolution,
        log2_hashmap_size: per plane (12, 16, 38.4 = 256·bound, 17). hidden, layers: decoder (64, 3).
        exp_dim: expression input size (6: five upper-face AUs + AU45).
    """

    def __init__(
        self,
        audio_in: int = 80,
        audio_dim: int = 32,
        audio_window: int = 16,
        audio_context: int = 8,
        bound: float = 0.15,
        levels: int = 12,
        base_resolution: int = 16,
        finest_resolution: float = 38.4,
        log2_hashmap_size: int = 17,
        hidden: int = 64,
        layers: int = 3,
        exp_dim: int = 6,
    ) -> None:
        super().__init__()
        self.encoder = TriPlaneEncoder(levels, 1, base_resolution, finest_resolution, log2_hashmap_size, bound)
        f = self.encoder.output_dim
        self.audio = _AudioCode(audio_in, audio_dim, audio_window, audio_context)
        self.aud_ch_att_net = MLP(f, audio_dim, 32, 2)
        self.exp_encode_net = MLP(exp_dim - 1, exp_dim - 1, 16, 2)
        self.eye_att_net = MLP(f, exp_dim, 16, 2)
        self.sigma_net = MLP(f + audio_dim + exp_dim, 11, hidden, layers)
        self.exp_dim = exp_dim

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """audio windows [1, S, K, D] → code [1, A]."""
        return self.audio(audio)

    def forward(self, xyz: torch.Tensor, audio_code: torch.Tensor, expression: torch.Tensor) -> dict[str, torch.Tensor]:
        """xyz [N, 3], audio_code [1, A], expression [exp_dim] → d_xyz [N, 3], d_rot [N, 4], d_opa [N, 1],
        d_scale [N, 3], ambient_aud [N], ambient_eye [N]."""
        f = self.encoder(xyz)
        aud_att = self.aud_ch_att_net(f)
        eye_att = torch.relu(self.eye_att_net(f))
        e = expression.reshape(1, self.exp_dim).to(f.dtype)
        e = torch.cat((self.exp_encode_net(e[:, :-1]), e[:, -1:]), dim=-1)
        h = self.sigma_net(torch.cat((f, audio_code.expand(f.shape[0], -1) * aud_att, e * eye_att), dim=-1))
        return {
            "d_xyz": h[:, 0:3] * 0.01,
            "d_rot": h[:, 3:7],
            "d_opa": h[:, 7:8],
            "d_scale": h[:, 8:11],
            "ambient_aud": aud_att.norm(dim=-1),
            "ambient_eye": eye_att.norm(dim=-1),
        }


class MouthMotionNet(nn.Module):
    """Inside-mouth motion field: canonical centres [N, 3] + audio → position offsets only.

    Args: as FaceMotionNet; tri-plane 12 levels, base 64, finest 57.6 (= 384·bound, below the base: nearly one
    resolution), hidden 32. vertical_axis: the head-space axis the jaw opens along (1 = y); the other two are damped
    by `horizontal_damping` (0.2).
    """

    def __init__(
        self,
        audio_in: int = 80,
        audio_dim: int = 32,
        audio_window: int = 16,
        audio_context: int = 8,
        bound: float = 0.15,
        levels: int = 12,
        base_resolution: int = 64,
        finest_resolution: float = 57.6,
        log2_hashmap_size: int = 17,
        hidden: int = 32,
        layers: int = 3,
        vertical_axis: int = 1,
        horizontal_damping: float = 0.2,
    ) -> None:
        super().__init__()
        self.encoder = TriPlaneEncoder(levels, 1, base_resolution, finest_resolution, log2_hashmap_size, bound)
        self.audio = _AudioCode(audio_in, audio_dim, audio_window, audio_context)
        self.sigma_net = MLP(self.encoder.output_dim + audio_dim, 3, hidden, layers)
        damping = torch.full((3,), 0.01 * horizontal_damping)
        damping[vertical_axis] = 0.01
        self.register_buffer("damping", damping, persistent=False)

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """audio windows [1, S, K, D] → code [1, A]."""
        return self.audio(audio)

    def forward(self, xyz: torch.Tensor, audio_code: torch.Tensor) -> dict[str, torch.Tensor]:
        """xyz [N, 3], audio_code [1, A] → d_xyz [N, 3]."""
        f = self.encoder(xyz)
        h = self.sigma_net(torch.cat((f, audio_code.expand(f.shape[0], -1)), dim=-1))
        return {"d_xyz": h * self.damping}
