"""The one error type of preprocessing: bad input the user can fix (printed as one line by the CLI)."""

from __future__ import annotations

from talkzoo.zoo.errors import UserError


class PreprocessError(UserError, ValueError):
    """A video that cannot become a speaker; the message names the cause, the numbers and the fix."""
