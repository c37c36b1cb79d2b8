"""A monitor's alert in GitHub Actions opens (then updates) its issue and dispatches its model's retrain.

Run as CI runs it (GITHUB_ACTIONS=true, `mlspec monitor` and the generated monitor script) on a small
trained and compiled project, with tests/e2e/fake_gh.py standing in for `gh`. The dispatched workflow must
be one the compile wrote, on the run's branch, with only inputs that workflow declares; without `gh`,
each action says why it failed, the other still runs, and the alert's exit code stands.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.fake_gh import FakeGitHub
from tests.e2e.test_exit_codes import Result, crash_reports, frame, write_project


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("monitor-github") / "project")
    spec = root / "specs" / "p.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace(
        "    drift: {method: psi, threshold: 0.2}\n",
        "    drift: {method: psi, threshold: 0.2}\n    on_alert: [open_issue, retrain]\n"), encoding="utf-8")
    for args in (("run",), ("compile",)):
        done = subprocess.run([sys.executable, "-m", "mlspec", "-C", str(root), *args], capture_output=True,
                              text=True, check=False, timeout=900, env=_env(root.parent / "tmp", None))
        assert done.returncode == 0, done.stderr
    frame(300, 6, shift=60.0).to_csv(root / "data" / "live.csv", index=False)  # the live batch drifts
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(trained, root)
    return root


def _env(tmp: Path, gh: FakeGitHub | None) -> dict[str, str]:
    """A GitHub Actions job's environment on branch `release`, with `gh` the fake (or no `gh` on PATH)."""
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(TMPDIR=str(tmp), NO_COLOR="1", GITHUB_ACTIONS="true", GITHUB_REF_NAME="release",
               GITHUB_REPOSITORY="acme/fraud", GH_TOKEN="test")
    folders = [p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "gh").exists()]
    env["PATH"] = os.pathsep.join(([str(gh.bin)] if gh else []) + folders)
    if gh is not None:
        env.update(gh.step_env())
    return env


def _in_ci(root: Path, gh: FakeGitHub | None, *command: str) -> Result:
    done = subprocess.run([sys.executable, *command], capture_output=True, text=True, cwd=root, check=False,
                          timeout=900, env=_env(root.parent / "tmp", gh))
    return Result(done.returncode, done.stdout, done.stderr)


def _declared_inputs(root: Path, workflow: str) -> set[str]:
    """The workflow_dispatch inputs the compiled workflow file declares."""
    document = yaml.safe_load((root / ".github" / "workflows" / workflow).read_text(encoding="utf-8"))
    triggers = document.get("on", document.get(True))  # PyYAML reads a bare `on` key as True
    return set((triggers["workflow_dispatch"] or {}).get("inputs", {}))


def test_an_alert_opens_then_updates_the_issue_and_dispatches_the_retrain(project: Path, tmp_path: Path) -> None:
    gh = FakeGitHub(tmp_path)
    gh.seed()
    first = _in_ci(project, gh, "-m", "mlspec", "monitor")
    assert first.code == 1, first.stderr  # the alert fails the scheduled job, after the actions
    assert "ALERT  monitor monitor.mon" in first.stderr
    assert "    opened https://github.com/acme/fraud/issues/1" in first.stderr
    [issue] = gh.state()["issues"]
    assert issue["title"].startswith("mlspec monitor mon: drift in") and issue["state"] == "open"
    assert issue["body"].startswith("<!-- mlspec-monitor:mon -->\n")  # the marker the next run looks for

    # the generated script, as the scheduled workflow runs it, finds the same issue and updates it
    second = _in_ci(project, gh, "generated/monitor_mon.py")
    assert second.code == 1, second.stderr
    assert "    updated issue #1" in second.stderr
    [issue] = gh.state()["issues"]
    assert issue["edits"] == 1

    dispatches = gh.state()["dispatches"]
    assert len(dispatches) == 2
    for dispatch in dispatches:
        assert (project / ".github" / "workflows" / dispatch["workflow"]).is_file(), dispatch
        assert dispatch["ref"] == "release"  # retrain where the monitor ran
        assert set(dispatch["inputs"]) <= _declared_inputs(project, dispatch["workflow"]), dispatch
        assert dispatch["inputs"]["reason"].startswith("monitor mon: drift in")
        assert f"dispatched {dispatch['workflow']}" in first.stderr
    assert all(call[-1] == "GH_TOKEN=set" for call in gh.calls())


def test_without_gh_each_action_says_why_and_the_alert_stands(project: Path, tmp_path: Path) -> None:
    result = _in_ci(project, None, "-m", "mlspec", "monitor")
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr and not crash_reports(tmp_path / "tmp"), result.stderr
    lines = result.stderr.splitlines()
    for action in ("open issue", "retrain"):
        assert f"mlspec: monitor mon: {action}: the GitHub CLI (gh) is not installed on this runner; GitHub-hosted " \
               "runners have it, a self-hosted one needs it installed (https://cli.github.com)" in lines, action
    assert (project / ".mlspec" / "reports" / "monitor.mon" / "report.json").is_file()
