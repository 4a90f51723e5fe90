"""The hard synthetic speaker's 3-D scene at rest: every surface as one vertex / triangle list with its texture
coordinates, normals, parsing label and motion group.

Vertex order: the 468 face-mesh vertices (index = landmark), the two eyeballs, the three mouth patches, the head
shell (front, back) — all rigid with the head, in head coordinates (canonical, as canonical.npy) — then the neck
(a blend of the head's and the torso's motion) and the torso (sways). `rest` holds head coordinates for all of
them: camera point at rest = rest + anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from talkzoo.datamodules.synthetic.camera import Camera
from talkzoo.datamodules.synthetic.face_fields import FaceFields
from talkzoo.datamodules.synthetic.face_mesh import face_triangles
from talkzoo.datamodules.synthetic.head_geometry import build_body
from talkzoo.datamodules.synthetic.mouth_eyes import eyeballs, mouth_patches
from talkzoo.datamodules.synthetic.portrait import HEAD, NECK, TORSO, build_portrait
from talkzoo.datamodules.synthetic.textures import Atlas, backdrop, build_atlas

# depth-test bias (fraction of the size) per part: eyeballs lie behind the eyelids' skin, the shell's ring under
# the face mesh's edge behind the face
EYE_BIAS, SHELL_BIAS = 0.01, 0.004
# anti-aliasing groups: a change of group between neighbouring pixels is a visible edge
GROUP_FACE, GROUP_EYE, GROUP_MOUTH, GROUP_NECK, GROUP_TORSO = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Scene:
    """Rest scene of one portrait (V vertices, F triangles).

    rest float64 [V, 3] head coordinates; uv float32 [V, 2] atlas pixels; normals float64 [V, 3] outward unit
    normals at rest (camera axes); triangles int64 [F, 3]; label uint8 [F] parsing label; group uint8 [F];
    bias float64 [F] depth-test bias; follow int64 [K] vertices that take landmark follow_src [K] of the frame's
    deformed canonical mesh; mouth (start, stop) vertex range, mouth_basis float64 [3, M, 2] rest-image
    displacement per unit (open, lift, width), mouth_scale float64 [M] = Z / focal at rest; head_count: vertices
    [0, head_count) are rigid with the head; neck, torso: (start, stop) ranges; neck_weight float64 [N].
    """

    size: int
    camera: Camera
    anchor: np.ndarray
    rest: np.ndarray
    uv: np.ndarray
    normals: np.ndarray
    triangles: np.ndarray
    label: np.ndarray
    group: np.ndarray
    bias: np.ndarray
    follow: np.ndarray
    follow_src: np.ndarray
    mouth: tuple[int, int]
    mouth_basis: np.ndarray
    mouth_scale: np.ndarray
    head_count: int
    neck: tuple[int, int]
    neck_weight: np.ndarray
    torso: tuple[int, int]
    atlas: Atlas
    plate: np.ndarray


def vertex_normals(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """float64 [V, 3] area-weighted unit normals of a camera-space mesh whose camera-facing triangles have positive
    image area: n = −(P1 − P0) × (P2 − P0), which points toward the camera for them."""
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    face = -np.cross(b - a, c - a)
    out = np.zeros_like(points)
    for k in range(3):
        np.add.at(out, triangles[:, k], face)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.where(norm > 0, out / np.maximum(norm, 1e-12), np.array([0.0, 0.0, -1.0]))


class _Builder:
    """Accumulates parts (vertices in camera space at rest) into one list."""

    def __init__(self) -> None:
        self.cam: list[np.ndarray] = []
        self.uv: list[np.ndarray] = []
        self.normals: list[np.ndarray] = []
        self.tris: list[np.ndarray] = []
        self.label: list[np.ndarray] = []
        self.group: list[np.ndarray] = []
        self.bias: list[np.ndarray] = []
        self.count = 0

    def add(self, cam: np.ndarray, uv: np.ndarray, tris: np.ndarray, label: int, group: int, bias: float) -> int:
        start = self.count
        self.cam.append(cam)
        self.uv.append(uv)
        self.normals.append(vertex_normals(cam, tris))
        self.tris.append(tris + start)
        self.label.append(np.full(len(tris), label, np.uint8))
        self.group.append(np.full(len(tris), group, np.uint8))
        self.bias.append(np.full(len(tris), bias))
        self.count += len(cam)
        return start


@lru_cache(maxsize=4)
def build_scene(size: int) -> Scene:
    """The rest scene at `size` × `size` (cached per size)."""
    portrait = build_portrait(size)
    cam = portrait.camera
    lm = portrait.landmarks
    fields = FaceFields.from_landmarks(lm, size)
    face_tri = face_triangles(lm)
    body = build_body(portrait, face_tri)
    atlas = build_atlas(portrait, body.face_polygon)

    def unproject(points: np.ndarray, z: np.ndarray) -> np.ndarray:
        return cam.unproject(points, cam.focal + z)

    rest_cam = cam.unproject(lm[:, :2], portrait.depth)  # [478, 3]
    b = _Builder()
    b.add(rest_cam[:468], atlas.uv("head", lm[:468, :2]), face_tri, HEAD, GROUP_FACE, 0.0)
    follow = [np.arange(468)]
    follow_src = [np.arange(468)]
    for eye in eyeballs(portrait):
        start = b.add(rest_cam[eye.landmarks], atlas.uv("head", lm[eye.landmarks, :2]), eye.triangles, HEAD,
                      GROUP_EYE, EYE_BIAS * size)  # fmt: skip
        follow.append(start + np.nonzero(eye.follows)[0])
        follow_src.append(eye.landmarks[eye.follows])
    mouth_start = b.count
    anchors, scales = [], []
    for part in mouth_patches(portrait, fields):
        uv = atlas.uv(part.tile, part.uv)
        b.add(unproject(part.points, part.z), uv, part.triangles, HEAD, GROUP_MOUTH, 0.0)
        anchors.append(part.anchors)
        scales.append((cam.focal + part.z) / cam.focal)
    mouth_stop = b.count
    b.add(unproject(body.front.points, body.front.z), atlas.uv("head", body.front.uv), body.front.triangles,
          HEAD, GROUP_FACE, SHELL_BIAS * size)  # fmt: skip
    b.add(unproject(body.back.points, body.back.z), atlas.uv("back", body.back.uv), body.back.triangles, HEAD,
          GROUP_FACE, 0.0)  # fmt: skip
    head_count = b.count
    neck_start = b.add(unproject(body.neck.points, body.neck.z), atlas.uv("neck", body.neck.uv),
                       body.neck.triangles, NECK, GROUP_NECK, 0.0)  # fmt: skip
    torso_start = b.add(unproject(body.torso.points, body.torso.z), atlas.uv("torso", body.torso.uv),
                        body.torso.triangles, TORSO, GROUP_TORSO, 0.0)  # fmt: skip

    mouth_basis = fields.basis(np.concatenate(anchors))[:3]
    return Scene(
        size=size,
        camera=cam,
        anchor=portrait.anchor,
        rest=np.concatenate(b.cam) - portrait.anchor,
        uv=np.concatenate(b.uv).astype(np.float32),
        normals=np.concatenate(b.normals),
        triangles=np.concatenate(b.tris),
        label=np.concatenate(b.label),
        group=np.concatenate(b.group),
        bias=np.concatenate(b.bias),
        follow=np.concatenate(follow),
        follow_src=np.concatenate(follow_src),
        mouth=(mouth_start, mouth_stop),
        mouth_basis=mouth_basis,
        mouth_scale=np.concatenate(scales),
        head_count=head_count,
        neck=(neck_start, torso_start),
        neck_weight=body.neck_weight,
        torso=(torso_start, b.count),
        atlas=atlas,
        plate=backdrop(size),
    )
