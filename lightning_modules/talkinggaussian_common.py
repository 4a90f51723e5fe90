"""Pieces shared by the TalkingGaussian stages (mouth, face, fuse): cameras from batches, the expression input,
the GT backdrop, region PSNR, an LPIPS built on first use, and the cross-process reductions DDP needs for the
Gaussians (whose number changes, so DDP's own gradient sync is told to ignore them)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from talkzoo.zoo.rendering.volume import over
from talkzoo.zoo.talkinggaussian.camera import Camera, HeadSpace


def frame_camera(head: HeadSpace, batch: dict[str, torch.Tensor]) -> Camera:
    """The camera of the batch's (first) frame in the head space (image size from `image` or `background`)."""
    reference = batch["image"] if "image" in batch else batch["background"]
    height, width = reference.shape[-2:]
    return head.camera(batch["pose"][0], batch["intrinsics"][0], height, width)


def expression(batch: dict[str, torch.Tensor], dim: int = 6) -> torch.Tensor:
    """The face motion net's expression input [dim]: TalkingGaussian feeds OpenFace AU01, 04, 05, 06, 07 and AU45
    (0–2); the speaker format has blink ∈ [0, 1] only, so the five upper-face AUs are 0 and AU45 = 2·blink."""
    e = torch.zeros(dim, device=batch["blink"].device)
    e[-1] = 2 * batch["blink"].reshape(-1)[0].float()
    return e


def backdrop(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """GT torso over the static background of the first frame: [3, H, W] (what the head is composited over)."""
    return over(batch["torso"][0].movedim(0, -1), batch["background"][0].movedim(0, -1)).movedim(-1, 0)


def region_psnr(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor | None:
    """PSNR of image vs target [3, H, W] on mask [H, W] (all pixels when None); None on an empty mask."""
    err = ((image - target) ** 2).mean(dim=0)
    if mask is not None:
        if not bool(mask.any()):
            return None
        err = err[mask]
    return -10 * torch.log10(err.mean().clamp_min(1e-10))


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """float [3, H, W] in [0, 1] → uint8 [H, W, 3]."""
    return (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


class LazyLPIPS:
    """LPIPS (talkzoo.zoo.losses.lpips) built on first use; without the AlexNet weights one warning and None."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._net: nn.Module | None = None
        self._tried = False

    def get(self, device: torch.device) -> nn.Module | None:
        if not self._tried:
            self._tried = True
            from talkzoo.zoo.losses.lpips import LPIPS, LPIPSWeightsUnavailable

            try:
                self._net = LPIPS().to(device).eval()
            except LPIPSWeightsUnavailable as error:
                warnings.warn(f"{self.owner}: LPIPS terms skipped: {error}", stacklevel=2)
        return self._net


def distributed_world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """All-reduce (mean) the gradients of parameters DDP ignores; every rank must hold the same set."""
    world = distributed_world()
    grads = [p.grad for p in params if p.grad is not None]
    if world == 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def all_reduce_(tensor: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """In-place all-reduce (sum or max) across processes; a no-op in one process."""
    if distributed_world() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return tensor


def optimizer_groups_by_name(optimizer: torch.optim.Optimizer) -> dict[str, dict[str, Any]]:
    return {group["name"]: group for group in optimizer.param_groups if "name" in group}


def check_same_across_processes(value: float, what: str) -> None:
    """RuntimeError when `value` differs between the DDP processes (the Gaussians must stay identical)."""
    if distributed_world() == 1:
        return
    both = torch.tensor([value, -value], dtype=torch.float64)
    dist.all_reduce(both, op=dist.ReduceOp.MAX)
    if float(both[0]) != -float(both[1]):
        raise RuntimeError(f"{what} diverged across processes ({-float(both[1])} … {float(both[0])})")
