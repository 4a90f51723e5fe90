"""`SpeakerModule`: the base of the talkzoo LightningModules, which keep the `SpeakerInfo` of their speakers.

The hand-over happens in one place, `setup`: Lightning calls the DataModule's `setup` first, then the module's, on
every process (so it holds under DDP, for `talkzoo fit` and for a plain `trainer.fit(model, datamodule=dm)`). The
list travels in the checkpoint under `SPEAKERS_KEY`, so a module loaded for inference needs no data. Subclasses that
check the data or derive state from it override `set_speakers` (and call it on the base).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule
from typing_extensions import Self

from talkzoo.datamodules.speaker_info import SpeakerInfo, SpeakerInfoSource
from talkzoo.lightning_modules.run_loading import load_run_module

SPEAKERS_KEY = "talkzoo_speakers"


class SpeakerModule(LightningModule):
    """A LightningModule with `speakers`: one SpeakerInfo per speaker index, from the data, stored in checkpoints."""

    def __init__(self) -> None:
        super().__init__()
        self.speakers: list[SpeakerInfo] = []

    def setup(self, stage: str) -> None:
        """Take the speakers of the trainer's DataModule (a `SpeakerInfoSource`; none when fitted on bare loaders)."""
        if self._trainer is None:  # called by hand, outside a Trainer
            return
        datamodule = self.trainer.datamodule
        if isinstance(datamodule, SpeakerInfoSource):
            self.set_speakers(datamodule.speaker_infos())

    def set_speakers(self, speakers: Sequence[SpeakerInfo]) -> None:
        """The speakers this module serves, by speaker index (also the way to set them outside a Trainer)."""
        self.speakers = list(speakers)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[SPEAKERS_KEY] = [info.to_dict() for info in self.speakers]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.set_speakers([SpeakerInfo.from_dict(info) for info in checkpoint.get(SPEAKERS_KEY, [])])

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls, checkpoint_path: str | Path, map_location: str | torch.device | None = None, **init_overrides: Any
    ) -> Self:
        """The one loader, `run_loading.load_run_module`: weights only, the injected networks rebuilt from the run's
        config.yaml (they are not in the checkpoint's hyper-parameters); `init_overrides` replace init args."""
        module = load_run_module(checkpoint_path, cls, init_overrides or None, map_location=map_location or "cpu")
        return module  # type: ignore[return-value]


__all__ = ["SPEAKERS_KEY", "SpeakerModule"]
