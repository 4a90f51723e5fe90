"""The rest pose at output size: photo, person matte and labels, background plate, 3D mesh and control points.

Everything here is computed once per (size) from the working-resolution detection (photo.detect_photo).
Pixel coordinates follow OpenCV's convention (pixel centres at integers) at every size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from talkzoo.datamodules.speaker import PARSING_LABELS
from talkzoo.datamodules.synthetic.camera import Camera
from talkzoo.datamodules.synthetic.mesh_indices import ANCHOR_POINTS, CHIN, FACE_OVAL
from talkzoo.datamodules.synthetic.photo import WORK_SIZE, cropped_photo, detect_photo

HEAD, NECK, TORSO = PARSING_LABELS["head"], PARSING_LABELS["neck"], PARSING_LABELS["torso"]
# Lower half of the face oval, image left to right (jaw line through the chin).
JAW_LINE = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
NECK_DEPTH_FRACTION = 0.35  # neck band height below the chin, as a fraction of the face height


@dataclass(frozen=True)
class Portrait:
    """The rest pose of the synthetic speaker at `size`.

    image uint8 [S, S, 3] RGB photo; alpha float32 [S, S] person matte; labels uint8 [S, S] (0 bg, 1 head,
    2 neck, 3 torso) of the person; plate uint8 [S, S, 3] background with the person inpainted.
    landmarks float64 [478, 3] rest landmarks (x, y pixels, z pixel units as MediaPipe); depth float64 [478]
    Z = f + z; anchor float64 [3] head origin in camera space (rest t); canonical float64 [478, 3] rest mesh in
    head coordinates. Control points (pixels [K, 2]): ring (hair / head outline, rigid with the head, at depth
    ring_depth [K], the depth of the nearest face-oval point), neck (blend of head and torso motion with weights
    neck_weight [K]), torso (sway), border (fixed unless on the torso).
    shoulders float64 [18, 2]: rest shoulder contours, 9 per side, image-left first.
    """

    size: int
    camera: Camera
    image: np.ndarray
    alpha: np.ndarray
    labels: np.ndarray
    plate: np.ndarray
    landmarks: np.ndarray
    depth: np.ndarray
    anchor: np.ndarray
    canonical: np.ndarray
    ring: np.ndarray
    ring_depth: np.ndarray
    neck: np.ndarray
    neck_weight: np.ndarray
    neck_depth: float
    torso: np.ndarray
    border: np.ndarray
    border_moves: np.ndarray
    shoulders: np.ndarray


def _scale_points(points: np.ndarray, scale: float) -> np.ndarray:
    """Working-resolution landmarks [N, 3] -> output size (pixel centres at integers; z scales with x)."""
    out = points.copy()
    out[:, :2] = (points[:, :2] + 0.5) * scale - 0.5
    out[:, 2] = points[:, 2] * scale
    return out


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """bool [S, S]: the largest 8-connected component of mask (drops segmentation specks)."""
    count, comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask.astype(bool)
    return comp == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _labels(alpha: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """uint8 [S, S] labels: head = person above the jaw line (hair included), neck = band below the chin."""
    size = alpha.shape[0]
    person = _largest_component(alpha > 0.5)
    jaw = lm[list(JAW_LINE), :2]
    order = np.argsort(jaw[:, 0])
    xs = np.arange(size, dtype=np.float64)
    face_h = lm[CHIN, 1] - lm[10, 1]
    boundary = np.interp(xs, jaw[order, 0], jaw[order, 1])
    outside = (xs < jaw[:, 0].min()) | (xs > jaw[:, 0].max())
    boundary[outside] = max(jaw[0, 1], jaw[-1, 1]) + 0.3 * face_h  # hair hanging beside the ears
    ys = np.arange(size, dtype=np.float64)[:, None]
    head = person & (ys < boundary[None, :])
    x_left, x_right = lm[172, 0], lm[397, 0]
    margin = 0.08 * (x_right - x_left)
    neck_band = (xs[None, :] > x_left + margin) & (xs[None, :] < x_right - margin)
    neck_band = neck_band & (ys < lm[CHIN, 1] + NECK_DEPTH_FRACTION * face_h)
    labels = np.zeros((size, size), np.uint8)
    labels[person] = TORSO
    labels[person & neck_band & ~head] = NECK
    labels[head] = HEAD
    return labels


def _plate(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Background plate: the person region inpainted (Telea at ≤128², upsampled, feathered into the photo)."""
    size = image.shape[0]
    radius = max(1, int(round(0.03 * size)))
    mask = cv2.dilate(
        (alpha > 0.05).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    )
    small = min(size, 128)
    img_s = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)
    mask_s = (cv2.resize(mask, (small, small), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    bgr = cv2.cvtColor(img_s, cv2.COLOR_RGB2BGR)
    filled = cv2.cvtColor(cv2.inpaint(bgr, mask_s, 5, cv2.INPAINT_TELEA), cv2.COLOR_BGR2RGB)
    filled = cv2.GaussianBlur(filled, (0, 0), 1.5 * small / 128)
    filled = cv2.resize(filled, (size, size), interpolation=cv2.INTER_CUBIC)
    weight = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), max(0.5, radius / 2))[..., None]
    weight = np.maximum(weight, mask[..., None].astype(np.float32))
    return np.clip(image * (1 - weight) + filled * weight, 0, 255).astype(np.uint8)


def _grid_points(mask: np.ndarray, step: float) -> np.ndarray:
    """[K, 2] pixel positions (x, y) on a regular grid of spacing `step` that fall inside mask."""
    size = mask.shape[0]
    coords = np.arange(step / 2, size, step)
    gx, gy = np.meshgrid(coords, coords)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    inside = mask[np.clip(pts[:, 1].astype(int), 0, size - 1), np.clip(pts[:, 0].astype(int), 0, size - 1)]
    return pts[inside]


def _contour_points(mask: np.ndarray, count: int, push: float, center: np.ndarray) -> np.ndarray:
    """[count, 2] points evenly along the outer contour of mask, pushed `push` px away from center."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float64)
    seg = np.linalg.norm(np.diff(contour, axis=0, append=contour[:1]), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])[:-1]
    targets = np.linspace(0.0, arc[-1] + seg[-1], count, endpoint=False)
    pts = np.stack([np.interp(targets, arc, contour[:, 0]), np.interp(targets, arc, contour[:, 1])], axis=1)
    direction = pts - center
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-9)
    return pts + push * direction


def _shoulders(labels: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """[18, 2] rest shoulder contours: top edge of the torso, 9 points per side (image-left side first, by x)."""
    size = labels.shape[0]
    torso = labels == TORSO
    has = torso.any(axis=0)
    top = np.where(has, torso.argmax(axis=0), size - 1).astype(np.float64)
    cols = np.nonzero(has)[0]
    left_end, right_end = (cols.min(), cols.max()) if len(cols) else (0, size - 1)
    neck_l, neck_r = lm[172, 0], lm[397, 0]
    margin = 0.04 * size
    sides = [np.linspace(left_end + margin, neck_l - margin, 9), np.linspace(neck_r + margin, right_end - margin, 9)]
    xs = np.concatenate(sides)
    ys = np.interp(xs, np.arange(size), top)
    return np.stack([xs, ys], axis=1)


def _nearest_oval_z(points: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """[K] z of the face-oval landmark nearest to each point [K, 2] (hair moves like the face edge beside it)."""
    oval = lm[list(FACE_OVAL)]
    d2 = ((points[:, None, :] - oval[None, :, :2]) ** 2).sum(-1)
    return oval[d2.argmin(axis=1), 2]


@lru_cache(maxsize=4)
def build_portrait(size: int) -> Portrait:
    """The rest pose at `size` × `size` (cached per size)."""
    det = detect_photo()
    scale = size / WORK_SIZE
    camera = Camera(size)
    image = cropped_photo(size)
    alpha = cv2.resize(det.matte, (size, size), interpolation=cv2.INTER_LINEAR)
    lm = _scale_points(det.landmarks, scale)
    labels = _labels(alpha, lm)
    alpha = np.where((labels == 0) & (alpha >= 0.5), 0.0, np.clip(alpha, 0.0, 1.0)).astype(np.float32)
    plate = _plate(image, alpha)

    depth = camera.focal + lm[:, 2]
    cam_points = camera.unproject(lm[:, :2], depth)
    cheek_span = np.linalg.norm(cam_points[ANCHOR_POINTS[0]] - cam_points[ANCHOR_POINTS[1]])
    anchor = cam_points[list(ANCHOR_POINTS)].mean(axis=0) + np.array([0.0, 0.0, 0.5 * cheek_span])
    canonical = cam_points - anchor

    face_center = lm[list(FACE_OVAL), :2].mean(axis=0)
    head_mask = labels == HEAD
    ring = _contour_points(head_mask, 48, 0.03 * size, face_center)
    hull = cv2.convexHull(lm[list(FACE_OVAL), :2].astype(np.float32)).astype(np.int32)
    face_mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(face_mask, hull, 1)
    face_mask = cv2.dilate(face_mask, np.ones((3, 3), np.uint8), iterations=max(1, int(0.03 * size)))
    hair = _grid_points(head_mask & (face_mask == 0), size / 12)
    ring = np.concatenate([ring, hair])

    face_h = lm[CHIN, 1] - lm[10, 1]
    chin_y = lm[CHIN, 1]
    neck = _grid_points(labels == NECK, size / 16)
    neck = neck[neck[:, 1] > chin_y + 0.04 * face_h] if len(neck) else neck
    neck_weight = 0.7 * (1.0 - _smoothstep((neck[:, 1] - chin_y) / (NECK_DEPTH_FRACTION * face_h)))
    torso_pts = _grid_points(labels == TORSO, size / 8)
    shoulders = _shoulders(labels, lm)
    torso_pts = np.concatenate([torso_pts, shoulders]) if len(torso_pts) else shoulders

    ticks = np.linspace(0, size - 1, 9)
    border = np.unique(
        np.concatenate(
            [np.stack([ticks, np.zeros(9)], 1), np.stack([ticks, np.full(9, size - 1.0)], 1),
             np.stack([np.zeros(9), ticks], 1), np.stack([np.full(9, size - 1.0), ticks], 1)]
        ),
        axis=0,
    )  # fmt: skip
    bl = labels[border[:, 1].astype(int), border[:, 0].astype(int)]
    return Portrait(
        size=size,
        camera=camera,
        image=image,
        alpha=alpha,
        labels=labels,
        plate=plate,
        landmarks=lm,
        depth=depth,
        anchor=anchor,
        canonical=canonical,
        ring=ring,
        ring_depth=camera.focal + _nearest_oval_z(ring, lm),
        neck=neck,
        neck_weight=neck_weight,
        neck_depth=camera.focal + float(lm[CHIN, 2]),
        torso=torso_pts,
        border=border,
        border_moves=bl == TORSO,
        shoulders=shoulders,
    )
