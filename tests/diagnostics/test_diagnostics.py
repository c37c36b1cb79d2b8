"""Bad specs paired with their exact expected output.

Each folder under `cases/` is a project (a `specs/` folder, sometimes more) plus `expected.txt`:
the first line is `exit: N`, the rest is exactly what `mlspec validate` prints (full format). A case
with a `command` file runs that command instead (`compile`, for refusals only compile makes: such a
spec must still pass `mlspec validate`). Every case must exit non-zero, print no traceback and write
no file.
Regenerate with `pytest tests/diagnostics --update-goldens` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli, tree_snapshot

CASES = Path(__file__).parent / "cases"
CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir()) if CASES.is_dir() else []


def test_there_are_enough_cases() -> None:
    assert len(CASE_DIRS) >= 60


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_case(case: Path, update_goldens: bool) -> None:
    before = tree_snapshot(case)
    command = (case / "command").read_text(encoding="utf-8").split() if (case / "command").exists() else ["validate"]
    if command != ["validate"]:
        assert run_cli("-C", str(case), "validate").code == 0, "a case for another command must pass validate"
    result = run_cli("-C", str(case), *command)
    after = tree_snapshot(case)
    assert after == before, "validate wrote or changed files"
    actual = f"exit: {result.code}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in actual
    expected_file = case / "expected.txt"
    if update_goldens or not expected_file.exists():
        expected_file.write_text(actual, encoding="utf-8", newline="\n")
        if not update_goldens:
            pytest.fail(f"wrote missing {expected_file.name}; review it")
    expected = expected_file.read_text(encoding="utf-8")
    assert actual == expected
    assert result.code == 1, "a bad spec must exit 1"
