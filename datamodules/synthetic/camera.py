"""Pinhole camera of the synthetic speaker (square pixels, OpenCV axes: x right, y down, z forward)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FOCAL_FACTOR = 2.5  # focal length in pixels = FOCAL_FACTOR · image size


@dataclass(frozen=True)
class Camera:
    """Intrinsics fx = fy = focal, principal point (cx, cy), for a square `size` × `size` image."""

    size: int

    @property
    def focal(self) -> float:
        return FOCAL_FACTOR * self.size

    @property
    def cx(self) -> float:
        return self.size / 2.0

    @property
    def cy(self) -> float:
        return self.size / 2.0

    def project(self, points: np.ndarray) -> np.ndarray:
        """Camera points [..., 3] (X, Y, Z) -> pixels [..., 2] (f·X/Z + cx, f·Y/Z + cy)."""
        z = points[..., 2:3]
        return np.concatenate(
            [self.focal * points[..., 0:1] / z + self.cx, self.focal * points[..., 1:2] / z + self.cy], axis=-1
        )

    def unproject(self, pixels: np.ndarray, depth: np.ndarray | float) -> np.ndarray:
        """Pixels [..., 2] at depth Z ([...] or scalar) -> camera points [..., 3] ((x−cx)·Z/f, (y−cy)·Z/f, Z)."""
        z = np.broadcast_to(np.asarray(depth, dtype=np.float64), pixels.shape[:-1])
        x = (pixels[..., 0] - self.cx) * z / self.focal
        y = (pixels[..., 1] - self.cy) * z / self.focal
        return np.stack([x, y, z], axis=-1)


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """float64 [3, 3] R = Ry(yaw) · Rx(pitch) · Rz(roll), angles in radians, OpenCV axes.

    Positive yaw turns the face toward image left, positive pitch tilts the chin down (toward the camera's +y),
    positive roll turns clockwise in the image.
    """
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rz = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return ry @ rx @ rz


def pose_matrix(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """[[R, t], [0, 0, 0, 1]]: float64 [4, 4] from R [3, 3] and t [3]."""
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = translation
    return pose


def transform(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a rigid [4, 4] pose to points [N, 3]: R·X + t."""
    return points @ pose[:3, :3].T + pose[:3, 3]
