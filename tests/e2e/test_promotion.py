"""Promotion after approval is compare-and-set: the generated gate script's `promote` (what the approval job
runs, possibly days after the gate) moves the champion only while it is still the version the gate compared
the candidate against, recorded with the registered version in the registry (not in a CI artifact).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_run import make_frame, make_project, mlspec, spec_doc, write_data

GATE = "risk_lr_release"


def _promote(root: Path) -> subprocess.CompletedProcess:
    """What the approval job runs: the generated script of the gate, action promote."""
    return subprocess.run([sys.executable, str(root / "generated" / f"gate_{GATE}.py"), "promote"], cwd=root,
                          capture_output=True, text=True, timeout=600, check=False)


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
    _set_candidate(root, shas[2])
    late = _promote(root)
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
