"""Avatars: trained methods loaded for inference, one class per registered method (talkzoo.methods), all behind the
`Avatar` interface (base.py). `talkzoo generate` runs a file through one (video.py); `talkzoo serve` a live stream."""

from talkzoo.avatars.base import Avatar
from talkzoo.avatars.video import avatar_frames, write_avatar_video

__all__ = ["Avatar", "avatar_frames", "write_avatar_video"]
