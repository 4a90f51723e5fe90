"""Initial Gaussian centres for a branch.

"speaker" (default here): a coloured point cloud back-projected from training frames — the pixels of the branch's
region (face: head label minus the inside of the mouth; mouth: the inside-mouth polygon) are lifted to 3-D at the
depth of the nearest canonical-mesh vertices of that frame (inverse-distance weights over the 4 nearest projected
vertices; the mouth pushed back by `depth_offset` behind the lips), jittered in depth, and carry the pixel colour.
This is what SfM points are to 3DGS: the splats start on the head's surface with the right colours, so a few hundred
CPU steps already give a recognisable head. Hair and ears, which the face mesh does not cover, take the depth of the
nearest mesh vertex (a shell in front of the skull that optimisation refines).
"cube" (the original's): `count` points uniform in [−half, half]³ around the head centre, grey.
"""

from __future__ import annotations

import torch

from talkzoo.zoo.talkinggaussian.camera import Camera


def project(points: torch.Tensor, camera: Camera) -> tuple[torch.Tensor, torch.Tensor]:
    """World points [P, 3] → pixels [P, 2] (u, v continuous) and camera depth [P]."""
    cam = points @ camera.viewmat[:3, :3].T + camera.viewmat[:3, 3]
    fx, fy, cx, cy = camera.intrinsics.unbind(-1)
    z = cam[:, 2].clamp(min=1e-6)
    return torch.stack((fx * cam[:, 0] / z + cx, fy * cam[:, 1] / z + cy), dim=-1), cam[:, 2]


def unproject(pixels: torch.Tensor, depth: torch.Tensor, camera: Camera) -> torch.Tensor:
    """Pixels [M, 2] (u, v continuous) at camera depth [M] → world points [M, 3]."""
    fx, fy, cx, cy = camera.intrinsics.unbind(-1)
    cam = torch.stack(((pixels[:, 0] - cx) / fx * depth, (pixels[:, 1] - cy) / fy * depth, depth), dim=-1)
    rotation, translation = camera.viewmat[:3, :3], camera.viewmat[:3, 3]
    return (cam - translation) @ rotation


def mesh_depth(pixels: torch.Tensor, mesh_pixels: torch.Tensor, mesh_depth: torch.Tensor, k: int = 4) -> torch.Tensor:
    """Depth at pixels [M, 2] interpolated from projected mesh vertices [P, 2] with depths [P] (inverse distance
    weights over the k nearest vertices)."""
    d = torch.cdist(pixels.float(), mesh_pixels.float())  # [M, P]
    dist, idx = d.topk(min(k, mesh_pixels.shape[0]), dim=1, largest=False)
    w = 1.0 / (dist + 0.5)
    return (w * mesh_depth[idx]).sum(dim=1) / w.sum(dim=1)


def backproject_region(
    image: torch.Tensor,
    mask: torch.Tensor,
    camera: Camera,
    mesh_world: torch.Tensor,
    count: int,
    generator: torch.Generator,
    depth_offset: float = 0.0,
    depth_jitter: float = 0.0,
    depth_vertices: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` points from the pixels of mask [H, W] of one frame (drawn with replacement, each placed anywhere in
    its pixel): image [3, H, W], its camera, the frame's
    canonical mesh in world units [P, 3] (`depth_vertices` restricts the depth lookup to some vertex indices)
    → points [M, 3], colours [M, 3]."""
    rows, cols = mask.nonzero(as_tuple=True)
    if rows.numel() == 0 or count <= 0:
        return mesh_world.new_zeros(0, 3), mesh_world.new_zeros(0, 3)
    pick = torch.randint(rows.numel(), (count,), generator=generator).to(rows.device)  # with replacement
    rows, cols = rows[pick], cols[pick]
    pixels = torch.stack((cols.float() + 0.5, rows.float() + 0.5), dim=-1)
    pixels = pixels + (torch.rand(pixels.shape, generator=generator).to(pixels) - 0.5)  # anywhere in the pixel
    vertices = mesh_world if depth_vertices is None else mesh_world[depth_vertices]
    mesh_px, mesh_z = project(vertices, camera)
    depth = mesh_depth(pixels, mesh_px, mesh_z) + depth_offset
    depth = depth + torch.randn(depth.shape, generator=generator).to(depth) * depth_jitter
    return unproject(pixels, depth, camera), image[:, rows, cols].T.contiguous()


def cube_points(count: int, half: float, generator: torch.Generator) -> torch.Tensor:
    """`count` points uniform in [−half, half]³ (TalkingGaussian's random initialisation)."""
    return (torch.rand(count, 3, generator=generator) * 2 - 1) * half
