"""Files written whole or not at all: a temporary file, fsync, rename, fsync of the folder.

A failure (a full disk, a read-only folder) leaves no temporary file behind, and the error names the
file the caller wanted written, not the temporary one, so a message says which file it was.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stage(path: Path, data: bytes) -> str:
    """A complete, synced temporary file beside `path`, ready to be renamed (or linked) into place.

    Errors name `path`, and leave no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise about(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise about(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file, fsync, rename, fsync the folder: the file is old, new, or absent.

    A failure (a full disk, a read-only folder) leaves no temporary file behind, and the OSError
    names `path`, not the temporary file's name, so the message says which file could not be written.
    """
    tmp = stage(path, data)
    try:
        Path(tmp).replace(path)
        fsync_dir(path.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise about(exc, path) from exc


def about(exc: OSError, path: Path) -> OSError:
    """The same error (errno, and so its subclass) about `path`, the file the caller wanted written."""
    return OSError(exc.errno, exc.strerror, os.fspath(path)) if exc.errno is not None else OSError(str(exc))
