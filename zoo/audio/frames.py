"""Output frame counts and rates per extractor, to check feature / video-frame alignment without running a model."""

from __future__ import annotations

from talkzoo.zoo.audio.mel import HOP, MEL_RATE_HZ, mel_num_frames
from talkzoo.zoo.audio.types import SAMPLE_RATE, AudioError

ENCODER_STRIDE = 320
"""Total stride of the wav2vec2 / HuBERT convolutional feature encoder at 16 kHz (5*2*2*2*2*2*2)."""

_ENCODER_KERNELS = (10, 3, 3, 3, 3, 2, 2)
_ENCODER_STRIDES = (5, 2, 2, 2, 2, 2, 2)


def encoder_num_frames(num_samples: int) -> int:
    """F of the wav2vec2 / HuBERT conv encoder (no padding) for N samples at 16 kHz.

    Each conv layer maps L -> (L - kernel) // stride + 1; for N >= 400 this is (N - 400) // 320 + 1,
    i.e. about 50 frames per second (49 for exactly 1 s). Inputs shorter than 400 samples give 0.
    """
    length = int(num_samples)
    for kernel, stride in zip(_ENCODER_KERNELS, _ENCODER_STRIDES, strict=True):
        if length < kernel:
            return 0
        length = (length - kernel) // stride + 1
    return length


def feature_rate_hz(extractor: str) -> float:
    """Nominal feature rate: 100 Hz for mel, 50 Hz for wav2vec2 / HuBERT."""
    if extractor == "mel":
        return MEL_RATE_HZ
    if extractor in ("wav2vec2", "hubert"):
        return SAMPLE_RATE / ENCODER_STRIDE
    raise AudioError(f"unknown audio extractor '{extractor}': choose one of mel, wav2vec2, hubert")


def num_feature_frames(extractor: str, num_samples: int, sample_rate: int = SAMPLE_RATE) -> int:
    """How many feature frames `extract(extractor, wave)` returns for a wave of `num_samples` at `sample_rate`.

    mel: N // 160 + 1 (frame j centred at j * 10 ms). wav2vec2 / hubert: (N - 400) // 320 + 1 (frame j covers
    samples [320 j, 320 j + 400), centred near j * 20 ms + 12.5 ms). N is counted after resampling to 16 kHz.
    """
    n = int(num_samples)
    if sample_rate != SAMPLE_RATE:
        n = -(-n * SAMPLE_RATE // int(sample_rate))  # ceil, as resample_poly produces
    if extractor == "mel":
        return mel_num_frames(n)
    feature_rate_hz(extractor)
    return encoder_num_frames(n)


__all__ = ["ENCODER_STRIDE", "HOP", "encoder_num_frames", "feature_rate_hz", "num_feature_frames"]
