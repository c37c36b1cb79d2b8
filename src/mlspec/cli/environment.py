"""What to tell the user when the operating system refuses: a read-only folder, no permission, a full disk.

Such a refusal (an `OSError` whose errno is in `runtime.errors.ENVIRONMENT_ERRNOS`) is not a bug in
mlspec, so it gets no crash report: the CLI's one error handler prints `mlspec: <what, naming the
file>` and `  help: <what to do>` and exits 1, whichever command it happened in.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from mlspec.errors import shown


def describe(exc: OSError) -> tuple[str, str]:
    """(what is wrong, naming the file; what to do) for an OSError the environment raised."""
    name = shown(exc.filename)
    folder = str(Path(name).parent) if exc.filename is not None else "the project folder"
    code = exc.errno
    if code == errno.EROFS:
        return (f"cannot write {name}: the file system is read-only",
                "run mlspec where the project folder (at least .mlspec/ and the registry) can be written, "
                "for example on a writable copy")
    if code in (errno.EACCES, errno.EPERM):
        unreadable = exc.filename is not None and Path(os.fsdecode(exc.filename)).exists() and not os.access(
            exc.filename, os.R_OK)
        what = "read" if unreadable else "write"
        return (f"cannot {what} {name}: permission denied",
                f"give this user {what} access to {name if what == 'read' else folder}, or run mlspec on a copy "
                "of the project this user owns")
    if code == errno.ENOSPC:
        return (f"cannot write {name}: no space left on the device",
                f"free some space on the disk holding {folder} (see `df -h {folder}`), then run again")
    if code == errno.EDQUOT:
        return (f"cannot write {name}: the disk quota is exceeded",
                f"free some space in your quota on the disk holding {folder}, or ask for a larger one, then run again")
    if code == errno.EFBIG:
        return (f"cannot write {name}: the file would be larger than this process may write",
                "raise the file size limit (`ulimit -f`) or free some space, then run again")
    return (f"cannot use {name}: {exc.strerror}", "check the file and its folder, then run again")
