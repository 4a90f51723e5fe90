"""A set of 3-D Gaussians as TalkingGaussian stores them (its scene/gaussian_model.py, after 3DGS).

Parameters (raw): xyz [N, 3], features_dc [N, 1, 3], features_rest [N, (d+1)² − 1, 3] (SH degree d = 2),
opacity [N, 1] (sigmoid), scaling [N, 3] (softplus, TalkingGaussian's choice instead of 3DGS's exp),
rotation [N, 4] (w, x, y, z; L2-normalised). The active SH degree grows during training (a persisted buffer).
N changes with densification; `load_state_dict` resizes the parameters to the checkpoint's N.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from talkzoo.zoo.ernerf.sh import SHEncoder

ATTRIBUTES = ("xyz", "features_dc", "features_rest", "opacity", "scaling", "rotation")
SH_C0 = 0.28209479177387814


def inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    """softplus⁻¹(x) = x + log(−expm1(−x)) for x > 0."""
    x = x.clamp(min=1e-12)
    return x + torch.log(-torch.expm1(-x))


def inverse_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x / (1 - x))


def rgb_to_sh_dc(rgb: torch.Tensor) -> torch.Tensor:
    """Colour in [0, 1] [..., 3] → the DC coefficient whose evaluation (+0.5) gives it back."""
    return (rgb - 0.5) / SH_C0


class GaussianSet(nn.Module):
    """N Gaussians with SH colours up to `sh_degree` (TalkingGaussian: 2, nine coefficients per channel)."""

    def __init__(self, sh_degree: int = 2) -> None:
        super().__init__()
        if not 0 <= sh_degree <= 3:
            raise ValueError(f"sh_degree must be 0…3, got {sh_degree}")
        self.sh_degree = sh_degree
        rest = (sh_degree + 1) ** 2 - 1
        shapes = {"xyz": (3,), "features_dc": (1, 3), "features_rest": (rest, 3), "opacity": (1,), "scaling": (3,),
                  "rotation": (4,)}  # fmt: skip
        for name in ATTRIBUTES:
            setattr(self, name, nn.Parameter(torch.zeros(0, *shapes[name])))
        self.register_buffer("active_sh_degree", torch.zeros((), dtype=torch.long))
        self.sh_basis = SHEncoder(sh_degree + 1)

    # ------------------------------------------------------------------------------------------ accessors
    @property
    def num_points(self) -> int:
        return int(self.xyz.shape[0])

    def parameter(self, name: str) -> nn.Parameter:
        return self._parameters[name]  # type: ignore[return-value]

    def activated_scaling(self, delta: torch.Tensor | float = 0.0) -> torch.Tensor:
        """softplus(raw + delta) [N, 3]."""
        return F.softplus(self.scaling + delta)

    def activated_opacity(self) -> torch.Tensor:
        """sigmoid(raw) [N]."""
        return torch.sigmoid(self.opacity[:, 0])

    def activated_rotation(self, delta: torch.Tensor | float = 0.0) -> torch.Tensor:
        """normalise(raw + delta) [N, 4]."""
        return F.normalize(self.rotation + delta, dim=-1)

    def sh(self) -> torch.Tensor:
        """All SH coefficients [N, (d+1)², 3]."""
        return torch.cat((self.features_dc, self.features_rest), dim=1)

    def colors(self, means: torch.Tensor, camera_center: torch.Tensor) -> torch.Tensor:
        """View-dependent RGB [N, 3] = max(SH(direction from the camera to each mean) + 0.5, 0) at the active
        degree (3DGS's colour; no upper clamp)."""
        directions = F.normalize(means - camera_center, dim=-1)
        k = (int(self.active_sh_degree) + 1) ** 2
        basis = self.sh_basis(directions)[:, :k]  # [N, k]
        return torch.clamp((basis[:, :, None] * self.sh()[:, :k]).sum(dim=1) + 0.5, min=0.0)

    def one_up_sh_degree(self) -> None:
        if int(self.active_sh_degree) < self.sh_degree:
            self.active_sh_degree += 1

    # ------------------------------------------------------------------------------------------ creation
    @torch.no_grad()
    def initialize(
        self, points: torch.Tensor, colors: torch.Tensor | None = None, opacity: float = 0.1, min_scale: float = 1e-7
    ) -> None:
        """Fresh Gaussians at points [N, 3] with colours [N, 3] in [0, 1] (None: grey), opacity `opacity`, identity
        rotation and isotropic scale √(mean squared distance to the 3 nearest neighbours) (3DGS's simple-knn)."""
        n = points.shape[0]
        device = points.device
        rgb = colors if colors is not None else torch.full((n, 3), 0.5, device=device)
        scale = torch.sqrt(nearest_sq_distance(points, 3).clamp(min=min_scale**2))
        values = {
            "xyz": points.float(),
            "features_dc": rgb_to_sh_dc(rgb.float())[:, None, :],
            "features_rest": torch.zeros(n, (self.sh_degree + 1) ** 2 - 1, 3, device=device),
            "opacity": inverse_sigmoid(torch.full((n, 1), opacity, device=device)),
            "scaling": inverse_softplus(scale)[:, None].repeat(1, 3),
            "rotation": torch.tensor([1.0, 0.0, 0.0, 0.0], device=device).repeat(n, 1),
        }
        for name in ATTRIBUTES:
            self._parameters[name] = nn.Parameter(values[name].contiguous())
        self.active_sh_degree.zero_()

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, local_metadata: Any, strict: bool, *args: Any
    ) -> None:
        for name in ATTRIBUTES:  # take the checkpoint's number of Gaussians
            value = state_dict.get(prefix + name)
            if value is not None and value.shape != self._parameters[name].shape:
                self._parameters[name] = nn.Parameter(
                    torch.zeros(value.shape, dtype=value.dtype, device=self._parameters[name].device)
                )
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, *args)


def nearest_sq_distance(points: torch.Tensor, k: int = 3, chunk: int = 2048) -> torch.Tensor:
    """Mean squared distance of each point [N, 3] to its k nearest other points → [N] (chunked, O(N²) time)."""
    n = points.shape[0]
    if n <= 1:
        return torch.full((n,), 1e-4, device=points.device)
    k = min(k, n - 1)
    out = []
    for start in range(0, n, chunk):
        d = torch.cdist(points[start : start + chunk].float(), points.float()) ** 2
        d[torch.arange(d.shape[0]), torch.arange(start, start + d.shape[0])] = math.inf
        out.append(d.topk(k, dim=1, largest=False).values.mean(dim=1))
    return torch.cat(out)
