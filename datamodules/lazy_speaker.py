"""Base of the datasets that read one speaker folder: the `Speaker` (memory maps) and other per-process state open
lazily and are dropped when the dataset is pickled, so each DataLoader worker reopens its own."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from talkzoo.datamodules.speaker import Speaker


class LazySpeakerDataset(Dataset):
    """Subclasses set `self.root` (the speaker folder) and keep per-process state in `self._cache`."""

    root: str

    @property
    def _cache(self) -> dict[str, Any]:
        cache = self.__dict__.get("_lazy_cache")
        if cache is None:
            cache = self.__dict__["_lazy_cache"] = {}
        return cache

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lazy_cache", None)  # memmaps and decoded images are reopened in each worker
        return state

    @property
    def speaker(self) -> Speaker:
        if "speaker" not in self._cache:
            self._cache["speaker"] = Speaker(self.root)
        return self._cache["speaker"]
