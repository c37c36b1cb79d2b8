"""Offline stand-in for actions/download-artifact (v4+ semantics), run by this folder's action.yml.

- With `name`: that artifact's files go straight into `path` (no folder named after the artifact);
  a missing artifact fails the step, like the real action.
- Without `name`: every artifact whose name matches `pattern` (a glob; all when empty) goes into
  `path/<artifact name>/`, or straight into `path` when `merge-multiple` is true. Zero matches is
  not an error.
- `github-token` switches to another run's artifacts: those of `run-id`, looked up in
  $MLSPEC_ACT_RUNS/<run-id>/ (the test copies an earlier act run's artifact folder there).
`path` is relative to the workspace (`~` expands) and defaults to it.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
from pathlib import Path


def _fail(message: str) -> int:
    print(f"::error::{message}")
    return 1


def _copy_tree(source: Path, destination: Path) -> int:
    count = 0
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        target = destination / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target)
        count += 1
    return count


def main() -> int:
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    store = os.environ.get("MLSPEC_ACT_ARTIFACTS")
    if not store:
        return _fail("download-artifact stub: set MLSPEC_ACT_ARTIFACTS to the run's artifact folder")
    name = os.environ.get("INPUT_NAME") or ""
    pattern = os.environ.get("INPUT_PATTERN") or ""
    merge = (os.environ.get("INPUT_MERGE_MULTIPLE") or "false").lower() == "true"
    destination = workspace / os.path.expanduser(os.environ.get("INPUT_PATH") or ".")
    if os.environ.get("INPUT_GITHUB_TOKEN"):
        run_id = os.environ.get("INPUT_RUN_ID") or os.environ.get("GITHUB_RUN_ID") or ""
        runs = os.environ.get("MLSPEC_ACT_RUNS")
        if not runs or not (Path(runs) / run_id).is_dir():
            return _fail(f"Unable to download artifact(s): no artifacts of workflow run {run_id!r} "
                         "(the stub reads them from $MLSPEC_ACT_RUNS/<run-id>)")
        store = str(Path(runs) / run_id)
    if name:
        if pattern:
            print("::warning::download-artifact stub: `name` is given, so `pattern` is ignored")
        source = Path(store) / name
        if not source.is_dir():
            return _fail(f"Unable to download artifact(s): Artifact not found for name: {name}")
        count = _copy_tree(source, destination)
        print(f"Artifact {name} ({count} file(s)) was downloaded to {destination}")
        return 0
    found = sorted(p for p in Path(store).iterdir() if p.is_dir() and fnmatch.fnmatchcase(p.name, pattern or "*"))
    print(f"Found {len(found)} artifact(s)" + (f" matching {pattern}" if pattern else ""))
    for source in found:
        target = destination if merge else destination / source.name
        count = _copy_tree(source, target)
        print(f"Artifact {source.name} ({count} file(s)) was downloaded to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
