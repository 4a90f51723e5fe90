"""Log-mel spectrogram: the offline extractor (no weights), as a function and as an nn.Module.

Framing (exact): 16 kHz input, 25 ms Hann window (n_fft = win = 400), 10 ms hop (160) -> 100 Hz.
The signal is zero-padded by n_fft // 2 = 200 samples on both sides (centre padding), so frame j is centred on
sample 160 * j, i.e. at time j * 10 ms, and an input of N samples gives F = N // 160 + 1 frames.
Power spectrum |STFT|^2 -> 80 Slaney mel filters over 0..8 kHz (transformers.audio_utils.mel_filter_bank)
-> natural log(mel + 1e-5).  Silence gives log(1e-5) = -11.51 everywhere.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn
from transformers.audio_utils import mel_filter_bank

from talkzoo.zoo.audio.types import SAMPLE_RATE

N_FFT = 400
HOP = 160
N_MELS = 80
LOG_EPS = 1e-5
MEL_RATE_HZ = SAMPLE_RATE / HOP


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The mel filterbank, float32 [n_fft // 2 + 1, n_mels] (Slaney scale and area normalisation)."""
    fb = mel_filter_bank(
        num_frequency_bins=n_fft // 2 + 1,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=sample_rate / 2,
        sampling_rate=sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )
    return fb.astype(np.float32)


def mel_num_frames(num_samples: int) -> int:
    """F for N samples at 16 kHz: N // 160 + 1 (centre padding)."""
    return int(num_samples) // HOP + 1


def log_mel_padded(
    padded: torch.Tensor, filters: torch.Tensor, window: torch.Tensor, exact: bool = False
) -> torch.Tensor:
    """Log-mel of already centre-padded 16 kHz waveforms.

    padded: [B, P] (the signal with n_fft // 2 zeros or true neighbour samples on each side);
    filters: [n_fft // 2 + 1, n_mels]; window: [n_fft] Hann. Returns [B, (P - n_fft) // 160 + 1, n_mels].
    exact: project onto the mel filters in float64. A float32 matrix product may sum a frame's bins in a different
    order depending on how many frames are in the call (BLAS picks kernels by size), which changes the last bit;
    in float64 the rounded float32 result is the same however the signal is cut, so offline extraction and the
    streaming extractor (talkzoo.zoo.audio.streaming) agree bit for bit.
    """
    n_fft = window.shape[0]
    spec = torch.stft(
        padded, n_fft=n_fft, hop_length=HOP, win_length=n_fft, window=window, center=False, return_complex=True
    )  # [B, n_fft // 2 + 1, F]
    power = spec.real.square() + spec.imag.square()
    if exact:
        mel = torch.matmul(power.transpose(1, 2).double(), filters.double())
        return torch.log(mel + LOG_EPS).float()  # [B, F, n_mels]
    return torch.log(torch.matmul(power.transpose(1, 2), filters) + LOG_EPS)  # [B, F, n_mels]


class LogMel(nn.Module):
    """Log-mel front end for models that consume raw audio: waveform [B, N] at 16 kHz -> [B, N // 160 + 1, 80].

    Parameter-free (buffers only), so it moves with the model to any device and dtype.
    """

    def __init__(self, n_mels: int = N_MELS) -> None:
        super().__init__()
        self.n_mels = n_mels
        self.rate_hz = MEL_RATE_HZ
        self.register_buffer("filters", torch.from_numpy(mel_filters(n_mels)), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """wave: [B, N] or [N] float at 16 kHz -> [B, F, n_mels] (or [F, n_mels]), F = N // 160 + 1."""
        squeeze = wave.ndim == 1
        x = wave.unsqueeze(0) if squeeze else wave
        padded = torch.nn.functional.pad(x.to(self.filters.dtype), (N_FFT // 2, N_FFT // 2))
        out = log_mel_padded(padded, self.filters, self.window)
        return out[0] if squeeze else out


def extract_mel(wave: np.ndarray, device: str = "cpu", chunk_seconds: float = 60.0) -> np.ndarray:
    """Log-mel of one 16 kHz waveform [N] -> float32 [N // 160 + 1, 80].

    Long inputs are processed in chunks of whole frames, each cut from the centre-padded signal with its true
    neighbouring samples, so the result equals a single pass exactly while memory stays bounded (and equals the
    streaming extractor's, `talkzoo.zoo.audio.streaming.MelStream`, bit for bit).
    """
    module = LogMel().to(device)
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    n_frames = mel_num_frames(x.shape[0])
    frames_per_chunk = max(1, int(chunk_seconds * MEL_RATE_HZ))
    padded = torch.nn.functional.pad(x, (N_FFT // 2, N_FFT // 2))
    outputs = []
    with torch.inference_mode():
        for start in range(0, n_frames, frames_per_chunk):
            stop = min(n_frames, start + frames_per_chunk)
            piece = padded[start * HOP : (stop - 1) * HOP + N_FFT].to(device)  # frames start..stop-1
            outputs.append(log_mel_padded(piece[None], module.filters, module.window, exact=True)[0].cpu())
    return torch.cat(outputs).numpy().astype(np.float32, copy=False)
