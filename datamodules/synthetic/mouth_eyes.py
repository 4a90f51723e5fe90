"""Eyeballs and the inside of the mouth of the hard synthetic speaker (rest geometry).

The face mesh has holes at the eyes and between the inner lips. Behind each eye hole sits an eyeball patch: the
eye's 16 contour landmarks at their rest positions (they do not follow the eyelids) plus its 5 iris landmarks
(which do), textured with the photo's eye, drawn behind the lids (a depth bias), so a blink slides the upper lid's
skin over it. Behind the mouth sit three patches in the mouth's own frame (a along the corners, v down; lengths
in units of the mouth's half width hw), each recessed behind the lips:

- the upper teeth: the photo between the inner lips (the astronaut smiles with her upper teeth showing), from just
  above the upper inner lip to just above the lower one, moving with the upper lip's inner edge; at rest the
  mouth therefore looks exactly like the photo;
- the lower teeth (procedural), moving with the lower inner lip and reaching 0.1 hw above it, behind the upper
  teeth;
- a dark back wall (palate, throat, tongue) whose rows follow the face field at their rest positions, so the
  rows at the lower inner lip's band stretch as the mouth opens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import Delaunay

from talkzoo.datamodules.synthetic.face_fields import FaceFields
from talkzoo.datamodules.synthetic.face_mesh import eye_loops
from talkzoo.datamodules.synthetic.mesh_indices import LOWER_INNER_LIP, UPPER_INNER_LIP
from talkzoo.datamodules.synthetic.portrait import Portrait

IRISES = (tuple(range(468, 473)), tuple(range(473, 478)))


@dataclass(frozen=True)
class Eyeball:
    """landmarks int64 [K]: the landmark each vertex copies; follows bool [K]: True for the iris vertices (they
    take the frame's deformed landmark), False for the contour (rest position); triangles int64 [F, 3] local."""

    landmarks: np.ndarray
    follows: np.ndarray
    triangles: np.ndarray


@dataclass(frozen=True)
class MouthPatch:
    """points float64 [N, 2] rest pixels; z float64 [N]; triangles int64 [F, 3] local; uv float64 [N, 2] pixels
    of a size × size tile of the atlas named `tile`; anchors float64 [N, 2]: the rest point whose face-field
    displacement each vertex takes."""

    tile: str
    points: np.ndarray
    z: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray
    anchors: np.ndarray


def _inside(polygon: np.ndarray, point: np.ndarray) -> bool:
    """Even-odd rule: is point [2] inside polygon [K, 2]?"""
    x, y = point
    inside = False
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def _oriented(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Triangles [F, 3] all flipped together so that most have positive image area (a fold stays back-facing)."""
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    return triangles if (area > 0).sum() >= (area < 0).sum() else triangles[:, [0, 2, 1]]


def eyeballs(portrait: Portrait) -> tuple[Eyeball, Eyeball]:
    """The two eyeball patches (image-left eye first)."""
    lm = portrait.landmarks[:, :2]
    out = []
    for loop in eye_loops():
        iris = next(ids for ids in IRISES if _inside(lm[list(loop)], lm[ids[0]]))
        ids = np.array(list(loop) + list(iris), dtype=np.int64)
        tri = _oriented(lm[ids], Delaunay(lm[ids]).simplices.astype(np.int64))
        follows = np.array([False] * len(loop) + [True] * len(iris))
        out.append(Eyeball(ids, follows, tri))
    return out[0], out[1]


def _grid(a: np.ndarray, rows: int) -> np.ndarray:
    """Triangles of a rows × len(a) vertex grid (row-major), positive area for a right-handed (a, v) frame."""
    cols = len(a)
    tris = []
    for r in range(rows - 1):
        for c in range(cols - 1):
            i = r * cols + c
            tris += [(i, i + 1, i + cols + 1), (i, i + cols + 1, i + cols)]
    return np.array(tris, dtype=np.int64)


def mouth_patches(portrait: Portrait, fields: FaceFields) -> tuple[MouthPatch, MouthPatch, MouthPatch]:
    """(back wall, upper teeth, lower teeth) behind the mouth of one portrait."""
    size = portrait.size
    lm = portrait.landmarks
    origin, e_a, e_v = fields.mouth_origin, fields.mouth_a, fields.mouth_v
    hw, a_in = fields.half_width, fields.inner_half_width
    knots_a, knots_v = fields.lower_knots
    upper_rel = lm[list(UPPER_INNER_LIP), :2] - origin
    upper_a, upper_v = upper_rel @ e_a, upper_rel @ e_v
    up_order = np.argsort(upper_a)
    lip_rel = lm[list(LOWER_INNER_LIP), :2] - origin
    lip_a, lip_z = lip_rel @ e_a, lm[list(LOWER_INNER_LIP), 2]
    order = np.argsort(lip_a)
    above_band = fields.band * 1.01 + 1e-6

    def patch(a_span: float, rows_of, anchor: str, recess: float, tile_rows: tuple[float, float] | None) -> MouthPatch:
        """rows_of(v_up, v_lo) -> the rows' v (arrays over a), from the upper / lower inner lip's v; anchor: "self"
        (the face field at the vertex), "upper" or "lower" (that lip's inner edge); tile_rows: rows of the mouth
        tile, or None for the photo at the rest position."""
        a = np.linspace(-a_span, a_span, 2 * int(np.ceil(a_span / (0.2 * hw))) + 1)
        v_lo = np.interp(a, knots_a, knots_v)
        v_up = np.minimum(np.interp(a, upper_a[up_order], upper_v[up_order]), v_lo)
        v_rows = rows_of(v_up, v_lo)
        rows = len(v_rows)
        aa = np.tile(a, rows)
        vv = np.concatenate(v_rows)
        anchor_v = {"self": vv, "upper": np.tile(v_lo - above_band, rows), "lower": np.tile(v_lo, rows)}[anchor]
        points = origin + aa[:, None] * e_a + vv[:, None] * e_v
        anchors = origin + aa[:, None] * e_a + anchor_v[:, None] * e_v
        z = np.interp(aa, lip_a[order], lip_z[order]) + recess
        if tile_rows is None:
            tile, uv = "head", points
        else:
            u = (aa / a_span * 0.45 + 0.5) * size
            t0, t1 = tile_rows
            v = (t0 + (t1 - t0) * np.repeat(np.linspace(0.05, 0.95, rows), len(a))) * size
            tile, uv = "mouth", np.stack([u, v], axis=1)
        tri = _oriented(points, _grid(a, rows))
        return MouthPatch(tile, points, z, tri, uv, anchors)

    def wall_rows(v_up: np.ndarray, v_lo: np.ndarray) -> list[np.ndarray]:
        return (
            [v_lo + f * hw for f in (-0.6, -0.3, -0.12)]
            + [v_lo - above_band]
            + [v_lo + f * hw for f in (0.0, 0.12, 0.3, 0.6)]
        )

    def upper_rows(v_up: np.ndarray, v_lo: np.ndarray) -> list[np.ndarray]:
        gap = np.maximum(v_lo - 0.03 * hw - v_up, 0.0)
        return [v_up - 0.15 * hw, v_up, v_up + 0.5 * gap, v_up + gap]

    def lower_rows(v_up: np.ndarray, v_lo: np.ndarray) -> list[np.ndarray]:
        return [v_lo + f * hw for f in (-0.1, 0.1, 0.3)]

    wall = patch(1.25 * a_in, wall_rows, "self", 0.8 * hw, (0.0, 0.5))
    upper = patch(1.05 * a_in, upper_rows, "upper", 0.25 * hw, None)
    lower = patch(0.75 * a_in, lower_rows, "lower", 0.3 * hw, (0.75, 1.0))
    return wall, upper, lower
