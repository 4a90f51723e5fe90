"""Region attention (ER-NeRF `nerf_triplane/network.py`, `density`): per-point channel attention on the audio code
and a sigmoid eye gate."""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.ernerf.mlp import MLP


class RegionAttention(nn.Module):
    """Tri-plane feature f [M, F] → attended audio a_r [M, A], eye e_r [M, 1], and the ambient terms.

    a_r = a ⊙ MLP(F→64→A)(f); e_r = e · sigmoid(MLP(F→16→1)(f)); amb_aud = ‖w_a‖₂ [M]; amb_eye = w_e [M].
    """

    def __init__(self, feature_dim: int = 36, audio_dim: int = 32, hidden: int = 64, eye_hidden: int = 16) -> None:
        super().__init__()
        self.audio = MLP(feature_dim, audio_dim, hidden, 2)
        self.eye = MLP(feature_dim, 1, eye_hidden, 2)

    def forward(
        self, f: torch.Tensor, audio: torch.Tensor, eye: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """f [M, F], audio [M|1, A], eye [M|1, 1] → a_r [M, A], e_r [M, 1], amb_aud [M], amb_eye [M]."""
        w_a = self.audio(f)
        w_e = torch.sigmoid(self.eye(f))
        return audio * w_a, eye * w_e, w_a.norm(dim=-1), w_e[:, 0]
