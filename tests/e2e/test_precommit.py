"""The repository's `.pre-commit-hooks.yaml`, run for real by pre-commit on a temporary repository.

The slow test copies this checkout's package and hooks file into a temporary git repository, and runs
`pre-commit try-repo` on a project made by `mlspec init`: pre-commit builds the hooks' environment
(mlspec's light package from the local index, nothing else fetched) and runs both hooks. A clean project
passes; a broken spec fails `mlspec-validate` with its diagnostic; an edited generated file fails
`mlspec-compile-check` naming the file. The fast test drives each hook's entry through the CLI.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_cli

HOOKS = {"mlspec-validate", "mlspec-compile-check"}
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})


def _hooks() -> dict[str, dict]:
    return {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text("utf-8"))}


def _project(root: Path) -> Path:
    """`mlspec init`, with CI state chosen (the demonstration opt-out) and compiled: a clean project."""
    assert run_cli("init", str(root)).code == 0
    spec = root / "specs" / "project.yaml"
    spec.write_text(spec.read_text("utf-8").replace("  # ci_state:", "  ci_state:"), encoding="utf-8")
    compiled = run_cli("-C", str(root), "compile")
    assert compiled.code == 0, compiled.stderr
    return root


def _break_spec(root: Path) -> None:
    spec = root / "specs" / "project.yaml"
    spec.write_text(spec.read_text("utf-8").replace("estimator: logistic_regression", "estimator: logistic_regresion"),
                    encoding="utf-8")


def _edit_generated(root: Path) -> Path:
    manifest = root / "generated" / "manifest.json"
    manifest.write_text(manifest.read_text("utf-8").replace('"name": "my-project"', '"name": "edited"'),
                        encoding="utf-8")
    return manifest


def test_the_hooks_are_the_commands_they_name(tmp_path: Path) -> None:
    """Each hook's entry, as pre-commit calls it (whole project, no file names): exit 0 clean, 1 on its finding."""
    hooks = _hooks()
    assert set(hooks) == HOOKS
    assert all(h["language"] == "python" and h["pass_filenames"] is False for h in hooks.values())
    root = _project(tmp_path / "p")
    entries = {name: shlex.split(hook["entry"])[1:] for name, hook in hooks.items()}
    for name, args in entries.items():
        assert run_cli(*args, cwd=root).code == 0, name
    _break_spec(root)
    broken = run_cli(*entries["mlspec-validate"], cwd=root)
    assert broken.code == 1 and "MLS" in broken.stdout and "logistic_regresion" in broken.stdout


@pytest.mark.slow
@pytest.mark.skipif(not PRE_COMMIT.is_file() or shutil.which("git") is None, reason="needs pre-commit and git")
def test_pre_commit_runs_the_hooks_on_a_temporary_repository(tmp_path: Path) -> None:
    hooks_repo = tmp_path / "mlspec-hooks"
    hooks_repo.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(REPO / name, hooks_repo / name)
    shutil.copytree(REPO / "src", hooks_repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _git(hooks_repo, "init", "--quiet", "--initial-branch=main")
    _git(hooks_repo, "add", "-A")
    _git(hooks_repo, "commit", "--quiet", "-m", "hooks")

    project = _project(tmp_path / "project")
    _git(project, "init", "--quiet", "--initial-branch=main")
    _git(project, "add", "-A")
    _git(project, "commit", "--quiet", "-m", "a project")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_NO_INPUT": "1"}

    def try_repo(hook: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(PRE_COMMIT), "try-repo", str(hooks_repo), hook, "--all-files"], cwd=project,
                              env=env, capture_output=True, text=True, check=False, timeout=900)

    for hook in sorted(HOOKS):
        clean = try_repo(hook)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "Passed" in clean.stdout

    _break_spec(project)
    broken = try_repo("mlspec-validate")
    assert broken.returncode == 1, broken.stdout
    assert "Failed" in broken.stdout and "specs/project.yaml:" in broken.stdout
    assert "logistic_regresion" in broken.stdout
    _git(project, "checkout", "--", "specs/project.yaml")

    _edit_generated(project)
    stale = try_repo("mlspec-compile-check")
    assert stale.returncode == 1, stale.stdout
    assert "modified: generated/manifest.json" in stale.stdout and "Failed" in stale.stdout
