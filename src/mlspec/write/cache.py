"""The compile cache: which files compiling these exact inputs with this exact mlspec gives.

A compile whose inputs did not change checks the tree against the hashes an entry records instead of
validating, resolving and rendering again (as dbt's partial parsing skips what its file hashes say is
unchanged); `mlspec plan` takes a side's generated files from an entry instead of rendering them.

An entry is keyed by a hash of everything generated files depend on: every spec file's path and bytes;
mlspec's own source files (so any change to mlspec, released or not, is a new key); the Python and the
installed distributions' names and versions (the libraries that parse and serialize); which shared files
the repository keeps itself, with the bytes of its own actionlint.yaml (a warning reads it). Nothing else
reaches the output: validation reads only the spec files, and emitting is a pure function of the manifest.
An entry records the generated files' hashes, except `generated/constraints.txt`, which depends on the
installed packages and on the committed file, so compile pins afresh every time (cheap); what it needs
to pin (the project settings); the runner labels the repository's actionlint.yaml lacks; and paths the
manifest lists that are not generated. A hit never decides alone: compile still reads every generated file
and compares its hash, and anything missing, different, extra or unreadable sends it down the full path,
which repairs or reports exactly as without a cache. An entry is written only after a compile (or plan)
validated, resolved and rendered those inputs successfully.

Entries live outside the repository, in the user's cache folder (`$MLSPEC_CACHE_DIR`, else
`$XDG_CACHE_HOME/mlspec/compile` or `~/.cache/mlspec/compile`; an empty `MLSPEC_CACHE_DIR` turns the cache
off): a repository cannot ship one (a committed entry could make `compile --check` vouch for generated files
its specs do not give), and clones of one repository share them. One file per key, written atomically; a
damaged, foreign or unreadable entry is a miss, and a cache that cannot be written is no cache.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlspec
from mlspec.emit import ACTIONLINT_PATH
from mlspec.write.outputs import allowed, read_regular

FORMAT = 1
SPEC_DIR = "specs"
SPEC_SUFFIXES = (".yaml", ".yml")  # as mlspec.spec.validate finds spec files (a test holds them equal)
MAX_SPEC_BYTES = 256 * 1024 * 1024  # as validation's limit: past it the full path reports the finding
MAX_ENTRIES = 64  # entries kept, most recently used first: a few projects' recent states
_HEX = frozenset("0123456789abcdef")


@dataclass
class Entry:
    """What compiling one key's inputs gave: every generated file's sha256 (constraints.txt aside), the
    project settings pinning reads (`ProjectSettings` as JSON), the runner labels the repository's own
    actionlint.yaml lacks, and the paths the manifest lists besides the generated files."""

    files: dict[str, str]
    settings: dict
    lint_missing: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)


def digest(content: bytes) -> str:
    """The hash entries record for a generated file."""
    return hashlib.sha256(content).hexdigest()


def folder() -> str | None:
    """Where entries live, or None when the cache is off or there is no user cache folder."""
    chosen = os.environ.get("MLSPEC_CACHE_DIR")
    if chosen is not None:
        return chosen or None
    base = os.environ.get("XDG_CACHE_HOME") or (os.environ.get("LOCALAPPDATA") if os.name == "nt" else None)
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home folder
            return None
    return str(Path(base, "mlspec", "compile"))


def spec_name(name: str) -> bool:
    """Whether a file name is a spec file's, by pathlib's suffix rule (`.yaml` alone is not one)."""
    dot = name.rfind(".")
    return 0 < dot < len(name) - 1 and name[dot:] in SPEC_SUFFIXES


def read_specs(root: Path) -> dict[str, bytes] | None:
    """Every spec file under `root/specs`, by the path validation shows (`specs/a.yaml`), with its bytes.

    None when the cache cannot vouch for the folder: no `specs/` folder, a symbolic link anywhere in it,
    something other than a regular file named like a spec, an unreadable entry or more bytes than validation
    accepts. Those cases take the full path, whose findings say what is wrong.
    """
    try:
        if not stat.S_ISDIR((root / SPEC_DIR).lstat().st_mode):
            return None
        found: dict[str, bytes] = {}
        total = 0
        pending = [SPEC_DIR]
        while pending:
            relative = pending.pop()
            with os.scandir(root / relative) as entries:
                for entry in entries:
                    path = f"{relative}/{entry.name}"
                    if entry.is_symlink():
                        return None
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(path)
                    elif spec_name(entry.name):
                        if not entry.is_file(follow_symlinks=False):
                            return None
                        found[path] = read_regular(entry.path)
                        total += len(found[path])
                        if total > MAX_SPEC_BYTES:
                            return None
    except (OSError, ValueError):  # unreadable, vanished meanwhile, or a name the system cannot take
        return None
    return dict(sorted(found.items()))


def _update(hasher, *parts: bytes) -> None:
    """Feed length-prefixed parts, so that no two sequences of parts hash alike."""
    for part in parts:
        hasher.update(len(part).to_bytes(8, "little"))
        hasher.update(part)


def _text(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")  # file names may hold undecodable bytes


@functools.cache
def compiler_identity() -> bytes:
    """A hash of what compiles: the entry format, the Python, mlspec's own files and the installed
    distributions (name and version of each, as their metadata folders on sys.path are named)."""
    hasher = hashlib.sha256()
    _update(hasher, str(FORMAT).encode(), _text(sys.version), _text(sys.platform),
            _text(sys.implementation.cache_tag or ""))
    package = Path(mlspec.__file__).resolve().parent
    sources = {path.relative_to(package).as_posix(): path for path in package.rglob("*")
               if "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo") and path.is_file()}
    for name in sorted(sources):
        _update(hasher, _text(name), sources[name].read_bytes())
    distributions: set[str] = set()
    for entry in sys.path:
        try:
            names = [path.name for path in Path(entry or ".").iterdir()]
        except OSError:
            continue
        distributions.update(n for n in names if n.endswith((".dist-info", ".egg-info", ".egg-link")))
    for name in sorted(distributions):
        _update(hasher, _text(name))
    return hasher.digest()


def own_lint_config(root: Path, user_owned: frozenset[str]) -> bytes | None:
    """The repository's own actionlint.yaml (what compile's label warning reads), when it keeps one."""
    if ACTIONLINT_PATH not in user_owned:
        return None
    try:
        return (root / ACTIONLINT_PATH).read_bytes()
    except OSError:
        return b"\0unreadable"  # the warning then reads nothing: a value no file can have


def key(specs: dict[str, bytes], user_owned: frozenset[str], lint_config: bytes | None) -> str:
    """The entry key of compiling `specs` (path -> bytes) with this mlspec into a repository that keeps
    `user_owned` itself (with `lint_config`, its own actionlint.yaml)."""
    hasher = hashlib.sha256()
    _update(hasher, compiler_identity(), str(len(specs)).encode())
    for path, raw in specs.items():
        _update(hasher, _text(path), hashlib.sha256(raw).digest())
    _update(hasher, "\0".join(sorted(user_owned)).encode(), b"-" if lint_config is None else b"+" + lint_config)
    return hasher.hexdigest()


def _path(key_: str) -> Path | None:
    base = folder()
    return None if base is None else Path(base, f"{key_}.json")


def lookup(key_: str) -> Entry | None:
    """The entry for `key_`, or None (none, damaged, written by another format, or unreadable)."""
    path = _path(key_)
    if path is None:
        return None
    try:
        data = json.loads(read_regular(str(path)))
    except (OSError, ValueError):
        return None
    entry = _parse(data, key_)
    if entry is not None:
        with contextlib.suppress(OSError):
            path.touch()  # recently used: kept when older entries are pruned
    return entry


def _parse(data: object, key_: str) -> Entry | None:
    """An entry from its JSON, when every part has the shape compile wrote; else None."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key_:
        return None
    files, settings = data.get("files"), data.get("settings")
    lint_missing, listed = data.get("lint_missing"), data.get("listed")
    if not (isinstance(files, dict) and isinstance(settings, dict) and isinstance(lint_missing, list)
            and isinstance(listed, list) and all(isinstance(item, str) for item in [*lint_missing, *listed])):
        return None
    for path, value in files.items():
        if not (allowed(path) and isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)):
            return None
    if not all(allowed(path) for path in listed):
        return None
    return Entry(files, settings, lint_missing, listed)


def store(key_: str, entry: Entry) -> None:
    """Record `entry` under `key_` (atomically), then prune the least recently used entries beyond
    `MAX_ENTRIES`. A cache that cannot be written is skipped silently: compile never fails for it."""
    path = _path(key_)
    if path is None:
        return
    document = {"format": FORMAT, "key": key_, "files": entry.files, "settings": entry.settings,
                "lint_missing": entry.lint_missing, "listed": entry.listed}
    temp = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".entry-", suffix=".tmp", dir=path.parent)
        temp = Path(name)
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        temp.replace(path)
        temp = None
        _prune(path.parent)
    except OSError:
        pass
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)


def _prune(base: Path) -> None:
    """Remove the least recently used entries beyond `MAX_ENTRIES`, and what a killed store left (a day old)."""
    entries = []
    stale = time.time_ns() - 86_400 * 10**9
    with os.scandir(base) as found:
        for item in found:
            name = item.name
            with contextlib.suppress(OSError):
                changed = item.stat(follow_symlinks=False).st_mtime_ns
                if name.endswith(".json") and len(name) == 69 and _HEX.issuperset(name[:64]):
                    entries.append((changed, item.path))
                elif name.startswith(".entry-") and name.endswith(".tmp") and changed < stale:
                    Path(item.path).unlink()
    entries.sort(reverse=True)
    for _, path in entries[MAX_ENTRIES:]:
        Path(path).unlink(missing_ok=True)


def entry_for(files: dict[str, bytes], settings: dict, lint_missing: list[str]) -> Entry:
    """The entry of a compile that generated `files` (constraints.txt included when pinned) for a project
    with `settings` (`ProjectSettings` as JSON)."""
    from mlspec.emit import CONSTRAINTS_PATH, MANIFEST_PATH
    from mlspec.write.sync import listed_files

    listed = [path for path in listed_files(files.get(MANIFEST_PATH, b"")) if path not in files]
    return Entry({path: digest(content) for path, content in files.items() if path != CONSTRAINTS_PATH},
                 settings, list(lint_missing), listed)
