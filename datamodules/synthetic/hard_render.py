"""Pixels of the hard synthetic speaker: the rest scene (scene.py) posed, z-buffered, textured, shaded, noisy.

Per frame: the face-mesh vertices take the frame's exact deformed canonical landmarks (so landmarks.npy are the
rendered mesh's own vertices), the mouth patches the face field's mouth displacement, everything rigid with the
head goes through pose.npy, the neck blends the head's and the torso's motion, the torso sways. One z-buffer pass
(rasterize.py) gives the visible triangle and barycentrics per pixel; texture coordinates and a Lambertian shading
ratio are interpolated from the vertices, the atlas is sampled with one cv2.remap, pixels nothing covers show the
background plate. Edges between parts are smoothed (3×3 box) as a camera's optics would; then sensor noise.

Shading: the photo already holds the studio's lighting (taken as light REST_LIGHT), so each vertex's colour is
scaled by (KA + KD·max(0, n·l)) / (KA + KD·max(0, n₀·REST_LIGHT)), n the posed normal, n₀ the rest normal, l the
frame's light: 1 at the rest pose under the rest light.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkzoo.datamodules.synthetic.face_fields import FaceFields
from talkzoo.datamodules.synthetic.portrait import NECK, TORSO, Portrait
from talkzoo.datamodules.synthetic.rasterize import Raster, rasterize
from talkzoo.datamodules.synthetic.render import FrameParams, FrameTruth, TruthModel
from talkzoo.datamodules.synthetic.scene import Scene, build_scene

KA, KD = 0.5, 0.5  # ambient and diffuse shares
REST_LIGHT = np.array([-0.25, -0.35, -1.0]) / np.linalg.norm([-0.25, -0.35, -1.0])  # toward the light, camera axes
SHADE_RANGE = (0.65, 1.35)
NOISE_READ, NOISE_SHOT = 2.0, 0.02  # sensor noise σ² = READ² + SHOT · intensity (8-bit levels)


@dataclass(frozen=True)
class Posed:
    """One frame's geometry: camera points float64 [V, 3], unit normals float64 [V, 3], pixels float64 [V, 2]."""

    camera: np.ndarray
    normals: np.ndarray
    pixels: np.ndarray


class HardRenderer:
    """Renders frames of one portrait as a textured 3-D head (interface of render.Renderer, plus the light)."""

    def __init__(self, portrait: Portrait) -> None:
        self.p = portrait
        self.camera = portrait.camera
        self.fields = FaceFields.from_landmarks(portrait.landmarks, portrait.size)
        self.truth = TruthModel(portrait, self.fields)
        self.scene: Scene = build_scene(portrait.size)
        s = self.scene
        self._rest_shade = KA + KD * np.maximum(s.normals @ REST_LIGHT, 0.0)
        self._bias = s.bias
        self._sway_scale = (s.rest[:, 2] + s.anchor[2]) / self.camera.focal  # Z / f at rest, per vertex

    def ground_truth(self, params: FrameParams) -> FrameTruth:
        return self.truth(params)

    # ---- geometry ------------------------------------------------------------------------------------------------
    def pose_vertices(self, params: FrameParams, truth: FrameTruth) -> Posed:
        s, cam = self.scene, self.camera
        rot, t = params.pose[:3, :3], params.pose[:3, 3]
        can = s.rest.copy()
        can[s.follow] = truth.canonical[s.follow_src]
        m0, m1 = s.mouth
        disp = np.tensordot(params.face[:3], s.mouth_basis, axes=1)  # [M, 2]
        can[m0:m1, :2] += disp * s.mouth_scale[:, None]
        points = np.empty_like(can)
        normals = np.empty_like(can)
        h = s.head_count
        points[:h] = can[:h] @ rot.T + t
        normals[:h] = s.normals[:h] @ rot.T
        sway = np.zeros_like(can)
        sway[:, :2] = params.sway[None, :] * self._sway_scale[:, None]
        n0, n1 = s.neck
        w = s.neck_weight[:, None]
        body = can[n0:n1] + s.anchor + sway[n0:n1]
        points[n0:n1] = w * (can[n0:n1] @ rot.T + t) + (1 - w) * body
        blend = w * (s.normals[n0:n1] @ rot.T) + (1 - w) * s.normals[n0:n1]
        normals[n0:n1] = blend / np.linalg.norm(blend, axis=1, keepdims=True)
        t0, t1 = s.torso
        points[t0:t1] = can[t0:t1] + s.anchor + sway[t0:t1]
        normals[t0:t1] = s.normals[t0:t1]
        return Posed(points, normals, cam.project(points))

    def rasterize(self, posed: Posed) -> Raster:
        size = self.p.size
        return rasterize(posed.pixels, posed.camera[:, 2], self.scene.triangles, (size, size), self._bias)

    def depth_buffer(self, posed: Posed, raster: Raster) -> np.ndarray:
        """float64 [S, S] camera Z of the visible surface (inf where nothing is drawn)."""
        z = posed.camera[:, 2][self.scene.triangles[np.maximum(raster.triangle, 0)]]  # [S, S, 3]
        return np.where(raster.covered, (z * raster.bary).sum(-1), np.inf)

    # ---- pixels --------------------------------------------------------------------------------------------------
    def render_clean(self, params: FrameParams, truth: FrameTruth, light: np.ndarray) -> tuple[np.ndarray, ...]:
        """(frame uint8 [S, S, 3] RGB without noise, parsing uint8 [S, S], raster) of one frame."""
        s, size = self.scene, self.p.size
        posed = self.pose_vertices(params, truth)
        raster = self.rasterize(posed)
        covered = raster.covered
        tri = raster.triangle[covered]
        bary = raster.bary[covered]  # [N, 3]
        vids = s.triangles[tri]  # [N, 3]
        uv = np.einsum("nk,nkc->nc", bary, s.uv[vids])
        maps = np.full((size, size, 2), -10.0, dtype=np.float32)
        maps[covered] = uv
        colour = cv2.remap(s.atlas.image, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ratio = (KA + KD * np.maximum(posed.normals @ light, 0.0)) / self._rest_shade
        ratio = np.clip(ratio, *SHADE_RANGE).astype(np.float32)
        shade = np.einsum("nk,nk->n", bary, ratio[vids])
        frame = s.plate.astype(np.float32)
        frame[covered] = colour[covered].astype(np.float32) * shade[:, None]

        parsing = np.zeros((size, size), np.uint8)
        parsing[covered] = s.label[tri]
        group = np.zeros((size, size), np.uint8)
        group[covered] = s.group[tri]
        edge = np.zeros((size, size), bool)
        diff_x = group[:, 1:] != group[:, :-1]
        diff_y = group[1:, :] != group[:-1, :]
        edge[:, 1:] |= diff_x
        edge[:, :-1] |= diff_x
        edge[1:, :] |= diff_y
        edge[:-1, :] |= diff_y
        blurred = cv2.blur(frame, (3, 3))
        frame[edge] = blurred[edge]
        return np.clip(frame + 0.5, 0, 255).astype(np.uint8), parsing, raster

    def render(
        self, params: FrameParams, truth: FrameTruth, light: np.ndarray, noise_seed: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frame uint8 [S, S, 3] RGB with sensor noise, parsing uint8 [S, S], torso uint8 [S, S, 4] RGBA)."""
        clean, parsing, _ = self.render_clean(params, truth, light)
        rng = np.random.default_rng(noise_seed)
        level = clean.astype(np.float32)
        sigma = np.sqrt(NOISE_READ**2 + NOISE_SHOT * level)
        noise = rng.standard_normal(clean.shape, dtype=np.float32)
        frame = np.clip(level + sigma * noise + 0.5, 0, 255).astype(np.uint8)
        body = cv2.inRange(parsing, NECK, TORSO)  # 255 on neck and torso
        torso = cv2.merge([*cv2.split(cv2.bitwise_and(frame, frame, mask=body)), body])
        return frame, parsing, torso
