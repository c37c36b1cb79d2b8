"""The two sides of `mlspec plan`, each computed once and as little as the compile cache allows.

A plan compares the work tree (head) with a base: the specs at a git ref, or a saved manifest. For each
side it needs the manifest and the sha256 of every file compiling it generates. Without a cache that is
a whole compile of each side in memory: validate, resolve, render. The compile cache
(`mlspec.write.cache`) records, for exact inputs and this exact mlspec, the generated files' hashes, so a
side it knows is not rendered; and a side rendered here is stored, so the next plan or compile of the same
inputs is not rendered either. The base's specs come from git in two processes (`ls-tree`, one
`cat-file --batch`), not one per file. A base whose spec files are byte for byte the work tree's is the
work tree's manifest and files. A base's manifest is read from its committed `generated/manifest.json`
instead of compiled when a cache entry proves that file is what compiling the base's specs gives (the
file's sha256 is the entry's). Every shortcut gives what compiling would; what the cache cannot vouch for
is computed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.emit import MANIFEST_PATH
from mlspec.errors import MlspecError
from mlspec.manifest import Manifest
from mlspec.write import cache


@dataclass
class Side:
    """One side of a plan: its manifest (None: no valid project there), notes for the plan, the sha256 of every
    file it generates, constraints.txt aside (None: not known yet), and what rendering it needs to store them."""

    manifest: Manifest | None
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] | None = None
    spec: object | None = field(default=None, repr=False)  # the validated spec, when compiled here
    key: str | None = None  # the compile cache's key of its inputs (None: not cacheable)
    same_as_head: bool = False  # its spec files are the work tree's, byte for byte


@dataclass
class RefSpecs:
    """The spec files at a git ref (display path -> bytes), the object id of its committed manifest (None:
    none committed), and whether every spec is a plain file (a link's entry holds its target's name)."""

    specs: dict[str, bytes]
    manifest_id: str | None
    plain: bool


class GitError(MlspecError):
    """git refused (`args` and its first line of error output)."""

    def __init__(self, args: tuple[str, ...], said: str) -> None:
        super().__init__(f"git {' '.join(args)}: {said}")
        self.said = said


def git_bytes(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """git's standard output as bytes; GitError with git's first line of error output when it fails."""
    result = subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True,  # noqa: S607
                            check=False, timeout=600)
    if result.returncode != 0:
        said = (result.stderr.decode("utf-8", "replace").strip().splitlines() or ["failed"])[0]
        raise GitError(args, said)
    return result.stdout


def read_ref(root: Path, ref: str, prefix: str) -> RefSpecs:
    """The spec files of the project at `prefix` (its folder in the repository, as `git rev-parse
    --show-prefix` says it) at `ref`, as validation would find them in a checkout of `ref`."""
    specs_at, manifest_at = f"{prefix}specs/", f"{prefix}{MANIFEST_PATH}"
    listing = git_bytes(root, "ls-tree", "-r", "-z", "--full-tree", ref, "--", specs_at[:-1], manifest_at)
    found: list[tuple[str, str]] = []  # (display path, object id)
    manifest_id, plain = None, True
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, name_bytes = record.partition(b"\t")
        mode, kind, object_id = meta.decode("ascii").split(" ")
        name = name_bytes.decode("utf-8", "surrogateescape")
        if kind != "blob":
            continue
        if name == manifest_at:
            manifest_id = object_id
        elif name.startswith(specs_at) and cache.spec_name(name.rsplit("/", 1)[-1]):
            plain = plain and mode in ("100644", "100755")
            found.append((name[len(prefix):], object_id))
    contents = read_blobs(root, sorted({object_id for _, object_id in found}))
    return RefSpecs({display: contents[object_id] for display, object_id in sorted(found)}, manifest_id, plain)


def read_blobs(root: Path, object_ids: list[str]) -> dict[str, bytes]:
    """The contents of git blobs by object id, in one `git cat-file --batch`."""
    if not object_ids:
        return {}
    out = git_bytes(root, "cat-file", "--batch", stdin="".join(f"{oid}\n" for oid in object_ids).encode("ascii"))
    found, at = {}, 0
    for oid in object_ids:
        end = out.index(b"\n", at)
        header = out[at:end].decode("ascii").split(" ")
        if len(header) != 3 or header[1] != "blob":
            raise GitError(("cat-file", "--batch"), f"{oid} is not a blob")
        size = int(header[2])
        found[oid] = out[end + 1:end + 1 + size]
        at = end + 1 + size + 1  # the content is followed by a newline
    return found


def matches(project, specs: dict[str, bytes] | None) -> bool:
    """Whether the loaded project was validated from exactly these spec bytes (a file may have changed
    between loading and hashing)."""
    from mlspec.spec.loader import decode

    if specs is None:
        return False
    texts = project.validated.texts
    return texts.keys() == specs.keys() and all(decode(path, raw)[0] == texts[path] for path, raw in specs.items())


def generated(root: Path, manifest: Manifest, keep: frozenset[str], key: str | None, spec) -> dict[str, str]:
    """The sha256 of every file compiling `manifest` generates (constraints.txt aside): from the cache's entry
    for `key`, else rendered, and then stored under `key` when compile would accept the project (`spec`, the
    validated spec, keeps no state a CI job would lose)."""
    entry = cache.lookup(key) if key is not None else None
    if entry is not None:
        return entry.files
    from mlspec import api
    from mlspec.emit.tree import emit
    from mlspec.spec.check_ci import ci_state_problems

    files = emit(manifest, keep)
    if key is not None and spec is not None and not ci_state_problems(spec):
        entry = cache.entry_for(files, manifest.project.model_dump(mode="json"), api.lint_missing(root, manifest, keep))
    else:
        entry = cache.entry_for(files, {}, [])
        key = None
    if key is not None:
        cache.store(key, entry)
    return entry.files


def compile_specs(specs: dict[str, bytes], where: str) -> Side:
    """The manifest compiling `specs` gives (validated as a checkout's files would be), or a note saying why
    every node is new. `where` names the base in the notes."""
    from mlspec.graph import build as graph_build
    from mlspec.resolve import resolve
    from mlspec.spec.validate import validate_bytes

    validated = validate_bytes(specs)
    if (valid := validated.valid) is None:
        return Side(None, [f"the specs at the base ({where}) are invalid, so every node is shown as new"])
    resolved = resolve(valid.spec, valid.facts)
    # a cycle can only run through derived features: their edges are the ones resolve placed
    if graph_build.cycles(graph_build.feature_graph(resolved.edge_origins), resolved.edge_origins):
        return Side(None, [f"the specs at the base ({where}) have a dependency cycle, so every node is shown as new"])
    return Side(resolved.manifest, spec=valid.spec)


def committed_manifest(root: Path, ref_specs: RefSpecs, entry: cache.Entry | None) -> Manifest | None:
    """The base's committed manifest, when the cache's entry proves it is what compiling its specs gives."""
    if entry is None or ref_specs.manifest_id is None or MANIFEST_PATH not in entry.files:
        return None
    blob = read_blobs(root, [ref_specs.manifest_id])[ref_specs.manifest_id]
    if cache.digest(blob) != entry.files[MANIFEST_PATH]:
        return None
    try:
        return Manifest.model_validate_json(blob)
    except ValueError:
        return None


def from_ref(project, ref: str, prefix: str, keep: frozenset[str]) -> Side:
    """The base at git `ref` for the project at `prefix` in its repository: the work tree's when its spec
    files are the same bytes, the committed manifest when the cache proves it current, else compiled."""
    at = read_ref(project.root, ref, prefix)
    if not at.specs:
        return Side(None, [f"the base ({ref}) has no specs: everything is new"])
    head_specs = cache.read_specs(project.root)
    if at.specs == head_specs and matches(project, head_specs):
        return Side(project.manifest, same_as_head=True)
    key = cache.key(at.specs, keep, cache.own_lint_config(project.root, keep)) if at.plain else None
    entry = cache.lookup(key) if key is not None else None
    manifest = committed_manifest(project.root, at, entry)
    if manifest is not None and entry is not None:
        return Side(manifest, files=entry.files)
    side = compile_specs(at.specs, ref)
    side.key = key
    if entry is not None and side.manifest is not None:
        side.files = entry.files
    return side


def files_of(project, side: Side, keep: frozenset[str]) -> dict[str, str]:
    """The sha256 of every file `side` generates (constraints.txt aside): known, or from the cache, or rendered."""
    if side.files is not None:
        return side.files
    if side.manifest is None:
        return {}
    return generated(project.root, side.manifest, keep, side.key, side.spec)


def head(project, keep: frozenset[str]) -> Side:
    """The work tree's side: the loaded project, with the cache key of its spec files when they are still the
    bytes it was loaded from."""
    if project.generated is not None:  # the cache vouched for the project as loaded
        return Side(project.manifest, files=project.generated)
    specs = cache.read_specs(project.root)
    if specs is None or not matches(project, specs):
        return Side(project.manifest, spec=project.validated.spec)
    return Side(project.manifest, spec=project.validated.spec,
                key=cache.key(specs, keep, cache.own_lint_config(project.root, keep)))
