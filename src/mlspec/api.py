"""The library API: one function per user action, returning result objects. Never prints or exits.

The CLI is a thin layer over these functions; tests and other tools can call them directly.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlspec import gcpause
from mlspec.diagnostics import Diagnostic, has_errors, sort_key
from mlspec.errors import MlspecError
from mlspec.manifest import OLDEST_READABLE, SCHEMA_VERSION, Manifest
from mlspec.spec.validate import Validated, validate_project


@dataclass
class Project:
    """A loaded project: validation result, and when valid its manifest, graph and order."""

    root: Path
    validated: Validated
    manifest: Manifest | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _graph: object | None = field(default=None, repr=False)
    _order: list[str] | None = field(default=None, repr=False)
    # the sha256 of every generated file (constraints.txt aside) when the compile cache vouched for the project
    generated: dict[str, str] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the project validated and resolved without errors."""
        return self.manifest is not None and not has_errors(self.diagnostics)

    @property
    def valid_manifest(self) -> Manifest:
        """The manifest of a project that is ok: what commands use once they checked `ok` (ValueError if not)."""
        if self.manifest is None:
            raise ValueError("the project is not valid")  # a caller that skipped the check of `ok`
        return self.manifest

    @property
    def graph(self):
        """The lifecycle graph (a networkx DiGraph; None unless the project is ok), built on first use.

        Commands that only emit files (`compile`) never need it: the cycle check runs on the
        feature-to-feature edges alone.
        """
        if self._graph is None and self.manifest is not None:
            from mlspec.graph import build as graph_build

            self._graph = graph_build.build(self.manifest)
        return self._graph

    @property
    def order(self) -> list[str]:
        """Every node id in dependency order (empty unless the project is ok), computed on first use."""
        if self._order is None:
            from mlspec.graph import build as graph_build

            self._order = graph_build.order(self.graph) if self.graph is not None else []
        return self._order


def load_cached(root: Path) -> Project | None:
    """The project as the compile cache knows it, or None: when an entry for these exact spec files exists and
    the work tree's generated/manifest.json is the one it records, that file is what validating and resolving
    again would give (as a saved manifest, it is read without either), and the entry has the generated files.
    Its `validated` holds the spec texts and nothing else: a project is cached only once it compiled."""
    from mlspec.emit import MANIFEST_PATH
    from mlspec.spec.loader import decode
    from mlspec.write import cache
    from mlspec.write.outputs import read_regular, safe_target_or_none, user_owned

    specs = cache.read_specs(root)
    if specs is None:
        return None
    keep = user_owned(root)
    entry = cache.lookup(cache.key(specs, keep, cache.own_lint_config(root, keep)))
    target = safe_target_or_none(str(root), MANIFEST_PATH, set())
    if entry is None or MANIFEST_PATH not in entry.files or target is None:
        return None
    try:
        raw = read_regular(target)
    except OSError:
        return None
    if cache.digest(raw) != entry.files[MANIFEST_PATH]:
        return None
    try:
        manifest = Manifest.model_validate_json(raw)
    except ValueError:
        return None
    texts = {path: decode(path, content)[0] for path, content in specs.items()}
    if any(text is None for text in texts.values()):  # never for specs that compiled; said for the type checker
        return None
    return Project(root, Validated(None, None, [], {path: str(text) for path, text in texts.items()}), manifest,
                   generated=entry.files)


def check(root: Path) -> tuple[Validated, list[Diagnostic]]:
    """What `mlspec validate` needs: every finding, without building the manifest.

    A dependency cycle can only run through derived features, so the cycle check needs just the
    feature-to-feature edges the semantic checks found; resolving the whole manifest (most of the time
    and memory of `load` on large projects) is left to commands that use it.
    """
    validated = validate_project(root)
    if (valid := validated.valid) is None:
        return validated, list(validated.diagnostics)

    from mlspec.graph import build as graph_build
    from mlspec.yamlpos.sourcemap import SourceMap

    origins = {}
    for name, deps in valid.facts.feature_deps.items():
        entry = valid.spec.features[name]
        for dep in deps:
            origins[(f"feature.{dep}", f"feature.{name}")] = entry.at("features", "expr")
    problems = SourceMap(validated.texts).locate(
        graph_build.cycles(graph_build.feature_graph(origins), origins))
    return validated, sorted(validated.diagnostics + problems, key=sort_key)


def load(root: Path, specs: dict[str, bytes] | None = None) -> Project:
    """Validate the specs under `root` and resolve them into a manifest (the graph is built when first used).

    `specs` (display path -> bytes, as `mlspec.write.cache.read_specs` gives) are used instead of reading
    the files they hold, so that what is validated is exactly what a cache key hashed.
    """
    with gcpause.paused():  # for the commands that run models (see mlspec.gcpause)
        return _load(root, specs)


def _load(root: Path, specs: dict[str, bytes] | None) -> Project:
    validated = validate_project(root, specs)
    project = Project(root, validated, diagnostics=list(validated.diagnostics))
    if (valid := validated.valid) is None:
        return project
    from mlspec.graph import build as graph_build  # networkx is only needed once specs are valid
    from mlspec.resolve import resolve
    from mlspec.yamlpos.sourcemap import SourceMap

    resolved = resolve(valid.spec, valid.facts)
    # a cycle can only run through derived features: their edges are the ones resolve placed
    problems = graph_build.cycles(graph_build.feature_graph(resolved.edge_origins), resolved.edge_origins)
    if problems:
        placed = SourceMap(validated.texts).locate(problems)
        project.diagnostics = sorted(project.diagnostics + placed, key=sort_key)
        return project
    project.manifest = resolved.manifest
    return project


def select(project: Project, selectors: Sequence[str], exclude: Sequence[str] = (),
           modified: set[str] | None = None) -> list[str]:
    """Selected node ids in graph order (raises `SelectorError` when a selector matches nothing).

    `modified` is the set `state:modified` means (from a plan against a base); None when no base was given.
    """
    from mlspec.graph.select import select as graph_select

    chosen = graph_select(project.valid_manifest, project.graph, selectors, exclude, modified)
    return [node for node in project.order if node in chosen]


def monitors(project: Project, names: list[str]) -> list[str]:
    """The monitors NAMES pick, in graph order (all when none is given): a monitor by its name, or a model's
    monitors by the model's name. A model without monitors is an MlspecError, an unknown name a SelectorError."""
    manifest = project.valid_manifest
    nodes, watched = manifest.nodes, {m.model for m in manifest.of_kind("monitor")}
    models = [n for n in names if f"monitor.{n}" not in nodes and f"model.{n}" in nodes]
    if lacking := [n for n in models if n not in watched]:
        raise MlspecError(f"model '{lacking[0]}' has no monitor", hint="add one under monitors: in the specs "
                          "(model, data, and drift, quality or performance)")
    selectors = " ".join(f"model:{n}+,kind:monitor" if n in models else f"monitor:{n}" for n in names)
    return select(project, [selectors] if names else ["kind:monitor"])


def monitor(project: Project, node_ids: list[str], options, on_event=None, on_note=None):
    """Evaluate the monitors `node_ids`, write their reports and act on their alerts as `options` (a
    `MonitorOptions`) say; progress goes to the callbacks (see `runtime.monitoring.runner`). Returns
    `RunResults` (not ok on an alert or a monitor that could not be evaluated)."""
    from mlspec.runtime.monitoring.runner import MonitorRunner

    return MonitorRunner(project.valid_manifest, project.root, options, on_event, on_note).run(node_ids)


def json_schema() -> dict:
    """The spec language as a JSON Schema (draft-07 compatible), with every field's description."""
    from mlspec.spec.v1.models import SpecFile

    schema = SpecFile.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    schema = copy.deepcopy(schema)
    schema["definitions"] = schema.pop("$defs", {})
    _strip_discriminators(schema)
    return {"$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://mlspec.dev/schema/mlspec-v1.json", **schema}


def _strip_discriminators(node: object) -> None:
    """Drop OpenAPI `discriminator` keys, which draft-07 validators do not know."""
    if isinstance(node, dict):
        node.pop("discriminator", None)
        for value in node.values():
            _strip_discriminators(value)
    elif isinstance(node, list):
        for value in node:
            _strip_discriminators(value)


def json_schema_text() -> str:
    """The JSON Schema as canonical text (what `mlspec schema` writes): sorted keys, ASCII."""
    return json.dumps(json_schema(), sort_keys=True, indent=2, ensure_ascii=True) + "\n"


class PlanBaseError(MlspecError):
    """The base of a plan could not be read (unknown git ref, no commits yet, unreadable state file)."""


def _git(root: Path, *args: str) -> str:
    """git's standard output; PlanBaseError with git's own message when it fails."""
    import subprocess

    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,  # noqa: S607
                            check=False, timeout=60)
    if result.returncode != 0:
        said = (result.stderr.strip().splitlines() or ["failed"])[0]
        if "not a git repository" in said:
            raise PlanBaseError(f"{root} is not in a git repository, so there is no git ref to compare with",
                                hint="run `git init` and commit, or compare with a manifest: --state FILE")
        raise PlanBaseError(f"git {' '.join(args)}: {said}",
                            hint="name a branch, tag or commit that exists here (`git branch -a` lists branches)")
    return result.stdout


def _has_commits(root: Path) -> bool:
    import subprocess

    _git(root, "rev-parse", "--show-prefix")  # not a repository: said plainly
    found = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],  # noqa: S607
                           capture_output=True, text=True, check=False, timeout=60)
    return found.returncode == 0


def default_base(root: Path, default_branch: str) -> tuple[str | None, str]:
    """What `mlspec plan` compares with when no base is given, and how to say so.

    Like a pull request: the merge-base of HEAD with the default branch (`origin/<default_branch>`, else
    origin's HEAD, else the local `<default_branch>`), so the plan shows this branch's changes and the work
    tree's; without any of them, HEAD. None when the repository has no commit yet (everything is new then).
    """
    if not _has_commits(root):
        return None, "the repository has no commits yet: every node is new"
    for candidate in (f"origin/{default_branch}", "origin/HEAD", default_branch):
        try:
            _git(root, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
            merge_base = _git(root, "merge-base", "HEAD", candidate).strip()
        except PlanBaseError:
            continue
        return merge_base, f"the merge-base of HEAD and {candidate} ({merge_base[:12]})"
    return "HEAD", f"HEAD (no {default_branch} branch here, nor on origin)"


def _state_base(state: Path | None) -> tuple[Manifest | None, list[str]]:
    """The manifest to compare with from a state file (None: no base, so everything is new), and notes."""
    if state is not None:
        try:  # a manifest of an older mlspec reads as this version's (the values are the same)
            base = Manifest.read_json(state.read_bytes(), oldest=OLDEST_READABLE)
        except (OSError, ValueError) as exc:
            raise PlanBaseError(f"cannot read state file {state}: {exc}", hint=getattr(exc, "hint", None)) from exc
        return base, [f"the state file is the manifest of an older mlspec (version {base.schema_version}), compared "
                      "as this mlspec reads it"] if base.schema_version < SCHEMA_VERSION else []
    return None, ["no base (the repository has no commits yet): every node is new"]


def plan_base(project: Project, ref: str | None = None, state: Path | None = None):
    """What `mlspec plan` compares with (a `planbase.Side`): the specs at git `ref` (the work tree untouched),
    or a state file's manifest."""
    from mlspec import planbase
    from mlspec.write.outputs import user_owned

    if state is not None or ref is None:
        return planbase.Side(*_state_base(state))
    root = project.root
    prefix = _git(root, "rev-parse", "--show-prefix").strip()
    if not _has_commits(root):
        raise PlanBaseError(f"the repository has no commits yet, so there is no {ref} to compare with",
                            hint="commit first, or run `mlspec plan` without --base (on a repository without "
                                 "commits, everything is new)")
    try:
        return planbase.from_ref(project, ref, prefix, user_owned(root))
    except planbase.GitError as exc:
        raise PlanBaseError(str(exc), hint="name a branch, tag or commit that exists here (`git branch -a` lists "
                                           "branches)") from exc


def plan(project: Project, base, *, files: bool = True):
    """The plan from `base` (a `planbase.Side`) to the project's current manifest, with the generated files
    that change unless `files` is False (what `state:modified` needs is the nodes alone)."""
    from mlspec import planbase
    from mlspec.plan import make_plan
    from mlspec.write.outputs import user_owned

    changed: dict[str, list[str]] = {"created": [], "updated": [], "deleted": []}
    if files:
        keep = user_owned(project.root)
        head_files = planbase.files_of(project, planbase.head(project, keep), keep)
        base_files = head_files if base.same_as_head else planbase.files_of(project, base, keep)
        both = head_files.keys() & base_files.keys()
        changed = {"created": sorted(head_files.keys() - base_files.keys()),
                   "updated": sorted(path for path in both if head_files[path] != base_files[path]),
                   "deleted": sorted(base_files.keys() - head_files.keys())}
    result = make_plan(base.manifest, project.valid_manifest, project.graph, changed)
    result.notes = base.notes + result.notes
    if base.manifest is not None:
        result.base_state = {"registry_uri": base.manifest.project.registry_uri,
                             "artifacts_uri": base.manifest.project.artifacts_uri}
    return result


def ci_problems(project: Project) -> list[Diagnostic]:
    """What `mlspec compile` refuses beyond validation: state a CI job would lose (MLS221), placed."""
    from mlspec.spec.check_ci import ci_state_problems
    from mlspec.yamlpos.sourcemap import SourceMap

    if project.validated.spec is None:  # a project from the compile cache holds no spec: it compiled already
        raise ValueError("ci_problems needs a project validated from its spec files")
    problems = ci_state_problems(project.validated.spec)
    return sorted(SourceMap(project.validated.texts).locate(problems), key=sort_key) if problems else []


def pins(project: Project, *, upgrade: bool = False):
    """`generated/constraints.txt` for the project (a `constraints.Pins`), or None when CI installs from the
    project's own lock file. Raises `constraints.ConstraintsError` when a needed package is not installed."""
    return pins_for(project.root, project.valid_manifest.project, upgrade=upgrade)


def pins_for(root: Path, settings, *, upgrade: bool = False):
    """`pins` from the project settings alone (`manifest.ProjectSettings`), as a cached compile has them."""
    from mlspec import constraints
    from mlspec.emit import CONSTRAINTS_PATH
    from mlspec.write.outputs import read_regular, safe_target_or_none

    if settings.install.form == "lock":
        return None
    existing = None
    target = safe_target_or_none(str(root), CONSTRAINTS_PATH, set())
    if target is not None:
        try:
            existing = read_regular(target).decode("utf-8", "replace")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            existing = None
    extras = [*settings.install.extras, *(["serve"] if settings.serve is not None else [])]  # the serving image's
    return constraints.build(extras, settings.python, settings.runner, existing, upgrade=upgrade)


def lint_missing(root: Path, manifest: Manifest, user_owned: frozenset[str]) -> list[str]:
    """Runner labels the generated workflows use that the repository's own actionlint.yaml does not declare
    (none when mlspec writes that file)."""
    from mlspec.emit import ACTIONLINT_PATH
    from mlspec.emit.lintconfig import undeclared_labels

    if ACTIONLINT_PATH not in user_owned:
        return []
    try:
        text = (root / ACTIONLINT_PATH).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    return list(undeclared_labels(manifest, text))


def install_notes(project: Project) -> list[str]:
    """Warnings about what `project.install` names in the repository: a hashed requirements file that is
    missing, unhashed or without the runtime; a package folder without pyproject.toml or setup.py."""
    return install_notes_for(project.root, project.valid_manifest.project)


def install_notes_for(root: Path, settings) -> list[str]:
    """`install_notes` from the project settings alone (`manifest.ProjectSettings`)."""
    from mlspec import installs
    from mlspec.write.outputs import lstat_mode

    install = settings.install
    if install.form == "lock":
        path = root / install.light
        try:
            text = path.read_text(encoding="utf-8") if lstat_mode(path) is not None and path.is_file() else None
        except (OSError, UnicodeDecodeError):
            text = None
        return installs.lock_problems(install.light, text)
    if install.form == "path":
        folder = root / install.light
        if not ((folder / "pyproject.toml").is_file() or (folder / "setup.py").is_file()):
            return [f"project.install names the folder {install.light}, which has no pyproject.toml or setup.py "
                    "to install"]
    return []
