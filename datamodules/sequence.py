"""Motion windows for MODA and FaCo-Net: audio + normalised lips, eyes, head, torso over W frames.

Item (W = window frames, D = feature dim, L = round(W · sample_rate / fps) samples):
    audio          float32 [W, D]        features resampled to frames  (audio_source="features")
    waveform       float32 [L]           16 kHz samples of the W frames (audio_source="waveform")
    lips           float32 [W, 40, 3]    (canonical[LIP_INDICES] - mean) / std     of this speaker's train frames
    eyes           float32 [W, 60, 3]    (canonical[EYE_INDICES] - mean) / std
    head           float32 [W, 7]        (rotvec, translation, scale) normalised (talkzoo.zoo.head_motion)
    torso          float32 [W, 18, 3]    shoulders normalised
    subject        float32 [478, 3]      subject mean mesh without position and size (SpeakerStats.subject_code)
    mesh, blink    optional: [W, 478, 3] canonical normalised like lips; [W] raw blink in [0, 1]
    speaker_index  int64 []              index of the speaker in `speakers` (the subject code index)
    start          int64 []              first frame (absolute index in the speaker)
    mask           bool [W]              False on padding (a split or last val window shorter than W)
Padded frames are zeros in every per-frame entry. Windows never cross their split (train / val).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from talkzoo.datamodules.alignment import interpolate_features, waveform_window
from talkzoo.datamodules.boundary import FeatureInfo, check_compatible, check_feature, open_speaker
from talkzoo.datamodules.sampling import JitteredWindowSampler
from talkzoo.datamodules.speaker import Speaker
from talkzoo.datamodules.speaker_info import describe_speaker
from talkzoo.datamodules.split_module import SplitDataModule
from talkzoo.datamodules.stats import SpeakerStats, compute_stats
from talkzoo.datamodules.windows import Window, train_windows, val_windows
from talkzoo.zoo.face_indices import EYE_INDICES, LIP_INDICES
from talkzoo.zoo.head_motion import pose_to_head_motion

AudioSource = Literal["features", "waveform"]
DEFAULT_MOTION_KEYS = ("audio", "lips", "eyes", "head", "torso", "subject")
MOTION_KEYS = (*DEFAULT_MOTION_KEYS, "mesh", "blink")


class MotionWindowDataset(Dataset):
    """Windows of W frames over the `split` of several speakers, normalised with each speaker's stats.

    Index with an int (window at its base start) or a (window, offset) pair from JitteredWindowSampler.
    Holds only paths, numbers and stats; speakers' memmaps open lazily in each worker.
    """

    def __init__(
        self,
        roots: list[str],
        stats: list[SpeakerStats],
        windows: list[Window],
        window: int,
        feature: str = "mel",
        audio_source: AudioSource = "features",
        keys: tuple[str, ...] = DEFAULT_MOTION_KEYS,
        fps: float = 25.0,
        sample_rate: int = 16000,
    ) -> None:
        unknown = sorted(set(keys) - set(MOTION_KEYS))
        if unknown:
            raise ValueError(f"unknown motion item key(s) {unknown}; choose from {', '.join(MOTION_KEYS)}")
        if audio_source not in ("features", "waveform"):
            raise ValueError(f"audio_source must be 'features' or 'waveform', got {audio_source!r}")
        self.roots = list(roots)
        self.stats = list(stats)
        self.windows = list(windows)
        self.window = window
        self.feature = feature
        self.audio_source = audio_source
        self.keys = tuple(keys)
        self.fps = fps
        self.sample_rate = sample_rate
        self._open: dict[int, dict[str, Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_open"] = {}  # memmaps and waves are reopened in each worker, never pickled
        return state

    def __len__(self) -> int:
        return len(self.windows)

    def max_jitters(self) -> list[int]:
        return [w.max_jitter for w in self.windows]

    def _speaker(self, index: int) -> dict[str, Any]:
        if index not in self._open:
            speaker = Speaker(self.roots[index])
            opened: dict[str, Any] = {"speaker": speaker}
            if self.audio_source == "features" and "audio" in self.keys:
                values, info = speaker.feature(self.feature)
                opened["features"], opened["rate_hz"] = values, float(info["rate_hz"])
            self._open[index] = opened
        return self._open[index]

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, offset = (key, 0) if isinstance(key, int) else (int(key[0]), int(key[1]))
        w = self.windows[index]
        start = w.start + min(max(offset, 0), w.max_jitter)
        frames = np.arange(start, start + w.length)
        opened = self._speaker(w.speaker)
        speaker: Speaker = opened["speaker"]
        stats = self.stats[w.speaker]
        item: dict[str, torch.Tensor] = {
            "speaker_index": torch.tensor(w.speaker, dtype=torch.long),
            "start": torch.tensor(start, dtype=torch.long),
            "mask": torch.from_numpy(np.arange(self.window) < w.length),
        }
        if "audio" in self.keys:
            if self.audio_source == "features":
                values = interpolate_features(opened["features"], opened["rate_hz"], self.fps, frames)
                item["audio"] = self._pad(values)
            else:
                if "wave" not in opened:
                    opened["wave"] = speaker.audio()
                wave = waveform_window(opened["wave"], start, self.window, self.sample_rate, self.fps, start + w.length)
                item["waveform"] = torch.from_numpy(wave)
        if {"lips", "eyes", "mesh"} & set(self.keys):
            mesh = stats.normalise("mesh", speaker.canonical[frames])
            if "lips" in self.keys:
                item["lips"] = self._pad(mesh[:, list(LIP_INDICES)])
            if "eyes" in self.keys:
                item["eyes"] = self._pad(mesh[:, list(EYE_INDICES)])
            if "mesh" in self.keys:
                item["mesh"] = self._pad(mesh)
        if "head" in self.keys:
            item["head"] = self._pad(stats.normalise("head", pose_to_head_motion(speaker.pose[frames])))
        if "torso" in self.keys:
            item["torso"] = self._pad(stats.normalise("torso", speaker.shoulders[frames]))
        if "blink" in self.keys:
            item["blink"] = self._pad(np.asarray(speaker.blink[frames], dtype=np.float32))
        if "subject" in self.keys:
            item["subject"] = torch.from_numpy(stats.subject_code())
        return item

    def _pad(self, values: np.ndarray) -> torch.Tensor:
        """[n, ...] → float32 [W, ...] with zeros after the n valid frames."""
        out = np.zeros((self.window, *values.shape[1:]), dtype=np.float32)
        out[: values.shape[0]] = values
        return torch.from_numpy(out)


class MotionDataModule(SplitDataModule):
    """Motion windows over one or many speaker folders (each a subject code, by position in `speakers`).

    Args:
        speakers: speaker folders; speakers[i] gets speaker_index i.
        feature: audio feature name (features/NAME.npy) when audio_source="features".
        audio_source: "features" (item["audio"] [W, D]) or "waveform" (item["waveform"] [L] samples).
        window: frames per window W (MODA: 600 at 30 fps).
        stride: frames between train window starts (MODA: 200).
        jitter: largest random start offset of a train window, frames (MODA: 100); drawn from the seed.
        val_window: frames per val window (default `window`); val windows tile the val split, no jitter.
        keys: item entries to load (default DEFAULT_MOTION_KEYS; "mesh" and "blink" are optional extras).
        batch_size, num_workers, pin_memory: DataLoader settings (persistent workers when num_workers > 0).
        seed: fixes the train order and jitter (epoch e draws from seed and e).

    After `setup`: `stats` (one SpeakerStats per speaker, train frames only), `audio_dim` (D of the features;
    None for waveforms) and `speaker_infos()` (camera, fps, stats, audio per speaker: what MODA and FaCo-Net store in
    their checkpoints). `num_speakers` is known at once. Batches: `talkzoo.datamodules.batches.MotionBatch`.
    """

    def __init__(
        self,
        speakers: list[str],
        feature: str = "mel",
        audio_source: AudioSource = "features",
        window: int = 600,
        stride: int = 200,
        jitter: int = 100,
        val_window: int | None = None,
        keys: list[str] | None = None,
        batch_size: int = 4,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not speakers:
            raise ValueError("MotionDataModule needs at least one speaker folder in `speakers`")
        speakers = [str(s) for s in speakers]  # plain strings in the saved hyper-parameters, never Path objects
        self.save_hyperparameters()
        self.speakers = speakers
        self.keys = tuple(keys) if keys is not None else DEFAULT_MOTION_KEYS
        self.stats: list[SpeakerStats] = []
        self.audio_dim: int | None = None

    @property
    def num_speakers(self) -> int:
        return len(self.speakers)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        hp = self.hparams
        speakers = [open_speaker(root) for root in self.speakers]
        features: list[FeatureInfo] | None = None
        if hp.audio_source == "features" and "audio" in self.keys:
            features = [check_feature(s, hp.feature) for s in speakers]
            self.audio_dim = features[0].dim
        check_compatible(speakers, features)
        self.stats = [compute_stats(s) for s in speakers]
        audio = "audio" in self.keys
        self.infos = [
            describe_speaker(
                s,
                feature=hp.feature if features is not None else None,
                audio_dim=features[i].dim if features is not None else None,
                audio_source=hp.audio_source if audio else None,
                stats=self.stats[i],
            )
            for i, s in enumerate(speakers)
        ]
        train, val = [], []
        for i, s in enumerate(speakers):
            split = s.meta.val_start
            train += train_windows(i, 0, split, hp.window, hp.stride, hp.jitter)
            val += val_windows(i, split, s.meta.num_frames, hp.val_window or hp.window)
        meta = speakers[0].meta
        common = dict(feature=hp.feature, audio_source=hp.audio_source, keys=self.keys, fps=meta.fps)
        common["sample_rate"] = meta.sample_rate
        self.train_set = MotionWindowDataset(self.speakers, self.stats, train, hp.window, **common)
        self.val_set = MotionWindowDataset(self.speakers, self.stats, val, hp.val_window or hp.window, **common)

    def train_sampler(self, dataset: MotionWindowDataset) -> Sampler:
        return JitteredWindowSampler(dataset.max_jitters(), shuffle=True, seed=self.hparams.seed)
