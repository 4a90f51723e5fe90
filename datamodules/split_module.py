"""The plumbing shared by the talkzoo DataModules: train / val datasets and the speakers' SpeakerInfo built in `setup`,
seeded loaders."""

from __future__ import annotations

from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Sampler

from talkzoo.datamodules.sampling import make_loader
from talkzoo.datamodules.speaker_info import SpeakerInfo


class SplitDataModule(LightningDataModule):
    """A DataModule whose `setup` fills `train_set`, `val_set` and `infos`; test loaders are the val loaders.

    Subclasses implement `setup` and `train_sampler`; their hyper-parameters must include batch_size, num_workers,
    pin_memory and seed. It is a `talkzoo.datamodules.speaker_info.SpeakerInfoSource`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.infos: list[SpeakerInfo] | None = None

    def speaker_infos(self) -> list[SpeakerInfo]:
        """One SpeakerInfo per speaker (by speaker index), for the module's checkpoint; valid after `setup`."""
        if self.infos is None:
            raise RuntimeError(f"call setup() before asking {type(self).__name__} for its speakers")
        return list(self.infos)

    def train_sampler(self, dataset: Dataset) -> Sampler:
        """The seeded sampler of the train loader."""
        raise NotImplementedError(f"{type(self).__name__} must define train_sampler")

    def train_dataloader(self) -> DataLoader:
        dataset = self._require(self.train_set)
        return self._loader(dataset, self.train_sampler(dataset))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._require(self.val_set))

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def _loader(self, dataset: Dataset, sampler: Sampler | None = None) -> DataLoader:
        hp = self.hparams
        return make_loader(dataset, hp.batch_size, hp.num_workers, sampler, hp.seed, hp.pin_memory)

    def _require(self, dataset: Dataset | None) -> Dataset:
        if dataset is None:
            raise RuntimeError(f"call setup() before asking {type(self).__name__} for a dataloader")
        return dataset
