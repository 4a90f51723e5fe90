"""MODA's V stage (docs/moda.md, "MODA R → V"): condition images, TPE, the U-Net generator and the multi-scale
discriminator."""

from talkzoo.zoo.portrait.condition import Camera, condition_image, default_thickness, draw_condition, project
from talkzoo.zoo.portrait.discriminator import MultiscaleDiscriminator, PatchDiscriminator
from talkzoo.zoo.portrait.generator import UNetGenerator
from talkzoo.zoo.portrait.losses import feature_matching, lsgan
from talkzoo.zoo.portrait.tpe import tpe_channels, tpe_index, tpe_planes

__all__ = [
    "Camera",
    "MultiscaleDiscriminator",
    "PatchDiscriminator",
    "UNetGenerator",
    "condition_image",
    "default_thickness",
    "draw_condition",
    "feature_matching",
    "lsgan",
    "project",
    "tpe_channels",
    "tpe_index",
    "tpe_planes",
]
