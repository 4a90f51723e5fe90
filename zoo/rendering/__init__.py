"""Rays in a head's NeRF box, occupancy-grid samplers (nerfacc on CUDA, torch on CPU), volume rendering."""

from talkzoo.zoo.rendering.activations import trunc_exp
from talkzoo.zoo.rendering.rays import box_scale, camera_rays, pixel_grid, ray_aabb
from talkzoo.zoo.rendering.samplers import GridSampler, NerfaccSampler, RaySamples, TorchGridSampler
from talkzoo.zoo.rendering.volume import composite, over, render_rays

__all__ = [
    "GridSampler", "NerfaccSampler", "RaySamples", "TorchGridSampler", "box_scale", "camera_rays", "composite",
    "over", "pixel_grid", "ray_aabb", "render_rays", "trunc_exp",
]  # fmt: skip
