"""The speaker format: one folder per speaker, read and written only through this module.

Layout (README.md, "The speaker format"), T = number of video frames:

    speaker.json                 format, version, fps, sample_rate, size, T, intrinsics, split, provenance
    audio.wav                    16 kHz mono PCM, round(T / fps * sample_rate) samples (±1 frame)
    frames/NNNNNN.jpg            RGB frames, width × height
    landmarks.npy   [T, 478, 3]  MediaPipe landmarks in image space (pixels; z in pixel units)
    pose.npy        [T, 4, 4]    head → camera transform (OpenCV axes): X_cam = pose[:3,:3] @ X_head + pose[:3, 3]
    canonical.npy   [T, 478, 3]  landmarks in the head's canonical frame (pose removed), camera units
    blink.npy       [T]          0 open … 1 closed
    detected.npy    [T] bool     frames where the face was really detected
    parsing/NNNNNN.png           uint8 labels 0 background, 1 head, 2 neck, 3 torso
    background.png               static background plate (RGB)
    torso/NNNNNN.png             RGBA neck + torso
    shoulders.npy   [T, 18, 3]   9 points per shoulder, head canonical frame
    features/NAME.npy [F, D] + NAME.json {rate_hz, dim, extractor, model_id}

Writes are atomic (temporary file + rename), so a killed writer never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from talkzoo.zoo.errors import UserError

FORMAT_NAME = "talkzoo-speaker"
FORMAT_VERSION = 1
NUM_LANDMARKS = 478
NUM_SHOULDER_POINTS = 18
PARSING_LABELS = {"background": 0, "head": 1, "neck": 2, "torso": 3}
VAL_FRACTION = 1 / 11

# Per-frame arrays: file name → shape after the leading T axis, and dtype.
ARRAYS: dict[str, tuple[tuple[int, ...], type]] = {
    "landmarks": ((NUM_LANDMARKS, 3), np.float32),
    "pose": ((4, 4), np.float32),
    "canonical": ((NUM_LANDMARKS, 3), np.float32),
    "blink": ((), np.float32),
    "detected": ((), np.bool_),
    "shoulders": ((NUM_SHOULDER_POINTS, 3), np.float32),
}
# Per-frame image folders: folder → file extension.
IMAGE_DIRS = {"frames": ".jpg", "parsing": ".png", "torso": ".png"}


class SpeakerFormatError(UserError, ValueError):
    """A speaker folder that cannot be read; the message names the file and the fix."""


@dataclass
class SpeakerMeta:
    """Everything in `speaker.json` besides the format tag.

    `val_start` is the first validation frame: frames [0, val_start) train, [val_start, T) validate.
    `provenance` maps a step name to {"done": bool, "params": {...}, "versions": {...}}.
    """

    width: int
    height: int
    num_frames: int
    focal: float
    cx: float
    cy: float
    fps: float = 25.0
    sample_rate: int = 16000
    val_start: int = -1
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.val_start < 0:
            self.val_start = default_val_start(self.num_frames)

    @property
    def samples_per_frame(self) -> float:
        return self.sample_rate / self.fps

    @property
    def intrinsics(self) -> np.ndarray:
        """float32 [4]: fx, fy, cx, cy (square pixels)."""
        return np.array([self.focal, self.focal, self.cx, self.cy], dtype=np.float32)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> SpeakerMeta:
        if data.get("format") != FORMAT_NAME:
            raise SpeakerFormatError(
                f"{path}: not a talkzoo speaker (format={data.get('format')!r}); "
                "create one with `talkzoo preprocess` or `talkzoo synth`"
            )
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise SpeakerFormatError(
                f"{path}: speaker format version {version!r} is not supported (this talkzoo reads version "
                f"{FORMAT_VERSION}); re-run `talkzoo preprocess` or upgrade talkzoo"
            )
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        missing = [k for k in ("width", "height", "num_frames", "focal", "cx", "cy") if k not in known]
        if missing:
            raise SpeakerFormatError(f"{path}: missing field(s) {', '.join(missing)}; re-run preprocessing")
        return cls(**known)


def default_val_start(num_frames: int) -> int:
    """The last 1/11 of the frames validate, as the ER-NeRF family splits (at least one frame each side)."""
    if num_frames < 2:
        return num_frames
    return min(num_frames - 1, max(1, num_frames - int(round(num_frames * VAL_FRACTION))))


def frame_name(index: int, ext: str) -> str:
    return f"{index:06d}{ext}"


def _atomic_path(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
    os.close(fd)
    return Path(tmp)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    tmp = _atomic_path(target)
    tmp.write_bytes(data)
    os.replace(tmp, target)


def atomic_save_npy(target: Path, array: np.ndarray) -> None:
    tmp = _atomic_path(target)
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, target)


def encode_image(image: np.ndarray, ext: str, jpeg_quality: int = 95) -> bytes:
    """Encode RGB / RGBA / label images ([H, W, 3|4] or [H, W] uint8) to JPEG or PNG bytes."""
    if image.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, buffer = cv2.imencode(ext, image, params)
    if not ok:
        raise ValueError(f"could not encode image as {ext}")
    return buffer.tobytes()


def read_image(path: Path) -> np.ndarray:
    """Read an image as RGB [H, W, 3], RGBA [H, W, 4] or labels [H, W] uint8."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SpeakerFormatError(f"{path}: missing or unreadable image")
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


class Speaker:
    """Reader of one speaker folder. Arrays are memory-mapped, frames stream from disk one at a time.

    Raises `SpeakerFormatError` when speaker.json is missing, of another format or of an unknown version.
    Deeper consistency checks live in `talkzoo.datamodules.validate`.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        meta_path = self.root / "speaker.json"
        if not meta_path.is_file():
            raise SpeakerFormatError(
                f"{self.root}: no speaker.json here; point to a speaker folder made by "
                "`talkzoo preprocess` or `talkzoo synth`"
            )
        try:
            data = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise SpeakerFormatError(f"{meta_path}: not valid JSON ({exc.msg}); re-run preprocessing") from exc
        self.meta = SpeakerMeta.from_json(data, meta_path)
        self._arrays: dict[str, np.ndarray] = {}

    # ---- sizes and splits -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.root.name if self.root.name != "speaker" else self.root.parent.name

    @property
    def num_frames(self) -> int:
        return self.meta.num_frames

    def split_indices(self, split: str) -> np.ndarray:
        """int64 [N]: frame indices of "train", "val" or "all"."""
        if split == "train":
            return np.arange(0, self.meta.val_start)
        if split == "val":
            return np.arange(self.meta.val_start, self.meta.num_frames)
        if split == "all":
            return np.arange(self.meta.num_frames)
        raise ValueError(f"unknown split {split!r}; use train, val or all")

    # ---- per-frame arrays ---------------------------------------------------------------------------------
    def array(self, name: str) -> np.ndarray:
        """Memory-mapped per-frame array `NAME.npy` (see ARRAYS for shapes)."""
        if name not in self._arrays:
            path = self.root / f"{name}.npy"
            if not path.is_file():
                raise SpeakerFormatError(f"{path}: missing; re-run the preprocessing step that writes it")
            self._arrays[name] = np.load(path, mmap_mode="r")
        return self._arrays[name]

    def has(self, name: str) -> bool:
        return (self.root / f"{name}.npy").is_file()

    @property
    def landmarks(self) -> np.ndarray:
        return self.array("landmarks")

    @property
    def pose(self) -> np.ndarray:
        return self.array("pose")

    @property
    def canonical(self) -> np.ndarray:
        return self.array("canonical")

    @property
    def blink(self) -> np.ndarray:
        return self.array("blink")

    @property
    def detected(self) -> np.ndarray:
        return self.array("detected")

    @property
    def shoulders(self) -> np.ndarray:
        return self.array("shoulders")

    # ---- images -------------------------------------------------------------------------------------------
    def image_path(self, folder: str, index: int) -> Path:
        return self.root / folder / frame_name(index, IMAGE_DIRS[folder])

    def frame(self, index: int) -> np.ndarray:
        """uint8 [H, W, 3] RGB frame."""
        return read_image(self.image_path("frames", index))

    def parsing(self, index: int) -> np.ndarray:
        """uint8 [H, W] labels (PARSING_LABELS)."""
        return read_image(self.image_path("parsing", index))

    def torso(self, index: int) -> np.ndarray:
        """uint8 [H, W, 4] RGBA neck + torso layer."""
        return read_image(self.image_path("torso", index))

    def background(self) -> np.ndarray:
        """uint8 [H, W, 3] static background plate."""
        return read_image(self.root / "background.png")

    # ---- audio --------------------------------------------------------------------------------------------
    def audio(self) -> np.ndarray:
        """float32 [N] mono waveform at meta.sample_rate."""
        path = self.root / "audio.wav"
        if not path.is_file():
            raise SpeakerFormatError(f"{path}: missing; re-run the audio step of preprocessing")
        import soundfile as sf  # imported on use: training from features never needs libsndfile

        wave, rate = sf.read(path, dtype="float32", always_2d=True)
        if rate != self.meta.sample_rate:
            raise SpeakerFormatError(
                f"{path}: sample rate {rate} Hz but speaker.json says {self.meta.sample_rate} Hz; re-run preprocessing"
            )
        return wave.mean(axis=1)

    def feature_names(self) -> list[str]:
        folder = self.root / "features"
        return sorted(p.stem for p in folder.glob("*.npy")) if folder.is_dir() else []

    def feature(self, name: str) -> tuple[np.ndarray, dict[str, Any]]:
        """(float32 [F, D] features at info["rate_hz"], info dict) of `features/NAME.npy`."""
        path = self.root / "features" / f"{name}.npy"
        info_path = path.with_suffix(".json")
        if not path.is_file() or not info_path.is_file():
            have = ", ".join(self.feature_names()) or "none"
            raise SpeakerFormatError(
                f"{path}: audio feature {name!r} missing (have: {have}); run `talkzoo preprocess ... --features {name}`"
            )
        return np.load(path, mmap_mode="r"), json.loads(info_path.read_text())


class SpeakerWriter:
    """Writes a speaker folder step by step; every file lands atomically.

    `speaker.json` is rewritten after each `mark_done`, so a killed run knows what is complete.
    """

    def __init__(self, root: str | os.PathLike[str], meta: SpeakerMeta, exist_ok: bool = True) -> None:
        self.root = Path(root)
        meta_path = self.root / "speaker.json"
        if meta_path.exists() and not exist_ok:
            raise FileExistsError(f"{self.root} already holds a speaker; choose another folder or delete it")
        if meta_path.exists():
            previous = Speaker(self.root).meta
            meta.provenance = {**previous.provenance, **meta.provenance}
        self.meta = meta
        self.root.mkdir(parents=True, exist_ok=True)
        self.save_meta()

    def save_meta(self) -> None:
        atomic_write_bytes(self.root / "speaker.json", json.dumps(self.meta.to_json(), indent=2).encode())

    def is_done(self, step: str) -> bool:
        return bool(self.meta.provenance.get(step, {}).get("done", False))

    def mark_done(
        self, step: str, params: dict[str, Any] | None = None, versions: dict[str, str] | None = None
    ) -> None:
        self.meta.provenance[step] = {"done": True, "params": params or {}, "versions": versions or {}}
        self.save_meta()

    def write_array(self, name: str, array: np.ndarray) -> None:
        shape, dtype = ARRAYS[name]
        array = np.asarray(array, dtype=dtype)
        expected = (self.meta.num_frames, *shape)
        if array.shape != expected:
            raise ValueError(f"{name}.npy: shape {array.shape}, expected {expected}")
        atomic_save_npy(self.root / f"{name}.npy", array)

    def write_image(self, folder: str, index: int, image: np.ndarray) -> None:
        ext = IMAGE_DIRS[folder]
        atomic_write_bytes(self.root / folder / frame_name(index, ext), encode_image(image, ext))

    def write_background(self, image: np.ndarray) -> None:
        atomic_write_bytes(self.root / "background.png", encode_image(image, ".png"))

    def write_audio(self, wave: np.ndarray) -> None:
        """wave: float32 [N] mono in [-1, 1] at meta.sample_rate, written as 16-bit PCM."""
        import soundfile as sf  # imported on use: training from features never needs libsndfile

        tmp = _atomic_path(self.root / "audio.wav")
        sf.write(tmp, np.clip(wave, -1.0, 1.0), self.meta.sample_rate, subtype="PCM_16", format="WAV")
        os.replace(tmp, self.root / "audio.wav")

    def write_feature(
        self, name: str, features: np.ndarray, rate_hz: float, extractor: str, model_id: str = ""
    ) -> None:
        """features: float32 [F, D] at rate_hz."""
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2:
            raise ValueError(f"features/{name}.npy must be [F, D], got shape {features.shape}")
        info = {"rate_hz": float(rate_hz), "dim": int(features.shape[1]), "extractor": extractor, "model_id": model_id}
        atomic_save_npy(self.root / "features" / f"{name}.npy", features)
        atomic_write_bytes(self.root / "features" / f"{name}.json", json.dumps(info, indent=2).encode())
