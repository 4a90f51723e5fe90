"""The 7-D head-motion vector of MODA, from and to the speaker format's head → camera pose.

head = (rotation vector r [3] in radians, translation t [3] in camera units, scale s [1]), where
pose[:3, :3] = s · R(r) and pose[:3, 3] = t, so X_cam = s · R · X_head + t; s = cbrt(det(pose[:3, :3])).
MODA stored Euler angles in degrees (its `data_prepare/steps/step3-norm_face.py`); a rotation vector has no gimbal
lock and the same size.
The rotation vector is continuous away from |r| = π; in the format's convention the canonical frame has camera
axes, so a frontal head has R ≈ I and r ≈ 0.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

HEAD_MOTION_DIM = 7


def pose_to_head_motion(pose: np.ndarray) -> np.ndarray:
    """pose: [..., 4, 4] similarity transforms → float32 [..., 7] = (rotvec 3, translation 3, scale 1)."""
    pose = np.asarray(pose, dtype=np.float64)
    lead = pose.shape[:-2]
    flat = pose.reshape(-1, 4, 4)
    block = flat[:, :3, :3]
    scale = np.cbrt(np.linalg.det(block))
    rotation = block / scale[:, None, None]
    rotvec = Rotation.from_matrix(rotation).as_rotvec()
    motion = np.concatenate([rotvec, flat[:, :3, 3], scale[:, None]], axis=1)
    return motion.reshape(*lead, HEAD_MOTION_DIM).astype(np.float32)


def head_motion_to_pose(motion: np.ndarray) -> np.ndarray:
    """motion: [..., 7] → float32 [..., 4, 4] pose with pose[:3, :3] = s · R(rotvec), pose[:3, 3] = t."""
    motion = np.asarray(motion, dtype=np.float64)
    lead = motion.shape[:-1]
    flat = motion.reshape(-1, HEAD_MOTION_DIM)
    pose = np.zeros((flat.shape[0], 4, 4))
    pose[:, :3, :3] = Rotation.from_rotvec(flat[:, :3]).as_matrix() * flat[:, 6, None, None]
    pose[:, :3, 3] = flat[:, 3:6]
    pose[:, 3, 3] = 1.0
    return pose.reshape(*lead, 4, 4).astype(np.float32)
