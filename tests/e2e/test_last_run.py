"""Affected-only runs on the default branch: `mlspec plan --last-run` plans against the run that
`mlspec record-run` recorded in the registry, and tells the generated main workflow which models to
train (job outputs); everything trains when there is nothing trustworthy to plan against."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_run import make_frame, make_project, mlspec, spec_doc, write_data, write_spec

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}


def _git(root: Path, *args: str) -> str:
    import os

    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                            env={**os.environ, **GIT_ENV})
    return result.stdout.strip()


def _doc() -> dict:
    doc = spec_doc()
    doc["project"]["ci_state"] = "ephemeral"  # a local SQLite registry is what these tests plan with
    return doc


def _commit(root: Path, message: str) -> str:
    assert mlspec(root, "compile").code == 0
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)
    return _git(root, "rev-parse", "HEAD")


def _tune_risk_lr(root: Path) -> None:
    """Commit a change to one model's parameters: the plan against the recorded run trains that model only."""
    doc = _doc()
    doc["models"]["risk_lr"]["params"]["C"] = 0.5
    write_spec(root, doc)
    _commit(root, "tune risk_lr")


def _outputs(root: Path, tmp_path: Path, *extra: str) -> tuple[dict[str, str], str]:
    out = tmp_path / "github_output"
    out.unlink(missing_ok=True)
    result = mlspec(root, "plan", "--last-run", "--github-output", str(out), *extra)
    assert result.code == 0, result.stderr
    pairs = dict(line.split("=", 1) for line in out.read_text(encoding="utf-8").splitlines())
    return pairs, result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "repo", _doc())
    (root / ".gitignore").write_text(".mlspec/\n", encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _commit(root, "first")
    return root


def test_first_run_trains_everything_then_only_what_changed(repo: Path, tmp_path: Path) -> None:
    outputs, text = _outputs(repo, tmp_path)
    assert outputs == {"train_risk_gbm": "true", "train_risk_lr": "true"}
    assert "no successful run is recorded for main" in text

    recorded = mlspec(repo, "record-run", "--commit", _git(repo, "rev-parse", "HEAD"))
    assert recorded.code == 0, recorded.stderr
    outputs, text = _outputs(repo, tmp_path)
    assert outputs == {"train_risk_gbm": "false", "train_risk_lr": "false"}
    assert "0 of 2 models train" in text

    # a spec change to one model trains that model only
    _tune_risk_lr(repo)
    outputs, _ = _outputs(repo, tmp_path)
    assert outputs == {"train_risk_gbm": "false", "train_risk_lr": "true"}

    # a file nothing reads changes nothing; the models' data file trains both (they share the source)
    (repo / "README.md").write_text("notes\n", encoding="utf-8")
    _commit(repo, "notes")
    outputs, _ = _outputs(repo, tmp_path)
    assert outputs["train_risk_gbm"] == "false"
    write_data(repo, make_frame().iloc[:-5])
    _commit(repo, "new data")
    outputs, text = _outputs(repo, tmp_path)
    assert outputs == {"train_risk_gbm": "true", "train_risk_lr": "true"}
    assert "source.events: its data changed (data/events.csv)" in text

    # a manual dispatch trains everything, whatever changed
    assert mlspec(repo, "record-run", "--commit", _git(repo, "rev-parse", "HEAD")).code == 0
    assert _outputs(repo, tmp_path)[0] == {"train_risk_gbm": "false", "train_risk_lr": "false"}
    outputs, text = _outputs(repo, tmp_path, "--event", "workflow_dispatch")
    assert outputs == {"train_risk_gbm": "true", "train_risk_lr": "true"}


def test_a_change_of_what_jobs_install_trains_everything(repo: Path, tmp_path: Path) -> None:
    assert mlspec(repo, "record-run", "--commit", _git(repo, "rev-parse", "HEAD")).code == 0
    constraints = repo / "generated" / "constraints.txt"
    constraints.write_text(constraints.read_text(encoding="utf-8") + "# re-pinned\n", encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "re-pin")
    outputs, text = _outputs(repo, tmp_path)
    assert set(outputs.values()) == {"true"}
    assert "generated/constraints.txt" in text


def test_a_record_from_outside_this_history_trains_everything(repo: Path, tmp_path: Path) -> None:
    # recorded on a branch whose commit is gone since (a force-push rewrote the history it was on)
    _git(repo, "checkout", "-q", "-b", "gone")
    (repo / "notes.txt").write_text("gone\n", encoding="utf-8")
    gone = _commit(repo, "gone")
    assert mlspec(repo, "record-run", "--commit", gone).code == 0
    _git(repo, "checkout", "-q", "main")
    _git(repo, "branch", "-q", "-D", "gone")
    _git(repo, "reflog", "expire", "--expire=now", "--all")
    _git(repo, "gc", "-q", "--prune=now")
    outputs, text = _outputs(repo, tmp_path)
    assert set(outputs.values()) == {"true"}
    assert "not in this checkout's history" in text


def test_an_older_run_finishing_last_does_not_move_the_record_back(repo: Path, tmp_path: Path) -> None:
    older = _git(repo, "rev-parse", "HEAD")
    doc = _doc()
    doc["models"]["risk_gbm"]["params"]["max_iter"] = 25
    write_spec(repo, doc)
    newer = _commit(repo, "tune risk_gbm")
    assert mlspec(repo, "record-run", "--commit", newer).code == 0
    late = mlspec(repo, "record-run", "--commit", older)  # the older push's run ends after the newer one's
    assert late.code == 0
    assert "not recorded" in late.stdout
    outputs, _ = _outputs(repo, tmp_path)
    assert set(outputs.values()) == {"false"}  # still planned against the newer commit


def test_plan_flags_go_together(repo: Path) -> None:
    assert mlspec(repo, "plan", "--event", "push").code == 2  # --event goes with --last-run
    assert mlspec(repo, "plan", "--last-run", "--base", "HEAD").code == 2


def test_record_run_stores_the_sha_of_a_named_commit_and_refuses_what_is_none(repo: Path, tmp_path: Path) -> None:
    """`--commit HEAD` recorded the word HEAD, which every later checkout resolves to itself: no change ever."""
    head = _git(repo, "rev-parse", "HEAD")
    done = mlspec(repo, "record-run", "--commit", "HEAD")
    assert done.code == 0, done.stderr
    assert f"recorded commit {head[:12]}" in done.stdout
    for bad in ("0" * 40, "no-such-ref", "--help"):
        refused = mlspec(repo, "record-run", "--commit", bad)
        assert refused.code == 2 and "is not a commit of the repository" in refused.stderr, (bad, refused.stderr)
    _tune_risk_lr(repo)
    outputs, _ = _outputs(repo, tmp_path)
    assert outputs == {"train_risk_gbm": "false", "train_risk_lr": "true"}
