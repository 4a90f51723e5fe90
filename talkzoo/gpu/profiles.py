"""Sizes and time budgets of the GPU checks: `cuda` (the real run, 512², paper widths) and `cpu` (the rehearsal:
the same code at tiny sizes, so the kit cannot rot between the rare occasions a GPU is at hand). Stdlib only."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    """What the checks run at.

    size: training / render resolution (square). precisions: Lightning precisions every recipe is trained in.
    recipe_steps: trainer.max_steps per recipe and precision (GAN recipes count D and G steps). recipe_seconds:
    trainer.max_time cap of one fit. cpu_presets: stack each recipe's configs/presets/<recipe>_cpu.yaml (tiny
    widths). sampler_train_steps / sampler_train_seconds: the ER-NeRF head trained for the sampler comparison.
    fine_samples: torch-sampler samples per ray of the converged render (nerfacc: step / fine_step_divisor).
    rays: ER-NeRF training rays a step. repeats: timed repeats after one warm-up. compile_backend: torch.compile
    backend (None: the compiled variants are skipped). renderer: MODA portrait renderer (ngf, num_downs,
    max_channels, batch). audio_seconds: audio length of the audio → motion timing. faconet_frames: frames composed
    per FaCo-Net timing. lpips_batch: image pairs. nerfacc_build_seconds: time allowed for each CUDA build
    (nerfacc's and gsplat's, which run at once).
    yield_to_nerf_checks: once the build is done, the checks that march rays go before the rest (time is short on
    a lent GPU). budgets: seconds a check may take (the runner kills it after that and moves on).
    """

    name: str
    size: int
    precisions: tuple[str, ...]
    recipe_steps: int
    recipe_seconds: int
    cpu_presets: bool
    sampler_train_steps: int
    sampler_train_seconds: int
    fine_samples: int
    fine_step_divisor: int
    rays: int
    repeats: int
    compile_backend: str | None
    renderer: tuple[int, int, int, int]
    audio_seconds: float
    faconet_frames: int
    lpips_batch: int
    nerfacc_build_seconds: int
    yield_to_nerf_checks: bool
    budgets: dict[str, int] = field(default_factory=dict)

    def budget(self, check: str) -> int:
        return self.budgets.get(check, self.budgets["recipe"] if check.startswith("recipe.") else 60)


PROFILES = {
    "cuda": Profile(
        name="cuda",
        size=512,
        precisions=("bf16-mixed", "16-mixed"),
        recipe_steps=40,
        recipe_seconds=25,  # trainer.max_time: two precisions fit in the recipe budget
        cpu_presets=False,
        sampler_train_steps=300,
        sampler_train_seconds=60,
        fine_samples=512,
        fine_step_divisor=4,
        rays=65536,
        repeats=5,
        compile_backend="inductor",
        renderer=(64, 8, 512, 16),
        audio_seconds=60.0,
        faconet_frames=15000,
        lpips_batch=8,
        nerfacc_build_seconds=300,
        yield_to_nerf_checks=True,
        budgets={
            "recipe": 70,
            "moda_speed": 90,
            "gpu_tests": 90,
            "sampler": 150,
            "ernerf_speed": 180,
            "talkinggaussian_speed": 90,
            "streaming": 150,
        },
    ),
    "cpu": Profile(
        name="cpu",
        size=64,
        precisions=("bf16-mixed",),  # Lightning refuses 16-mixed on CPU
        recipe_steps=6,
        recipe_seconds=30,
        cpu_presets=True,
        sampler_train_steps=30,
        sampler_train_seconds=30,
        fine_samples=128,
        fine_step_divisor=4,
        rays=1024,
        repeats=1,
        compile_backend=None,  # torch.compile on 2 CPU cores costs ~20 s of the rehearsal: CUDA only
        renderer=(16, 5, 128, 2),
        audio_seconds=4.0,
        faconet_frames=400,
        lpips_batch=2,
        nerfacc_build_seconds=60,
        yield_to_nerf_checks=False,  # the build fails at once without CUDA: one worker fewer on 2 cores
        budgets={
            "recipe": 90,
            "moda_speed": 90,
            "gpu_tests": 90,
            "sampler": 120,
            "ernerf_speed": 120,
            "talkinggaussian_speed": 90,
            "streaming": 150,
        },
    ),
}
