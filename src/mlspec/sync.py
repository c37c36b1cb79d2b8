"""Compare generated files with the tree, and write them atomically and safely.

Safety rules: files are written only under `generated/` and as `.github/workflows/mlspec-*.yml`;
never through a symbolic link (a committed link could redirect a write onto any file); a file is
deleted only when the previous `generated/manifest.json` lists it as generated. Unchanged files are
not rewritten.

Atomicity: new contents are first written beside their targets and flushed to disk; then every target is
swapped in, keeping a backup of what it replaced; if anything fails, the swaps done so far are undone,
so the tree is entirely old or entirely new. Backups are removed only after every swap succeeded.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.emit import MANIFEST_PATH, WORKFLOW_DIR

NEW_SUFFIX = ".mlspec-new"
OLD_SUFFIX = ".mlspec-old"


class UnsafePathError(Exception):
    """A generated path would be written outside the output folders or through a symbolic link."""


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


def allowed(path: str) -> bool:
    """Whether compile may write or delete `path` (a relative POSIX path)."""
    parts = path.split("/")
    if ".." in parts or path.startswith("/") or "\\" in path:
        return False
    if parts[0] == "generated" and len(parts) >= 2:
        return True
    return path.startswith(WORKFLOW_DIR + "/mlspec-") and path.endswith(".yml") and len(parts) == 3


def check_safe(root: Path, path: str) -> Path:
    """The absolute target for `path`, after refusing escapes and symbolic links on the way."""
    if not allowed(path):
        raise UnsafePathError(f"refusing to write {path}: outside generated/ and .github/workflows/mlspec-*.yml")
    target = root / path
    current = root
    for part in path.split("/"):
        current = current / part
        if current.is_symlink():
            raise UnsafePathError(f"refusing to write {path}: {current.relative_to(root)} is a symbolic link")
    if target.exists() and not target.is_file():
        raise UnsafePathError(f"refusing to write {path}: something other than a file is in its place")
    return target


def previous_files(root: Path) -> list[str]:
    """Files the last compile generated (from its manifest), or none."""
    try:
        data = json.loads((root / MANIFEST_PATH).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = data.get("files") if isinstance(data, dict) else None
    return [f for f in files if isinstance(f, str) and allowed(f)] if isinstance(files, list) else []


def compare(root: Path, files: dict[str, bytes]) -> Changes:
    """What writing `files` would change, with a unified diff per changed text file."""
    changes = Changes()
    for path, content in files.items():
        target = check_safe(root, path)
        if not target.is_file():
            changes.created.append(path)
            continue
        current = target.read_bytes()
        if current == content:
            changes.unchanged.append(path)
            continue
        changes.updated.append(path)
        changes.diffs[path] = "".join(difflib.unified_diff(
            current.decode("utf-8", "replace").splitlines(keepends=True),
            content.decode("utf-8", "replace").splitlines(keepends=True), f"a/{path}", f"b/{path}"))
    for path in previous_files(root):
        if path not in files and (root / path).is_file():
            check_safe(root, path)  # refuse, here already, to delete through a link
            changes.deleted.append(path)
    return changes


def _write_file(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()  # a leftover (or planted) staging file: remove the entry itself, never follow it
    # O_EXCL | O_NOFOLLOW: create a new file, and never write through a link that appeared meanwhile
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _flush(paths: list[Path]) -> None:
    """Make the staged files durable before any of them replaces a target.

    One sync(2) for the whole batch (as git's batched fsync does) instead of one fsync per file, which
    cost most of a large compile; where the platform has no sync, each file is fsynced.
    """
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def apply(root: Path, files: dict[str, bytes], changes: Changes, *, write=_write_file) -> None:
    """Make the tree match `files`; on any failure, restore the old tree and re-raise."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path in [*changes.created, *changes.updated]:
            target = check_safe(root, path)
            temp = target.with_name(target.name + NEW_SUFFIX)
            staged.append((temp, target))  # before writing, so a failed write is cleaned up too
            write(temp, files[path])
        if staged:
            _flush([temp for temp, _ in staged])
    except BaseException:
        for temp, _ in staged:
            if temp.is_symlink() or temp.is_file():
                temp.unlink()
        raise
    swapped: list[tuple[Path, Path | None]] = []  # (target, backup or None when it did not exist)
    try:
        for temp, target in staged:
            backup = None
            if target.exists():
                backup = target.with_name(target.name + OLD_SUFFIX)
                target.replace(backup)
            swapped.append((target, backup))
            temp.replace(target)
        for path in changes.deleted:
            target = check_safe(root, path)
            backup = target.with_name(target.name + OLD_SUFFIX)
            target.replace(backup)
            swapped.append((target, backup))
    except BaseException:
        for target, backup in reversed(swapped):
            if backup is not None and backup.exists():
                backup.replace(target)
            elif backup is None:
                target.unlink(missing_ok=True)
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        raise
    for _, backup in swapped:
        if backup is not None:
            backup.unlink(missing_ok=True)
