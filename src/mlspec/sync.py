"""Compare generated files with the tree, and write them atomically and safely.

Where compile may write, and never through a link: `mlspec.outputs`. A file is deleted only when the
previous `generated/manifest.json` lists it as generated. Unchanged files are not rewritten.

Atomicity: new contents are first written beside their targets and flushed to disk; then every target is
swapped in, keeping a backup of what it replaced; if anything fails, the swaps done so far are undone,
so the tree is entirely old or entirely new. Backups are removed only after every swap succeeded.
A process killed mid-swap (kill -9, a power cut) cannot undo anything itself: the swaps are listed in
a journal (`generated/.mlspec-journal`, on disk before the first rename, removed after the last), and
`recovery.recover`, which the next `mlspec compile` runs first, puts the backups back from it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from mlspec import forkjoin
from mlspec.emit import MANIFEST_PATH, WORKFLOW_DIR
from mlspec.outputs import (
    NEW_SUFFIX,
    OLD_SUFFIX,
    allowed,
    fsync,
    read_regular,
    remove,
    safe_target,
    user_owned,
    write_new,
)
from mlspec.recovery import JOURNAL_PATH, write_journal


@dataclass
class Changes:
    """How the tree differs from what compile would write."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        """True when writing would change anything."""
        return bool(self.created or self.updated or self.deleted)


def previous_files(root: Path) -> list[str]:
    """Files the last compile generated (from its manifest), or none."""
    try:
        data = json.loads((root / MANIFEST_PATH).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = data.get("files") if isinstance(data, dict) else None
    return [f for f in files if isinstance(f, str) and allowed(f)] if isinstance(files, list) else []


def compare(root: Path, files: dict[str, bytes], *, diffs: int = 0) -> Changes:
    """What writing `files` would change; with `diffs`, a unified diff for up to that many changed files.

    Only `compile --check` shows diffs, so only it asks for them: computing them was most of a
    compile that updates many files. Their cost is bounded too: a file longer than
    `DIFF_MAX_LINES` gets a note instead (difflib grows faster than quadratically with the changed
    lines: 0.8 s at 20,000 lines of a manifest, over 14 minutes at 237,000 after renamed spec files),
    and files beyond `diffs` get none.
    """
    changes = Changes()
    folders: set[str] = set()
    base = os.fspath(root)
    for path, content in files.items():
        target, mode = safe_target(base, path, folders)
        if mode is None:
            changes.created.append(path)
            continue
        try:  # a regular file (safe_target refused anything else), unless it went away meanwhile
            current = read_regular(target)
        except FileNotFoundError:
            changes.created.append(path)
            continue
        if current == content:
            changes.unchanged.append(path)
            continue
        changes.updated.append(path)
        if len(changes.diffs) < diffs:
            changes.diffs[path] = _diff(path, current, content)
    keep = user_owned(root)
    for path in previous_files(root):
        if path not in files and path not in keep and os.path.isfile(os.path.join(base, path)):
            safe_target(base, path, folders)  # refuse, here already, to delete through a link
            changes.deleted.append(path)
    return changes


DIFF_MAX_LINES = 10_000


def _diff(path: str, current: bytes, content: bytes) -> str:
    """A unified diff of one file, or a note when either side is too long to diff quickly."""
    old = current.decode("utf-8", "replace").splitlines(keepends=True)
    new = content.decode("utf-8", "replace").splitlines(keepends=True)
    if max(len(old), len(new)) > DIFF_MAX_LINES:
        return (f"--- a/{path}\n+++ b/{path}\n(not shown: {len(old):,} lines before, {len(new):,} after; too long to "
                "diff here. `mlspec plan` shows what changed in the specs)\n")
    return "".join(difflib.unified_diff(old, new, f"a/{path}", f"b/{path}"))


def _flush(paths: list[str]) -> None:
    """Make the staged files durable before any of them replaces a target.

    One sync(2) for the whole batch (as git's batched fsync does) instead of one fsync per file, which
    cost most of a large compile; where the platform has no sync, each file is fsynced.
    """
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:
        fsync(path)


# From this many files, staging is shared with a forked child (creating files is mostly kernel work,
# which two processes do on two cores). Measured on 3,244 files, alternately: apply took 0.64 s
# instead of 0.87 s (medians of 6) while this machine's disk was slow to create files, and the same
# 0.15-0.2 s either way while it was fast.
_FORK_FROM_FILES = 1_000


def _stage(staged: list[tuple[str, str]], paths: list[str], files: dict[str, bytes], write) -> None:
    """Write each staged file (`staged[i]` holds `paths[i]`); many files are written by two processes.

    The child writes the workflows, this process the rest (the folders differ, so the two do not
    queue on one folder's lock). Should the child fail, `forkjoin` writes its share here again.
    """
    parent = os.getpid()

    def stage(indexes: list[int]) -> None:
        for i in indexes:
            if os.getpid() != parent and os.getppid() != parent:
                raise SystemExit(1)  # the compile that forked this child is gone: stop writing at once
            write(staged[i][0], files[paths[i]])

    if len(staged) < _FORK_FROM_FILES:
        stage(list(range(len(staged))))
        return
    workflows = [i for i, path in enumerate(paths) if path.startswith(WORKFLOW_DIR + "/")]
    chosen = set(workflows)
    rest = [i for i in range(len(paths)) if i not in chosen]
    forkjoin.beside(lambda: stage(workflows), lambda: stage(rest))


def apply(root: Path, files: dict[str, bytes], changes: Changes, *, write=write_new) -> None:
    """Make the tree match `files`; on any failure, restore the old tree and re-raise.

    Every rename goes through `os.replace`, which replaces a directory entry itself: a link that
    appeared at a target since `compare` is moved aside, never written through. The folders on the
    way are checked for links again.
    """
    base = os.fspath(root)
    paths = [*changes.created, *changes.updated]
    staged: list[tuple[str, str]] = []
    folders: set[str] = set()
    try:
        for path in paths:
            target, _mode = safe_target(base, path, folders)
            staged.append((target + NEW_SUFFIX, target))  # all before writing: a failed write is cleaned up too
        _stage(staged, paths, files, write)
        if staged:
            _flush([temp for temp, _ in staged])
    except BaseException:
        for temp, _ in staged:
            if os.path.islink(temp) or os.path.isfile(temp):
                os.unlink(temp)
        raise
    swapped: list[tuple[str, str | None]] = []  # (target, backup or None when it did not exist)
    deleted: list[str] = []
    try:
        deleted = [safe_target(base, path, folders)[0] for path in changes.deleted]
        existed = [os.path.lexists(target) for _, target in staged]
        if staged or deleted:
            # a created file is deleted by `recover` only if it still holds what this compile wrote
            swaps = [[path, there, None if there else hashlib.sha256(files[path]).hexdigest()]
                     for path, there in zip(paths, existed, strict=True)]
            write_journal(base, swaps, changes.deleted, folders)
        for (temp, target), there in zip(staged, existed, strict=True):
            backup = target + OLD_SUFFIX if there else None
            if backup is not None:
                os.replace(target, backup)
            swapped.append((target, backup))
            os.replace(temp, target)
        for target in deleted:
            backup = target + OLD_SUFFIX
            os.replace(target, backup)
            swapped.append((target, backup))
    except BaseException:
        for target, backup in reversed(swapped):
            if backup is not None and os.path.lexists(backup):
                os.replace(backup, target)
            elif backup is None:
                remove(target)
        for temp, _ in staged:
            remove(temp)
        remove(os.path.join(base, JOURNAL_PATH) + NEW_SUFFIX)
        remove(os.path.join(base, JOURNAL_PATH))
        raise
    remove(os.path.join(base, JOURNAL_PATH))  # the new tree stands from here: a crash now leaves only backups
    for _, backup in swapped:
        if backup is not None:
            remove(backup)
