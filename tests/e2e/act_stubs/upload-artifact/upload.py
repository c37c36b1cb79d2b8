"""Offline stand-in for actions/upload-artifact (v4+ semantics), run by this folder's action.yml.

Copies the files the `path` patterns match into $MLSPEC_ACT_ARTIFACTS/<name>/, laid out the way the
real action lays out the zip it uploads:
- each line of `path` is a pattern (`!` excludes, `#` comments, `*`, `**`, `?` globs); a pattern ending
  in `/` matches directories only; a matched directory brings all its files;
- the artifact's root is the least common ancestor of the patterns' search paths (the part of each
  pattern before its first glob; a search path under another one does not count). A single matched
  file named without a glob is stored under its bare name;
- unless include-hidden-files is true, any file or folder whose name starts with "." is skipped,
  including one a pattern names directly;
- if-no-files-found: warn (default), error or ignore; an artifact name may be uploaded once per run.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

_GLOB = re.compile(r"[*?\[]")
_BAD_NAME = re.compile(r'["<>|*?:\\/\r\n]')


def _fail(message: str) -> int:
    print(f"::error::{message}")
    return 1


def _pattern_regex(pattern: str) -> re.Pattern:
    """An absolute glob pattern as a regular expression (`**` crosses folders, `*` and `?` do not)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


class Pattern:
    """One line of `path`, made absolute against the workspace."""

    def __init__(self, line: str, workspace: Path) -> None:
        self.negate = line.startswith("!")
        text = line[1:].strip() if self.negate else line
        if text.startswith("~"):
            text = os.path.expanduser(text)
        self.directory_only = text.endswith("/")
        absolute = os.path.normpath(os.path.join(workspace, text))
        self.regex = _pattern_regex(absolute)
        parts = absolute.split("/")
        literal = []
        for part in parts:
            if _GLOB.search(part):
                break
            literal.append(part)
        self.search_path = "/".join(literal) or "/"

    def matches(self, path: str, is_dir: bool) -> bool:
        """Whether the pattern names this path itself (descendants are added by the caller)."""
        return (is_dir or not self.directory_only) and bool(self.regex.match(path))


def search_paths(patterns: list[Pattern]) -> list[str]:
    """@actions/glob's getSearchPaths: include patterns' search paths, minus those under another one."""
    candidates = {p.search_path for p in patterns if not p.negate}
    result: list[str] = []
    for pattern in patterns:
        if pattern.negate or pattern.search_path in result:
            continue
        parent = os.path.dirname(pattern.search_path)
        child = pattern.search_path
        under_another = False
        while parent != child:
            if parent in candidates:
                under_another = True
                break
            child, parent = parent, os.path.dirname(parent)
        if not under_another:
            result.append(pattern.search_path)
    return result


def find_files(patterns: list[Pattern], include_hidden: bool) -> list[str]:
    """Every file matched by an include pattern (or under a matched folder) and by no exclude pattern."""
    includes = [p for p in patterns if not p.negate]
    excludes = [p for p in patterns if p.negate]
    found: dict[str, None] = {}
    for root in search_paths(patterns):
        stack = [(root, False)]  # (path, already inside a matched folder)
        while stack:
            path, inside = stack.pop()
            if not include_hidden and os.path.basename(path).startswith("."):
                continue
            if not os.path.lexists(path):
                continue
            is_dir = os.path.isdir(path)
            matched = inside or any(p.matches(path, is_dir) for p in includes)
            if matched and any(p.matches(path, is_dir) for p in excludes):
                continue
            if is_dir:
                stack.extend((os.path.join(path, child), matched) for child in sorted(os.listdir(path), reverse=True))
            elif matched:
                found[path] = None
    return list(found)


def common_ancestor(paths: list[str]) -> str:
    """@actions/artifact's getMultiPathLCA."""
    split = [p.split("/") for p in paths]
    common = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common) or "/"


def main() -> int:
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    store = os.environ.get("MLSPEC_ACT_ARTIFACTS")
    if not store:
        return _fail("upload-artifact stub: set MLSPEC_ACT_ARTIFACTS to the run's artifact folder")
    name = os.environ.get("INPUT_NAME") or "artifact"
    if _BAD_NAME.search(name):
        return _fail(f"The artifact name is not valid: {name}")
    if_none = (os.environ.get("INPUT_IF_NO_FILES_FOUND") or "warn").lower()
    if if_none not in ("warn", "error", "ignore"):
        return _fail(f"Unrecognized if-no-files-found input. Provided: {if_none}. Available options: warn, error, "
                     "ignore")
    include_hidden = (os.environ.get("INPUT_INCLUDE_HIDDEN_FILES") or "false").lower() == "true"
    lines = [line.strip() for line in (os.environ.get("INPUT_PATH") or "").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        return _fail("Input required and not supplied: path")
    patterns = [Pattern(line, workspace) for line in lines]
    files = find_files(patterns, include_hidden)
    if not files:
        message = f"No files were found with the provided path: {chr(10).join(lines)}. No artifacts will be uploaded."
        if if_none == "error":
            return _fail(message)
        print(f"::warning::{message}" if if_none == "warn" else message)
        return 0
    roots = search_paths(patterns)
    if len(roots) > 1:
        root = common_ancestor(roots)
    elif len(files) == 1 and roots[0] == files[0]:
        root = os.path.dirname(files[0])
    else:
        root = roots[0]
    target = Path(store) / name
    if target.exists():
        return _fail(f"Failed to CreateArtifact: an artifact with this name already exists on the workflow run: "
                     f"{name}")
    for path in files:
        relative = os.path.relpath(path, root)
        if relative.startswith(".."):
            return _fail(f"The rootDirectory: {root} is not a parent directory of the file: {path}")
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        print(f"uploaded {relative}")
    print(f"Artifact {name} has been successfully uploaded: {len(files)} file(s) from root {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
