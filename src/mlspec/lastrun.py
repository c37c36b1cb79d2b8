"""What a push to the default branch must train: the change since the last successful run.

The generated main workflow records, after a run whose jobs all succeeded, the commit it ran and
its manifest in the registry (`record`). The next push plans against that record (`affected`):
models whose spec, or anything upstream of it, changed, plus models fed by a data file in the
repository that changed between the two commits. A first run, a missing or unreadable record, or a
record whose commit the checkout does not have, trains everything. So does a change of the installed
packages (`generated/constraints.txt` or the lock file) or of the Python version or seed, which every
model depends on. Data that lives outside the repository (object stores, SQL) changes without a
commit: monitors notice it and dispatch retraining.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mlspec import __version__
from mlspec.emit import CONSTRAINTS_PATH
from mlspec.manifest import Manifest


@dataclass
class Affected:
    """The models a run trains, and why (notes for the log and the job summary)."""

    models: list[str]
    every: bool
    notes: list[str] = field(default_factory=list)


def record(manifest: Manifest, commit: str) -> dict:
    """The last-run record of a successful run of `manifest` at `commit`."""
    server, repo, run = (os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return {"commit": commit, "mlspec": __version__, "manifest": manifest.to_data(),
            "run": f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None}


def every_model(manifest: Manifest, why: str) -> Affected:
    """Every model trains, for the reason `why`."""
    return Affected(sorted(n.name for n in manifest.of_kind("model")), True, [why])


def affected(head: Manifest, graph, last: dict | None, root: Path) -> Affected:
    """The models to train at `head` (the checkout at `root`) after the run recorded in `last`."""
    import networkx as nx

    from mlspec.plan import make_plan

    branch = head.project.default_branch
    if not last:
        return every_model(head, f"no successful run is recorded for {branch}: every model trains")
    try:
        base = Manifest.model_validate(last["manifest"])
        commit = str(last["commit"])
    except (KeyError, TypeError, ValueError):
        return every_model(head, f"the last run recorded for {branch} is from another mlspec version or unreadable: "
                          "every model trains")
    changed = _changed_paths(root, commit)
    if changed is None:
        return every_model(head, f"commit {commit[:12]} of the last successful run is not in this checkout's "
                          "history: every model trains")
    touched_installs = [p for p in changed if _installed(head, p)]
    if touched_installs:
        shown = ", ".join(touched_installs[:3]) + (f" and {len(touched_installs) - 3} more" if len(touched_installs) > 3
                                                   else "")
        return every_model(head, f"what jobs install changed ({shown}): every model trains")
    plan = make_plan(base, head, graph, {})
    notes = []
    touched = set(plan.retrain)
    for source in head.of_kind("source"):
        if source.format == "sql" or not source.path or "://" in source.path:
            continue
        hits = [p for p in changed if _under(p, source.path)]
        if hits:
            notes.append(f"{source.id}: its data changed ({', '.join(hits[:3])}{' ...' if len(hits) > 3 else ''})")
            touched |= {n for n in nx.descendants(graph, source.id) if n.startswith("model.")}
    models = sorted(n.split(".", 1)[1] for n in touched if n in head.nodes)
    notes.insert(0, f"planned against the last successful run on {branch} (commit {commit[:12]}): "
                    f"{len(models)} of {len(head.of_kind('model'))} models train")
    return Affected(models, False, notes)


_PACKAGE_FILES = (".py", "pyproject.toml", "setup.py", "setup.cfg")


def _installed(manifest: Manifest, path: str) -> bool:
    """Whether a change to `path` changes what the generated jobs install: the constraints, the lock file, or
    (when mlspec is installed from a folder of the repository) that package's code and metadata."""
    install = manifest.project.install
    if path == CONSTRAINTS_PATH or (install.form == "lock" and path == install.light.removeprefix("./")):
        return True
    folder = install.light.split("[", 1)[0]
    return install.form == "path" and _under(path, folder) and path.endswith(_PACKAGE_FILES)


def _under(path: str, target: str) -> bool:
    """Whether repository-relative `path` is the file `target` names, lies in that folder, or matches its glob."""
    target = target.removeprefix("./").rstrip("/")
    if target in ("", "."):
        return True
    if any(c in target for c in "*?["):
        return fnmatch.fnmatchcase(path, target) or fnmatch.fnmatchcase(path, target + "/*")
    return path == target or path.startswith(target + "/")


def _changed_paths(root: Path, commit: str) -> list[str] | None:
    """Files (relative to `root`) that differ between `commit` and the work tree's HEAD; None when git cannot say."""
    if not commit or commit.startswith("-"):
        return None
    try:
        result = subprocess.run(["git", "-C", str(root), "diff", "--name-only", "--relative", "--no-renames",  # noqa: S607
                                 commit, "HEAD", "--"], capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return [line for line in result.stdout.splitlines() if line]


def full_commit(root: Path, commit: str) -> str | None:
    """`commit` (a sha, possibly short, or a name such as HEAD) as the full sha of a commit of the repository at
    `root`, or None when git cannot tell. A record must hold the sha itself: "HEAD" would mean the checkout of
    whichever push plans against it next, which then sees no change at all."""
    if not commit or commit.startswith("-"):
        return None
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet",  # noqa: S607
                                 f"{commit}^{{commit}}"], capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = result.stdout.strip()
    return sha if result.returncode == 0 and sha else None


def superseded(root: Path, last: dict | None, commit: str) -> bool:
    """Whether `last` records a run of a later commit than `commit` (a later push finished first), so
    recording this run would move the record backwards. When git cannot tell, it is not."""
    previous = str((last or {}).get("commit") or "")
    if not previous or previous == commit or previous.startswith("-") or commit.startswith("-"):
        return False
    try:
        result = subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", commit, previous],  # noqa: S607
                                capture_output=True, check=False, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0
