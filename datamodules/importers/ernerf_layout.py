"""Readers of the ER-NeRF / RAD-NeRF processed layout (ernerf.md §6): transforms, poses, parsing colours,
audio features and AU45. Pure functions, no writing."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkzoo.datamodules.preprocess.errors import PreprocessError
from talkzoo.datamodules.speaker import PARSING_LABELS

NGP_SCALE = 4.0  # nerf_matrix_to_ngp(scale=4): the translation scale the ER-NeRF loader applies
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


def nerf_matrix_to_ngp(matrix: np.ndarray, scale: float = NGP_SCALE) -> np.ndarray:
    """ER-NeRF loader's conversion [..., 4, 4] -> camera-to-world with OpenCV camera axes (rows y, z, x)."""
    m = np.asarray(matrix, np.float64)
    out = np.zeros(m.shape)
    out[..., 0, :] = np.stack([m[..., 1, 0], -m[..., 1, 1], -m[..., 1, 2], m[..., 1, 3] * scale], axis=-1)
    out[..., 1, :] = np.stack([m[..., 2, 0], -m[..., 2, 1], -m[..., 2, 2], m[..., 2, 3] * scale], axis=-1)
    out[..., 2, :] = np.stack([m[..., 0, 0], -m[..., 0, 1], -m[..., 0, 2], m[..., 0, 3] * scale], axis=-1)
    out[..., 3, 3] = 1.0
    return out


def ngp_to_nerf_matrix(ngp: np.ndarray, scale: float = NGP_SCALE) -> np.ndarray:
    """Inverse of nerf_matrix_to_ngp (used to write test folders and exports)."""
    n = np.asarray(ngp, np.float64)
    out = np.zeros(n.shape)
    for dst, src in ((1, 0), (2, 1), (0, 2)):
        out[..., dst, :] = np.stack([n[..., src, 0], -n[..., src, 1], -n[..., src, 2], n[..., src, 3] / scale], axis=-1)
    out[..., 3, 3] = 1.0
    return out


def ernerf_to_pose(matrices: np.ndarray) -> np.ndarray:
    """talkzoo pose (head -> camera, OpenCV axes) [T, 4, 4] = inverse of the NGP camera-to-world."""
    return np.linalg.inv(nerf_matrix_to_ngp(matrices))


def pose_to_ernerf(pose: np.ndarray) -> np.ndarray:
    """transform_matrix [T, 4, 4] (as ER-NeRF stores it) of talkzoo poses; inverse of ernerf_to_pose."""
    return ngp_to_nerf_matrix(np.linalg.inv(np.asarray(pose, np.float64)))


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
