"""TalkingGaussian stage 2, the face (its train_face.py; docs/talkinggaussian.md): skin, eyes, lips and hair as
Gaussians deformed by audio and the upper-face expression (position, rotation and scale offsets; opacity and colour
persist), transparent inside the mouth.

Per step (iteration it, one frame): the branch renders over green (over a new random colour each step with
random_background, the CPU preset's); the target is the frame inside the head mask (parsing label 1 minus the
inside-mouth mask) and that colour elsewhere. Loss L1 + 0.2·DSSIM; after warm_step
+ 1e-5·(mean|Δμ| + mean|Δq| + mean|Δα| + mean|Δs|) + 1e-3·(mean((1 − A)·head) + mean(A·¬head))
+ 1e-4·(rendered eye attention inside the lips rectangle) [+ lips_l1_weight·L1 inside the lips rectangle: ours,
the CPU preset's]; after lpips_start the mouth mask is closed (3×3) and
LPIPS terms join (lips crop 0.01; patches 0.2 with the lips rectangle set to green in both).
Curriculum (the DataModule's sampler): every 15th step nearly closed mouths during the warm-up, then blink windows
from open to closed eyes. Background-green Gaussians are pruned at every densification interval.
The original's hair terms need a hair mask the speaker format lacks (parsing label 1 = face + hair): they are off.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from talkzoo.lightning_modules.talkinggaussian_branch import GaussianBranchStage
from talkzoo.lightning_modules.talkinggaussian_mouth import lips_box
from talkzoo.zoo.talkinggaussian.camera import Camera
from talkzoo.zoo.talkinggaussian.losses import l1_dssim
from talkzoo.zoo.talkinggaussian.motion import FaceMotionNet
from talkzoo.zoo.talkinggaussian.raster_types import RasterOutput


def close_mask(mask: torch.Tensor) -> torch.Tensor:
    """Morphological closing (3×3 dilate, then erode) of a bool mask [H, W]."""
    m = mask[None, None].float()
    m = F.max_pool2d(m, 3, stride=1, padding=1)
    m = -F.max_pool2d(-m, 3, stride=1, padding=1)
    return m[0, 0] > 0.5


def head_mask(batch: dict[str, torch.Tensor], close_mouth: bool = False) -> torch.Tensor:
    """bool [H, W]: parsing label 1 (face + hair) without the inside of the mouth."""
    mouth = batch["mouth_mask"][0]
    if close_mouth:
        mouth = close_mask(mouth)
    return (batch["parsing"][0] == 1) & ~mouth


class TalkingGaussianFace(GaussianBranchStage):
    """The face branch.

    Args (beyond GaussianBranchStage's): motion: FaceMotionNet. motion_reg_weight: weight of each mean |offset|
    (1e-5). eye_lips_weight: rendered eye attention inside the lips box (1e-4). lips_lpips_weight: LPIPS of the lips
    crop (0.01; the maintainer advises lowering it against noisy lips). lips_l1_weight: an extra L1 over the lips
    rectangle after the warm-up (0: the original; an addition of ours — at 96² the lips box is ~2 % of the frame the
    L1 averages over, and the mouth's motion gets little of the loss: docs/talkinggaussian.md, "The mouth at 96²").
    """

    region = "face"

    def __init__(
        self,
        motion: FaceMotionNet,
        motion_reg_weight: float = 1e-5,
        eye_lips_weight: float = 1e-4,
        lips_lpips_weight: float = 0.01,
        lips_l1_weight: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(motion, **kwargs)

    def init_region(self, item: dict[str, torch.Tensor]) -> torch.Tensor:
        return (item["parsing"] == 1) & ~item["mouth_mask"]

    # -------------------------------------------------------------------------------------------- training
    def branch_loss(
        self, batch: dict[str, torch.Tensor], iteration: int, background: torch.Tensor
    ) -> tuple[torch.Tensor, RasterOutput, Camera, dict[str, torch.Tensor]]:
        hp = self.hparams
        moving = iteration > hp.warm_step
        out, deformed, camera = self.render(batch, iteration, background, attention=moving)
        height, width = out.image.shape[-2:]
        head = head_mask(batch, close_mouth=iteration > hp.lpips_start)
        bg = background.reshape(3, 1, 1)
        target = torch.where(head, batch["image"][0], bg)
        image = out.image
        loss = l1_dssim(image, target, hp.lambda_dssim)
        logs: dict[str, torch.Tensor] = {"l1_dssim": loss.detach()}
        box = lips_box(batch["lips_rect"][0], height, width)
        if moving:
            motion = deformed.motion
            reg = sum(motion[k].abs().mean() for k in ("d_xyz", "d_rot", "d_opa", "d_scale"))
            alpha = out.alpha[0]
            term = ((1 - alpha) * head).mean() + (alpha * ~head).mean()
            loss = loss + hp.motion_reg_weight * reg + hp.alpha_weight * term
            logs.update(motion_reg=reg.detach(), alpha_term=term.detach())
            lips_present = bool(box.any())  # empty box → no lips terms (the original's NaN, Q1)
            if hp.lips_l1_weight > 0 and lips_present:
                lips_l1 = (image[:, box] - target[:, box]).abs().mean()  # the box only, not the whole frame
                loss = loss + hp.lips_l1_weight * lips_l1
                logs["lips_l1"] = lips_l1.detach()
            if out.features is not None and lips_present:
                eye_lips = out.features[1][box].mean()
                loss = loss + hp.eye_lips_weight * eye_lips
                logs["eye_in_lips"] = eye_lips.detach()
        if iteration > hp.lpips_start:
            loss = loss + self.lpips_terms(image, target, batch["lips_rect"][0], background, logs)
        return loss, out, camera, logs

    def lpips_terms(
        self,
        image: torch.Tensor,
        target: torch.Tensor,
        rect: torch.Tensor,
        background: torch.Tensor,
        logs: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        hp = self.hparams
        lpips = self._lpips.get(self.device)
        if lpips is None:
            return image.new_zeros(())
        r0, r1, c0, c1 = (int(v) for v in rect.tolist())
        total = image.new_zeros(())
        if r1 > r0 and c1 > c0:
            crop_i, crop_t = image[None, :, r0:r1, c0:c1], target[None, :, r0:r1, c0:c1]
            pad = (0, max(0, 32 - (c1 - c0)), 0, max(0, 32 - (r1 - r0)))  # AlexNet needs ≥ 32 px
            lips = lpips(F.pad(crop_i, pad), F.pad(crop_t, pad)).mean()
            total = total + hp.lips_lpips_weight * lips
            logs["lpips_lips"] = lips.detach()
        bg = background.reshape(3, 1, 1)
        masked_i, masked_t = image.clone(), target.clone()
        masked_i[:, r0:r1, c0:c1] = bg
        masked_t[:, r0:r1, c0:c1] = bg
        patches = self.lpips_patches(masked_i, masked_t)
        if patches is not None:
            total = total + hp.patch_lpips_weight * patches
            logs["lpips_patches"] = patches.detach()
        return total

    # ------------------------------------------------------------------------------------------ validation
    def val_region(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return head_mask(batch)
