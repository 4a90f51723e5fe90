"""Audio encoder heads of MODA: per-frame audio → x_a [B, T, d]. Chosen by config (the `audio_encoder` block).

`input_kind` tells the LightningModule which batch entry to feed: "features" (MotionDataModule `audio` [B, T, D],
features already resampled to frames, e.g. log-mel) or "waveform" (`waveform` [B, L] 16 kHz samples).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from talkzoo.zoo.moda.body import mlp


class _ConvBlock(nn.Module):
    """Residual temporal block: LayerNorm → Conv1d(k, dilation) → GELU → Conv1d(1), on [B, T, C]."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.conv = nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel // 2), dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, C] → [B, T, C]."""
        y = self.norm(x).transpose(1, 2)
        y = self.mix(F.gelu(self.conv(y))).transpose(1, 2)
        return x + self.dropout(y)


class MelConvEncoder(nn.Module):
    """Log-mel (or any per-frame feature) through a small dilated conv stack: [B, T, in_dim] → [B, T, hidden].

    Input is affinely rescaled first, (x - offset) / scale (log-mel of speech lies roughly in [-12, 4]); no
    per-sequence normalisation, so loudness — what the mouth follows — is kept. Centred (non-causal) context of
    1 + (kernel - 1) · (2**layers - 1) frames.

    Args:
        in_dim: feature size D (80 for mel). hidden: d. layers: residual blocks with dilations 1, 2, 4, …
        kernel: odd conv kernel. dropout: block dropout. offset, scale: the fixed input rescaling.
    """

    input_kind = "features"

    def __init__(
        self,
        in_dim: int = 80,
        hidden: int = 128,
        layers: int = 3,
        kernel: int = 3,
        dropout: float = 0.1,
        offset: float = -5.0,
        scale: float = 5.0,
    ) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd to keep frames aligned, got {kernel}")
        self.in_dim, self.out_dim = in_dim, hidden
        self.offset, self.scale = offset, scale
        self.proj = nn.Linear(in_dim, hidden)
        self.blocks = nn.ModuleList(_ConvBlock(hidden, kernel, 2**i, dropout) for i in range(layers))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden))

    def forward(self, audio: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """audio [B, T, in_dim] per-frame features → [B, T, hidden]. num_frames is ignored (T is the input's)."""
        if audio.shape[-1] != self.in_dim:
            raise ValueError(f"MelConvEncoder expects {self.in_dim}-d features, got {audio.shape[-1]}-d")
        x = self.proj((audio - self.offset) / self.scale)
        for block in self.blocks:
            x = block(x)
        return self.out(x)


RESAMPLE_MODES = ("features", "output")


class Wav2VecEncoder(nn.Module):
    """wav2vec2 (transformers) on raw 16 kHz audio, brought to the video frame rate, then an MLP head.

    resample="features" (the default; the original MODA and FaceFormer `models/wav2vec.py`): the frozen conv
    feature encoder's ~50 Hz features [B, 512, F] are linearly interpolated (align_corners) to the T video frames
    *before* the feature projection and the transformer, which then run at the frame rate (25 Hz: half the
    positions, a quarter of the attention). resample="output": the whole wav2vec2 runs at 50 Hz and its last hidden
    state is interpolated to T frames (talkzoo's earlier path; kept for comparison, `talkzoo bench --only moda`).
    Then Linear(H, d) → LayerNorm → LeakyReLU → Linear(d, d) → [B, T, d].
    The convolutional feature encoder is frozen; the transformer is fine-tuned unless `freeze=True`. Pretrained
    weights are never re-initialised (docs/moda.md, "Fixes" #6).

    Args:
        model: Hugging Face id or save_pretrained folder (None: facebook/wav2vec2-base-960h).
        random_init: random weights of preset `size` instead ("tiny" for tests, "base" for timing). seed: their seed.
        hidden: d. freeze: freeze the whole encoder (only the head trains). resample: "features" or "output".
    """

    input_kind = "waveform"

    def __init__(
        self,
        model: str | None = None,
        random_init: bool = False,
        size: str = "base",
        seed: int = 0,
        hidden: int = 128,
        freeze: bool = False,
        resample: str = "features",
    ) -> None:
        super().__init__()
        from talkzoo.zoo.audio.encoders import build_encoder  # imports transformers: only for this encoder

        if resample not in RESAMPLE_MODES:
            raise ValueError(f"resample must be one of {RESAMPLE_MODES}, got {resample!r}")
        encoder = build_encoder("wav2vec2", model, random_init=random_init, size=size, seed=seed, cache=False)
        self.model = encoder.model.train()
        self.normalize = encoder.normalize
        self.resample = resample
        self.model.freeze_feature_encoder()
        if freeze:
            self.model.requires_grad_(False)
        self.out_dim = hidden
        self.head = mlp([encoder.hidden_size, hidden, hidden])

    def forward(self, audio: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """audio: waveform [B, L] at 16 kHz (L ≥ 400) → [B, num_frames, hidden]."""
        if audio.ndim != 2:
            raise ValueError(f"Wav2VecEncoder expects a waveform [B, L], got shape {tuple(audio.shape)}")
        if num_frames is None:
            raise ValueError("Wav2VecEncoder needs num_frames (frames covered by the waveform)")
        x = audio
        if self.normalize:
            x = (x - x.mean(dim=1, keepdim=True)) / (x.std(dim=1, keepdim=True) + 1e-7)
        if self.resample == "output":
            hidden = self.model(x).last_hidden_state  # [B, F, H] at ~50 Hz
            hidden = F.interpolate(hidden.transpose(1, 2), size=num_frames, mode="linear", align_corners=True)
            return self.head(hidden.transpose(1, 2))
        return self.head(self._frame_rate_hidden(x, num_frames))

    def _frame_rate_hidden(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Wav2Vec2Model.forward with the conv features resampled to num_frames first: [B, L] → [B, T, H]."""
        model = self.model
        features = model.feature_extractor(x)  # [B, 512, F]
        features = F.interpolate(features, size=num_frames, mode="linear", align_corners=True)
        hidden, _ = model.feature_projection(features.transpose(1, 2))  # (projected, layer-normed) [B, T, H]
        hidden = model._mask_hidden_states(hidden)  # SpecAugment time / feature masks, in training only
        hidden = model.encoder(hidden).last_hidden_state
        if model.adapter is not None:
            hidden = model.adapter(hidden)
        return hidden
