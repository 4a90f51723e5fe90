"""Accuracy of a preprocessed speaker against ground truth (the synthetic speaker): the numbers of issue 3.

    report = compare_to_truth("out/pre", "out/synth/speaker")   # dict of floats

Landmark errors are 2D (x, y), in % of the inter-ocular distance (iris centres 468-473 of the truth, per frame).
Rotation errors are in degrees after removing the constant offset between the two head frames: the estimated pose
is relative to the speaker's own mean shape, whose orientation is arbitrary up to one fixed rotation Q, so
err_t = angle(R_est,t · Q, R_true,t) with Q the chordal mean of R_est,tᵀ R_true,t.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from talkzoo.datamodules.preprocess.landmarks import jitter, lag_frames
from talkzoo.datamodules.speaker import PARSING_LABELS, Speaker
from talkzoo.zoo.face_indices import EYE_INDICES, LIP_INDICES

IRIS = (468, 473)


def _to_truth_pixels(points: np.ndarray, crop: dict, size: int) -> np.ndarray:
    """Predicted pixels [..., 2] in the output frame -> source-video pixels (undo crop and resize)."""
    k = crop["side"] / size
    out = points.copy()
    out[..., 0] = crop["x0"] + (points[..., 0] + 0.5) * k - 0.5
    out[..., 1] = crop["y0"] + (points[..., 1] + 0.5) * k - 0.5
    return out


def rotation_errors(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Degrees [T] between rotations [T, 3, 3] after aligning the constant offset (see module docstring)."""

    def unit(r: np.ndarray) -> np.ndarray:
        return r / np.cbrt(np.linalg.det(r))[:, None, None]

    p, t = unit(pred.astype(np.float64)), unit(truth.astype(np.float64))
    u, _, vt = np.linalg.svd(np.einsum("tji,tjk->ik", p, t))
    q = u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt
    rel = np.einsum("tij,jk,tlk->til", p, q, t)
    cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)
    return np.degrees(np.arccos(cos))


def parsing_iou(pred: Speaker, truth: Speaker, crop: dict, every: int = 5) -> dict[str, float]:
    """IoU per parsing class over every `every`-th frame (truth cropped and resized to the prediction's size)."""
    size = pred.meta.width
    inter = {k: 0 for k in PARSING_LABELS}
    union = {k: 0 for k in PARSING_LABELS}
    for i in range(0, pred.num_frames, every):
        gt = truth.parsing(i)[crop["y0"] : crop["y0"] + crop["side"], crop["x0"] : crop["x0"] + crop["side"]]
        if gt.shape[0] != size:
            gt = cv2.resize(gt, (size, size), interpolation=cv2.INTER_NEAREST)
        pr = pred.parsing(i)
        for name, label in PARSING_LABELS.items():
            a, b = pr == label, gt == label
            inter[name] += int((a & b).sum())
            union[name] += int((a | b).sum())
    return {name: inter[name] / union[name] if union[name] else float("nan") for name in PARSING_LABELS}


def project(points: np.ndarray, pose: np.ndarray, focal: float, cx: float, cy: float) -> np.ndarray:
    """Pixels [T, N, 2] of head-frame points [T, N, 3] through poses [T, 4, 4] and a pinhole."""
    cam = np.einsum("tij,tnj->tni", pose[:, :3, :3].astype(np.float64), points) + pose[:, None, :3, 3]
    return focal * cam[..., :2] / cam[..., 2:3] + np.array([cx, cy])


def compare_to_truth(pred_root: str | os.PathLike[str], truth_root: str | os.PathLike[str]) -> dict[str, float]:
    """All accuracy numbers of a preprocessed speaker vs the synthetic ground truth (same video)."""
    pred, truth = Speaker(Path(pred_root)), Speaker(Path(truth_root))
    n = min(pred.num_frames, truth.num_frames)
    crop = pred.meta.provenance.get("crop", {}).get("params") or {"x0": 0, "y0": 0, "side": truth.meta.width}
    lm_p = _to_truth_pixels(np.asarray(pred.landmarks[:n, :, :2], np.float64), crop, pred.meta.width)
    lm_t = np.asarray(truth.landmarks[:n, :, :2], np.float64)
    iod = np.linalg.norm(lm_t[:, IRIS[0]] - lm_t[:, IRIS[1]], axis=-1)[:, None]
    err = np.linalg.norm(lm_p - lm_t, axis=-1) / iod * 100.0
    lips, eyes = list(LIP_INDICES), list(EYE_INDICES)
    opening_p = lm_p[:, 14, 1] - lm_p[:, 13, 1]
    opening_t = lm_t[:, 14, 1] - lm_t[:, 13, 1]
    rot = rotation_errors(np.asarray(pred.pose[:n, :3, :3]), np.asarray(truth.pose[:n, :3, :3]))
    blink_p, blink_t = np.asarray(pred.blink[:n], np.float64), np.asarray(truth.blink[:n], np.float64)
    blink_corr = float(np.corrcoef(blink_p, blink_t)[0, 1]) if blink_t.std() > 0 and blink_p.std() > 0 else 0.0
    report = {
        "landmark_error_pct_iod": float(err[:, :468].mean()),
        "lip_error_pct_iod": float(err[:, lips].mean()),
        "eye_error_pct_iod": float(err[:, eyes].mean()),
        "mouth_opening_corr": float(np.corrcoef(opening_p, opening_t)[0, 1]),
        "mouth_opening_lag_frames": float(lag_frames(opening_t, opening_p)),
        "jitter_pred_px": jitter(lm_p[:, :468]),
        "jitter_truth_px": jitter(lm_t[:, :468]),
        "rotation_error_deg_mean": float(rot.mean()),
        "rotation_error_deg_p95": float(np.percentile(rot, 95)),
        "blink_corr": blink_corr,
    }
    mp, mt = pred.meta, truth.meta
    sh_p = project(np.asarray(pred.shoulders[:n], np.float64), np.asarray(pred.pose[:n]), mp.focal, mp.cx, mp.cy)
    sh_p = _to_truth_pixels(sh_p, crop, mp.width)
    sh_t = project(np.asarray(truth.shoulders[:n], np.float64), np.asarray(truth.pose[:n]), mt.focal, mt.cx, mt.cy)
    report["shoulder_error_pct_size"] = float(np.linalg.norm(sh_p - sh_t, axis=-1).mean() / mt.width * 100.0)
    for name, value in parsing_iou(pred, truth, crop).items():
        report[f"parsing_iou_{name}"] = value
    return report
