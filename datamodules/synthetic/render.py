"""Ground truth and pixels of one synthetic frame from its animation parameters.

`FrameParams` (face parameters, head pose, torso sway) -> `ground_truth` (landmarks, canonical, shoulders) and
`Renderer.render` (RGB frame, parsing labels, RGBA torso). The warp is a two-stage backward map:
output pixel -> (inverse of the pose / sway motion: a thin-plate spline through rest control points, coarse grid)
-> rest image with the face deformed -> (inverse of the analytic face field, full resolution on the face box,
plus the eyelids' analytic backward map) -> rest photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkzoo.datamodules.synthetic.camera import transform
from talkzoo.datamodules.synthetic.face_fields import FaceFields
from talkzoo.datamodules.synthetic.mesh_indices import LOWER_INNER_LIP
from talkzoo.datamodules.synthetic.portrait import NECK, TORSO, Portrait
from talkzoo.datamodules.synthetic.warp import PoseWarp, compose, invert_field

MOUTH_COLOR = np.array([58.0, 22.0, 30.0])
# Landmarks that steer the global (head) warp: all but the iris points.
H_LANDMARKS = np.arange(468)


@dataclass(frozen=True)
class FrameParams:
    """One frame: face float64 [5] (face_fields.PARAMS), pose float64 [4, 4] head -> camera, sway float64 [2]."""

    face: np.ndarray
    pose: np.ndarray
    sway: np.ndarray


@dataclass(frozen=True)
class FrameTruth:
    """landmarks [478, 3] (pixels, z = Z − t_z); canonical [478, 3]; shoulders [18, 3] (head frame);
    face_disp [478, 2] rest-image displacement of each landmark; teeth_edge [K, 2] projected upper mouth edge."""

    landmarks: np.ndarray
    canonical: np.ndarray
    shoulders: np.ndarray
    face_disp: np.ndarray
    teeth_edge: np.ndarray


class TruthModel:
    """Exact ground truth of one portrait's frames (shared by the easy and the hard renderer): the rest mesh
    deformed by the face fields, moved by the pose, projected."""

    def __init__(self, portrait: Portrait, fields: FaceFields) -> None:
        self.p = portrait
        self.camera = portrait.camera
        self.landmark_basis = fields.basis(portrait.landmarks[:, :2])  # [5, 478, 2]
        lower = portrait.landmarks[list(LOWER_INNER_LIP), :2]
        self.teeth_rest = fields.teeth_edge(lower)
        self.teeth_basis = fields.basis(self.teeth_rest)
        self.teeth_depth = portrait.depth[list(LOWER_INNER_LIP)]

    def __call__(self, params: FrameParams) -> FrameTruth:
        p, cam = self.p, self.camera
        disp = np.tensordot(params.face, self.landmark_basis, axes=1)  # [478, 2]
        canonical = p.canonical.copy()
        canonical[:, :2] += disp * (p.depth / cam.focal)[:, None]
        cam_pts = transform(params.pose, canonical)
        t = params.pose[:3, 3]
        landmarks = np.concatenate([cam.project(cam_pts), cam_pts[:, 2:3] - t[2]], axis=1)
        teeth = self.teeth_rest + np.tensordot(params.face, self.teeth_basis, axes=1)
        teeth_can = cam.unproject(teeth, self.teeth_depth) - p.anchor
        teeth_img = cam.project(transform(params.pose, teeth_can))
        shoulder_cam = cam.unproject(p.shoulders + params.sway, t[2])
        shoulders = (shoulder_cam - t) @ params.pose[:3, :3]  # Rᵀ (X − t), row-vector form
        return FrameTruth(landmarks, canonical, shoulders, disp, teeth_img)


class Renderer:
    """Precomputes the face fields on the face box and renders frames of one portrait."""

    def __init__(self, portrait: Portrait) -> None:
        self.p = portrait
        size = portrait.size
        self.camera = portrait.camera
        self.fields = FaceFields.from_landmarks(portrait.landmarks, size)
        self.truth = TruthModel(portrait, self.fields)

        self.box = self.fields.support_box(size)
        x0, y0, x1, y1 = self.box
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        shape = (5, y1 - y0, x1 - x0, 2)
        # the box field holds the mouth only (eyes are closed by their own backward map)
        self.box_basis = self.fields.basis(pts)[:3].reshape((3, *shape[1:])).astype(np.float32)
        dx = self.fields.basis(pts + [0.5, 0])[:3] - self.fields.basis(pts - [0.5, 0])[:3]
        dy = self.fields.basis(pts + [0, 0.5])[:3] - self.fields.basis(pts - [0, 0.5])[:3]
        self.box_dbasis = np.stack([dx[..., 0], dy[..., 1]], axis=-1).reshape((3, *shape[1:])).astype(np.float32)
        self.eye_boxes = []
        for eye in range(2):
            ex0, ey0, ex1, ey1 = self.fields.eye_box(eye, size)
            ex0, ey0, ex1, ey1 = max(ex0, x0), max(ey0, y0), min(ex1, x1), min(ey1, y1)
            ex, ey = np.meshgrid(np.arange(ex0, ex1, dtype=np.float64), np.arange(ey0, ey1, dtype=np.float64))
            self.eye_boxes.append(((ex0 - x0, ey0 - y0, ex1 - x0, ey1 - y0), np.stack([ex.ravel(), ey.ravel()], 1)))

        rest = portrait.landmarks[H_LANDMARKS, :2]
        self.head_can = portrait.canonical[H_LANDMARKS]
        self.pose_warp = PoseWarp(
            np.concatenate([rest, portrait.ring, portrait.neck, portrait.torso, portrait.border]), size
        )
        self.image = np.ascontiguousarray(portrait.image)
        self.alpha = np.round(portrait.alpha * 255).astype(np.uint8)
        self.ring_can = self.camera.unproject(portrait.ring, portrait.ring_depth) - portrait.anchor
        self.neck_can = self.camera.unproject(portrait.neck, portrait.neck_depth) - portrait.anchor
        self.plate = np.ascontiguousarray(portrait.plate)

    # ---- ground truth -------------------------------------------------------------------------------------------
    def ground_truth(self, params: FrameParams) -> FrameTruth:
        return self.truth(params)

    # ---- pixels -------------------------------------------------------------------------------------------------
    def backward_map(self, params: FrameParams) -> np.ndarray:
        """float32 [S, S, 2] source position (x, y) in the rest photo of every output pixel (a cv2.remap map)."""
        p, cam, pose = self.p, self.camera, params.pose
        head_ring = cam.project(transform(pose, self.ring_can))
        head_neck = cam.project(transform(pose, self.neck_can))
        w = p.neck_weight[:, None]
        neck_out = w * head_neck + (1 - w) * (p.neck + params.sway)
        border_out = p.border + params.sway * p.border_moves[:, None]
        head = cam.project(transform(pose, self.head_can))
        outer = self.pose_warp.backward_map(
            np.concatenate([head, head_ring, neck_out, p.torso + params.sway, border_out])
        )
        mouth = params.face[:3].astype(np.float32)
        field = np.tensordot(mouth, self.box_basis, axes=1)
        dfield = np.tensordot(mouth, self.box_dbasis, axes=1)
        inner = invert_field(field, dfield)
        for eye, ((bx0, by0, bx1, by1), pts) in enumerate(self.eye_boxes):
            closure = float(params.face[3 + eye])
            if closure > 0:
                back = self.fields.eye_backward(eye, pts, closure).reshape(by1 - by0, bx1 - bx0, 2)
                inner[by0:by1, bx0:bx1] += back.astype(np.float32)
        return compose(outer, inner, self.box)

    def render(self, params: FrameParams, truth: FrameTruth) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frame uint8 [S, S, 3] RGB, parsing uint8 [S, S], torso uint8 [S, S, 4] RGBA) of one frame."""
        source = self.backward_map(params)
        remap = {"borderMode": cv2.BORDER_REPLICATE}
        person = cv2.remap(self.image, source, None, cv2.INTER_LINEAR, **remap)
        alpha8 = cv2.remap(self.alpha, source, None, cv2.INTER_LINEAR, **remap)
        labels = cv2.remap(self.p.labels, source, None, cv2.INTER_NEAREST, **remap)
        alpha = alpha8.astype(np.float32) * (1.0 / 255.0)
        frame = cv2.blendLinear(person, self.plate, alpha, 1.0 - alpha)
        self._paint_mouth(frame, truth)
        labels[alpha8 < 128] = 0
        body = cv2.inRange(labels, NECK, TORSO)  # 255 on neck and torso
        torso = cv2.merge([*cv2.split(cv2.bitwise_and(frame, frame, mask=body)), body])
        return frame, labels, torso

    def _paint_mouth(self, frame: np.ndarray, truth: FrameTruth) -> None:
        """Fill the opening between the upper teeth edge and the lower inner lip with the dark mouth interior."""
        lower = truth.landmarks[list(LOWER_INNER_LIP), :2]
        upper = truth.teeth_edge.copy()
        upper[[0, -1]] = lower[[0, -1]]  # the opening closes at the inner mouth corners
        polygon = np.concatenate([upper, lower[::-1]])
        pts = np.round(polygon * 16).astype(np.int32)[None]
        cv2.fillPoly(frame, pts, MOUTH_COLOR.tolist(), lineType=cv2.LINE_AA, shift=4)
