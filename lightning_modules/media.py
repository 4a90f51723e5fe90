"""What a module shows of its first validation batch: the contract between the LightningModules and
talkzoo.callbacks.media_logger.ValidationMedia (which draws and logs it).

A module implements `ValidationMediaSource.validation_media()`, valid from the end of the validation loop until
the next `on_validation_epoch_start`; numpy arrays on the CPU, at most 16 frames / 250 steps.
"""

from __future__ import annotations

from typing import Literal, Protocol, TypedDict, runtime_checkable

import numpy as np
from typing_extensions import NotRequired  # typing.NotRequired needs Python 3.11


class MotionMedia(TypedDict):
    """kind "motion" (MODA, FaCo-Net), T steps at fps.

    lips_pred / lips_true float32 [T, 40, 2] pixels; mouth_pred / mouth_true float32 [T] (mouth opening, pixels);
    optional head_pred / head_true float32 [T, 7]; eyes_pred / eyes_true float32 [T].
    """

    kind: Literal["motion"]
    fps: float
    lips_pred: np.ndarray
    lips_true: np.ndarray
    mouth_pred: np.ndarray
    mouth_true: np.ndarray
    head_pred: NotRequired[np.ndarray]
    head_true: NotRequired[np.ndarray]
    eyes_pred: NotRequired[np.ndarray]
    eyes_true: NotRequired[np.ndarray]


class FramesMedia(TypedDict):
    """kind "frames" (ER-NeRF, PortraitRenderer), N frames at fps.

    render / target uint8 [N, H, W, 3]; optional depth / opacity float32 [N, H, W]; condition uint8 [N, H, W, 3]
    (the renderer's input drawing, or the head-only render of the torso stage).
    """

    kind: Literal["frames"]
    fps: float
    render: np.ndarray
    target: np.ndarray
    depth: NotRequired[np.ndarray]
    opacity: NotRequired[np.ndarray]
    condition: NotRequired[np.ndarray]


Media = MotionMedia | FramesMedia


@runtime_checkable
class ValidationMediaSource(Protocol):
    """A module that shows its first validation batch (every talkzoo LightningModule)."""

    def validation_media(self) -> Media | None: ...


__all__ = ["FramesMedia", "Media", "MotionMedia", "ValidationMediaSource"]
