"""Shared by the hard-speaker learning tests of the NeRF and Gaussian heads: the reference-image baseline and the
share of renders MediaPipe finds a face in, over the same held-out batches as `HeadRegionScores`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from talkzoo.zoo.metrics.head_region import HeadRegionScores
from talkzoo.zoo.metrics.lip_tracker import LipTracker


@torch.no_grad()
def reference_psnr_and_faces(
    render: Callable[[dict[str, Any]], torch.Tensor], batches: Iterable[dict[str, Any]], reference: torch.Tensor
) -> tuple[float, list[bool]]:
    """render(batch) → [3, H, W] in [0, 1] for each held-out batch (batch size 1); reference [3, H, W]: a still
    image (a train frame). → (head-region PSNR of the reference image on those frames, face found per render)."""
    scores = HeadRegionScores(reference)
    images = []
    for batch in batches:
        image = render(batch)
        scores.add(image, batch["image"][0], batch["parsing"][0], batch["landmarks"][0])
        images.append((image.permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8))
    with LipTracker() as tracker:
        found = [tracker(image) is not None for image in images]
    return scores.compute()["psnr_head_mean_frame"], found
