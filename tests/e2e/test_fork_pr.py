"""Pull requests from forks get no secrets: the PR workflow's gate report still evaluates the candidate and
says plainly that the production champion is not available, instead of failing on a store it cannot
reach; a pull request from the repository itself, with its credentials, compares against the champion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_run import make_project, mlspec, spec_doc

GATE = "risk_lr_release"


def _event(tmp_path: Path, head: str) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"pull_request": {"number": 3, "head": {"repo": {"full_name": head}},
                                                 "base": {"repo": {"full_name": "acme/risk"}}}}), encoding="utf-8")
    return path


def _report(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_"))}
    return subprocess.run([sys.executable, str(root / "generated" / f"gate_{GATE}.py"), "report", "--out", "reports"],
                          cwd=root, capture_output=True, text=True, timeout=600, check=False, env={**keep, **env})


def test_a_fork_pull_request_reports_without_the_champion(tmp_path: Path, s3_server, monkeypatch) -> None:
    bucket = s3_server.new_bucket()
    doc = spec_doc()
    doc["project"].update({"registry": {"uri": f"s3://{bucket}/state"},
                           "secrets": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL"]})
    root = make_project(tmp_path / "project", doc)
    assert mlspec(root, "compile").code == 0
    trained = mlspec(root, "run", "-j", "1", "-s", "+model:risk_lr")  # the PR job trains; no registry needed
    assert trained.code == 0, trained.stderr

    # the same PR, as a fork's: GitHub sets every secret to the empty string
    fork = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(_event(tmp_path, "mallory/risk")),
            **dict.fromkeys(doc["project"]["secrets"], "")}
    result = _report(root, fork)
    assert result.returncode == 0, result.stderr
    text = (root / "reports" / f"gate-report-{GATE}.md").read_text(encoding="utf-8")
    assert "not available to pull requests from forks" in text
    assert "Traceback" not in result.stderr

    # from the repository itself, with its read credentials, the report compares with the champion
    with monkeypatch.context() as patch:
        for key, value in s3_server.env.items():
            patch.setenv(key, value)  # main's run registers v1 in the bucket
        assert mlspec(root, "run", "-j", "1", "-s", f"+gate:{GATE}").code == 0
    same_repo = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(_event(tmp_path, "acme/risk")),
                 **s3_server.env}
    result = _report(root, same_repo)
    assert result.returncode == 0, result.stderr
    text = (root / "reports" / f"gate-report-{GATE}.md").read_text(encoding="utf-8")
    assert "champion v1" in text and "forks" not in text
