"""TalkingGaussian (Li et al., ECCV 2024) in plain torch: deformable 3-D Gaussians for the face and the inside of the
mouth, grid-based motion fields (the tri-plane encoder shared with ER-NeRF, talkzoo.zoo.encoders), one rasteriser
interface (gsplat on CUDA, a differentiable torch rasteriser elsewhere), densification, compositing, losses.
docs/talkinggaussian.md describes the method as implemented here."""

from talkzoo.zoo.talkinggaussian.branch import Deformed, GaussianBranch
from talkzoo.zoo.talkinggaussian.camera import Camera, HeadSpace
from talkzoo.zoo.talkinggaussian.composite import composite_layers
from talkzoo.zoo.talkinggaussian.gaussians import GaussianSet
from talkzoo.zoo.talkinggaussian.motion import FaceMotionNet, MouthMotionNet
from talkzoo.zoo.talkinggaussian.raster_types import RasterOutput, RasterSettings
from talkzoo.zoo.talkinggaussian.rasterizer import rasterize

__all__ = [
    "Camera", "Deformed", "FaceMotionNet", "GaussianBranch", "GaussianSet", "HeadSpace", "MouthMotionNet",
    "RasterOutput", "RasterSettings", "composite_layers", "rasterize",
]  # fmt: skip
