"""LPIPS (Zhang et al. 2018, "alex" v0.1) in plain torch: no torchvision, no `lpips` package (README.md, "GPU install").

distance(x, y) = Σ_l mean_hw( w_l · (n(φ_l(x)) − n(φ_l(y)))² ), where φ_l are the five ReLU outputs of AlexNet's
feature stack, n normalises each feature vector to unit length over channels, and w_l are the learned linear heads.

Weights come from two places:
- the linear heads ship inside torchmetrics: `torchmetrics/functional/image/lpips_models/alex.pth`;
- the AlexNet ImageNet backbone is torchvision's `alexnet-owt-7be5be79.pth`, fetched through `torch.hub` from
  its standard URL into the standard cache (`$TORCH_HOME/hub/checkpoints/`), the very file torchvision uses.
  Offline, put that file there (copy it from any machine that has run torchvision's AlexNet once).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

import torch
from torch import nn

from talkzoo.zoo.errors import UserError

ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
# (out_channels, kernel, stride, padding, max-pool before the conv) of AlexNet's five convolutions.
_ALEX_CONVS = ((64, 11, 4, 2, False), (192, 5, 1, 2, True), (384, 3, 1, 1, True), (256, 3, 1, 1, False),
               (256, 3, 1, 1, False))  # fmt: skip
# Index of each convolution inside torchvision's `alexnet.features` (the state-dict keys of the backbone file).
_TORCHVISION_INDEX = (0, 3, 6, 8, 10)
# LPIPS input scaling for images in [-1, 1].
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


class LPIPSWeightsUnavailable(UserError):
    """The AlexNet backbone or the linear heads could not be loaded; the message names the file and the fix."""


def backbone_cache_path() -> Path:
    """Where torch.hub keeps the AlexNet ImageNet weights (the file torchvision would download)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(ALEXNET_URL).name


def linear_heads_path() -> Path:
    """The LPIPS linear-head weights that ship inside the torchmetrics wheel (located without importing it)."""
    spec = importlib.util.find_spec("torchmetrics")
    assert spec is not None and spec.origin is not None, "torchmetrics is a talkzoo dependency"
    return Path(spec.origin).parent / "functional" / "image" / "lpips_models" / "alex.pth"


class AlexFeatures(nn.Module):
    """AlexNet's convolutional stack, returning the five ReLU outputs: [B,3,H,W] → 5 × [B, C_l, H_l, W_l]."""

    def __init__(self) -> None:
        super().__init__()
        convs, in_channels = [], 3
        for out_channels, kernel, stride, padding, _ in _ALEX_CONVS:
            convs.append(nn.Conv2d(in_channels, out_channels, kernel, stride, padding))
            in_channels = out_channels
        self.convs = nn.ModuleList(convs)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for conv, (*_, pool_first) in zip(self.convs, _ALEX_CONVS, strict=True):
            if pool_first:
                x = self.pool(x)
            x = torch.relu(conv(x))
            features.append(x)
        return features

    def load_torchvision_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load torchvision's `alexnet` state dict (keys `features.{0,3,6,8,10}.{weight,bias}`)."""
        mapped = {}
        for i, index in enumerate(_TORCHVISION_INDEX):
            for name in ("weight", "bias"):
                mapped[f"convs.{i}.{name}"] = state[f"features.{index}.{name}"]
        self.load_state_dict(mapped)


class LPIPS(nn.Module):
    """Learned perceptual distance. forward(x, y): images [B, 3, H, W] in [0, 1] → distances [B].

    Frozen (no parameters train) but differentiable with respect to its inputs, so it serves as a loss.
    `backbone_weights`: a path to torchvision's AlexNet weights, or None for the torch.hub cache / download.
    """

    def __init__(self, backbone_weights: str | Path | None = None) -> None:
        super().__init__()
        self.features = AlexFeatures()
        self.features.load_torchvision_state(_load_backbone(backbone_weights))
        heads = _load_heads()
        self.heads = nn.ParameterList(
            [nn.Parameter(heads[f"lin{i}.model.1.weight"], requires_grad=False) for i in range(len(_ALEX_CONVS))]
        )
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LPIPS:
        return super().train(False)  # always in eval mode: no dropout, fixed statistics

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"LPIPS needs two [B, 3, H, W] images of one shape, got {tuple(x.shape)}, {tuple(y.shape)}"
            )
        fx = self.features((x * 2 - 1 - self.shift) / self.scale)
        fy = self.features((y * 2 - 1 - self.shift) / self.scale)
        total = x.new_zeros(x.shape[0])
        for a, b, head in zip(fx, fy, self.heads, strict=True):
            diff = (_unit(a) - _unit(b)) ** 2
            total = total + (diff * head.view(1, -1, 1, 1)).sum(dim=1).mean(dim=(1, 2))
        return total


def _unit(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Normalise each spatial feature vector to unit length over channels (LPIPS's normalize_tensor)."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


def _load_backbone(path: str | Path | None) -> dict[str, torch.Tensor]:
    if path is not None:
        if not Path(path).is_file():
            raise LPIPSWeightsUnavailable(f"LPIPS backbone weights not found at {path}")
        return torch.load(path, map_location="cpu", weights_only=True)
    cached = backbone_cache_path()
    try:
        if cached.is_file():
            return torch.load(cached, map_location="cpu", weights_only=True)
        # torch.hub announces "Downloading: …" before it tries (on stdout in torch 2.13, stderr in older ones);
        # offline that line is noise before our error
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return torch.hub.load_state_dict_from_url(ALEXNET_URL, map_location="cpu", progress=False, check_hash=False)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError: offline and not cached
        raise LPIPSWeightsUnavailable(
            f"LPIPS needs the AlexNet ImageNet weights at {cached} (not cached, and the download failed: "
            f"{type(exc).__name__}); copy alexnet-owt-7be5be79.pth there from a connected machine, "
            "or use the config switch that replaces LPIPS by discriminator feature matching"
        ) from exc


def _load_heads() -> dict[str, torch.Tensor]:
    path = linear_heads_path()
    if not path.is_file():
        raise LPIPSWeightsUnavailable(f"LPIPS linear heads missing at {path}; reinstall torchmetrics==1.9.0")
    return torch.load(path, map_location="cpu", weights_only=True)
