"""Errors a user can cause. The CLI prints their message as one line and exits non-zero, no traceback."""


class UserError(Exception):
    """Bad input from the user (missing file, wrong rate, bad folder). The message names the cause and the fix."""

    exit_code = 1
