"""`mlspec pr-report` and `mlspec pr-comment` through the CLI: size guards, untrusted report folders, a
pull request found from the triggering run and the API (never from the report), and one comment per pull
request edited in place (with tests/e2e/fake_gh.py standing in for `gh`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.e2e.fake_gh import FakeGitHub

MARKER = "<!-- mlspec-report -->"
GITHUB_COMMENT_LIMIT = 65_536  # characters
HEAD = "a" * 40  # the head commit of pull request 12
OTHER = "b" * 40  # the head commit of pull request 13, from a fork
PULLS = [{"number": 12, "sha": HEAD, "repo": "acme/fraud", "branch": "feature"},
         {"number": 13, "sha": OTHER, "repo": "mallory/fraud", "branch": "main"}]


def _report(tmp_path: Path, plan_md: str, name: str = "out", gate_reports: dict[str, str] | None = None,
            head: str = HEAD) -> Path:
    plan = tmp_path / f"{name}-plan.md"
    plan.write_text(plan_md, encoding="utf-8")
    reports = tmp_path / f"{name}-reports"
    reports.mkdir()
    for file, text in (gate_reports or {}).items():
        (reports / file).write_text(text, encoding="utf-8")
    out = tmp_path / name
    result = run_cli("pr-report", "--plan", str(plan), "--reports", str(reports), "--head-sha", head,
                     "--link", "https://github.com/acme/fraud/actions/runs/99", "-o", str(out))
    assert result.code == 0, result.stdout + result.stderr
    return out


def test_report_without_ml_change_says_so(tmp_path: Path) -> None:
    out = _report(tmp_path, "**Plan: 0 to add, 0 to change, 0 to remove, 0 to retrain.**\n\nNo ML change.\n")
    text = (out / "report.md").read_text(encoding="utf-8")
    assert text.startswith(MARKER + "\n## mlspec plan")
    assert "No model was trained: this change affects no model." in text
    assert "[Workflow run and artifacts](https://github.com/acme/fraud/actions/runs/99)" in text
    assert (out / "head-sha.txt").read_text(encoding="utf-8") == HEAD + "\n"


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


def _seed(state: Path, comments: list[dict] | None = None) -> None:
    (state / "state.json").write_text(json.dumps({"comments": comments or [], "issues": [], "dispatches": [],
                                                  "pulls": PULLS}), encoding="utf-8")


def _comment(folder: Path, head: str = HEAD, head_repo: str = "acme/fraud", branch: str = "feature", *extra: str):
    """pr-comment as the comment workflow runs it: the run's head commit, repository and branch from the event."""
    return run_cli("pr-comment", "--report", str(folder), "--repo", "acme/fraud", "--head-sha", head,
                   "--head-repo", head_repo, "--head-branch", branch, *extra)


def test_one_comment_is_created_then_edited_in_place(tmp_path: Path, fake_gh: Path) -> None:
    human = {"id": 5, "issue": 12, "body": f"I like this.\n\n{MARKER} (quoted)"}
    _seed(fake_gh, [human])
    first = _report(tmp_path, "first push\n", "first")
    result = _comment(first)
    assert result.code == 0, result.stdout + result.stderr
    assert "created the mlspec comment on #12" in result.stdout
    second = _report(tmp_path, "second push\n", "second")
    result = _comment(second)
    assert result.code == 0, result.stdout + result.stderr
    comments = _comments(fake_gh)
    assert comments[0] == human, "a person's comment that quotes the marker is not ours"
    assert len(comments) == 2 and comments[1]["edits"] == 1
    assert comments[1]["body"] == (second / "report.md").read_text(encoding="utf-8")
    assert f"updated comment {comments[1]['id']} on #12" in result.stdout


@pytest.mark.parametrize("tamper", ["extra file", "symlink", "sha", "huge", "missing"])
def test_a_tampered_report_folder_is_refused_before_any_call(tmp_path: Path, fake_gh: Path, tamper: str) -> None:
    folder = _report(tmp_path, "plan\n")
    if tamper == "extra file":
        (folder / "run.sh").write_text("echo pwned\n", encoding="utf-8")
    elif tamper == "symlink":
        (folder / "report.md").unlink()
        (folder / "report.md").symlink_to("/etc/passwd")
    elif tamper == "sha":
        (folder / "head-sha.txt").write_text("12; rm -rf /\n", encoding="utf-8")
    elif tamper == "huge":
        (folder / "report.md").write_text(MARKER + "x" * 200_000, encoding="utf-8")
    else:
        (folder / "head-sha.txt").unlink()
    result = _comment(folder)
    assert result.code == 1
    assert result.stderr.startswith("mlspec: ") and "Traceback" not in result.stderr, result.stderr
    assert not (fake_gh / "calls").exists(), "nothing may reach GitHub"


def test_repo_must_be_owner_slash_name(tmp_path: Path, fake_gh: Path) -> None:
    result = run_cli("pr-comment", "--report", str(_report(tmp_path, "plan\n")), "--repo", "acme/fraud;x",
                     "--head-sha", HEAD, "--head-repo", "acme/fraud", "--head-branch", "feature")
    assert result.code == 2
    assert not (fake_gh / "calls").exists()


def test_a_forks_report_cannot_post_to_another_pull_request(tmp_path: Path, fake_gh: Path) -> None:
    # the fork's run (PR 13, head OTHER) uploads a report claiming to be about PR 12's commit: it is refused,
    # because the run that uploaded it built OTHER; and a report about OTHER can only ever reach PR 13
    _seed(fake_gh, [{"id": 5, "issue": 12, "body": f"{MARKER}\nthe real report of #12"}])
    forged = _report(tmp_path, "All gates pass. Safe to merge.\n", "forged", head=HEAD)
    result = _comment(forged, OTHER, "mallory/fraud", "main")
    assert result.code == 1
    assert "nothing was posted" in result.stderr
    assert not (fake_gh / "calls").exists(), "nothing may reach GitHub"
    honest = _report(tmp_path, "the fork's own report\n", "honest", head=OTHER)
    result = _comment(honest, OTHER, "mallory/fraud", "main")
    assert result.code == 0, result.stdout + result.stderr
    assert "created the mlspec comment on #13" in result.stdout
    comments = _comments(fake_gh)
    assert comments[0] == {"id": 5, "issue": 12, "body": f"{MARKER}\nthe real report of #12"}
    assert [c["issue"] for c in comments] == [12, 13]


@pytest.mark.parametrize(("head", "repo", "branch"), [
    (OTHER, "acme/fraud", "feature"),  # a stale run: the pull request has a newer head since
    (HEAD, "mallory/fraud", "feature"),  # the same commit and branch name, but pushed to a fork
    (HEAD, "acme/fraud", "other-branch"),
])
def test_a_run_whose_commit_is_no_pull_requests_head_posts_nothing(tmp_path: Path, fake_gh: Path, head: str,
                                                                   repo: str, branch: str) -> None:
    _seed(fake_gh)
    result = _comment(_report(tmp_path, "plan\n", head=head), head, repo, branch)
    assert result.code == 0, result.stdout + result.stderr
    assert "nothing was posted" in result.stdout
    assert _comments(fake_gh) == []
