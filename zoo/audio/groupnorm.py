"""Make chunked wav2vec2-base / HuBERT-base inference see whole-utterance statistics in the first conv layer.

Configs with `feat_extract_norm="group"` (wav2vec2-base-960h) normalise the first conv layer's output per channel
over *time* (GroupNorm with one group per channel). Run chunk by chunk, each chunk would be normalised by its own
statistics. `global_group_norm` first accumulates each channel's mean and variance over the whole input (chunked,
bounded memory; the first conv is cheap), then temporarily swaps the GroupNorm for a fixed affine map with those
statistics, so every chunk's conv features equal the one-pass features exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class FixedStatsNorm(nn.Module):
    """GroupNorm(C, C) with frozen per-channel statistics: x [B, C, L] -> (x - mean) / sqrt(var + eps) * w + b."""

    def __init__(self, norm: nn.GroupNorm, mean: torch.Tensor, var: torch.Tensor) -> None:
        super().__init__()
        scale = norm.weight / torch.sqrt(var + norm.eps)  # [C]
        self.register_buffer("scale", scale[None, :, None])
        self.register_buffer("shift", (norm.bias - mean * scale)[None, :, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, C, L] -> [B, C, L]."""
        return x * self.scale + self.shift


def _first_conv_layer(model: nn.Module) -> nn.Module | None:
    layer = model.feature_extractor.conv_layers[0]  # type: ignore[union-attr, index]
    norm = getattr(layer, "layer_norm", None)
    if isinstance(norm, nn.GroupNorm) and norm.num_groups == norm.num_channels:
        return layer
    return None


def first_conv_stats(
    conv: nn.Conv1d,
    signal: torch.Tensor,
    device: str,
    chunk_frames: int = 32_000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and biased variance, each [C], of conv(signal) over all its output frames.

    signal: [N] (normalised waveform). Processed in chunks of `chunk_frames` output frames (exact: each chunk gets
    the samples its frames need), accumulated in float64.
    """
    kernel, stride = conv.kernel_size[0], conv.stride[0]
    total = (signal.shape[0] - kernel) // stride + 1
    s1 = torch.zeros(conv.out_channels, dtype=torch.float64, device=device)
    s2 = torch.zeros_like(s1)
    for first in range(0, total, chunk_frames):
        stop = min(total, first + chunk_frames)
        piece = signal[first * stride : (stop - 1) * stride + kernel].to(device)[None, None]
        y = conv(piece)[0]  # [C, stop - first]
        s1 += y.sum(dim=1, dtype=torch.float64)
        s2 += y.square().sum(dim=1, dtype=torch.float64)
    mean = s1 / total
    var = (s2 / total - mean.square()).clamp_min(0.0)
    return mean.float(), var.float()


@contextmanager
def global_group_norm(model: nn.Module, signal: torch.Tensor, device: str) -> Iterator[bool]:
    """Within the block, the model's first-layer GroupNorm uses `signal`'s whole-utterance statistics.

    signal: [N] the (normalised) 16 kHz input about to be encoded in chunks. Yields True when a swap was made,
    False for models without a time GroupNorm (layer-norm configs such as HuBERT-large), which need none.
    """
    layer = _first_conv_layer(model)
    if layer is None:
        yield False
        return
    original = layer.layer_norm
    mean, var = first_conv_stats(layer.conv, signal, device)
    layer.layer_norm = FixedStatsNorm(original, mean, var)
    try:
        yield True
    finally:
        layer.layer_norm = original
