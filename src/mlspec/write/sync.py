"""Compare generated files with the tree, and write them atomically and safely.

Where compile may write, and never through a link: `mlspec.write.outputs`. A file is deleted only when the
previous `generated/manifest.json` lists it as generated, or it lies in compile's folders and starts
with mlspec's header (a file a killed compile renamed into place before its manifest). Unchanged files
are not rewritten.

Writing: every new content is staged beside its target and flushed to disk (one sync); then orphans
are moved aside, the staged files renamed into place (a replaced file moved aside first) and
`generated/manifest.json` renamed last; what was moved aside is removed once all of it succeeded. An
exception at any point undoes the renames, so the tree is entirely old or entirely new. A process
killed meanwhile (kill -9, a power cut) cannot undo anything, but it leaves the previous manifest, so
the next `mlspec compile` still knows which files to delete: it removes what the killed one left
beside its targets (`sweep`) and writes whatever is missing or stale; `compile --check` in CI reports
a tree left half-written. `lock` keeps two compiles in one repository from sweeping each other's files.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from mlspec.emit import MANIFEST_PATH, WORKFLOW_DIR
from mlspec.write.outputs import (
    GENERATED_HEADER,
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

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


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
        return listed_files((root / MANIFEST_PATH).read_bytes())
    except OSError:
        return []


def listed_files(manifest: bytes) -> list[str]:
    """The generated files a manifest's text lists (none when it is not a manifest)."""
    try:
        data = orjson.loads(manifest)
    except orjson.JSONDecodeError:
        return []
    files = data.get("files") if isinstance(data, dict) else None
    return [f for f in files if isinstance(f, str) and allowed(f)] if isinstance(files, list) else []


def compare(root: Path, files: dict[str, bytes], *, diffs: int = 0) -> Changes:
    """What writing `files` would change; with `diffs`, a unified diff for up to that many changed files.

    Only `compile --check` shows diffs, so only it asks for them: computing them was most of a
    compile that updates many files. Their cost is bounded too: a file longer than
    `DIFF_MAX_LINES` gets a note instead (difflib grows faster than quadratically with the changed
    lines: benchmarks/README.md § Figures behind code comments), and files beyond `diffs` get none.
    """
    changes = Changes()

    def same(path: str, current: bytes) -> bool:
        if current == files[path]:
            return True
        if len(changes.diffs) < diffs:
            changes.diffs[path] = _diff(path, current, files[path])
        return False

    _classify(root, files, same, changes)
    _orphans(root, files, previous_files(root), changes)
    return changes


def compare_digests(root: Path, digests: dict[str, str], listed: list[str]) -> Changes:
    """What writing files of these sha256 digests would change, as `compare` says it without their bytes.

    For a compile the cache vouches for (`mlspec.write.cache`): `listed` is what the manifest lists besides
    `digests`. Only a tree found unchanged is taken as it is; any other answer sends compile down the full
    path, which compares bytes.
    """
    changes = Changes()
    _classify(root, digests, lambda path, current: hashlib.sha256(current).hexdigest() == digests[path], changes)
    _orphans(root, digests, [*digests, *listed], changes)
    return changes


def _classify(root: Path, paths, same: Callable[[str, bytes], bool], changes: Changes) -> None:
    """Sort `paths` into created, updated and unchanged by what the tree holds (`same` compares)."""
    folders: set[str] = set()
    base = os.fspath(root)
    for path in paths:
        target, mode = safe_target(base, path, folders)
        if mode is None:
            changes.created.append(path)
            continue
        try:  # a regular file (safe_target refused anything else), unless it went away meanwhile
            current = read_regular(target)
        except FileNotFoundError:
            changes.created.append(path)
            continue
        (changes.unchanged if same(path, current) else changes.updated).append(path)


def _orphans(root: Path, paths, previous: list[str], changes: Changes) -> None:
    """Files to delete: listed by the previous manifest or marked as mlspec's, and no longer generated."""
    keep = user_owned(root)
    base = os.fspath(root)
    folders: set[str] = set()
    known = {*paths, *previous}  # decided without reading their first bytes again
    for path in sorted({*previous, *_marked_files(root, known)}):
        if path not in paths and path not in keep and os.path.isfile(os.path.join(base, path)):
            safe_target(base, path, folders)  # refuse, here already, to delete through a link
            changes.deleted.append(path)


def _marked_files(root: Path, known: set[str]) -> list[str]:
    """Files in compile's folders, other than `known`, that carry mlspec's header.

    A compile killed after renaming a new file into place but before writing its manifest leaves that
    file unlisted; if the specs then change so that no compile writes it again, only its header says
    it is ours. Only plain files whose first bytes are the header count: a user's file is never touched.
    """
    found = []
    for relative, entry in _files_in(root):
        if relative in known or not allowed(relative):
            continue
        try:
            with open(entry.path, "rb") as handle:
                marked = handle.read(len(GENERATED_HEADER)) == GENERATED_HEADER
        except OSError:
            continue
        if marked:
            found.append(relative)
    return sorted(found)


def _files_in(root: Path, folders: tuple[str, ...] = ("generated", WORKFLOW_DIR)) -> Iterator[tuple[str, os.DirEntry]]:
    """(relative path, entry) of every regular file in compile's folders: `generated/` with its subfolders
    (generated files may lie deeper, as `generated/argo/`), the others at their top only; never inside or
    through a symbolic link."""
    base = os.fspath(root)
    for top in folders:
        parts = top.split("/")
        if any(os.path.islink(os.path.join(base, *parts[:i + 1])) for i in range(len(parts))):
            continue
        pending = [top]
        while pending:
            folder = pending.pop()
            try:
                with os.scandir(os.path.join(base, folder)) as entries:
                    listed = list(entries)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in listed:
                relative = f"{folder}/{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    if top == "generated":
                        pending.append(relative)
                elif entry.is_file(follow_symlinks=False):
                    yield relative, entry


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


def apply(root: Path, files: dict[str, bytes], changes: Changes, *, write=write_new) -> None:
    """Make the tree match `files`; on any failure, restore the old tree and re-raise.

    Every rename goes through `os.replace`, which replaces a directory entry itself: a link that
    appeared at a target since `compare` is moved aside, never written through. The folders on the
    way are checked for links again. The manifest is renamed last and without a backup (one atomic
    replace, after which nothing can fail), so a kill never leaves the tree without it.
    """
    base = os.fspath(root)
    paths = sorted([*changes.created, *changes.updated], key=lambda path: path == MANIFEST_PATH)
    staged: list[tuple[str, str]] = []
    folders: set[str] = set()
    try:
        for path in paths:
            target, _mode = safe_target(base, path, folders)
            staged.append((target + NEW_SUFFIX, target))  # all before writing: a failed write is cleaned up too
        for (temp, _target), path in zip(staged, paths, strict=True):
            write(temp, files[path])
        if staged:
            _flush([temp for temp, _ in staged])
    except BaseException:
        for temp, _ in staged:
            remove(temp)
        raise
    moved: list[tuple[str, str | None]] = []  # (target, its backup, or None when it was created)
    try:
        for path in changes.deleted:
            target = safe_target(base, path, folders)[0]
            os.replace(target, target + OLD_SUFFIX)
            moved.append((target, target + OLD_SUFFIX))
        for (temp, target), path in zip(staged, paths, strict=True):
            if path == MANIFEST_PATH:
                _fsync_folders(moved)  # every other rename is on disk before the manifest names the new files
            if path != MANIFEST_PATH and os.path.lexists(target):
                os.replace(target, target + OLD_SUFFIX)
                moved.append((target, target + OLD_SUFFIX))
                os.replace(temp, target)
            else:
                os.replace(temp, target)
                moved.append((target, None))
    except BaseException:
        for target, backup in reversed(moved):
            if backup is None:
                remove(target)
            elif os.path.lexists(backup):
                os.replace(backup, target)
        for temp, _ in staged:
            remove(temp)
        raise
    for _, backup in moved:
        if backup is not None:
            remove(backup)


def _fsync_folders(moved: list[tuple[str, str | None]]) -> None:
    for folder in sorted({os.path.dirname(target) for target, _ in moved}):
        fsync(folder)


def sweep(root: Path) -> list[str]:
    """Remove the staged files and backups a killed compile left in the output folders; returns them.

    Only names compile itself gives (a generated path with its suffix), only regular files, and
    never inside a folder that is a link.
    """
    found = []
    for relative, entry in _files_in(root, ("generated", WORKFLOW_DIR, ".github")):
        for suffix in (NEW_SUFFIX, OLD_SUFFIX):
            name = relative.removesuffix(suffix)
            if name != relative and allowed(name):
                found.append(entry.path)
    for path in found:
        remove(path)
    return sorted(found)


@contextlib.contextmanager
def lock(root: Path, on_wait: Callable[[], None] = lambda: None,
         on_unsupported: Callable[[OSError], None] = lambda exc: None) -> Iterator[None]:
    """Hold the repository's compile lock (an flock on its folder) for the block; `on_wait` is called
    first if another compile holds it, which this then waits for.

    Two compiles at once would remove each other's staged files (`sweep`). Where folders cannot be
    locked (Windows; NFS, where flock needs a file open for writing), `on_unsupported` is told and the
    block runs unlocked.
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
        os.close(fd)  # releases the lock
