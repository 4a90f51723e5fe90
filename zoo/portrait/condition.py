"""Condition images of the portrait renderer (docs/moda.md, "Condition images and TPE"): the face mesh and the 18
shoulder points, projected with the head pose and the camera, drawn as coloured part contours on black at the render
resolution.

ONE implementation serves the renderer's training data (ground-truth canonical mesh + pose) and inference (FaCo-Net's
mesh + MODA's pose), so the two can never drift apart (docs/moda.md, "Fixes" #16).

Coordinates: pixel centres at integers (cv2's and the synthetic speaker's convention). Resizing an image of width W
to W' maps x → (x + 0.5)·W'/W − 0.5, which is how `Camera.scaled` moves the principal point.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from talkzoo.zoo.portrait import contours

RGB = tuple[int, int, int]
# Part → (edges, RGB colour). Left = the subject's left (image right): green; right: red (as MODA's drawing).
PARTS: dict[str, tuple[contours.Edges, RGB]] = {
    "face_oval": (contours.FACE_OVAL, (224, 224, 224)),
    "nose": (contours.NOSE, (64, 128, 255)),
    "left_eyebrow": (contours.LEFT_EYEBROW, (48, 160, 48)),
    "right_eyebrow": (contours.RIGHT_EYEBROW, (160, 48, 48)),
    "left_eye": (contours.LEFT_EYE + contours.LEFT_IRIS, (48, 255, 48)),
    "right_eye": (contours.RIGHT_EYE + contours.RIGHT_IRIS, (255, 48, 48)),
    "lips": (contours.LIPS, (255, 200, 0)),
}
SHOULDER_COLOUR: RGB = (225, 225, 225)
_SHIFT = 4  # cv2 fixed-point fraction bits: sub-pixel endpoints
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class Camera:
    """Pinhole camera of an image: focal length and principal point in pixels, image size."""

    focal: float
    cx: float
    cy: float
    width: int
    height: int

    def scaled(self, height: int, width: int) -> Camera:
        """The same camera for the image resized to (height, width)."""
        sx, sy = width / self.width, height / self.height
        if abs(sx - sy) > 1e-3 * max(sx, sy):
            raise ValueError(f"resizing {self.width}x{self.height} to {width}x{height} changes the aspect ratio")
        return Camera(self.focal * sx, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5, width, height)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Camera:
        return cls(float(data["focal"]), float(data["cx"]), float(data["cy"]), int(data["width"]), int(data["height"]))


def default_thickness(size: int) -> int:
    """Line width in pixels for a render height `size`: 2 px at 512 (MODA), at least 1."""
    return max(1, int(round(2 * size / 512)))


def project(points: np.ndarray, pose: np.ndarray, camera: Camera) -> np.ndarray:
    """Canonical points [..., N, 3] → pixels [..., N, 2]; pose [..., 4, 4] head → camera (OpenCV axes):
    X_cam = pose[:3, :3]·X + pose[:3, 3], u = f·X/Z + cx, v = f·Y/Z + cy (Z clamped to ≥ 1e-6)."""
    points = np.asarray(points, dtype=np.float64)
    pose = np.asarray(pose, dtype=np.float64)
    cam = points @ np.swapaxes(pose[..., :3, :3], -1, -2) + pose[..., None, :3, 3]
    z = np.maximum(cam[..., 2:3], 1e-6)
    return np.concatenate(
        [camera.focal * cam[..., 0:1] / z + camera.cx, camera.focal * cam[..., 1:2] / z + camera.cy], axis=-1
    ).astype(np.float32)


def _fixed(points: np.ndarray) -> np.ndarray:
    """Float pixels → cv2 fixed-point int32, clipped far outside any canvas so cv2 never overflows."""
    return np.clip(np.round(points * _ONE), -(1 << 24), 1 << 24).astype(np.int32)


def draw_condition(
    face: np.ndarray, shoulders: np.ndarray | None, height: int, width: int, thickness: int | None = None
) -> np.ndarray:
    """Draw the condition image. face: pixels [478, 2]; shoulders: pixels [18, 2] (9 per shoulder, each ordered by x)
    or None. Returns uint8 [height, width, 3] RGB: black, part contours in their PARTS colours, shoulders as two
    8-segment polylines. Anti-aliased lines with sub-pixel endpoints."""
    thickness = default_thickness(height) if thickness is None else int(thickness)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    face_px = _fixed(np.asarray(face, dtype=np.float64))
    for edges, colour in PARTS.values():
        for a, b in edges:
            cv2.line(canvas, tuple(face_px[a]), tuple(face_px[b]), colour, thickness, cv2.LINE_AA, _SHIFT)
    if shoulders is not None:
        pts = _fixed(np.asarray(shoulders, dtype=np.float64))
        for side in (pts[:9], pts[9:]):
            cv2.polylines(canvas, [side.reshape(-1, 1, 2)], False, SHOULDER_COLOUR, thickness, cv2.LINE_AA, _SHIFT)
    return canvas


def condition_image(
    mesh: np.ndarray,
    shoulders: np.ndarray | None,
    pose: np.ndarray,
    camera: Camera,
    height: int,
    width: int,
    thickness: int | None = None,
) -> np.ndarray:
    """Canonical mesh [478, 3] and shoulders [18, 3] | None, pose [4, 4], the speaker's camera (any resolution) →
    uint8 [height, width, 3] condition image at the render resolution."""
    cam = camera.scaled(height, width)
    face = project(mesh, pose, cam)
    body = project(shoulders, pose, cam) if shoulders is not None else None
    return draw_condition(face, body, height, width, thickness)
