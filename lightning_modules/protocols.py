"""The contracts between the talkzoo LightningModules, the networks injected into them and the callbacks that drive
them, as `typing.Protocol`s (structural: a class fits by having the members, no inheritance needed).

They live here, the lowest layer that needs them: modules check the networks they are given, and callbacks
(talkzoo.callbacks, one layer up) check the module they are attached to. Media: talkzoo.lightning_modules.media.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import torch
from torch import nn

from talkzoo.zoo.moda import BodyOutput


@runtime_checkable
class MotionAudioEncoder(Protocol):
    """MODA's audio encoder (talkzoo.zoo.moda.MelConvEncoder, Wav2VecEncoder).

    input_kind: which batch entry it reads: "features" (`audio` [B, T, D]) or "waveform" (`waveform` [B, L]).
    out_dim: the width d of its output [B, T, d].
    """

    input_kind: Literal["features", "waveform"]
    out_dim: int

    def __call__(self, audio: torch.Tensor, num_frames: int | None = None) -> torch.Tensor: ...


@runtime_checkable
class MotionBody(Protocol):
    """MODA's temporal body (talkzoo.zoo.moda.DualAttention, RecurrentBody).

    in_dim: d of the audio and subject features it reads. out_dim: width of `BodyOutput.features`.
    motion_dim: size of the per-frame target motion its training posterior reads (0 = none).
    """

    in_dim: int
    out_dim: int
    motion_dim: int

    def __call__(
        self,
        x_a: torch.Tensor,
        x_s: torch.Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        motion: torch.Tensor | None = None,
    ) -> BodyOutput: ...


@runtime_checkable
class ImageNetwork(Protocol):
    """A generator or discriminator over stacked image planes [B, in_channels, H, W] (talkzoo.zoo.portrait)."""

    in_channels: int


@runtime_checkable
class LPIPSStages(Protocol):
    """A module with a coarse and a fine (LPIPS) stage, switched by talkzoo.callbacks.coarse_to_fine.

    fine_stage: bool buffer, persisted in the checkpoint (a resumed run knows its stage).
    lpips_ready: whether the fine stage is configured in this process (False again after a restart).
    enable_lpips(lpips): enter the fine stage with an LPIPS network, or None for patch MSE only.
    """

    fine_stage: torch.Tensor
    lpips_ready: bool

    def enable_lpips(self, lpips: nn.Module | None) -> None: ...


def require(network: object, protocol: type, role: str) -> None:
    """TypeError naming the missing members when `network` does not implement `protocol` (a runtime Protocol)."""
    if isinstance(network, protocol):
        return
    members = set(vars(protocol).get("__annotations__", {}))
    members |= {name for name, value in vars(protocol).items() if callable(value) and not name.startswith("__")}
    absent = sorted(name for name in members if not hasattr(network, name))
    missing = f" (missing: {', '.join(absent)})" if absent else ""
    raise TypeError(f"{role} must implement {protocol.__name__}{missing}; got {type(network).__name__}")


__all__ = ["ImageNetwork", "LPIPSStages", "MotionAudioEncoder", "MotionBody", "require"]
