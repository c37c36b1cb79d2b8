"""Promotion after approval is compare-and-set: the generated gate script's `promote --version N` (what the
approval job runs, possibly weeks after the gate, with N from the gate job's outputs) moves the champion only
while it is still the version the gate compared the candidate against, recorded with the registered version
in the registry (not in a CI artifact, which may have expired by then).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_run import make_frame, make_project, mlspec, spec_doc, write_data

GATE = "risk_lr_release"


def _script(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the generated script of the gate, as the gate and approval jobs do."""
    return subprocess.run([sys.executable, str(root / "generated" / f"gate_{GATE}.py"), *args], cwd=root,
                          capture_output=True, text=True, timeout=600, check=False,
                          env=None if env is None else {**os.environ, **env})


def _promote(root: Path, version: int | None = None) -> subprocess.CompletedProcess:
    """What the approval job runs: action promote, with the version the gate job output (or, on a laptop,
    this checkout's candidate)."""
    return _script(root, "promote", *(["--version", str(version)] if version is not None else []))


def _candidate_sha(root: Path) -> str:
    return json.loads((root / ".mlspec" / "candidates" / "risk_lr.json").read_text(encoding="utf-8"))["sha256"]


def _set_candidate(root: Path, sha: str) -> None:
    path = root / ".mlspec" / "candidates" / "risk_lr.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["sha256"] = sha
    path.write_text(json.dumps(record), encoding="utf-8")


def _champion(root: Path) -> int | None:
    shown = mlspec(root, "registry", "show", "risk_lr")
    return json.loads(shown.stdout)["version"] if shown.code == 0 else None


def test_an_approval_that_arrives_after_the_champion_moved_is_refused(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["project"]["ci_state"] = "ephemeral"  # a local SQLite registry is fine for this test's compile
    doc["gates"][GATE].update({"approval": {"environment": "production"}, "require": ["roc_auc >= 0.5"]})
    root = make_project(tmp_path, doc)
    select = ("-j", "1", "-s", f"+gate:{GATE}")
    assert mlspec(root, "compile").code == 0
    assert mlspec(root, "run", "--approve", *select).code == 0
    assert _champion(root) == 1

    # two later trainings pass the gate against v1 and wait for approval: v2, then v3 (challenger)
    shas = {}
    for version, seed in ((2, 1), (3, 2)):
        write_data(root, make_frame(seed=seed))
        result = mlspec(root, "run", *select)
        assert result.code == 0, result.stderr
        shas[version] = _candidate_sha(root)
    assert _champion(root) == 1

    # v3's approval comes first: the champion is still v1, as its gate saw
    promoted = _promote(root)
    assert promoted.returncode == 0, promoted.stderr
    assert _champion(root) == 3

    # then v2's approval: its gate compared against v1, but the champion is now v3
    late = _promote(root, 2)
    assert late.returncode == 1
    assert "champion changed since the gate ran" in late.stderr
    assert "re-run the gate" in late.stderr
    assert "Traceback" not in late.stderr
    assert _champion(root) == 3

    # approving again what is already champion changes nothing
    _set_candidate(root, shas[3])
    again = _promote(root)
    assert again.returncode == 0 and "already the champion" in again.stdout
    history = json.loads(mlspec(root, "registry", "show", "risk_lr").stdout)["alias_history"]
    assert [(h["alias"], h["from_version"], h["to_version"]) for h in history if h["alias"] == "champion"] == [
        ("champion", None, 1), ("champion", 1, 3)]


def test_the_approval_job_promotes_the_version_the_gate_job_output_without_the_candidate_files(
        tmp_path: Path) -> None:
    doc = spec_doc()
    doc["project"]["ci_state"] = "ephemeral"
    doc["gates"][GATE].update({"approval": {"environment": "production"}, "require": ["roc_auc >= 0.5"]})
    root = make_project(tmp_path, doc)
    assert mlspec(root, "compile").code == 0
    assert mlspec(root, "run", "-j", "1", "-s", "+model:risk_lr").code == 0

    # the gate job: registers v1 as challenger and tells the promote job which version waits for approval
    outputs = tmp_path / "github_output"
    gated = _script(root, env={"GITHUB_OUTPUT": str(outputs)})
    assert gated.returncode == 0, gated.stderr
    assert outputs.read_text(encoding="utf-8") == "version=1\npromote=true\n"
    assert _champion(root) is None

    # weeks later the candidate's uploaded files are gone; the registry is all the promote job needs
    shutil.rmtree(root / ".mlspec" / "candidates")
    for bad in (["promote", "--version", "one"], ["promote", "--version", "-1"], ["promote", "--versio", "1"]):
        refused = _script(root, *bad)
        assert refused.returncode == 2 and "usage" in refused.stderr, bad
    missing = _promote(root, 7)
    assert missing.returncode == 1 and "has no version 7" in missing.stderr and "Traceback" not in missing.stderr
    assert _champion(root) is None
    promoted = _promote(root, 1)
    assert promoted.returncode == 0, promoted.stderr
    assert "champion -> v1" in promoted.stdout
    assert _champion(root) == 1


def test_a_version_another_gate_registered_is_not_promoted_by_this_gate(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["project"]["ci_state"] = "ephemeral"
    doc["gates"][GATE].update({"approval": {"environment": "production"}, "require": ["roc_auc >= 0.5"]})
    doc["gates"]["risk_lr_other"] = {"model": "risk_lr", "require": ["roc_auc >= 0.5"],
                                     "approval": {"environment": "staging"}}
    root = make_project(tmp_path, doc)
    assert mlspec(root, "compile").code == 0
    assert mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_other").code == 0
    refused = _promote(root, 1)
    assert refused.returncode == 1
    assert "was not registered by gate 'risk_lr_release'" in refused.stderr
    assert _champion(root) is None
