"""Checks at the DataModule boundary: a valid speaker folder and audio features that match its frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from talkzoo.datamodules.alignment import check_feature_length
from talkzoo.datamodules.speaker import Speaker, SpeakerFormatError
from talkzoo.datamodules.validate import require_valid


@dataclass(frozen=True)
class FeatureInfo:
    """What a DataModule needs to know about one speaker's audio feature file."""

    name: str
    rate_hz: float
    dim: int


def open_speaker(root: str) -> Speaker:
    """The speaker at `root` after the full format check (SpeakerFormatError lists every problem)."""
    return require_valid(root)


def check_feature(speaker: Speaker, name: str) -> FeatureInfo:
    """Rate and size of `features/NAME.npy`; raises SpeakerFormatError if missing or not covering the frames."""
    values, info = speaker.feature(name)
    path = speaker.root / "features" / f"{name}.npy"
    if values.ndim != 2:
        raise SpeakerFormatError(f"{path}: shape {values.shape}, expected [steps, dim]; re-extract feature {name!r}")
    rate_hz = float(info.get("rate_hz", 0.0))
    check_feature_length(values.shape[0], rate_hz, speaker.meta.fps, speaker.meta.num_frames, str(path))
    return FeatureInfo(name, rate_hz, int(values.shape[1]))


def check_compatible(speakers: Sequence[Speaker], features: Sequence[FeatureInfo] | None = None) -> None:
    """Speakers batched together must share fps, sample rate and feature size; the error names both values."""
    first = speakers[0]
    for i, other in enumerate(speakers[1:], start=1):
        for field in ("fps", "sample_rate"):
            a, b = getattr(first.meta, field), getattr(other.meta, field)
            if a != b:
                raise SpeakerFormatError(
                    f"{other.root / 'speaker.json'}: {field} {b} differs from {a} of {first.root}; "
                    "speakers trained together must share it (re-run preprocessing with the same --fps)"
                )
        if features is not None and features[i].dim != features[0].dim:
            raise SpeakerFormatError(
                f"{other.root / 'features' / (features[i].name + '.npy')}: dim {features[i].dim} differs from "
                f"{features[0].dim} of {first.root}; extract the same feature for every speaker"
            )
