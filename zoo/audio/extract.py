"""`extract(name, wave, sample_rate)`: the one entry point to every audio feature extractor."""

from __future__ import annotations

import numpy as np

from talkzoo.zoo.audio.mel import MEL_RATE_HZ, extract_mel
from talkzoo.zoo.audio.resample import to_mono_16k
from talkzoo.zoo.audio.types import AudioError, AudioFeatures

_EXTRACTORS = ("mel", "wav2vec2", "hubert")


def available_extractors() -> tuple[str, ...]:
    """Names accepted by `extract`: ("mel", "wav2vec2", "hubert"). mel needs no weights."""
    return _EXTRACTORS


def extract(
    name: str,
    wave: np.ndarray,
    sample_rate: int,
    model: str | None = None,
    device: str = "cpu",
    **options: object,
) -> AudioFeatures:
    """Features of one mono waveform.

    wave: float32 [N] (or int PCM / [N, C], made mono) at `sample_rate`; resampled to 16 kHz when it differs.
    name: "mel" -> [N16 // 160 + 1, 80] at 100 Hz; "wav2vec2" / "hubert" -> [(N16 - 400) // 320 + 1, hidden] at 50 Hz
    (N16 = samples at 16 kHz). model: Hugging Face id or local folder for the encoders (default: MODA's
    facebook/wav2vec2-base-960h, ER-NeRF's facebook/hubert-large-ls960-ft). options: mel `chunk_seconds`;
    encoders `chunk_seconds`, `context_seconds`, `random_init`, `size`, `config` (see talkzoo.zoo.audio.encoders).
    Raises AudioModelUnavailable when encoder weights are not available offline.
    """
    if name not in _EXTRACTORS:
        raise AudioError(f"unknown audio extractor '{name}': choose one of {', '.join(_EXTRACTORS)}")
    x = to_mono_16k(wave, sample_rate)
    if name == "mel":
        if model:
            raise AudioError("the mel extractor takes no model: drop the model / --audio-model option")
        values = extract_mel(x, device=device, **options)  # type: ignore[arg-type]
        return AudioFeatures(values=values, rate_hz=MEL_RATE_HZ, extractor="mel", model_id="")
    from talkzoo.zoo.audio.chunked import extract_encoder  # imports transformers: only for the encoder extractors

    return extract_encoder(name, x, model=model, device=device, **options)
