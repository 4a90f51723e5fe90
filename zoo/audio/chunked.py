"""Run a wav2vec2 / HuBERT encoder over long audio in overlapping chunks, so memory is bounded.

Frame j of the encoder covers samples [320 j, 320 j + 400). The output frames are split into chunks of
`chunk_seconds`; each chunk is run with `context_seconds` of extra audio on both sides (where the signal has it),
whose output frames are discarded. Chunk cuts fall on whole frames, so the convolutional features of every kept
frame see exactly the same samples as in one pass; only the transformer's (and wav2vec2-base's group-norm) view is
limited to chunk + context, which is why the joins differ slightly from an unchunked pass.
"""

from __future__ import annotations

import numpy as np
import torch

from talkzoo.zoo.audio.encoders import Encoder, build_encoder
from talkzoo.zoo.audio.frames import ENCODER_STRIDE, encoder_num_frames
from talkzoo.zoo.audio.groupnorm import global_group_norm
from talkzoo.zoo.audio.types import SAMPLE_RATE, AudioFeatures

_KERNEL = 400  # receptive field of one conv-encoder frame, in samples
_FE_EPS = 1e-7  # Wav2Vec2FeatureExtractor's variance epsilon


def normalize_wave(wave: np.ndarray) -> np.ndarray:
    """Zero mean / unit variance over the utterance, as Wav2Vec2FeatureExtractor(do_normalize=True): [N] -> [N]."""
    x = wave.astype(np.float32)
    return ((x - x.mean()) / np.sqrt(x.var() + _FE_EPS)).astype(np.float32)


def chunk_plan(num_samples: int, chunk_seconds: float, context_seconds: float) -> list[tuple[int, int, int, int]]:
    """Chunks as (first_frame, stop_frame, sample_start, sample_stop).

    Kept frames [first_frame, stop_frame) are computed from samples [sample_start, sample_stop), which extend
    `context_seconds` (in whole frames) beyond them on each side where the audio allows. Covers all
    encoder_num_frames(num_samples) frames once.
    """
    total = encoder_num_frames(num_samples)
    per_chunk = max(1, int(round(chunk_seconds * SAMPLE_RATE / ENCODER_STRIDE)))
    context = max(0, int(round(context_seconds * SAMPLE_RATE / ENCODER_STRIDE)))
    plan = []
    for first in range(0, total, per_chunk):
        stop = min(total, first + per_chunk)
        lo = max(0, first - context)
        hi = min(total, stop + context)
        plan.append((first, stop, lo * ENCODER_STRIDE, (hi - 1) * ENCODER_STRIDE + _KERNEL))
    return plan


def encode(
    encoder: Encoder, wave: np.ndarray, device: str = "cpu", chunk_seconds: float = 20.0, context_seconds: float = 1.0
) -> np.ndarray:
    """Last hidden state of `encoder` for one 16 kHz waveform [N] -> float32 [(N - 400) // 320 + 1, hidden].

    chunk_seconds <= 0 runs the whole input in one pass. Inputs shorter than 400 samples give [0, hidden].
    """
    total = encoder_num_frames(wave.shape[0])
    if total == 0:
        return np.zeros((0, encoder.hidden_size), np.float32)
    x = normalize_wave(wave) if encoder.normalize else wave.astype(np.float32)
    if chunk_seconds <= 0:
        chunk_seconds = total * ENCODER_STRIDE / SAMPLE_RATE + 1.0
    signal = torch.from_numpy(x)
    out = np.empty((total, encoder.hidden_size), np.float32)
    plan = chunk_plan(x.shape[0], chunk_seconds, context_seconds)
    with torch.inference_mode():
        if len(plan) == 1:
            hidden = encoder.model(signal.to(device)[None]).last_hidden_state[0]
            return hidden.float().cpu().numpy()
        with global_group_norm(encoder.model, signal, device):
            for first, stop, s0, s1 in plan:
                _run_chunk(encoder, signal, device, out, first, stop, s0, s1)
    return out


def _run_chunk(
    encoder: Encoder, signal: torch.Tensor, device: str, out: np.ndarray, first: int, stop: int, s0: int, s1: int
) -> None:
    """Encode samples [s0, s1) of `signal` [N] and write its frames [first, stop) into `out` [F, hidden]."""
    piece = signal[s0:s1].to(device)[None]
    hidden = encoder.model(piece).last_hidden_state[0]  # [frames of piece, hidden]
    offset = first - s0 // ENCODER_STRIDE
    out[first:stop] = hidden[offset : offset + stop - first].float().cpu().numpy()


def extract_encoder(
    name: str,
    wave: np.ndarray,
    model: str | None = None,
    device: str = "cpu",
    chunk_seconds: float = 20.0,
    context_seconds: float = 1.0,
    random_init: bool = False,
    size: str = "base",
    config: object = None,
    seed: int = 0,
) -> AudioFeatures:
    """wav2vec2 / HuBERT features of a 16 kHz waveform [N] -> AudioFeatures [(N - 400) // 320 + 1, hidden] at 50 Hz."""
    encoder = build_encoder(
        name,
        model,
        config=config,
        random_init=random_init,  # type: ignore[arg-type]
        size=size,
        seed=seed,
        device=device,
    )
    values = encode(encoder, wave, device=device, chunk_seconds=chunk_seconds, context_seconds=context_seconds)
    return AudioFeatures(values=values, rate_hz=SAMPLE_RATE / ENCODER_STRIDE, extractor=name, model_id=encoder.model_id)
