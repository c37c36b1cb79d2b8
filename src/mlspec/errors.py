"""The one family of errors a user can act on: every module's errors derive from `MlspecError`, which
`cli.common.report` says and exits with; and `shown`, how every message shows a path. It imports nothing
of mlspec, so any layer may raise its errors.
"""

from __future__ import annotations

import os


def shown(path: str | os.PathLike | None) -> str:
    """A path as messages show it: relative to the working directory when inside it."""
    if path is None:
        return "a file"
    text = os.fsdecode(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:  # another drive (Windows)
        return text
    return relative if not relative.startswith("..") else text


class MlspecError(Exception):
    """A failure the user can act on; never a traceback. `exit_code` 1 is a finding, 2 a usage error."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message

    def notes(self) -> list[str]:
        """Lines shown between the message and the help line (what failed, where in the specs)."""
        return []
