"""Readers of the ER-NeRF / RAD-NeRF processed layout (docs/preprocessing.md, "ER-NeRF / RAD-NeRF importer"):
transforms and their poses, parsing colours, audio features and AU45. Pure functions, no writing.

Pose conventions (ER-NeRF's data_utils/process.py `save_transforms` and data_utils/face_tracking/geo_transform.py):
the face tracker fits X_cam = R X_head + trans with R = euler2rot(euler) in OpenGL camera axes (x right, y up, camera
looking along -z; projection u = -f X / Z + cx, v = f Y / Z + cy), the head in the 3DMM's model frame (facing +z, the
camera, when R = I; its origin is the centroid of the mean face mesh, facemodel.py). The 3DMM is in decimetres
(BFM micrometres / 1e5), and process.py writes transform_matrix = [[Rᵀ, -Rᵀ t], [0, 0, 0, 1]] with t = trans / 10:
the camera-to-head matrix of a head fixed at the origin, in metres. `ernerf_to_pose` turns it into the speaker
format's head → camera pose in OpenCV axes (still metres; ernerf.py converts the units).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkzoo.datamodules.preprocess.errors import PreprocessError
from talkzoo.datamodules.speaker import PARSING_LABELS

GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])  # flips y and z: OpenGL / 3DMM axes <-> OpenCV axes (an involution)
# parsing/{i}.png colours as cv2 reads them (BGR): head blue, neck green, torso red, background white.
PARSING_BGR = {"head": (255, 0, 0), "neck": (0, 255, 0), "torso": (0, 0, 255)}
# aud_*.npy name -> (feature name, extractor, model id). Windows are re-flattened to the 50 Hz sequence.
FEATURE_FILES = {
    "aud_hu.npy": ("hubert", "hubert", "facebook/hubert-large-ls960-ft"),
    "aud_ds.npy": ("deepspeech", "deepspeech", "deepspeech-0.1.0"),
    "aud.npy": ("deepspeech", "deepspeech", "deepspeech-0.1.0"),
    "aud_eo.npy": ("esperanto", "wav2vec2", "cpierse/wav2vec2-large-xlsr-53-esperanto"),
}
FEATURE_RATE_HZ = 50.0


@dataclass
class Transforms:
    """Both transforms files merged. ids int [T] img_ids ascending; matrices float64 [T, 4, 4] as stored
    (camera-to-world, tracker convention); val_start: index of the first validation frame."""

    ids: np.ndarray
    matrices: np.ndarray
    focal: float
    cx: float
    cy: float
    val_start: int
    width: int | None
    height: int | None


def ernerf_to_pose(matrices: np.ndarray) -> np.ndarray:
    """head → camera [T, 4, 4] in OpenCV axes and the tracker's units, from transform_matrix [T, 4, 4].

    process.py stores M = [[Rᵀ, −Rᵀ t], [0, 0, 0, 1]], the camera-to-head inverse of the face tracker's
    X_cam = R X_head + t in OpenGL camera axes (x right, y up, z toward the viewer; the head's model frame has the
    same axes when it faces the camera). Flipping y and z on both sides gives OpenCV axes for the camera and
    (x right, y down, z into the face) for the head, so a frontal head gets R = I: pose = D M⁻¹ D.
    ER-NeRF's loader (nerf_matrix_to_ngp) reorders M's rows and scales t for its NeRF box only; that is not used.
    """
    m = np.asarray(matrices, np.float64)
    return GL_TO_CV @ np.linalg.inv(m) @ GL_TO_CV


def check_poses(pose: np.ndarray, root: Path) -> None:
    """Refuse transforms that are not process.py's rigid camera-to-head matrices of a head in front of the camera."""
    rot = pose[:, :3, :3]
    error = np.abs(rot @ rot.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2))
    if (error > 1e-3).any() or (np.linalg.det(rot) < 0).any():
        raise PreprocessError(
            f"{root}: transform_matrix of frame {int(np.argmax(error))} is not a rigid transform; expected the "
            "camera-to-world matrices process.py writes (not rescaled or converted by another tool)"
        )
    behind = np.flatnonzero(pose[:, 2, 3] <= 0)
    if behind.size:
        raise PreprocessError(
            f"{root}: the head is behind the camera in frame {int(behind[0])}; expected process.py's OpenGL "
            "camera-to-world transform_matrix (camera looking along -z at a head fixed at the origin)"
        )


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PreprocessError(
            f"{path}: unreadable transforms file ({exc}); re-run ER-NeRF's process.py task 9"
        ) from exc


def read_transforms(root: Path) -> Transforms:
    """Merge transforms_train.json and transforms_val.json (val optional) of an ER-NeRF data folder."""
    train_path = root / "transforms_train.json"
    if not train_path.is_file():
        raise PreprocessError(
            f"{root}: no transforms_train.json; point to an ER-NeRF / RAD-NeRF data folder processed by process.py"
        )
    train = _load_json(train_path)
    val = _load_json(root / "transforms_val.json") if (root / "transforms_val.json").is_file() else {"frames": []}
    frames = [(f, False) for f in train.get("frames", [])] + [(f, True) for f in val.get("frames", [])]
    if not frames:
        raise PreprocessError(f"{train_path}: no frames listed; re-run ER-NeRF's process.py task 9")
    frames.sort(key=lambda item: int(item[0]["img_id"]))
    ids = np.array([int(f["img_id"]) for f, _ in frames])
    if not np.array_equal(ids, np.arange(len(ids))):
        raise PreprocessError(
            f"{root}: the transforms files list img_ids {ids[0]}..{ids[-1]} ({len(ids)} frames, some missing or "
            "repeated); expected every frame 0..N-1 as process.py writes them"
        )
    is_val = np.array([v for _, v in frames])
    val_start = int(np.argmax(is_val)) if is_val.any() else len(ids)
    if is_val.any() and not is_val[val_start:].all():
        raise PreprocessError(f"{root}: validation frames are not the last ones; expected ER-NeRF's 10/11 split")
    focal = float(train.get("focal_len") or train.get("fl_x") or 0.0)
    if focal <= 0:
        raise PreprocessError(f"{train_path}: no focal_len; regenerate the transforms with process.py")
    h, w = train.get("h"), train.get("w")
    return Transforms(
        ids=ids,
        matrices=np.array([f["transform_matrix"] for f, _ in frames], np.float64),
        focal=focal,
        cx=float(train["cx"]),
        cy=float(train["cy"]),
        val_start=val_start,
        width=int(w) if w else None,
        height=int(h) if h else None,
    )


def parsing_labels(bgr: np.ndarray) -> np.ndarray:
    """uint8 [H, W] talkzoo labels from an ER-NeRF parsing image [H, W, 3] (BGR as cv2 reads it)."""
    labels = np.zeros(bgr.shape[:2], np.uint8)
    for name, colour in PARSING_BGR.items():
        labels[np.all(np.abs(bgr.astype(np.int16) - colour) < 64, axis=-1)] = PARSING_LABELS[name]
    return labels


def parsing_colours(labels: np.ndarray) -> np.ndarray:
    """Inverse of parsing_labels: BGR [H, W, 3], background white."""
    out = np.full((*labels.shape, 3), 255, np.uint8)
    for name, colour in PARSING_BGR.items():
        out[labels == PARSING_LABELS[name]] = colour
    return out


def flatten_windows(values: np.ndarray) -> np.ndarray:
    """ER-NeRF windows [N, W, D] -> the 50 Hz sequence [2N, D] (HuBERT: consecutive pairs; DeepSpeech-style
    16-step windows at stride 2: the two centre steps of each window)."""
    values = np.asarray(values, np.float32)
    if values.ndim == 2:
        return values
    if values.ndim != 3:
        raise PreprocessError(f"audio features of shape {values.shape}; expected [N, W, D]")
    if values.shape[1] == 2:
        return values.reshape(-1, values.shape[2])
    mid = values.shape[1] // 2
    return values[:, mid : mid + 2].reshape(-1, values.shape[2])


def read_au45(path: Path, ids: np.ndarray) -> np.ndarray:
    """Blink [T] = clip(AU45_r, 0, 2) / 2 for the given img_ids (ER-NeRF's eye value); 0 where a row is missing."""
    values: dict[int, float] = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields = {name.strip(): name for name in reader.fieldnames or []}
        if "AU45_r" not in fields:
            raise PreprocessError(f"{path}: no AU45_r column; re-run OpenFace FeatureExtraction with -aus")
        for row_index, row in enumerate(reader):  # ER-NeRF indexes the rows by img_id
            values[row_index] = float(row[fields["AU45_r"]])
    au = np.array([values.get(int(i), 0.0) for i in ids], np.float64)
    return (np.clip(au, 0.0, 2.0) / 2.0).astype(np.float32)
