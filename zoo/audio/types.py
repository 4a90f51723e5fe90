"""The result type of every audio feature extractor and the errors they raise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkzoo.zoo.errors import UserError

SAMPLE_RATE = 16000
"""Every extractor works on 16 kHz mono audio; other rates are resampled first."""


@dataclass
class AudioFeatures:
    """Audio features at their own frame rate.

    values: float32 [F, D]; row j describes the audio around time j / rate_hz seconds.
    rate_hz: frames per second (100 for mel, 50 for wav2vec2 / HuBERT).
    extractor: "mel", "wav2vec2" or "hubert".
    model_id: the Hugging Face id or local path of the encoder ("" for mel).
    """

    values: np.ndarray
    rate_hz: float
    extractor: str
    model_id: str = ""

    @property
    def dim(self) -> int:
        """D, the feature size."""
        return int(self.values.shape[1])

    @property
    def num_frames(self) -> int:
        """F, the number of feature frames."""
        return int(self.values.shape[0])

    def metadata(self) -> dict[str, object]:
        """The JSON sidecar written next to `features/NAME.npy` (rate_hz, dim, extractor, model id, frames)."""
        return {
            "rate_hz": float(self.rate_hz),
            "dim": self.dim,
            "num_frames": self.num_frames,
            "extractor": self.extractor,
            "model_id": self.model_id,
        }


class AudioError(UserError):
    """A problem with audio feature extraction that the user can fix (bad input, unknown extractor)."""


class AudioModelUnavailable(AudioError):
    """The pretrained weights of an audio encoder cannot be loaded (not cached and the hub is offline, bad path)."""
