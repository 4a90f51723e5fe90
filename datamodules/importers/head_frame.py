"""Where the face sits in an imported head frame, and the speaker format's units for imported poses.

An imported pose (head → camera, OpenCV axes) comes with its own head origin and units: for ER-NeRF, the centroid
of the 3DMM's mean face mesh, in metres. The speaker format measures lengths in "pixels at the focal distance":
`talkzoo preprocess` puts its head origin (MODA's anchor, the mean of landmarks 50, 280, 168, pushed half a cheek
span into the head) at a mean image scale of 1, i.e. at the harmonic-mean depth `focal` (docs/preprocessing.md,
"Camera and pose"). The importer keeps the tracker's origin and rotation and only rescales: it finds the anchor A
in the imported head frame (`locate_anchor`), puts the format's origin O = A + (0, 0, cheek / 2) at the
harmonic-mean depth `focal` (`unit_scale`), and unprojects the landmarks at their depth relative to the anchor
(`canonical_landmarks`), not at the origin's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkzoo.datamodules.preprocess.pose import ANCHOR_POINTS, CHEEKS

ANCHOR_ITERATIONS = 3  # the cheek span's depth depends on the anchor's depth: a few fixed-point passes


@dataclass(frozen=True)
class Anchor:
    """position float64 [3]: the anchor in the head frame (the pose's units); half_cheek: half the 3-D distance of
    landmarks 50 and 280 in the same units; rms_px: the anchor's reprojection error (pixels, RMS over frames)."""

    position: np.ndarray
    half_cheek: float
    rms_px: float


def _anchor_pixels(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """landmarks [T, 478, 3] → anchor pixels [T, 2], anchor MediaPipe z [T], cheek span in pixels [T]."""
    anchor = landmarks[:, list(ANCHOR_POINTS)].mean(axis=1)
    cheek = np.linalg.norm(landmarks[:, CHEEKS[0]] - landmarks[:, CHEEKS[1]], axis=-1)
    return anchor[:, :2], anchor[:, 2], cheek


def locate_anchor(pose: np.ndarray, landmarks: np.ndarray, focal: float, cx: float, cy: float) -> Anchor:
    """The anchor's head-frame position from its pixels in every frame. pose [T, 4, 4] head → camera (OpenCV axes,
    any units); landmarks [T, 478, 3] MediaPipe pixels (x, y, z with z scaled like x).

    Least squares on f (R a + t)_xy − (u − c)(R a + t)_z = 0 per frame (divided by t_z: pixel residuals). Across
    head rotations this fixes all of a; along the viewing ray of a head that never turns it cannot, so one prior
    row a_z = −cheek / 2 (± cheek / 2: the format's own origin convention) settles that direction and is outweighed
    by a few degrees of head rotation.
    """
    pose = pose.astype(np.float64)
    rot, trans = pose[:, :3, :3], pose[:, :3, 3]
    pixels, _, cheek_px = _anchor_pixels(landmarks.astype(np.float64))
    centred = pixels - np.array([cx, cy])
    depth = trans[:, 2]
    rows, rhs = [], []
    for axis in (0, 1):
        u = centred[:, axis : axis + 1]
        rows.append((focal * rot[:, axis] - u * rot[:, 2]) / depth[:, None])
        rhs.append((u[:, 0] * trans[:, 2] - focal * trans[:, axis]) / depth)
    data_rows, data_rhs = np.concatenate(rows), np.concatenate(rhs)
    position = np.zeros(3)
    half_cheek = float(np.mean(cheek_px * depth / focal)) / 2
    for _ in range(ANCHOR_ITERATIONS):
        prior = np.array([[0.0, 0.0, 1.0 / half_cheek]])
        a = np.concatenate([data_rows, prior])
        b = np.concatenate([data_rhs, [-1.0]])
        position = np.linalg.lstsq(a, b, rcond=None)[0]
        anchor_depth = np.einsum("tj,j->t", rot[:, 2], position) + depth
        half_cheek = float(np.mean(cheek_px * anchor_depth / focal)) / 2
    rms = float(np.sqrt(np.mean((data_rows @ position - data_rhs) ** 2)))
    return Anchor(position=position, half_cheek=half_cheek, rms_px=rms)


def unit_scale(pose: np.ndarray, anchor: Anchor, focal: float) -> float:
    """k such that k · (the pose's lengths) is in the format's units: the format's origin O = anchor + (0, 0,
    cheek / 2) (head frame) at the harmonic-mean depth `focal`, i.e. a mean image scale of 1 as `preprocess`."""
    origin = anchor.position + np.array([0.0, 0.0, anchor.half_cheek])
    depth = np.einsum("tj,j->t", pose[:, 2, :3].astype(np.float64), origin) + pose[:, 2, 3]
    return float(focal * np.mean(1.0 / depth))


def canonical_landmarks(
    landmarks: np.ndarray, pose: np.ndarray, anchor: Anchor, focal: float, cx: float, cy: float
) -> np.ndarray:
    """float32 [T, 478, 3] landmarks in the head frame: each point unprojected at the anchor's depth Z_a (from the
    pose) plus its MediaPipe depth relative to the anchor, Z = Z_a (1 + (z − z_a) / f), then the pose inverted.
    landmarks [T, 478, 3] pixels; pose [T, 4, 4] in the units of `anchor`."""
    lm, pose = landmarks.astype(np.float64), pose.astype(np.float64)
    rot, trans = pose[:, :3, :3], pose[:, :3, 3]
    _, anchor_z, _ = _anchor_pixels(lm)
    anchor_depth = np.einsum("tj,j->t", rot[:, 2], anchor.position) + trans[:, 2]
    zeta = anchor_depth[:, None] * (1.0 + (lm[..., 2] - anchor_z[:, None]) / focal)
    cam = np.stack([(lm[..., 0] - cx) * zeta / focal, (lm[..., 1] - cy) * zeta / focal, zeta], axis=-1)
    return np.einsum("tji,tkj->tki", rot, cam - trans[:, None, :]).astype(np.float32)
