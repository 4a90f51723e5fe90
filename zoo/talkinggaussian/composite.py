"""TalkingGaussian's layer compositing (its train_fuse.py / synthesize_fuse.py): back to front,
background (torso over the static plate) ← inside-mouth ← face, with the "over" operator.

A branch rendered over a constant colour c returns R = P + c·(1 − A), P the premultiplied colour; so
    mouth layer M = P_m + B·(1 − A_m),   image I = P_f + M·(1 − A_f).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def premultiplied(render: torch.Tensor, alpha: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """render [3, H, W] over the constant background [3], alpha [1, H, W] → P [3, H, W]."""
    return render - background.reshape(3, 1, 1) * (1 - alpha)


def composite_layers(
    face: torch.Tensor,
    face_alpha: torch.Tensor,
    mouth: torch.Tensor,
    mouth_alpha: torch.Tensor,
    backdrop: torch.Tensor,
    background: torch.Tensor,
    mouth_dilate: int = 0,
) -> torch.Tensor:
    """face / mouth renders [3, H, W] over the constant `background` [3] with alphas [1, H, W], backdrop [3, H, W]
    (torso over the static plate) → the portrait [3, H, W]. mouth_dilate: odd max-pool size applied to the mouth
    alpha before compositing (the original's `--dilate` uses 13 at 512² to hide teeth–lip seams; 0 = off)."""
    p_face = premultiplied(face, face_alpha, background)
    p_mouth = premultiplied(mouth, mouth_alpha, background)
    if mouth_dilate > 1:
        mouth_alpha = F.max_pool2d(mouth_alpha[None], mouth_dilate, stride=1, padding=mouth_dilate // 2)[0]
    mouth_layer = p_mouth + backdrop * (1 - mouth_alpha)
    return p_face + mouth_layer * (1 - face_alpha)
