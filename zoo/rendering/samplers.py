"""One sampler interface over a nerfacc occupancy grid (docs/ernerf.md, "Two samplers").

- `NerfaccSampler` (CUDA): `OccGridEstimator.sampling` marches constant steps through occupied cells only and
  returns packed samples; at most `max_samples` per ray are kept (ER-NeRF's max_steps = 16).
- `TorchGridSampler` (CPU or anywhere): `n_samples` stratified samples per ray between the ray's AABB entry and
  exit; samples whose midpoint lies in an empty occupancy cell are masked (never shaded, zero density).
Both own the same `OccGridEstimator` (state-dict key `estimator.*`), updated the same way, so a checkpoint trained
with one renders with the other.

No CUDA build is ever required: `backend="auto"` marches with nerfacc on CUDA only when its CUDA extension builds
and loads (nerfacc JIT-compiles it on first use, which needs nvcc and ninja); otherwise it warns once, saying why,
and uses the torch path, which is fully vectorised (no per-ray Python loop) and runs on CUDA as well.
`TALKZOO_NERFACC=off` skips the extension altogether.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from nerfacc import OccGridEstimator
from torch import nn

from talkzoo.zoo.rendering.rays import ray_aabb


@dataclass
class _ExtensionState:
    """nerfacc's CUDA extension in this process: (available, reason) once probed; whether the fallback warned."""

    status: tuple[bool, str] | None = None
    warned: bool = False


_NERFACC = _ExtensionState()


def _load_nerfacc_extension() -> object:
    """Import nerfacc's compiled CUDA module (JIT-compiled on first use: minutes); None when nerfacc found no nvcc."""
    from nerfacc.cuda._backend import _C  # importing it starts the JIT build: only when CUDA marching is asked for

    return _C


def _probe_nerfacc_cuda() -> tuple[bool, str]:
    if os.environ.get("TALKZOO_NERFACC", "").strip().lower() in ("0", "off", "false", "no"):
        return False, "TALKZOO_NERFACC=off"
    if not torch.cuda.is_available():
        return False, "CUDA is not available"
    try:
        extension = _load_nerfacc_extension()
    except Exception as exc:  # noqa: BLE001 - any build or load failure (compiler error, ABI mismatch) means "no"
        return False, f"nerfacc's CUDA extension failed to build or load ({type(exc).__name__}: {_gist(str(exc))})"
    if extension is None:
        return False, "nerfacc found no CUDA toolkit (nvcc) to build its CUDA extension"
    return True, "nerfacc's CUDA extension is loaded"


def _gist(message: str) -> str:
    """First line of a build log plus its first compiler error line (the log itself can be pages long)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return "no message"
    error = next((line for line in lines[1:] if "error" in line.lower() or "fatal" in line.lower()), None)
    return (lines[0][:200] + (f" … {error[:300]}" if error else "")).rstrip(":")


def nerfacc_cuda_status() -> tuple[bool, str]:
    """(available, reason) of nerfacc's CUDA extension, probed once per process (the first probe on a CUDA machine
    compiles the extension when it is not built yet)."""
    if _NERFACC.status is None:
        _NERFACC.status = _probe_nerfacc_cuda()
    return _NERFACC.status


def fallback_message(reason: str) -> str:
    """The one warning printed when `backend="auto"` falls back to the torch sampler on CUDA."""
    cuda = torch.version.cuda or "?"
    return (
        f"nerfacc's occupancy-grid marching is unavailable: {reason}. The torch sampler is used on CUDA instead "
        f"(vectorised, correct, slower). For the fast path install a CUDA toolkit whose nvcc matches torch's CUDA "
        f"({cuda}) and ninja, put nvcc on PATH, and start again: nerfacc compiles its extension on first use "
        "(a few minutes, once)."
    )


def marching_backend(backend: str, device: torch.device) -> str:
    """The sampler that `backend` ('auto', 'torch', 'nerfacc') uses for rays on `device`: 'nerfacc' or 'torch'.
    'auto' takes nerfacc on CUDA when its extension is available, else the torch path (one warning per process)."""
    if backend != "auto":
        return backend
    if device.type != "cuda":
        return "torch"
    available, reason = nerfacc_cuda_status()
    if available:
        return "nerfacc"
    if not _NERFACC.warned:
        _NERFACC.warned = True
        warnings.warn(fallback_message(reason), RuntimeWarning, stacklevel=3)
    return "torch"


@dataclass
class RaySamples:
    """Intervals along rays.

    Batched (ray_indices is None): t_starts, t_ends [R, S] and mask [R, S] (True = occupied, to be shaded).
    Packed: t_starts, t_ends, ray_indices [N] sorted by ray; every sample is to be shaded (mask None).
    """

    t_starts: torch.Tensor
    t_ends: torch.Tensor
    n_rays: int
    ray_indices: torch.Tensor | None = None
    mask: torch.Tensor | None = None

    @property
    def packed(self) -> bool:
        return self.ray_indices is not None


class GridSampler(nn.Module):
    """Occupancy-grid bookkeeping shared by the samplers.

    Args:
        aabb: the occupancy grid's box (min xyz, max xyz); ER-NeRF: the cube [-1, 1]³.
        march_aabb: the box used for near/far; None = `aabb` (ER-NeRF halves y, [-1, -0.5, -1, 1, 0.5, 1], for its
            own normalisation; our box is fitted to the head mesh, see rays.box_scale, so the cube is the default).
        resolution: grid cells per side (128). near: minimum distance (0.05).
        step_size: marching step (2√3/128 ≈ 0.02706, ER-NeRF's constant dt). occ_threshold: σ·dt threshold
        (ER-NeRF's σ > 10 ⇒ 10·dt). ema_decay: 0.95. update_every: steps between grid updates (16).
        warmup_steps: full-grid updates before this step (ER-NeRF updates every cell: use a large number).
        eval_chunk: points per density evaluation during an update.
        n_samples: samples per ray of the torch path (fixed count). max_samples: cap per ray of the nerfacc path
        (ER-NeRF's max_steps = 16; None = no cap). backend: 'auto' (nerfacc for CUDA rays when its CUDA
        extension is available, else torch with one warning; torch on CPU), 'torch' or 'nerfacc'.
    """

    def __init__(
        self,
        aabb: tuple[float, ...] = (-1.0, -1.0, -1.0, 1.0, 1.0, 1.0),
        march_aabb: tuple[float, ...] | None = None,
        resolution: int = 128,
        near: float = 0.05,
        step_size: float = 2 * math.sqrt(3) / 128,
        occ_threshold: float = 10 * 2 * math.sqrt(3) / 128,
        ema_decay: float = 0.95,
        update_every: int = 16,
        warmup_steps: int = 1_000_000_000,
        eval_chunk: int = 65536,
        n_samples: int = 32,
        max_samples: int | None = 16,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self.estimator = OccGridEstimator(roi_aabb=list(aabb), resolution=resolution, levels=1)
        self.register_buffer("march_aabb", torch.tensor(march_aabb or aabb, dtype=torch.float32), persistent=False)
        self.near, self.step_size, self.occ_threshold = near, step_size, occ_threshold
        self.ema_decay, self.update_every, self.warmup_steps = ema_decay, update_every, warmup_steps
        self.eval_chunk = eval_chunk
        if backend not in ("auto", "torch", "nerfacc"):
            raise ValueError(f"unknown sampler backend {backend!r}: choose auto, torch or nerfacc")
        self.n_samples, self.max_samples, self.backend = n_samples, max_samples, backend

    @torch.no_grad()
    def update(self, step: int, density_fn: Callable[[torch.Tensor], torch.Tensor], force: bool = False) -> bool:
        """Every `update_every` steps (or when forced) re-evaluate σ [N] = density_fn(x [N, 3]) on the grid cells:
        occ = max(occ·decay, σ·step), occupied = occ > min(mean occ, threshold). Returns whether it updated."""
        if not force and step % self.update_every != 0:
            return False

        def occ_eval(x: torch.Tensor) -> torch.Tensor:
            parts = [density_fn(chunk).float() for chunk in x.split(self.eval_chunk)]
            return (torch.cat(parts) * self.step_size)[:, None]

        self.estimator._update(
            step=step, occ_eval_fn=occ_eval, occ_thre=self.occ_threshold, ema_decay=self.ema_decay,
            warmup_steps=self.warmup_steps,
        )  # fmt: skip
        return True

    @torch.no_grad()
    def update_subset(self, density_fn: Callable[[torch.Tensor], torch.Tensor], cells: int) -> None:
        """A cheaper update (CPU): `cells` random grid cells (cells marked −1 excluded) get the EMA-max update with
        σ·step at a jittered point in the cell; the threshold and occupied set are recomputed over the whole grid. Cells
        never evaluated count as occupied (conservative: nothing is skipped before it has been looked at)."""
        est = self.estimator
        valid = (est.occs >= 0).nonzero()[:, 0]
        indices = valid[torch.randperm(valid.numel(), device=valid.device)[:cells]]
        coords = est.grid_coords[indices]
        x = (coords + torch.rand_like(coords, dtype=torch.float32)) / est.resolution
        x = est.aabbs[0, :3] + x * (est.aabbs[0, 3:] - est.aabbs[0, :3])
        occ = torch.cat([density_fn(chunk).float() for chunk in x.split(self.eval_chunk)]) * self.step_size
        est.occs[indices] = torch.maximum(est.occs[indices] * self.ema_decay, occ)
        seen = est.occs > 0  # σ > 0 everywhere (exp), so 0 marks a cell never evaluated yet
        threshold = torch.clamp(est.occs[seen].mean(), max=self.occ_threshold)
        est.binaries = ((est.occs > threshold) | (est.occs == 0)).view(est.binaries.shape)

    def occupied(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., 3] → bool [...]: inside the grid's box and in an occupied cell."""
        aabb = self.estimator.aabbs[0]
        resolution = self.estimator.resolution.to(x.device)
        unit = (x - aabb[:3]) / (aabb[3:] - aabb[:3])
        inside = ((unit >= 0) & (unit < 1)).all(dim=-1)
        cell = (unit * resolution).long().clamp(min=0)
        cell = torch.minimum(cell, resolution.long() - 1)
        binaries = self.estimator.binaries[0]
        return inside & binaries[cell[..., 0], cell[..., 1], cell[..., 2]]

    def sample(self, rays_o: torch.Tensor, rays_d: torch.Tensor, stratified: bool) -> RaySamples:
        """rays_o, rays_d [R, 3] (unit directions) → RaySamples; `backend` 'auto' marches with nerfacc on CUDA when
        its extension is available (see `marching_backend`), else with the torch path."""
        if marching_backend(self.backend, rays_o.device) == "nerfacc":
            return self.sample_nerfacc(rays_o, rays_d, stratified)
        return self.sample_torch(rays_o, rays_d, stratified)

    @torch.no_grad()
    def sample_torch(self, rays_o: torch.Tensor, rays_d: torch.Tensor, stratified: bool) -> RaySamples:
        """Fixed-count samples: `n_samples` equal intervals between AABB entry and exit, the shading point of each
        jittered uniformly inside it when `stratified` (else its centre); intervals in empty cells are masked."""
        t_min, t_max, hit = ray_aabb(rays_o, rays_d, self.march_aabb, self.near)
        n, device = self.n_samples, rays_o.device
        bins = torch.arange(n + 1, device=device, dtype=torch.float32) / n  # [S+1]
        edges = t_min[:, None] + (t_max - t_min)[:, None] * bins  # [R, S+1]
        t_starts, t_ends = edges[:, :-1], edges[:, 1:]
        if stratified:  # shift the whole comb by one random offset per ray, as ER-NeRF's perturbation
            shift = (torch.rand(rays_o.shape[0], 1, device=device) - 0.5) * (t_max - t_min)[:, None] / n
            t_starts, t_ends = t_starts + shift, t_ends + shift
        mid = (t_starts + t_ends) / 2
        mask = self.occupied(rays_o[:, None, :] + rays_d[:, None, :] * mid[..., None]) & hit[:, None]
        return RaySamples(t_starts=t_starts, t_ends=t_ends, n_rays=rays_o.shape[0], mask=mask)

    @torch.no_grad()
    def sample_nerfacc(self, rays_o: torch.Tensor, rays_d: torch.Tensor, stratified: bool) -> RaySamples:
        """nerfacc 0.5.3 marching (CUDA only): constant steps through occupied cells, packed, ≤ max_samples a ray."""
        if not rays_o.is_cuda:
            raise RuntimeError("nerfacc's occupancy-grid marching is CUDA-only; use TorchGridSampler on CPU")
        available, reason = nerfacc_cuda_status()
        if not available:
            raise RuntimeError(f"sampler backend 'nerfacc' needs nerfacc's CUDA extension: {reason}; use 'auto'")
        import nerfacc  # optional CUDA path (the CPU path never imports it)

        t_min, t_max, _ = ray_aabb(rays_o, rays_d, self.march_aabb, self.near)
        ray_indices, t_starts, t_ends = self.estimator.sampling(
            rays_o.contiguous(), rays_d.contiguous(), sigma_fn=None, near_plane=self.near, t_min=t_min,
            t_max=t_max, render_step_size=self.step_size, stratified=stratified, cone_angle=0.0, alpha_thre=0.0,
        )  # fmt: skip
        n_rays = rays_o.shape[0]
        if self.max_samples is not None and ray_indices.numel():
            packed_info = nerfacc.pack_info(ray_indices, n_rays)  # [R, 2] (first sample, count)
            rank = torch.arange(ray_indices.numel(), device=ray_indices.device) - packed_info[ray_indices.long(), 0]
            keep = rank < self.max_samples
            ray_indices, t_starts, t_ends = ray_indices[keep], t_starts[keep], t_ends[keep]
        return RaySamples(t_starts=t_starts, t_ends=t_ends, n_rays=n_rays, ray_indices=ray_indices.long())


class TorchGridSampler(GridSampler):
    """Fixed-count stratified samples within the AABB, empty cells masked, on any device (the CPU path)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(backend="torch", **kwargs)  # type: ignore[arg-type]


class NerfaccSampler(GridSampler):
    """nerfacc `OccGridEstimator.sampling` + a per-ray cap (CUDA only)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(backend="nerfacc", **kwargs)  # type: ignore[arg-type]
