"""Errors a run can end with, each naming what failed and how to fix it, with its exit code."""

from __future__ import annotations


class RunError(Exception):
    """A step failed for a reason the user can act on (bad data, failed gate, missing file)."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None,
                 details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where  # "file:line" of the spec part involved, when known
        self.details = details or []


class DataError(RunError):
    """Data is missing, unreadable, or breaks its contract."""


class TrainingError(RunError):
    """Training cannot start or failed (one class, empty split, leaked label...)."""


class GateError(RunError):
    """A gate's requirements were not met; nothing was registered."""


class RegistryError(RunError):
    """The registry refused an operation (tampered artifact, unknown version...)."""
