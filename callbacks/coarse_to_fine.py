"""Coarse-to-fine switch of ER-NeRF (docs/ernerf.md, "Training stages"): random-ray MSE until `switch_step`, then
patch batches (lips rectangle and random 32×32 patches, alternating) with LPIPS weighted 0.01 / 0.1.

The module must be a `talkzoo.lightning_modules.protocols.LPIPSStages`: `enable_lpips(lpips_or_None)`, a boolean
`fine_stage` buffer (persisted in the checkpoint) and `lpips_ready` (configured in this process). The switch is
checked before every training batch, so a run resumed past the step switches at once. Without the AlexNet backbone
weights (talkzoo.zoo.losses.lpips) the switch still happens, with patch MSE only, and a warning naming the missing
file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from talkzoo.lightning_modules.protocols import LPIPSStages
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.losses.lpips import LPIPS, LPIPSWeightsUnavailable


class CoarseToFineLPIPS(Callback):
    """Switch the module to the fine (LPIPS) stage at global step `switch_step`.

    Args:
        switch_step: the first global step trained in the fine stage (ER-NeRF: 100,000).
        backbone_weights: path to torchvision's AlexNet weights, None for the torch.hub cache.
        require_weights: raise instead of falling back to MSE-only patches when the weights are missing.
    """

    def __init__(self, switch_step: int = 100000, backbone_weights: str | None = None, require_weights: bool = False):
        super().__init__()
        self.switch_step = switch_step
        self.backbone_weights = backbone_weights
        self.require_weights = require_weights
        self.switched_at: int | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not isinstance(pl_module, LPIPSStages):
            raise UserError(
                f"CoarseToFineLPIPS switches a module with a coarse and a fine stage (LPIPSStages: enable_lpips, "
                f"fine_stage, lpips_ready); {type(pl_module).__name__} has none: remove the callback from the config"
            )

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        assert isinstance(pl_module, LPIPSStages)  # checked in setup
        if trainer.global_step < self.switch_step or pl_module.lpips_ready:
            return
        try:
            lpips = LPIPS(Path(self.backbone_weights) if self.backbone_weights else None).to(pl_module.device)
        except LPIPSWeightsUnavailable as error:
            if self.require_weights:
                raise
            rank_zero_warn(f"CoarseToFineLPIPS: {error} — the fine stage continues with patch MSE only")
            lpips = None
        pl_module.enable_lpips(lpips)
        self.switched_at = trainer.global_step
        rank_zero_info(
            f"CoarseToFineLPIPS: switched to patch sampling with {'LPIPS' if lpips is not None else 'MSE only'}"
            f" at step {trainer.global_step} (configured {self.switch_step})"
        )
        pl_module.log("train/lpips_switch_step", float(trainer.global_step), batch_size=1)

    def state_dict(self) -> dict[str, Any]:
        return {"switched_at": self.switched_at}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.switched_at = state_dict.get("switched_at")
