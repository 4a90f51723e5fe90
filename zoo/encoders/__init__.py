"""Input encoders shared by the methods: the multiresolution 2-D hash grid and the tri-plane encoder (ER-NeRF's
head and torso fields, TalkingGaussian's motion networks)."""

from talkzoo.zoo.encoders.triplane import HashGrid2D, TriPlaneEncoder

__all__ = ["HashGrid2D", "TriPlaneEncoder"]
