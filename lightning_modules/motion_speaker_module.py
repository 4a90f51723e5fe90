"""`MotionSpeakerModule`: a SpeakerModule whose speakers carry motion statistics (the mesh normalisation of the
motion data) — MODA and FaCo-Net, which both train on a MotionDataModule and both hand their statistics and cameras
to inference (talkzoo.avatars.moda)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from talkzoo.datamodules.speaker_info import SpeakerInfo
from talkzoo.datamodules.stats import SpeakerStats
from talkzoo.lightning_modules.speaker_module import SpeakerModule
from talkzoo.zoo.errors import UserError


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """values [B, T], mask float [B, T] (1 = a real frame, 0 = window padding) → scalar mean over the masked frames."""
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


class MotionSpeakerModule(SpeakerModule):
    """Speakers must have motion statistics; `label` names the method in the error."""

    label = "this module"

    def check_speaker(self, info: SpeakerInfo) -> None:
        """Raise a UserError naming the fix when `info` cannot be served (subclasses add their checks)."""
        if info.stats is None:
            raise UserError(
                f"speaker {info.name}: {self.label} needs its motion statistics; train on a MotionDataModule"
            )

    def set_speakers(self, speakers: Sequence[SpeakerInfo]) -> None:
        for info in speakers:
            self.check_speaker(info)
        super().set_speakers(speakers)

    @property
    def speaker_stats(self) -> list[SpeakerStats]:
        """Per-speaker motion statistics, by speaker index."""
        return [info.stats for info in self.speakers if info.stats is not None]

    @property
    def speaker_cameras(self) -> list[dict[str, float]]:
        """Per-speaker {focal, cx, cy, width, height, fps} (pixels at the speaker's own size), by speaker index."""
        return [info.camera_dict() for info in self.speakers]
