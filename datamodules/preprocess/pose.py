"""Head pose without a 3DMM: similarity alignment of each frame's landmarks to the speaker's own mean shape.

MediaPipe landmarks (x, y pixels, z scaled like x) are close to a scaled orthographic view of the face. For each
frame P_t ≈ s_t · R_t · M + q_t, with M the canonical mesh: the mean shape of the speaker after iterative
alignment (Umeyama on the rigid points: forehead, nose, cheeks, temples; not lips, jaw, eyes or brows), rotated so
that the mean head rotation is the identity. Each frame's similarity is then refined on the image-plane (x, y)
error only (MediaPipe's per-frame z under-reports head turns: yaw gain 0.74 with it). Scale gives depth with the
pinhole camera: Z_t = focal / s_t (M is in pixels at depth = focal, so camera units are "pixels at the focal
distance"). The head origin is MODA's anchor (mean of points 50, 280, 168) pushed half a cheek span into the head.
The pose is rigid (scale 1): X_cam = R_t · X_head + t_t, t_t = ((u − cx) Z_t / f, (v − cy) Z_t / f, Z_t) with
(u, v) the anchor in the image.
The rotation is relative to the speaker's mean head orientation: compare to other poses up to a constant offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter
from scipy.spatial.transform import Rotation

from talkzoo.zoo.face_indices import EYE_INDICES, LIP_INDICES

ANCHOR_POINTS = (50, 280, 168)
CHEEKS = (50, 280)
SUBNASALE = 2
ITERATIONS = 4
MAX_SHAPE_FRAMES = 1000  # the mean shape averages at most this many frames, evenly spaced
PERSPECTIVE = False  # pinhole refinement: 0.3° on exact landmarks but 2.2° vs 1.5° on MediaPipe (512², 20 s)


@dataclass
class PoseResult:
    """pose float32 [T, 4, 4] head→camera; canonical float32 [T, 478, 3] per-frame landmarks in the head frame
    (camera units); mean_shape float32 [478, 3]; scale float32 [T] image scale s_t; rigid int64 [K] indices used."""

    pose: np.ndarray
    canonical: np.ndarray
    mean_shape: np.ndarray
    scale: np.ndarray
    rigid: np.ndarray


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched similarity dst ≈ s R src + q. src [K, 3] or [T, K, 3], dst [T, K, 3] -> s [T], R [T, 3, 3], q [T, 3]."""
    src = np.broadcast_to(src, dst.shape).astype(np.float64)
    dst = dst.astype(np.float64)
    mu_s, mu_d = src.mean(axis=1, keepdims=True), dst.mean(axis=1, keepdims=True)
    a, b = src - mu_s, dst - mu_d
    cov = np.einsum("tki,tkj->tij", b, a) / src.shape[1]
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones((len(dst), 3))
    d[:, 2] = np.sign(np.linalg.det(u @ vt))
    rot = u @ (d[:, :, None] * vt)
    var_s = (a**2).sum(axis=(1, 2)) / src.shape[1]
    scale = (sig * d).sum(axis=1) / var_s
    trans = mu_d[:, 0] - scale[:, None] * np.einsum("tij,tj->ti", rot, mu_s[:, 0])
    return scale, rot, trans


def _skew(v: np.ndarray) -> np.ndarray:
    """[..., 3] -> [..., 3, 3] cross-product matrices."""
    out = np.zeros((*v.shape[:-1], 3, 3))
    out[..., 0, 1], out[..., 0, 2], out[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    out[..., 1, 0], out[..., 2, 0], out[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return out


def refine_in_image(
    shape: np.ndarray, points: np.ndarray, scale: np.ndarray, rot: np.ndarray, trans: np.ndarray, iterations: int = 6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gauss-Newton on the image-plane error only: points_xy ≈ s · (R · shape)_xy + q_xy.

    shape [K, 3]; points [T, K, 3] (only x, y are used); scale [T], rot [T, 3, 3], trans [T, 3] from `umeyama`.
    MediaPipe's per-frame z follows head turns only partly, so fitting x, y alone removes the bias it puts on
    yaw and pitch. Returns refined (scale [T], rot [T, 3, 3], trans [T, 3]); trans z = mean residual depth.
    """
    m = shape.astype(np.float64)
    p = points[..., :2].astype(np.float64)
    s, r, q = scale.astype(np.float64).copy(), rot.astype(np.float64).copy(), trans[:, :2].astype(np.float64).copy()
    t_frames, k_points = p.shape[:2]
    for _ in range(iterations):
        y = np.einsum("tij,kj->tki", r, m)  # [T, K, 3] = R m; the update is R <- exp([d]x) R
        res = s[:, None, None] * y[..., :2] + q[:, None, :] - p  # [T, K, 2]
        jac = np.zeros((t_frames, k_points, 2, 6))
        # d(s (exp([d]x) y)_xy)/dd = -s [y]x rows x, y: (0, y2, -y1) and (-y2, 0, y0)
        jac[:, :, 0, 1], jac[:, :, 0, 2] = s[:, None] * y[..., 2], -s[:, None] * y[..., 1]
        jac[:, :, 1, 0], jac[:, :, 1, 2] = -s[:, None] * y[..., 2], s[:, None] * y[..., 0]
        jac[..., 3] = y[..., :2]
        jac[:, :, 0, 4] = jac[:, :, 1, 5] = 1.0
        flat = jac.reshape(t_frames, 2 * k_points, 6)
        jtj = flat.transpose(0, 2, 1) @ flat + 1e-9 * np.eye(6)
        jtr = flat.transpose(0, 2, 1) @ res.reshape(t_frames, 2 * k_points, 1)
        step = -np.linalg.solve(jtj, jtr)[..., 0]
        r = Rotation.from_rotvec(step[:, :3]).as_matrix() @ r
        s, q = s + step[:, 3], q + step[:, 4:6]
    rm = np.einsum("tij,kj->tki", r, m)
    qz = (points[..., 2] - s[:, None] * rm[..., 2]).mean(axis=1)
    return s, r, np.concatenate([q, qz[:, None]], axis=1)


def refine_perspective(
    shape: np.ndarray,
    points: np.ndarray,
    rot: np.ndarray,
    trans: np.ndarray,
    focal: float,
    cx: float,
    cy: float,
    iterations: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Newton on the pinhole reprojection error: points_xy ≈ f · (R m + t)_xy / (R m + t)_z + (cx, cy).

    shape [K, 3] camera units; points [T, K, 2+] pixels; rot [T, 3, 3], trans [T, 3] initial (weak perspective).
    Returns refined (rot [T, 3, 3], trans [T, 3]).
    """
    m = shape.astype(np.float64)
    p = points[..., :2].astype(np.float64) - np.array([cx, cy])
    r, t = rot.astype(np.float64).copy(), trans.astype(np.float64).copy()
    skew_m = _skew(m)
    eye = np.eye(3)
    for _ in range(iterations):
        y = np.einsum("tij,kj->tki", r, m) + t[:, None, :]  # [T, K, 3]
        z = y[..., 2:3]
        res = focal * y[..., :2] / z - p  # [T, K, 2]
        d_proj = np.zeros((*y.shape[:2], 2, 3))
        d_proj[..., 0, 0] = d_proj[..., 1, 1] = (focal / z)[..., 0]
        d_proj[..., :, 2] = -focal * y[..., :2] / z**2
        d_y = np.concatenate([-np.einsum("tij,kjl->tkil", r, skew_m), np.broadcast_to(eye, (*y.shape[:2], 3, 3))], -1)
        jac = np.einsum("tkab,tkbc->tkac", d_proj, d_y)  # [T, K, 2, 6]
        jtj = np.einsum("tkia,tkib->tab", jac, jac) + 1e-9 * np.eye(6)
        step = -np.linalg.solve(jtj, np.einsum("tkia,tki->ta", jac, res)[..., None])[..., 0]
        r = r @ Rotation.from_rotvec(step[:, :3]).as_matrix()
        t = t + step[:, 3:]
    return r, t


def _rigid_indices(shape: np.ndarray) -> np.ndarray:
    """Points above the subnasale (y smaller in the upright mean shape), minus eyes, brows, irises and lips."""
    exclude = set(EYE_INDICES) | set(LIP_INDICES) | set(range(468, 478))
    upper = np.flatnonzero(shape[:468, 1] < shape[SUBNASALE, 1])
    return np.array([i for i in upper if i not in exclude], dtype=np.int64)


def _mean_rotation(rot: np.ndarray) -> np.ndarray:
    """Chordal mean of rotations [T, 3, 3] -> [3, 3]."""
    u, _, vt = np.linalg.svd(rot.mean(axis=0))
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    return u @ d @ vt


def mean_shape(landmarks: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Iterative canonical mesh. landmarks [T, 478, 3] pixels; weights bool [T] frames to use -> (M [478, 3], rigid).

    At most MAX_SHAPE_FRAMES of the usable frames (evenly spaced) are averaged, so long videos cost no more.
    """
    chosen = np.flatnonzero(weights)
    chosen = chosen[np.linspace(0, len(chosen) - 1, min(len(chosen), MAX_SHAPE_FRAMES)).astype(int)]
    frames = landmarks[chosen].astype(np.float64)
    shape = frames[0] - frames[0].mean(axis=0)
    rigid = _rigid_indices(shape)
    for _ in range(ITERATIONS):
        s, r, q = umeyama(shape[rigid], frames[:, rigid])
        aligned = np.einsum("tji,tkj->tki", r, frames - q[:, None, :]) / s[:, None, None]
        shape = aligned.mean(axis=0)
        shape -= shape[rigid].mean(axis=0)
        shape *= float(np.mean(s))  # mean image scale 1
        shape = shape @ _mean_rotation(r).T  # mean rotation identity
        rigid = _rigid_indices(shape)
    return shape, rigid


def smooth_rotations(rot: np.ndarray, window: int) -> np.ndarray:
    """Zero-lag Savitzky-Golay smoothing of rotations [T, 3, 3] through sign-continuous quaternions."""
    if window < 3 or len(rot) <= window:
        return rot
    quat = Rotation.from_matrix(rot).as_quat()
    flip = np.cumprod(np.where(np.sum(quat[1:] * quat[:-1], axis=1) < 0, -1.0, 1.0))
    quat[1:] *= flip[:, None]
    quat = savgol_filter(quat, window + 1 - window % 2, 2, axis=0, mode="interp")
    return Rotation.from_quat(quat / np.linalg.norm(quat, axis=1, keepdims=True)).as_matrix()


def estimate_pose(
    landmarks: np.ndarray, detected: np.ndarray, focal: float, cx: float, cy: float, window: int = 0
) -> PoseResult:
    """Pose, canonical landmarks and mean shape from image landmarks [T, 478, 3] (NaN-free) and detected bool [T]."""
    lm = landmarks.astype(np.float64)
    use = detected if detected.any() else np.ones(len(lm), bool)
    shape, rigid = mean_shape(lm, use)
    cheek = float(np.linalg.norm(shape[CHEEKS[0]] - shape[CHEEKS[1]]))
    anchor = shape[list(ANCHOR_POINTS)].mean(axis=0) + np.array([0.0, 0.0, 0.5 * cheek])
    shape = shape - anchor
    s, rot, q = umeyama(shape[rigid], lm[:, rigid])
    s, rot, q = refine_in_image(shape[rigid], lm[:, rigid], s, rot, q)
    depth = focal / s
    trans = np.stack([(q[:, 0] - cx) * depth / focal, (q[:, 1] - cy) * depth / focal, depth], axis=1)
    if PERSPECTIVE:
        # The mean shape was built under weak perspective, where a point z nearer looks (f + z) / f times smaller.
        shape[:, :2] *= 1.0 + shape[:, 2:3] / focal
        rot, trans = refine_perspective(shape[rigid], lm[:, rigid], rot, trans, focal, cx, cy)
        depth = trans[:, 2]
        q = np.stack([focal * trans[:, 0] / depth + cx, focal * trans[:, 1] / depth + cy, q[:, 2]], axis=1)
    rot = smooth_rotations(rot, window)
    if window >= 3 and len(lm) > window:
        trans = savgol_filter(trans, window + 1 - window % 2, 2, axis=0, mode="interp")
        depth = trans[:, 2]
    pose = np.zeros((len(lm), 4, 4))
    pose[:, :3, :3], pose[:, :3, 3], pose[:, 3, 3] = rot, trans, 1.0
    # Canonical landmarks: unproject each point at its own depth Z = Z_t + (z - q_z) Z_t / f, then invert the pose.
    zeta = depth[:, None] * (1.0 + (lm[..., 2] - q[:, None, 2]) / focal)
    cam = np.stack([(lm[..., 0] - cx) * zeta / focal, (lm[..., 1] - cy) * zeta / focal, zeta], axis=-1)
    canonical = np.einsum("tji,tkj->tki", rot, cam - trans[:, None, :])
    return PoseResult(
        pose=pose.astype(np.float32),
        canonical=canonical.astype(np.float32),
        mean_shape=shape.astype(np.float32),
        scale=s.astype(np.float32),
        rigid=rigid,
    )
