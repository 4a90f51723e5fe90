"""Audio feature extractors: log-mel (offline, the default), wav2vec2 (MODA) and HuBERT (ER-NeRF).

    feats = talkzoo.zoo.audio.extract("mel", wave, 16000)  # AudioFeatures: values float32 [F, 80] at 100 Hz
    feats = talkzoo.zoo.audio.extract("wav2vec2", wave, 44100)  # [F, 768] at 50 Hz, resampled to 16 kHz first
    feats = talkzoo.zoo.audio.extract("hubert", wave, 16000, model="path/to/folder")  # a save_pretrained folder
    feats = talkzoo.zoo.audio.extract("wav2vec2", wave, 16000, random_init=True, size="tiny")  # no weights (tests)

The encoder API (build_encoder, encode, presets) is imported lazily: `import talkzoo.zoo.audio` stays light.
"""

import importlib
from typing import Any

from talkzoo.zoo.audio.extract import available_extractors, extract
from talkzoo.zoo.audio.frames import ENCODER_STRIDE, encoder_num_frames, feature_rate_hz, num_feature_frames
from talkzoo.zoo.audio.mel import LogMel, mel_num_frames
from talkzoo.zoo.audio.resample import to_mono_16k
from talkzoo.zoo.audio.types import SAMPLE_RATE, AudioError, AudioFeatures, AudioModelUnavailable

_LAZY = {
    "Encoder": "talkzoo.zoo.audio.encoders",
    "build_encoder": "talkzoo.zoo.audio.encoders",
    "clear_encoder_cache": "talkzoo.zoo.audio.encoders",
    "encode": "talkzoo.zoo.audio.chunked",
    "DEFAULT_MODELS": "talkzoo.zoo.audio.presets",
    "SIZE_PRESETS": "talkzoo.zoo.audio.presets",
    "preset_config": "talkzoo.zoo.audio.presets",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:  # these modules import transformers: loaded on first use
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'talkzoo.zoo.audio' has no attribute '{name}'")


__all__ = [
    "DEFAULT_MODELS",
    "ENCODER_STRIDE",
    "SAMPLE_RATE",
    "SIZE_PRESETS",
    "AudioError",
    "AudioFeatures",
    "AudioModelUnavailable",
    "Encoder",
    "LogMel",
    "available_extractors",
    "build_encoder",
    "clear_encoder_cache",
    "encode",
    "encoder_num_frames",
    "extract",
    "feature_rate_hz",
    "mel_num_frames",
    "num_feature_frames",
    "preset_config",
    "to_mono_16k",
]
