"""Errors a run can end with, each naming what failed and how to fix it, with its exit code."""

from __future__ import annotations

import errno

from mlspec.errors import MlspecError

# What the operating system says when the project cannot be written here: a read-only folder or file
# system, no permission, a full disk, a quota or a file size limit. Such an OSError is not a bug: it
# ends the command with one message about the file (see `mlspec.cli.environment`), never a crash report.
ENVIRONMENT_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def environment_error(exc: BaseException | None) -> OSError | None:
    """`exc`, or the exception it was raised from (`raise ... from`), when that is the environment refusing.

    Only explicit causes count: an error raised while some handler dealt with an OSError may be a bug.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
            return exc
        exc = exc.__cause__
    return None


class RunError(MlspecError):
    """A step failed for a reason the user can act on (bad data, failed gate, missing file)."""

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None,
                 details: list[str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.where = where  # "file:line" of the spec part involved, when known
        self.details = details or []

    def notes(self) -> list[str]:
        """Each detail (a failed check, a row), then the spec's line."""
        return [f"- {d}" for d in self.details] + ([f"spec: {self.where}"] if self.where else [])


class DataError(RunError):
    """Data is missing, unreadable, or breaks its contract."""


class TrainingError(RunError):
    """Training cannot start or failed (one class, empty split, leaked label...)."""


class GateError(RunError):
    """A gate's requirements were not met; nothing was registered."""


class RegistryError(RunError):
    """The registry refused an operation (tampered artifact, unknown version...)."""
