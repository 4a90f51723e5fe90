"""Data that ships with talkzoo, usable offline: the bundled speech recording and the astronaut photo.

`datamodules/assets/speech.ogg` is about three minutes of English from espeak-ng (several voices, speeds and
pitches), 16 kHz mono Ogg Vorbis, recorded once by `scripts/record_speech.py`.
The face photo is `skimage.data.astronaut()` (public domain, NASA), shipped inside scikit-image.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from skimage import data

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
SPEECH_PATH = ASSETS_DIR / "speech.ogg"
SPEECH_RATE = 16000


def load_speech(sample_rate: int = SPEECH_RATE) -> np.ndarray:
    """The bundled speech: float32 [N] mono in [-1, 1] at `sample_rate` (N ≈ 185 s · sample_rate)."""
    if not SPEECH_PATH.is_file():
        raise FileNotFoundError(
            f"{SPEECH_PATH}: bundled speech missing; reinstall talkzoo or run scripts/record_speech.py"
        )
    blocks = []
    with sf.SoundFile(SPEECH_PATH) as f:  # block reads: libsndfile's Vorbis codec misbehaves on huge single calls
        rate = f.samplerate
        for block in f.blocks(blocksize=rate * 4, dtype="float32", always_2d=True):
            blocks.append(block.mean(axis=1))
    wave = np.clip(np.concatenate(blocks), -1.0, 1.0).astype(np.float32)
    if sample_rate != rate:
        g = gcd(sample_rate, rate)
        wave = resample_poly(wave, sample_rate // g, rate // g).astype(np.float32)
    return wave


def load_astronaut() -> np.ndarray:
    """The astronaut portrait from scikit-image: uint8 [512, 512, 3] RGB."""
    return np.ascontiguousarray(data.astronaut())
