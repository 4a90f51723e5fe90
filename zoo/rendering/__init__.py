"""Rays in a head's NeRF box, occupancy-grid samplers (nerfacc on CUDA, torch on CPU), volume rendering."""

from zoo.rendering.activations import trunc_exp
from zoo.rendering.rays import box_scale, camera_rays, pixel_grid, ray_aabb
from zoo.rendering.samplers import GridSampler, NerfaccSampler, RaySamples, TorchGridSampler
from zoo.rendering.volume import composite, over, render_rays

__all__ = [
    "GridSampler", "NerfaccSampler", "RaySamples", "TorchGridSampler", "box_scale", "camera_rays", "composite",
    "over", "pixel_grid", "ray_aabb", "render_rays", "trunc_exp",
]  # fmt: skip
