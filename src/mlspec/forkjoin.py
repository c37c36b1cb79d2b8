"""Run one pure function in a forked child while the caller's process does other work: two cores.

Compiling a large project is CPU-bound Python, so threads cannot share it out (the GIL). A forked
child starts with the parent's memory as it is (no imports, no pickling of inputs), computes, and
sends back its result pickled through a pipe; the parent reads it once its own share is done.

Only where fork is safe and cheap: Linux (macOS system libraries are not fork-safe), and a process
with a single thread (a lock held by another thread would stay held in the child forever). Anywhere
else, or when the child fails in any way, the function simply runs in this process, so the result
(or the exception) is always the one a plain call gives. The child never returns into the caller's
code: it ends with `os._exit`, so no exit handler or buffered output of the parent runs twice.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


def usable() -> bool:
    """Whether `beside` can fork here."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def beside(child: Callable[[], T], here: Callable[[], U]) -> tuple[T, U]:
    """(child(), here()): `child` runs in a forked process while `here` runs in this one.

    Both must be pure (their results depend only on memory as it is at the call) and `child`'s result
    must pickle. Falls back to calling both here, in order, whenever forking is not usable or fails.
    """
    if not usable():
        return child(), here()
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except Exception:  # OSError, or a warning turned into an error
        os.close(read_end)
        os.close(write_end)
        return child(), here()
    if pid == 0:  # the child: compute, send, and leave without running any of the parent's code
        os.close(read_end)
        code = 1
        try:
            payload = pickle.dumps(child(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        mine = here()
    except BaseException:
        os.close(read_end)  # a child blocked on a full pipe gets EPIPE and ends
        _reap(pid)
        raise
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    if _reap(pid) != 0:
        return child(), mine  # the child failed: a plain call gives the real result or exception
    return pickle.loads(payload), mine  # noqa: S301 - bytes our own forked child wrote a moment ago


def _reap(pid: int) -> int:
    """The child's exit code (-1 when it cannot be known, e.g. SIGCHLD ignored: then it counts as failed)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return -1
    return os.waitstatus_to_exitcode(status)
