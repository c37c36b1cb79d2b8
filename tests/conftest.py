"""Shared test fixtures: run the CLI in-process on real folders, and the --update-goldens switch."""

from __future__ import annotations

import os
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
