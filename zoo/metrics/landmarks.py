"""Landmark metrics on the 40 MediaPipe lip points (talkzoo.zoo.face_indices.LIP_INDICES order), in image pixels.

    pixels = project_points(canonical_lips, pose, focal, cx, cy)      # [T, 40, 2]
    lmd  = landmark_distance(pred_px, gt_px).mean()                    # LMD: mean L2 per point, pixels
    lmdv = landmark_velocity_distance(pred_px, gt_px).mean()           # LMD-v: same on frame-to-frame velocities
    ma   = mouth_area_iou(pred_px, gt_px).mean()                       # MA: IoU of the inner-mouth polygons
    div  = diversity(samples)                                          # std across N samples of the same audio

These are the likely definitions of MODA's metrics (its paper's could not be read; docs/evaluation.md); every method
reports them through these functions so numbers are comparable. Frames are compared as given: no per-frame alignment
or rescaling.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from talkzoo.zoo.face_indices import LIP_INDICES, LOWER_INNER_LIP_MID, MOUTH_INNER, MOUTH_OUTER, UPPER_INNER_LIP_MID

_LIP_POSITION = {index: i for i, index in enumerate(LIP_INDICES)}
_SUBPIXELS = 8  # rasterisation samples per image pixel (per axis) for polygon areas
_SHIFT = 4  # cv2 fixed-point bits


def project_points(points: torch.Tensor, pose: torch.Tensor, focal: float, cx: float, cy: float) -> torch.Tensor:
    """Canonical points → image pixels. points [..., N, 3] in the head frame, pose [..., 4, 4] head → camera
    (OpenCV axes): X_cam = pose[:3, :3] · X + pose[:3, 3], u = focal · X/Z + cx, v = focal · Y/Z + cy.
    Returns [..., N, 2]."""
    cam = points @ pose[..., :3, :3].transpose(-1, -2) + pose[..., None, :3, 3]
    z = cam[..., 2:3].clamp_min(1e-6)
    return torch.cat([focal * cam[..., 0:1] / z + cx, focal * cam[..., 1:2] / z + cy], dim=-1)


def landmark_distance(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """LMD per frame: mean over points of the L2 distance. pred, target [T, N, C] → [T]."""
    return (pred - target).norm(dim=-1).mean(dim=-1)


def landmark_velocity_distance(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """LMD-v per frame pair: LMD of the velocities x[t+1] - x[t]. pred, target [T, N, C] → [T - 1]."""
    return landmark_distance(pred[1:] - pred[:-1], target[1:] - target[:-1])


def lip_polygon(lips: torch.Tensor | np.ndarray, which: str = "inner") -> torch.Tensor | np.ndarray:
    """The closed inner (mouth opening) or outer lip contour from 40 lip points: [..., 40, C] → [..., 20, C]."""
    order = {"inner": MOUTH_INNER, "outer": MOUTH_OUTER}.get(which)
    if order is None:
        raise ValueError(f"polygon must be 'inner' or 'outer', got {which!r}")
    return lips[..., [_LIP_POSITION[i] for i in order], :]


def _area_masks(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Areas (px²) of polygon a, polygon b and their intersection, [P, 2] pixel coordinates each."""
    lo = np.floor(np.minimum(a.min(0), b.min(0))) - 1
    hi = np.ceil(np.maximum(a.max(0), b.max(0))) + 1
    size = np.maximum(((hi - lo) * _SUBPIXELS).astype(int) + 1, 1)
    masks = []
    for poly in (a, b):
        canvas = np.zeros((size[1], size[0]), dtype=np.uint8)
        pts = np.round((poly - lo) * _SUBPIXELS * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=_SHIFT)
        masks.append(canvas.astype(bool))
    pixel = 1.0 / _SUBPIXELS**2
    return masks[0].sum() * pixel, masks[1].sum() * pixel, (masks[0] & masks[1]).sum() * pixel


def polygon_iou(
    pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, min_area: float = 0.5
) -> np.ndarray:
    """IoU of closed polygons per frame, by rasterisation at 1/8 pixel. pred, target [T, P, 2] pixels → float [T].

    Frames where both polygons are smaller than `min_area` px² (e.g. a closed mouth in both) count as 1 (agreement);
    where only one is, the IoU is computed as usual (near 0).
    """
    p = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
    t = target.detach().cpu().numpy() if isinstance(target, torch.Tensor) else np.asarray(target)
    out = np.ones(len(p), dtype=np.float64)
    for i in range(len(p)):
        area_p, area_t, inter = _area_masks(p[i].astype(np.float64), t[i].astype(np.float64))
        if area_p < min_area and area_t < min_area:
            continue
        union = area_p + area_t - inter
        out[i] = inter / union if union > 0 else 1.0
    return out


def mouth_area_iou(pred: torch.Tensor, target: torch.Tensor, which: str = "inner") -> np.ndarray:
    """MA per frame: IoU of the inner (default) or outer lip polygons. pred, target [T, 40, 2] pixels → [T]."""
    return polygon_iou(lip_polygon(pred[..., :2], which), lip_polygon(target[..., :2], which))


def mouth_opening(lips: torch.Tensor) -> torch.Tensor:
    """Distance between the middles of the inner upper and lower lip. lips [..., 40, C] → [...]."""
    upper = lips[..., _LIP_POSITION[UPPER_INNER_LIP_MID], :]
    lower = lips[..., _LIP_POSITION[LOWER_INNER_LIP_MID], :]
    return (upper - lower).norm(dim=-1)


def pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    """Pearson correlation of two equally long 1-D series (0 when either is constant)."""
    x, y = x.double().flatten(), y.double().flatten()
    x, y = x - x.mean(), y - y.mean()
    denom = (x.square().sum() * y.square().sum()).sqrt()
    return float((x * y).sum() / denom) if denom > 0 else 0.0


def diversity(samples: torch.Tensor) -> float:
    """Std across N samples of the same audio, averaged over frames and dims. samples [N, T, ...] → float."""
    if samples.shape[0] < 2:
        raise ValueError("diversity needs at least 2 samples")
    return float(samples.double().std(dim=0, unbiased=False).mean())
