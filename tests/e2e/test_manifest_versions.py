"""A manifest of the previous version (1, which wrote every value of every node) after an upgrade of mlspec.

Generated scripts refuse it with what to do (`mlspec compile` writes version 2); a plan whose base is
one, a state file or the last run recorded in the registry, still compares field by field and says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from mlspec.manifest import Manifest
from tests.conftest import REPO, run_cli
from tests.e2e.test_last_run import _commit, _doc, _git, _outputs
from tests.e2e.test_run import make_project

FRAUD = REPO / "tests" / "golden" / "fraud"
V1_FRAUD = REPO / "tests" / "unit" / "data" / "manifest-v1-fraud.json"  # the fraud golden's, version 1


def test_a_generated_script_refuses_a_version_1_manifest(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(FRAUD / "specs", root / "specs")
    shutil.copytree(FRAUD / "expected", root, dirs_exist_ok=True)
    shutil.copy2(V1_FRAUD, root / "generated" / "manifest.json")
    result = subprocess.run([sys.executable, "generated/model_fraud_gbm.py"], cwd=root, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-2:] == [
        f"mlspec: cannot read {root / 'generated' / 'manifest.json'}: the manifest was written by an older mlspec "
        "(manifest version 1; this mlspec reads version 2)",
        "  help: run `mlspec compile` and commit the result"]
    assert "Traceback" not in result.stderr


def test_a_plan_against_a_version_1_state_file_compares_and_says_so(tmp_path: Path) -> None:
    from mlspec import api

    root = tmp_path / "p"
    shutil.copytree(FRAUD / "specs", root / "specs")
    state = tmp_path / "manifest-v1.json"  # these specs' manifest, as version 1 wrote it
    state.write_text(json.dumps(_as_version_1(api.load(root).manifest.model_dump(mode="json")), indent=2,
                                sort_keys=True), encoding="utf-8")
    result = run_cli("-C", str(root), "plan", "--state", str(state), "--format", "json")
    assert result.code == 0, result.stderr
    assert '"summary": "Plan: 0 to add, 0 to change, 0 to remove, 0 to retrain."' in result.stdout
    assert "the state file is the manifest of an older mlspec (version 1), compared as this mlspec reads it" \
        in result.stdout
    # a change made since is shown as usual
    spec = root / "specs" / "fraud.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("C: 1.0", "C: 0.5", 1), encoding="utf-8")
    result = run_cli("-C", str(root), "plan", "--state", str(state), "--explain")
    assert result.code == 0, result.stderr
    assert "UPDATE model.fraud_logreg" in result.stdout and "params.C: 1.0 -> 0.5" in result.stdout
    assert "Retrain: model.fraud_logreg" in result.stdout


def test_a_plan_against_a_newer_state_file_says_to_upgrade(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(FRAUD / "specs", root / "specs")
    newer = tmp_path / "newer.json"
    newer.write_text(V1_FRAUD.read_text(encoding="utf-8").replace('"schema_version": 1', '"schema_version": 9'),
                     encoding="utf-8")
    result = run_cli("-C", str(root), "plan", "--state", str(newer))
    assert result.code == 1
    assert "written by a newer mlspec (manifest version 9; this mlspec reads up to version 2)" in result.stderr
    assert "help: upgrade mlspec" in result.stderr and "Traceback" not in result.stderr


def _as_version_1(data: dict) -> dict:
    """A manifest's full dump as version 1 wrote it: every value, requirements with their unset fields and span."""
    def requirement(r: dict) -> dict:
        return {"champion_metric": None, "margin": None, "margin_op": None, "threshold": None, **r,
                "metric_span": [0, len(r["metric"])]}

    for node in data["nodes"].values():
        if node["kind"] == "gate":
            node["requirements"] = [requirement(r) for r in node["requirements"]]
            for item in node["slices"]:
                item["requirements"] = [requirement(r) for r in item["requirements"]]
    return {**data, "schema_version": 1}


def test_the_last_run_recorded_by_the_previous_version_still_plans_affected_only(tmp_path: Path) -> None:
    from mlspec import api, lastrun
    from mlspec.runtime.steps import Paths, open_registry

    repo = make_project(tmp_path / "repo", _doc())
    (repo / ".gitignore").write_text(".mlspec/\n", encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    commit = _commit(repo, "first")
    manifest = api.load(repo).manifest
    record = lastrun.record(manifest, commit)
    assert "depends_on" not in str(record["manifest"])  # recorded in the file's lean form
    assert Manifest.model_validate(record["manifest"]) == manifest
    record["manifest"] = _as_version_1(manifest.model_dump(mode="json"))
    registry = open_registry(manifest, Paths.of(manifest, repo))
    try:
        registry.record_run("main", record)
    finally:
        registry.close()
    outputs, text = _outputs(repo, tmp_path)
    assert outputs == {"train_risk_gbm": "false", "train_risk_lr": "false"}, text
    assert "0 of 2 models train" in text
