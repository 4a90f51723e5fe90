"""The batches the talkzoo DataModules deliver: one TypedDict per DataModule, the contract of the modules' steps.

B = batch size, T = window frames, D = audio feature dim, L = waveform samples of a window, H × W = image size,
C = audio context frames, K = feature steps per context frame. Keys marked NotRequired are present only when the
DataModule's `keys` (or `audio_source`) ask for them.
"""

from __future__ import annotations

from typing import TypedDict

from torch import Tensor
from typing_extensions import NotRequired  # typing.NotRequired needs Python 3.11


class MotionBatch(TypedDict):
    """A batch of `talkzoo.datamodules.sequence.MotionDataModule` (MODA, FaCo-Net).

    audio          float32 [B, T, D]        features resampled to frames (audio_source "features")
    waveform       float32 [B, L]           16 kHz samples of the T frames (audio_source "waveform")
    lips           float32 [B, T, 40, 3]    per speaker (x − mean) / std of the train frames
    eyes           float32 [B, T, 60, 3]    normalised like lips
    head           float32 [B, T, 7]        rotation vector 3, translation 3, scale 1, normalised
    torso          float32 [B, T, 18, 3]    shoulders, normalised
    subject        float32 [B, 478, 3]      subject code (SpeakerStats.subject_code)
    mesh           float32 [B, T, 478, 3]   canonical mesh, normalised like lips
    blink          float32 [B, T]           raw blink in [0, 1]
    speaker_index  int64   [B]              index of the speaker in the DataModule's `speakers`
    start          int64   [B]              first frame of the window (absolute index in the speaker)
    mask           bool    [B, T]           False on padded frames (zeros in every per-frame entry)
    """

    audio: NotRequired[Tensor]
    waveform: NotRequired[Tensor]
    lips: NotRequired[Tensor]
    eyes: NotRequired[Tensor]
    head: NotRequired[Tensor]
    torso: NotRequired[Tensor]
    subject: NotRequired[Tensor]
    mesh: NotRequired[Tensor]
    blink: NotRequired[Tensor]
    speaker_index: Tensor
    start: Tensor
    mask: Tensor


class FrameBatch(TypedDict):
    """A batch of `talkzoo.datamodules.frames.FrameDataModule` (ER-NeRF head and torso: B = 1).

    image       float32 [B, 3, H, W]     RGB in [0, 1]
    parsing     int64   [B, H, W]        0 background, 1 head, 2 neck, 3 torso
    torso       float32 [B, 4, H, W]     RGBA neck + torso layer in [0, 1]
    background  float32 [B, 3, H, W]     static plate in [0, 1]
    pose        float32 [B, 4, 4]        head → camera (OpenCV axes)
    intrinsics  float32 [B, 4]           fx, fy, cx, cy at H × W
    blink       float32 [B]              0 open … 1 closed
    landmarks   float32 [B, 478, 3]      image-space landmarks at H × W
    audio       float32 [B, C, K, D]     feature windows centred on frames i − C//2 … i + C//2 − 1
    index       int64   [B]              frame index in the speaker
    """

    image: NotRequired[Tensor]
    parsing: NotRequired[Tensor]
    torso: NotRequired[Tensor]
    background: NotRequired[Tensor]
    pose: NotRequired[Tensor]
    intrinsics: NotRequired[Tensor]
    blink: NotRequired[Tensor]
    landmarks: NotRequired[Tensor]
    audio: NotRequired[Tensor]
    index: Tensor


class PortraitBatch(TypedDict):
    """A batch of `talkzoo.datamodules.portrait.PortraitDataModule` (MODA's portrait renderer).

    condition  float32 [B, 3, H, W]  projected landmarks + shoulders drawn on black, in [0, 1]
    reference  float32 [B, 3, H, W]  the reference train frame in [0, 1]
    image      float32 [B, 3, H, W]  the target frame in [0, 1]
    mouth      float32 [B, 1, H, W]  1 inside the box around the projected lips, else 0
    index      int64   [B]           frame index in the speaker (TPE ids: talkzoo.zoo.portrait.tpe_index)
    """

    condition: Tensor
    reference: Tensor
    image: Tensor
    mouth: Tensor
    index: Tensor


__all__ = ["FrameBatch", "MotionBatch", "PortraitBatch"]
