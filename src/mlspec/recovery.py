"""Compile's swap, made safe against kill -9 and power cuts: its journal, recovery from it, and the lock.

`sync.apply` swaps staged files in with backups, which is atomic against exceptions but not against
the process dying between two renames. So before the first rename it writes a journal of its swaps
(`generated/.mlspec-journal`), and removes it after the last, before removing the backups; the next
`mlspec compile` runs `recover` first, which puts the backups back. The journal is a file in the
repository (it could arrive in a pull request), so `recover` trusts none of it. An flock on the
repository keeps two compiles from undoing each other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from mlspec.emit import WORKFLOW_DIR
from mlspec.outputs import (
    NEW_SUFFIX,
    OLD_SUFFIX,
    allowed,
    fsync,
    lstat_mode,
    read_regular,
    remove,
    safe_target,
    safe_target_or_none,
    user_owned,
    write_new,
)

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

JOURNAL_PATH = "generated/.mlspec-journal"


def write_journal(base: str, swaps: list[list], deleted: list[str], folders: set[str]) -> None:
    """Record, durably, the swaps about to be made ([path, existed, sha256 of a created file's content])
    and the paths about to be deleted, so that `recover` can undo them after a crash."""
    entries = {"version": 1, "swaps": swaps, "deleted": deleted}
    path, _mode = safe_target(base, JOURNAL_PATH, folders)  # refuses a link in its place or on the way
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_new(path + NEW_SUFFIX, json.dumps(entries, sort_keys=True).encode("ascii"))
    fsync(path + NEW_SUFFIX)
    os.replace(path + NEW_SUFFIX, path)
    fsync(os.path.dirname(path))  # the journal's name is on disk before any target is renamed


class RecoveryError(Exception):
    """The journal of an interrupted compile cannot be trusted or read: nothing was changed."""

    hint = ("restore the generated files from git (git checkout -- generated .github/workflows), "
            f"then delete {JOURNAL_PATH}")


def recover(root: Path) -> list[str]:
    """Undo what a compile killed while swapping files in left behind; returns the paths restored.

    `apply` keeps a journal of its swaps (`generated/.mlspec-journal`) from just before the first
    rename until the last; backups of replaced and deleted files stay until the journal is gone.
    With a journal here, every swap it lists is undone: the tree is the old one again. Staged files
    and backups left over without a journal (a kill while staging, or while removing backups after
    the new tree was complete) are removed.

    The journal is a file in the repository, so it is not trusted: every entry must be a generated
    path, a repository's own `.github/actionlint.yaml` is never touched, a created file is deleted
    only while it holds exactly what the interrupted compile wrote (its sha256 is in the journal),
    and nothing is done through a link. A journal that cannot be read or is not one mlspec writes
    raises `RecoveryError` before anything changes (the backups stay). Callers hold `lock(root)`.
    """
    base = os.fspath(root)
    journal = os.path.join(base, JOURNAL_PATH)
    folders: set[str] = set()
    if safe_target_or_none(base, JOURNAL_PATH, folders) is None:
        return []  # generated/ (or the journal) is a link: never read or write through it
    try:
        with open(journal, "rb") as handle:
            text = handle.read(_JOURNAL_LIMIT + 1)
    except (FileNotFoundError, NotADirectoryError):
        text = None
    except OSError as exc:
        raise RecoveryError(f"cannot read {JOURNAL_PATH}, left by an interrupted compile: {exc}") from exc
    restored: list[str] = []
    if text is not None:
        swaps, deleted = _journal_entries(text)
        keep = user_owned(root)
        created = {path: digest for path, existed, digest in swaps if not existed}
        undo = [path for path in [*(s[0] for s in reversed(swaps)), *reversed(deleted)] if path not in keep]
        for path in undo:  # every path must be one the system can name, before anything moves
            try:
                lstat_mode(os.path.join(base, path) + OLD_SUFFIX)
            except (OSError, ValueError) as exc:
                raise RecoveryError(f"{JOURNAL_PATH} is not a journal of mlspec's: cannot use {path!r}: {exc}") \
                    from exc
        for path in undo:
            # checked afresh for each entry: an earlier entry's restore may have put a link on the way
            target = safe_target_or_none(base, path, set())
            if target is None:
                continue
            backup = target + OLD_SUFFIX
            backup_mode = lstat_mode(backup)
            if backup_mode is not None and stat.S_ISREG(backup_mode):  # replaced or deleted: it goes back
                os.replace(backup, target)
                restored.append(path)
            elif path in created and not os.path.lexists(target + NEW_SUFFIX) and _holds(target, created[path]):
                os.unlink(target)  # created by the interrupted compile, and still as it wrote it
                restored.append(path)
        remove(journal)
    remove(journal + NEW_SUFFIX)
    for leftover in _leftovers(base):
        remove(leftover)
    return sorted(set(restored))


_JOURNAL_LIMIT = 64 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _journal_entries(text: bytes) -> tuple[list[tuple[str, bool, str | None]], list[str]]:
    """The swaps and deletions a journal lists, all checked; RecoveryError for anything else."""
    def refuse(why: str) -> RecoveryError:
        return RecoveryError(f"{JOURNAL_PATH} is not a journal of mlspec's: {why}")

    def generated(path: object) -> bool:
        return isinstance(path, str) and path.isascii() and path.isprintable() and allowed(path)

    if len(text) > _JOURNAL_LIMIT:
        raise refuse("too large")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise refuse("not valid JSON") from exc
    if not isinstance(data, dict) or data.get("version") != 1 or set(data) != {"version", "swaps", "deleted"} \
            or not isinstance(data["swaps"], list) or not isinstance(data["deleted"], list):
        raise refuse("unexpected structure")
    swaps = []
    for entry in data["swaps"]:
        if not (isinstance(entry, list) and len(entry) == 3 and generated(entry[0])
                and isinstance(entry[1], bool)
                and (entry[2] is None if entry[1] else isinstance(entry[2], str) and _SHA256.fullmatch(entry[2]))):
            raise refuse(f"bad entry {str(entry)[:200]}")
        swaps.append((entry[0], entry[1], entry[2]))
    if not all(generated(path) for path in data["deleted"]):
        raise refuse("a deleted path outside the generated files")
    return swaps, list(data["deleted"])


def _holds(path: str, digest: str) -> bool:
    """Whether the regular file `path` holds content with this sha256."""
    try:
        return hashlib.sha256(read_regular(path)).hexdigest() == digest
    except OSError:
        return False


@contextlib.contextmanager
def lock(root: Path, on_wait: Callable[[], None] = lambda: None,
         on_unsupported: Callable[[OSError], None] = lambda exc: None) -> Iterator[None]:
    """Hold the repository's compile lock (an flock on its folder) for the block; `on_wait` is called
    first if another compile holds it, which this then waits for.

    Two compiles at once would undo each other: `recover` in one would take the other's swap for an
    interrupted one. Children forked while writing hold the lock too (it belongs to the open folder),
    so a compile killed while its child still stages files keeps the next one waiting until the child
    has stopped. Where folders cannot be locked (Windows; NFS, where flock needs a file open for
    writing), `on_unsupported` is told and the block runs unlocked.
    """
    if fcntl is None:
        yield
        return
    fd = os.open(os.fspath(root), os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            on_unsupported(exc)
        yield
    finally:
        os.close(fd)  # releases the lock (with any forked child's copy gone)


def interrupted(root: Path) -> bool:
    """Whether a compile was killed while swapping files in (its journal is still there)."""
    return os.path.lexists(os.path.join(os.fspath(root), JOURNAL_PATH))


def _leftovers(base: str) -> list[str]:
    """Staged files and backups in the output folders (generated files only, never links)."""
    found = []
    for folder in ("generated", WORKFLOW_DIR, ".github"):
        path = os.path.join(base, folder)
        parts = folder.split("/")
        if any(os.path.islink(os.path.join(base, *parts[:i + 1])) for i in range(len(parts))) \
                or not os.path.isdir(path):
            continue
        with os.scandir(path) as entries:
            for entry in entries:
                for suffix in (NEW_SUFFIX, OLD_SUFFIX):
                    name = entry.name.removesuffix(suffix)
                    if name != entry.name and allowed(f"{folder}/{name}") and entry.is_file(follow_symlinks=False):
                        found.append(entry.path)
    return found
