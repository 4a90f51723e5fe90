"""One TalkingGaussian branch: a GaussianSet and its motion network, deformed per frame and splatted.

Face: mean = μ + Δμ, scale = softplus(s + Δs), rotation = normalise(q + Δq); opacity and colour unchanged (the
"persistent" part). Mouth: mean = μ + Δμ only. `gate` scales the offsets (0 during the static warm-up; the network
still runs then under DDP so that every parameter takes part in each step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from talkzoo.zoo.talkinggaussian.camera import Camera
from talkzoo.zoo.talkinggaussian.gaussians import GaussianSet
from talkzoo.zoo.talkinggaussian.motion import FaceMotionNet, MouthMotionNet
from talkzoo.zoo.talkinggaussian.raster_types import RasterOutput, RasterSettings
from talkzoo.zoo.talkinggaussian.rasterizer import rasterize


@dataclass
class Deformed:
    """The Gaussians of one frame: means [N, 3], scales [N, 3], quats [N, 4], opacities [N], and the raw motion
    outputs (empty when the motion network did not run)."""

    means: torch.Tensor
    scales: torch.Tensor
    quats: torch.Tensor
    opacities: torch.Tensor
    motion: dict[str, torch.Tensor] = field(default_factory=dict)


class GaussianBranch(nn.Module):
    """A Gaussian set deformed by a motion network (FaceMotionNet or MouthMotionNet).

    Args:
        motion: the motion network. sh_degree: colour SH degree (2).
    """

    def __init__(self, motion: FaceMotionNet | MouthMotionNet, sh_degree: int = 2) -> None:
        super().__init__()
        self.gaussians = GaussianSet(sh_degree)
        self.motion = motion

    @property
    def is_face(self) -> bool:
        return isinstance(self.motion, FaceMotionNet)

    def deform(self, audio: torch.Tensor | None, expression: torch.Tensor | None = None, gate: float = 1.0) -> Deformed:
        """audio windows [1, S, K, D] (None or gate 0 with `audio` None: static), expression [6] (face) → Deformed."""
        g = self.gaussians
        if audio is None:
            return Deformed(g.xyz, g.activated_scaling(), g.activated_rotation(), g.activated_opacity())
        code = self.motion.encode_audio(audio)
        if self.is_face:
            if expression is None:
                expression = torch.zeros(self.motion.exp_dim, device=g.xyz.device)
            out = self.motion(g.xyz, code, expression)
            return Deformed(
                g.xyz + gate * out["d_xyz"],
                g.activated_scaling(gate * out["d_scale"]),
                g.activated_rotation(gate * out["d_rot"]),
                g.activated_opacity(),
                out,
            )
        out = self.motion(g.xyz, code)
        return Deformed(g.xyz + gate * out["d_xyz"], g.activated_scaling(), g.activated_rotation(),
                        g.activated_opacity(), out)  # fmt: skip

    def render(
        self,
        deformed: Deformed,
        camera: Camera,
        background: torch.Tensor,
        settings: RasterSettings | None = None,
        backend: str = "auto",
        features: torch.Tensor | None = None,
    ) -> RasterOutput:
        """Splat the deformed Gaussians with view-dependent SH colours over `background` [3]."""
        colors = self.gaussians.colors(deformed.means, camera.center.to(deformed.means))
        return rasterize(
            deformed.means, deformed.scales, deformed.quats, deformed.opacities, colors, camera,
            background, settings, features, backend,
        )  # fmt: skip
