"""ER-NeRF networks (plain torch): tri-plane hash encoder, SH encoding, audio pathway, region attention, head field."""

from talkzoo.zoo.encoders.triplane import HashGrid2D, TriPlaneEncoder
from talkzoo.zoo.ernerf.audio_att_net import AudioAttNet
from talkzoo.zoo.ernerf.audio_net import AudioNet
from talkzoo.zoo.ernerf.head_field import HeadField
from talkzoo.zoo.ernerf.mlp import MLP
from talkzoo.zoo.ernerf.region_attention import RegionAttention
from talkzoo.zoo.ernerf.sh import SHEncoder

__all__ = [
    "MLP", "AudioAttNet", "AudioNet", "HashGrid2D", "HeadField", "RegionAttention", "SHEncoder", "TriPlaneEncoder",
]  # fmt: skip
