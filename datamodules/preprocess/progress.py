"""Progress bars per step (tqdm on stderr; silent when disabled)."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm


def bar(total: int, step: str, enabled: bool) -> Any:
    """A tqdm bar over `total` frames labelled with the step name (a no-op bar when not enabled)."""
    return tqdm(
        total=total, desc=f"preprocess {step}", unit="frame", disable=not enabled, leave=False, dynamic_ncols=True
    )
