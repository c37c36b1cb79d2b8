"""Shared test fixtures: run the CLI in-process on real folders, and the --update-goldens switch."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlspec.cli.main import cli

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="Rewrite expected outputs (diagnostics, golden trees) from the current code.")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


# Ignored paths that a test run or a developer's tools may create in the checkout: caches, builds, logs.
_HARMLESS_PARTS = {"__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache", ".import_linter_cache", ".venv",
                   ".benchmarks", "build", "dist"}


def _harmless(path: str) -> bool:
    parts = path.rstrip("/").split("/")
    return (bool(_HARMLESS_PARTS.intersection(parts)) or parts[-1].endswith((".egg-info", ".log", ".pyc"))
            or path.startswith("benchmarks/out/"))


def _ignored_paths() -> list[str] | None:
    """The checkout's ignored files and folders (a folder once, as `git status` shows it), or None when the
    tests do not run from a git checkout of this repository."""
    git = shutil.which("git")
    if git is None:
        return None
    run = {"cwd": REPO, "capture_output": True, "text": True, "check": False}
    top = subprocess.run([git, "rev-parse", "--show-toplevel"], **run)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != REPO:
        return None
    # --no-optional-locks: never take the index lock, which would get in the way of someone committing
    status = subprocess.run([git, "--no-optional-locks", "status", "--porcelain=v1", "-z", "--ignored",
                             "--untracked-files=normal"], **run)
    if status.returncode != 0:
        return None
    return sorted(entry[3:] for entry in status.stdout.split("\0") if entry.startswith("!! "))


def _fingerprint(paths: list[str]) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file in the .mlspec folders among `paths`: what a run in place would change."""
    found = {}
    for path in paths:
        if path.rstrip("/").split("/")[-1] == ".mlspec" and (REPO / path).is_dir():
            for file in sorted((REPO / path).rglob("*")):
                if file.is_file():
                    stat = file.stat()
                    found[file.relative_to(REPO).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.fixture(scope="session", autouse=True)
def repository_left_as_found() -> Iterator[None]:
    """Fail the run if tests wrote into the checkout: every test copies an example or the repository's specs
    to a tmp_path before running them (a run in place leaves .mlspec/ behind, as the README's commands do).

    Checked: ignored paths that appear during the run (.mlspec/ and other outputs; caches and logs aside),
    and files changed inside .mlspec/ folders that were already there. Not checked: tracked and untracked
    files, which people edit while tests run; tests that must not change their inputs compare snapshots
    themselves (`tree_snapshot`)."""
    before = _ignored_paths()
    if before is None:  # not a git checkout (an unpacked sdist): nothing to compare with
        yield
        return
    files_before = _fingerprint(before)
    yield
    after = _ignored_paths() or []
    appeared = [path for path in after if path not in before and not _harmless(path)]
    files_after = _fingerprint(before)  # the .mlspec folders that were there: files added, changed or removed
    changed = sorted(path for path in files_before.keys() | files_after.keys()
                     if files_before.get(path) != files_after.get(path))
    assert not appeared and not changed, (
        f"the test run wrote into the repository {REPO}: new {appeared}, changed {changed}; "
        "run examples and specs in a copy under tmp_path")


@pytest.fixture(autouse=True)
def compile_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own compile cache (`mlspec.write.cache`), never the user's: an entry one test stored cannot
    answer another test's compile (which may have changed in-process what mlspec generates)."""
    folder = tmp_path_factory.mktemp("compile-cache")
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def single_threaded() -> None:
    """For tests that fork (a compile killed with kill -9), which is safe only while the process has one
    thread: wait for threads that earlier tests or fixtures stopped to end, then insist that none is left."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(60)  # a stopped server's thread ends on its own at once; a running one fails below
    others = [thread.name for thread in threading.enumerate() if thread is not threading.current_thread()]
    assert not others, f"threads left running by earlier tests or fixtures: {others} (forking would not be safe)"


class CliResult:
    """Exit code and captured streams of one CLI run."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr


def run_cli(*args: str, cwd: Path | None = None) -> CliResult:
    """Run `mlspec ARGS` in-process; an uncaught exception fails the test (it would be a traceback)."""
    runner = CliRunner()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = runner.invoke(cli, list(args), catch_exceptions=True)
    finally:
        os.chdir(old)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"mlspec {' '.join(args)} raised {result.exception!r}") from result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, to prove a command wrote nothing."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
