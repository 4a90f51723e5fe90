"""TalkingGaussian stage 1, the inside of the mouth (its train_mouth.py; docs/talkinggaussian.md): teeth, tongue and
oral cavity as Gaussians moved by audio only (position offsets, mostly vertical).

Per step (iteration it, one frame): the branch renders over green; the target is the frame inside the mouth mask and
green elsewhere; rendered pixels inside the lips rectangle but outside the mouth mask are replaced by green (not
supervised), so the branch may extend behind the lips but must stay transparent outside the box. Loss
L1 + 0.2·DSSIM; after warm_step + 1e-3·(mean((1 − A)·box) + mean(A·¬box)); after lpips_start (= freeze_step) a
patch LPIPS (0.5, 32–42 px patches), a black background, and only the SH colours train.
Curriculum (the DataModule's sampler): widest-open mouths during the warm-up, then every 7th step a window that
opens from the widest toward closed mouths. Background-green Gaussians are suppressed at each densification.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from talkzoo.datamodules.talkinggaussian import MouthRegionDataset
from talkzoo.lightning_modules.talkinggaussian_branch import GaussianBranchStage
from talkzoo.zoo.face_indices import MOUTH_INNER
from talkzoo.zoo.talkinggaussian.camera import Camera
from talkzoo.zoo.talkinggaussian.losses import l1_dssim
from talkzoo.zoo.talkinggaussian.motion import MouthMotionNet
from talkzoo.zoo.talkinggaussian.raster_types import RasterOutput


def lips_box(lips_rect: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """lips_rect [4] (row0, row1, col0, col1) → bool [H, W]."""
    r0, r1, c0, c1 = (int(v) for v in lips_rect.tolist())
    box = torch.zeros(height, width, dtype=torch.bool, device=lips_rect.device)
    box[r0:r1, c0:c1] = True
    return box


class TalkingGaussianMouth(GaussianBranchStage):
    """The inside-mouth branch.

    Args (beyond GaussianBranchStage's, whose defaults are the face's; configs/talkinggaussian_mouth.yaml sets the
    mouth schedule): motion: MouthMotionNet. min_mouth_pixels: curriculum frames need this many inside-mouth pixels
    (20). mouth_depth_offset: the initial cloud sits this far (world units) behind the inner-lip contour (0.01).
    """

    region = "mouth"

    def __init__(
        self, motion: MouthMotionNet, min_mouth_pixels: int = 20, mouth_depth_offset: float = 0.01, **kwargs: Any
    ) -> None:
        super().__init__(motion, **kwargs)

    def sampling_curriculum(self):  # noqa: ANN201 - CurriculumSpec
        spec = super().sampling_curriculum()
        from dataclasses import replace

        return replace(spec, min_mouth_pixels=self.hparams.min_mouth_pixels)

    # -------------------------------------------------------------------------------------- initialisation
    def init_frame_indices(self, dataset: MouthRegionDataset) -> list[int]:
        """The widest-open mouths (the curriculum's warm-up frames)."""
        opening = dataset.values()["mouth_opening"]
        count = max(1, min(self.hparams.init_frames, len(opening)))
        return sorted(int(i) for i in np.argsort(-opening, kind="stable")[:count])

    def init_region(self, item: dict[str, torch.Tensor]) -> torch.Tensor:
        return item["mouth_mask"]

    def init_depth_options(self) -> dict[str, Any]:
        return {"depth_offset": self.hparams.mouth_depth_offset, "depth_vertices": torch.tensor(MOUTH_INNER)}

    # -------------------------------------------------------------------------------------------- training
    def branch_loss(
        self, batch: dict[str, torch.Tensor], iteration: int, background: torch.Tensor
    ) -> tuple[torch.Tensor, RasterOutput, Camera, dict[str, torch.Tensor]]:
        hp = self.hparams
        out, _, camera = self.render(batch, iteration, background)
        height, width = out.image.shape[-2:]
        mouth = batch["mouth_mask"][0]
        box = lips_box(batch["lips_rect"][0], height, width)
        bg = background.reshape(3, 1, 1)
        target = torch.where(mouth, batch["image"][0], bg)
        image = torch.where(box & ~mouth, bg, out.image)
        loss = l1_dssim(image, target, hp.lambda_dssim)
        logs: dict[str, torch.Tensor] = {"l1_dssim": loss.detach()}
        if iteration > hp.warm_step:
            alpha = out.alpha[0]
            term = ((1 - alpha) * box).mean() + (alpha * ~box).mean()
            loss = loss + hp.alpha_weight * term
            logs["alpha_term"] = term.detach()
        if iteration > hp.lpips_start:
            lp = self.lpips_patches(image, target)
            if lp is not None:
                loss = loss + hp.patch_lpips_weight * lp
                logs["lpips"] = lp.detach()
        return loss, out, camera, logs

    def handle_green(self, optimizer: torch.optim.Optimizer, green: torch.Tensor, it: int) -> None:
        """Suppress (not prune) background-green Gaussians, inside the densification window only."""
        if it < self.hparams.densify_until:
            self.suppress_green(green)

    # ------------------------------------------------------------------------------------------ validation
    def val_region(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return batch["mouth_mask"][0]
