"""FaCo-Net (MODA `models/componments/faco_net.py`): composes the dense 478-point face mesh from lip and eye
offsets and the subject mesh.

Per-frame MLPs, LeakyReLU(0.2), no normalisation. Shapes for MODA's mesh: lips 40×3 = 120, eyes 60×3 = 180,
subject / dense 478×3 = 1434. Inputs and outputs are per-speaker z-scored offsets (datamodules.stats); the subject
is the normalised mean canonical mesh (SpeakerStats.subject_code).
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(sizes: list[int], last_activation: bool = False) -> nn.Sequential:
    """Linear layers through `sizes` with LeakyReLU(0.2) between them (and after the last when asked)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class FaCoGenerator(nn.Module):
    """(lips [B, T, L, 3], eyes [B, T, E, 3], subject [B, N, 3]) → dense offsets [B, T, N, 3].

    decoder(concat(mouth_enc(lips), eye_enc(eyes)) + subject_enc(subject)), the subject code broadcast over T.
    MODA: subject 1434→128→128→256, mouth 120→256→256→128, eye 180→256→256→128, decoder 256→512→512→512→1434.
    """

    def __init__(
        self,
        num_points: int = 478,
        lip_points: int = 40,
        eye_points: int = 60,
        subject_hidden: int = 128,
        part_hidden: int = 256,
        part_out: int = 128,
        decoder_hidden: int = 512,
    ) -> None:
        super().__init__()
        code = 2 * part_out
        self.num_points, self.lip_points, self.eye_points = num_points, lip_points, eye_points
        self.subject = mlp([num_points * 3, subject_hidden, subject_hidden, code], last_activation=True)
        self.mouth = mlp([lip_points * 3, part_hidden, part_hidden, part_out], last_activation=True)
        self.eye = mlp([eye_points * 3, part_hidden, part_hidden, part_out], last_activation=True)
        self.decoder = mlp([code, decoder_hidden, decoder_hidden, decoder_hidden, num_points * 3])

    def forward(self, lips: torch.Tensor, eyes: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        lead = lips.shape[:-2]
        code = torch.cat([self.mouth(lips.flatten(-2)), self.eye(eyes.flatten(-2))], dim=-1)
        s = self.subject(subject.flatten(-2))
        s = s.reshape(s.shape[0], *([1] * (code.ndim - 2)), s.shape[-1])
        return self.decoder(code + s).reshape(*lead, self.num_points, 3)


class PointDiscriminator(nn.Module):
    """LSGAN critic per frame: (lips, eyes, dense [B, T, ·, 3], subject [B, N, 3]) → scores [B, T, 1].

    mesh encoder on concat(lips, eyes, dense) (1734 → 256 → 256) + subject encoder (1434 → 128 → 128 → 256),
    summed, then 256 → 128 → 128 → 1 (MODA's PointDiscriminator).
    """

    def __init__(
        self, num_points: int = 478, lip_points: int = 40, eye_points: int = 60, hidden: int = 256, head: int = 128
    ) -> None:
        super().__init__()
        self.mesh = mlp([(num_points + lip_points + eye_points) * 3, hidden, hidden], last_activation=True)
        self.subject = mlp([num_points * 3, head, head, hidden], last_activation=True)
        self.head = mlp([hidden, head, head, 1])

    def forward(
        self, lips: torch.Tensor, eyes: torch.Tensor, dense: torch.Tensor, subject: torch.Tensor
    ) -> torch.Tensor:
        x = torch.cat([lips.flatten(-2), eyes.flatten(-2), dense.flatten(-2)], dim=-1)
        s = self.subject(subject.flatten(-2))
        s = s.reshape(s.shape[0], *([1] * (x.ndim - 2)), s.shape[-1])
        return self.head(self.mesh(x) + s)
