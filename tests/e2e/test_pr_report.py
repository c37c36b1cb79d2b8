"""`mlspec pr-report` and `mlspec pr-comment` through the CLI: size guards, untrusted report folders,
and one comment per pull request edited in place (with tests/e2e/fake_gh.py standing in for `gh`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.e2e.fake_gh import FakeGitHub

MARKER = "<!-- mlspec-report -->"
GITHUB_COMMENT_LIMIT = 65_536  # characters


def _report(tmp_path: Path, plan_md: str, name: str = "out", gate_reports: dict[str, str] | None = None) -> Path:
    plan = tmp_path / f"{name}-plan.md"
    plan.write_text(plan_md, encoding="utf-8")
    reports = tmp_path / f"{name}-reports"
    reports.mkdir()
    for file, text in (gate_reports or {}).items():
        (reports / file).write_text(text, encoding="utf-8")
    out = tmp_path / name
    result = run_cli("pr-report", "--plan", str(plan), "--reports", str(reports), "--pr", "12",
                     "--link", "https://github.com/acme/fraud/actions/runs/99", "-o", str(out))
    assert result.code == 0, result.stdout + result.stderr
    return out


def test_report_without_ml_change_says_so(tmp_path: Path) -> None:
    out = _report(tmp_path, "**Plan: 0 to add, 0 to change, 0 to remove, 0 to retrain.**\n\nNo ML change.\n")
    text = (out / "report.md").read_text(encoding="utf-8")
    assert text.startswith(MARKER + "\n## mlspec plan")
    assert "No model was trained: this change affects no model." in text
    assert "[Workflow run and artifacts](https://github.com/acme/fraud/actions/runs/99)" in text
    assert (out / "pr-number.txt").read_text(encoding="utf-8") == "12\n"


def test_a_planned_model_without_gate_report_is_flagged(tmp_path: Path) -> None:
    plan_json = tmp_path / "out-plan.json"
    plan_json.write_text(json.dumps({"retrain": ["model.fraud_gbm", "model.fraud_logreg", "not a node"]}),
                         encoding="utf-8")
    gate = "### ✅ Gate `fraud_gbm_release` on model `fraud_gbm`: pass\n"
    text = (_report(tmp_path, "plan\n", gate_reports={"gate-report-fraud_gbm_release.md": gate}) / "report.md") \
        .read_text(encoding="utf-8")
    assert gate in text
    assert "`model.fraud_logreg` was to be retrained but produced no gate report" in text
    assert "fraud_gbm` was to be retrained" not in text and "not a node" not in text


@pytest.mark.parametrize("size", [70_000, 300_000])
def test_a_huge_report_is_collapsed_then_truncated_below_githubs_limit(tmp_path: Path, size: int) -> None:
    rows = "".join(f"| `model.m{i:06d}` | update |\n" for i in range(size // 28))
    text = (_report(tmp_path, "| node | change |\n|---|---|\n" + rows) / "report.md").read_text(encoding="utf-8")
    assert len(text) < GITHUB_COMMENT_LIMIT
    assert text.startswith(MARKER)
    assert "truncated" in text and "https://github.com/acme/fraud/actions/runs/99" in text
    assert all(line.startswith("|") and line.endswith("|") for line in text.splitlines()
               if line.startswith("| `model.")), "no row is cut in half"


# ------------------------------------------------------------------------------------------------
# pr-comment: the report folder is untrusted data
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`gh` on PATH is fake_gh.py; returns its state folder."""
    gh = FakeGitHub(tmp_path)
    monkeypatch.setenv("PATH", f"{gh.bin}{os.pathsep}{os.environ['PATH']}")
    for name, value in gh.step_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GH_TOKEN", "test")
    return gh.folder


def _comments(state: Path) -> list[dict]:
    return json.loads((state / "state.json").read_text(encoding="utf-8"))["comments"]


def test_one_comment_is_created_then_edited_in_place(tmp_path: Path, fake_gh: Path) -> None:
    human = {"id": 5, "issue": 12, "body": f"I like this.\n\n{MARKER} (quoted)"}
    (fake_gh / "state.json").write_text(json.dumps({"comments": [human], "issues": [], "dispatches": []}),
                                        encoding="utf-8")
    first = _report(tmp_path, "first push\n", "first")
    result = run_cli("pr-comment", "--report", str(first), "--repo", "acme/fraud")
    assert result.code == 0, result.stdout + result.stderr
    assert "created the mlspec comment on #12" in result.stdout
    second = _report(tmp_path, "second push\n", "second")
    result = run_cli("pr-comment", "--report", str(second), "--repo", "acme/fraud")
    assert result.code == 0, result.stdout + result.stderr
    comments = _comments(fake_gh)
    assert comments[0] == human, "a person's comment that quotes the marker is not ours"
    assert len(comments) == 2 and comments[1]["edits"] == 1
    assert comments[1]["body"] == (second / "report.md").read_text(encoding="utf-8")
    assert f"updated comment {comments[1]['id']} on #12" in result.stdout


@pytest.mark.parametrize("tamper", ["extra file", "symlink", "number", "huge", "missing"])
def test_a_tampered_report_folder_is_refused_before_any_call(tmp_path: Path, fake_gh: Path, tamper: str) -> None:
    folder = _report(tmp_path, "plan\n")
    if tamper == "extra file":
        (folder / "run.sh").write_text("echo pwned\n", encoding="utf-8")
    elif tamper == "symlink":
        (folder / "report.md").unlink()
        (folder / "report.md").symlink_to("/etc/passwd")
    elif tamper == "number":
        (folder / "pr-number.txt").write_text("12; rm -rf /\n", encoding="utf-8")
    elif tamper == "huge":
        (folder / "report.md").write_text(MARKER + "x" * 200_000, encoding="utf-8")
    else:
        (folder / "pr-number.txt").unlink()
    result = run_cli("pr-comment", "--report", str(folder), "--repo", "acme/fraud")
    assert result.code == 1
    assert "Error:" in result.stderr
    assert not (fake_gh / "calls").exists(), "nothing may reach GitHub"


def test_repo_must_be_owner_slash_name(tmp_path: Path, fake_gh: Path) -> None:
    result = run_cli("pr-comment", "--report", str(_report(tmp_path, "plan\n")), "--repo", "acme/fraud;x")
    assert result.code == 2
    assert not (fake_gh / "calls").exists()
