"""ER-NeRF networks (plain torch): tri-plane hash encoder, SH encoding, audio pathway, region attention, head field."""

from zoo.ernerf.audio_att_net import AudioAttNet
from zoo.ernerf.audio_net import AudioNet
from zoo.ernerf.hashgrid import HashGrid2D, TriPlaneEncoder
from zoo.ernerf.head_field import HeadField
from zoo.ernerf.mlp import MLP
from zoo.ernerf.region_attention import RegionAttention
from zoo.ernerf.sh import SHEncoder

__all__ = [
    "MLP", "AudioAttNet", "AudioNet", "HashGrid2D", "HeadField", "RegionAttention", "SHEncoder", "TriPlaneEncoder",
]  # fmt: skip
