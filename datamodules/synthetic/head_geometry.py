"""Rest geometry of the hard synthetic speaker outside the face mesh: head shell, neck and torso surfaces.

Every surface is a triangulated region of the rest image (pixels at the output size) with a depth z per vertex
(the face mesh's convention: camera Z = focal + z, z in pixels). Regions come from the portrait's labels:

- head shell: a "pillow" over the head label (hair, ears, the face). Its front leaves out the face (less an
  overlap ring under the face mesh's edge) and follows the face's depth near it, a blurred nearest-face-edge
  depth further out, and curves back to the silhouette depth (the ears' depth) along a quarter ellipse within
  ROUND · size of the silhouette (the outline against the background; along the jaw, where the head meets the
  neck, it does not curve away). The back bulges behind the silhouette by BACK_DEPTH × the head's width, so a
  turned head shows hair around its side, not a hole or a card's edge; under the jaw the neck closes it.
- neck: the neck label plus its continuation up under the jaw (hidden at rest; shows when the chin rises),
  a half cylinder pushed behind the face where the two overlap.
- torso: the torso label plus the neck's region (behind the neck), extended past the image border (it sways),
  a shallow cylinder behind the neck.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from talkzoo.datamodules.synthetic.mesh_indices import CHIN, FACE_OVAL
from talkzoo.datamodules.synthetic.portrait import HEAD, NECK, NECK_DEPTH_FRACTION, TORSO, Portrait
from talkzoo.datamodules.synthetic.rasterize import rasterize

ROUND = 0.12  # silhouette rounding radius of the head shell, fraction of the size
BACK_DEPTH = 0.45  # how far the back of the head bulges behind the silhouette, fraction of the head's width
OVERLAP = 0.012  # width of the shell ring under the face mesh's edge, fraction of the size
BORDER = 0.08  # the torso continues this far past the image border (fraction of the size)


@dataclass(frozen=True)
class Surface:
    """A triangulated region: points float64 [N, 2] rest pixels, z float64 [N], triangles int64 [F, 3] with
    positive signed area in the image (camera-facing), or negative for a surface seen from behind (the back);
    uv float64 [N, 2]: where each vertex samples its texture tile (rest pixels)."""

    points: np.ndarray
    z: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray


@dataclass(frozen=True)
class BodyGeometry:
    """Head shell front / back, neck (with neck_weight [N]: share of the head's motion) and torso."""

    front: Surface
    back: Surface
    neck: Surface
    neck_weight: np.ndarray
    torso: Surface
    face_polygon: np.ndarray  # uint8 [S, S] 1 inside the face oval


# ---- triangulation -------------------------------------------------------------------------------------------
def _resample(contour: np.ndarray, spacing: float) -> np.ndarray:
    """[K, 2] points every `spacing` px along a closed contour [M, 2]."""
    closed = np.concatenate([contour, contour[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    count = max(3, int(round(arc[-1] / spacing)))
    t = np.linspace(0.0, arc[-1], count, endpoint=False)
    return np.stack([np.interp(t, arc, closed[:, 0]), np.interp(t, arc, closed[:, 1])], axis=1)


def _contour_points(mask: np.ndarray, spacing: float, min_length: float) -> np.ndarray:
    """[K, 2] points along every contour (outer and holes) of mask, `spacing` apart, offset (−pad) applied later."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    out = [_resample(c[:, 0, :].astype(np.float64), spacing) for c in contours if len(c) >= min_length]
    return np.concatenate(out) if out else np.zeros((0, 2))


def triangulate_mask(mask: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate a binary mask: (points float64 [N, 2] pixel coordinates, triangles int64 [F, 3], positive area).

    Points: the outline (spacing step/2), two inner rings (at step/3 and step from the outline, for the rounded
    silhouette) and a grid of spacing `step` inside; Delaunay, keeping triangles whose centroid lies in the mask
    and whose edges are shorter than 2.5 steps (no bridges across concave gaps).
    """
    mask = mask.astype(np.uint8)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    parts = [_contour_points(mask, step / 2, 3)]
    for level in (step / 3, step):
        parts.append(_contour_points((dist > level).astype(np.uint8), step / 1.5, 6))
    coords = np.arange(step / 2, max(mask.shape), step)
    gx, gy = np.meshgrid(coords[coords < mask.shape[1]], coords[coords < mask.shape[0]])
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    inside = dist[grid[:, 1].astype(int), grid[:, 0].astype(int)] > 1.6 * step
    parts.append(grid[inside])
    points = np.unique(np.round(np.concatenate(parts), 3), axis=0)
    tri = Delaunay(points).simplices.astype(np.int64)
    a, b, c = points[tri[:, 0]], points[tri[:, 1]], points[tri[:, 2]]
    centre = np.round((a + b + c) / 3).astype(int)
    centre[:, 0] = np.clip(centre[:, 0], 0, mask.shape[1] - 1)
    centre[:, 1] = np.clip(centre[:, 1], 0, mask.shape[0] - 1)
    longest = np.max(np.stack([np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1),
                               np.linalg.norm(a - c, axis=1)]), axis=0)  # fmt: skip
    tri = tri[(mask[centre[:, 1], centre[:, 0]] > 0) & (longest < 2.5 * step)]
    a, b, c = points[tri[:, 0]], points[tri[:, 1]], points[tri[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    tri[area < 0] = tri[area < 0][:, [0, 2, 1]]
    used = np.unique(tri)
    remap = np.full(len(points), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return points[used], remap[tri]


def _sample(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples [N] of a float map [H, W] at pixel points [N, 2] (clamped at the border)."""
    xs = points[:, 0].astype(np.float32).reshape(-1, 1)
    ys = points[:, 1].astype(np.float32).reshape(-1, 1)
    out = cv2.remap(field.astype(np.float32), xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1).astype(np.float64)


def _unrolled(mask: np.ndarray, points: np.ndarray, behind: np.ndarray) -> np.ndarray:
    """[N, 2] texture positions for the back of the head: each point's nearest outline point, moved inward by the
    chord from the silhouette to the point (in-plane distance and depth behind the silhouette, `behind` [N]), so
    the back unrolls onto the hair around the outline instead of stretching the outline's colours."""
    _, nearest = cv2.distanceTransformWithLabels(mask, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(mask == 0)  # label k is the k-th outside pixel in raster order
    col = np.clip(np.round(points[:, 0]).astype(int), 0, mask.shape[1] - 1)
    row = np.clip(np.round(points[:, 1]).astype(int), 0, mask.shape[0] - 1)
    label = nearest[row, col] - 1
    outside = np.stack([xs[label], ys[label]], axis=1).astype(np.float64)
    offset = points - outside
    length = np.linalg.norm(offset, axis=1)
    direction = offset / np.maximum(length, 1e-9)[:, None]
    in_plane = np.maximum(length - 1.0, 0.0)
    chord = np.sqrt(in_plane**2 + np.maximum(behind, 0.0) ** 2)
    return outside + direction * (1.0 + chord)[:, None]


# ---- depth fields ----------------------------------------------------------------------------------------------
def face_depth_map(portrait: Portrait, triangles: np.ndarray, shape: tuple[int, int], offset: float) -> np.ndarray:
    """float32 [H, W]: the rest face mesh's z where it covers a pixel, NaN elsewhere (canvas shifted by offset)."""
    lm = portrait.landmarks[:468]
    raster = rasterize(lm[:, :2] + offset, portrait.depth[:468], triangles, shape)
    z = lm[:, 2][triangles[np.maximum(raster.triangle, 0)]]  # [H, W, 3]
    out = (z * raster.bary).sum(-1).astype(np.float32)
    out[~raster.covered] = np.nan
    return out


def _smooth_edge_depth(portrait: Portrait, shape: tuple[int, int], offset: float) -> np.ndarray:
    """float32 [H, W]: the z of the nearest face-oval landmark, blurred (σ = 5% of the size)."""
    oval = portrait.landmarks[list(FACE_OVAL)]
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    best = np.full(shape, np.inf, dtype=np.float32)
    out = np.zeros(shape, dtype=np.float32)
    for x, y, z in oval:
        d2 = (xs - (x + offset)) ** 2 + (ys - (y + offset)) ** 2
        closer = d2 < best
        best[closer] = d2[closer]
        out[closer] = z
    return cv2.GaussianBlur(out, (0, 0), 0.05 * portrait.size)


def main_torso(labels: np.ndarray) -> np.ndarray:
    """bool mask of the largest connected part of the torso label."""
    count, comp, stats, _ = cv2.connectedComponentsWithStats((labels == TORSO).astype(np.uint8), connectivity=8)
    if count <= 1:
        return labels == TORSO
    return comp == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _quarter_ellipse(s: np.ndarray) -> np.ndarray:
    """Profile of a rounded edge: 0 at s = 0 (vertical tangent), 1 at s ≥ 1 (flat)."""
    s = np.clip(s, 0.0, 1.0)
    return np.sqrt(1.0 - (1.0 - s) ** 2)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


# ---- assembly --------------------------------------------------------------------------------------------------
def build_body(portrait: Portrait, face_triangles: np.ndarray) -> BodyGeometry:
    """Head shell, neck and torso surfaces of one portrait (see the module docstring)."""
    size = portrait.size
    lm = portrait.landmarks
    pad = int(np.ceil(BORDER * size))
    canvas = (size + 2 * pad, size + 2 * pad)
    labels = cv2.copyMakeBorder(portrait.labels, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    step = max(2.0, size / 48)

    face_poly = np.zeros(canvas, np.uint8)
    cv2.fillPoly(face_poly, [np.round((lm[list(FACE_OVAL), :2] + pad) * 16).astype(np.int32)], 1, shift=4)
    head = (labels == HEAD) | (face_poly > 0)
    head_u8 = head.astype(np.uint8)
    # distance from the silhouette: the outline where the head meets the background (the outline's own pixels, where
    # contour points sit, at 0); where it meets the neck or the torso (the jaw) the head does not curve away
    body = head | (labels == NECK) | main_torso(labels)
    dist_head = np.maximum(cv2.distanceTransform(body.astype(np.uint8), cv2.DIST_L2, 5) - 1.0, 0.0)
    inside_face = cv2.distanceTransform(face_poly, cv2.DIST_L2, 5)
    margin = max(1.5, OVERLAP * size)

    # front depth: face depth (in the overlap ring, a little behind it), blurred edge depth outside
    face_z = face_depth_map(portrait, face_triangles, canvas, pad)
    edge_z = _smooth_edge_depth(portrait, canvas, pad)
    base = np.where(np.isfinite(face_z), face_z, edge_z)
    recess = 0.01 * size * _smoothstep(inside_face / margin)
    z_sil = float(lm[[234, 454], 2].mean()) + 0.01 * size  # silhouette depth: the ears
    rho = ROUND * size
    front_z = z_sil - (z_sil - base) * _quarter_ellipse(dist_head / rho) + recess
    front_mask = head & (inside_face <= margin)
    front_pts, front_tri = triangulate_mask(front_mask, step)
    front = Surface(front_pts - pad, _sample(front_z, front_pts), front_tri, front_pts - pad)

    # back: the whole head outline, bulging backwards; reversed triangles (it faces away at rest)
    cols = np.nonzero(head.any(axis=0))[0]
    width = float(cols.max() - cols.min() + 1) if len(cols) else 0.5 * size
    back_z = z_sil + BACK_DEPTH * width * _quarter_ellipse(dist_head / (0.25 * width))
    back_pts, back_tri = triangulate_mask(head_u8, step)
    back_zs = _sample(back_z, back_pts)
    back_uv = _unrolled(head_u8, back_pts, back_zs - z_sil)
    back = Surface(back_pts - pad, back_zs, back_tri[:, [0, 2, 1]], back_uv - pad)

    # neck: its label plus the band under the jaw up to the mouth corners, behind the face there
    x_left, x_right = lm[172, 0] + pad, lm[397, 0] + pad
    band_margin = 0.08 * (x_right - x_left)
    ys, xs = np.mgrid[0 : canvas[0], 0 : canvas[1]].astype(np.float64)
    band = (xs > x_left + band_margin) & (xs < x_right - band_margin)
    neck_rows = np.nonzero((labels == NECK).any(axis=1))[0]
    neck_bottom = float(neck_rows.max()) if len(neck_rows) else lm[CHIN, 1] + pad + 0.1 * size
    mouth_y = float(lm[[61, 291], 1].mean()) + pad
    neck_mask = (labels == NECK) | (band & (ys >= mouth_y) & (ys <= neck_bottom) & (labels != 0))
    centre, half = 0.5 * (x_left + x_right), 0.5 * (x_right - x_left) - band_margin
    u = np.clip((xs - centre) / max(half, 1.0), -1.0, 1.0)
    neck_z = z_sil - 0.8 * half * np.sqrt(1.0 - u**2)
    head_front = np.where(head, front_z - recess, -np.inf)
    neck_z = np.maximum(neck_z, head_front + 0.02 * size)  # under the head: behind it
    neck_pts, neck_tri = triangulate_mask(neck_mask, step)
    face_h = lm[CHIN, 1] - lm[10, 1]
    chin_y = lm[CHIN, 1] + pad
    neck_weight = 0.7 * (1.0 - _smoothstep((neck_pts[:, 1] - chin_y) / (NECK_DEPTH_FRACTION * face_h)))
    neck = Surface(neck_pts - pad, _sample(neck_z, neck_pts), neck_tri, neck_pts - pad)

    # torso: its label's main part (specks between the hair and the jaw are the photo's background) plus the
    # neck's region (behind the neck), past the image border
    torso_mask = main_torso(labels) | (band & (ys >= mouth_y) & (labels != 0))
    tu = np.clip((xs - centre) / (0.55 * size), -1.0, 1.0)
    torso_z = z_sil + 0.1 * size - 0.08 * size * np.sqrt(1.0 - tu**2)
    torso_z = np.where(neck_mask, np.maximum(torso_z, neck_z + 0.03 * size), torso_z)
    torso_z = cv2.GaussianBlur(torso_z.astype(np.float32), (0, 0), 0.03 * size)
    torso_pts, torso_tri = triangulate_mask(torso_mask, 1.5 * step)
    torso = Surface(torso_pts - pad, _sample(torso_z, torso_pts), torso_tri, torso_pts - pad)
    return BodyGeometry(front, back, neck, neck_weight, torso, face_poly[pad:-pad, pad:-pad])
