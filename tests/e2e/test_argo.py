"""The Argo Workflows target (`project.argo`): what `mlspec compile` writes to generated/argo/, checked offline.

Argo cannot run here. The documents are checked against hera's generated models of Argo's API with a strict
walk that refuses unknown keys (`tests/argo_check.py`), against Argo's own validation rules on paper, and
run step by step by an emulation of how Argo runs them (`tests/e2e/argo_pods.py`: fresh pods, git
checkouts, artifacts and parameters passed between tasks) with the real `mlspec` in each step. Byte-exact
output is the golden trees' (tests/golden/*/expected/generated/argo/).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlspec.emit.argo import ARGO_DIR, LIFECYCLE_PATH
from tests.argo_check import paper_problems, strict_walk, validated
from tests.conftest import REPO, run_cli, tree_snapshot
from tests.e2e.argo_pods import Emulator
from tests.golden.test_golden import GOLDEN, PROJECTS, compiled, copy_project
from tests.spec_factory import dump

IMAGE = "ghcr.io/acme/mlspec-runtime:0.1.0@sha256:" + "ab" * 32


def _documents(root: Path) -> dict[str, dict]:
    return {path.relative_to(root).as_posix(): yaml.safe_load(path.read_text(encoding="ascii"))
            for path in sorted((root / ARGO_DIR).glob("*.yaml"))}


@pytest.mark.parametrize("name", PROJECTS)
def test_golden_argo_documents_are_valid_argo(name: str) -> None:
    documents = _documents(GOLDEN / name / "expected")
    assert LIFECYCLE_PATH in documents, f"{name}'s golden specs ask for the Argo target"
    for path, document in documents.items():
        assert strict_walk(document) == [], path
        validated(document)
        assert paper_problems(document) == [], path


def test_strict_walk_reports_a_planted_unknown_key_with_its_path() -> None:
    lifecycle = yaml.safe_load((GOLDEN / "everything" / "expected" / LIFECYCLE_PATH).read_text(encoding="ascii"))
    cron = yaml.safe_load((GOLDEN / "everything" / "expected" / ARGO_DIR / "monitor_churn_gbm_daily.yaml")
                          .read_text(encoding="ascii"))
    planted = copy.deepcopy(lifecycle)
    planted["spec"]["templates"][2]["container"]["imagePullPolicyy"] = "Always"  # a misspelt field
    planted["spec"]["templates"][0]["dag"]["tasks"][1]["dependson"] = "check"
    planted["spec"]["templates"][3]["inputs"]["artifacts"][0]["git"]["revison"] = "main"
    planted["spec"]["active_deadline_seconds"] = 60  # hera's Python name, not Argo's JSON one
    assert strict_walk(planted) == [
        "spec.templates[0].dag.tasks[1].dependson: unknown key of DAGTask",
        "spec.templates[2].container.imagePullPolicyy: unknown key of Container",
        "spec.templates[3].inputs.artifacts[0].git.revison: unknown key of GitArtifact",
        "spec.active_deadline_seconds: unknown key of WorkflowSpec"]
    validated(planted)  # hera's models (like Argo's JSON Schema) accept them all: hence the walk
    cron["spec"]["workflowSpec"]["templates"][0]["container"]["resources"]["request"] = {"cpu": "1"}
    assert strict_walk(cron) == [
        "spec.workflowSpec.templates[0].container.resources.request: unknown key of ResourceRequirements"]
    cron["spec"]["schedule"] = "0 6 * * *"  # Argo 3.5's single schedule: gone from the 3.6+ API
    assert "spec.schedule: unknown key of CronWorkflowSpec" in strict_walk(cron)


def test_paper_checks_catch_broken_references() -> None:
    lifecycle = yaml.safe_load((GOLDEN / "everything" / "expected" / LIFECYCLE_PATH).read_text(encoding="ascii"))
    broken = copy.deepcopy(lifecycle)
    tasks = broken["spec"]["templates"][0]["dag"]["tasks"]
    gate = next(t for t in tasks if t["name"] == "gate-churn-gbm-release")
    gate["depends"] = "check"  # still reads the training task's artifacts
    promote = next(t for t in tasks if t["name"] == "promote-churn-gbm-release")
    promote["arguments"]["parameters"][0]["value"] = "{{tasks.gate-churn-gbm-release.outputs.parameters.versoin}}"
    problems = paper_problems(broken)
    assert any("names a task it does not depend on" in p for p in problems), problems
    assert any("has no such output" in p for p in problems), problems
    assert paper_problems(lifecycle) == []


def _manifest(root: Path) -> dict:
    return json.loads((root / "generated" / "manifest.json").read_text(encoding="ascii"))


def test_lifecycle_follows_the_manifest(tmp_path: Path) -> None:
    """Every model trains after the check; every gate runs on its model's candidate; a gate that asks for approval
    suspends and promotes the version it registered; a CronWorkflow per monitor on its schedule."""
    root = compiled("everything", tmp_path)
    documents = _documents(root)
    lifecycle = documents[LIFECYCLE_PATH]
    tasks = {t["name"]: t for t in lifecycle["spec"]["templates"][0]["dag"]["tasks"]}
    templates = {t["name"]: t for t in lifecycle["spec"]["templates"]}
    models = ["churn_baseline", "churn_gbm", "churn_logreg"]
    for model in models:
        train = tasks[f"train-{model.replace('_', '-')}"]
        assert train["depends"] == "check"
        assert templates[train["template"]]["container"]["args"][-2:] == ["node", f"model.{model}"]
    gates = {"churn_gbm_recall": ("churn_gbm", None), "churn_gbm_release": ("churn_gbm", "production"),
             "churn_logreg_release": ("churn_logreg", None)}
    for gate, (model, approval) in gates.items():
        task = tasks[f"gate-{gate.replace('_', '-')}"]
        assert task["depends"] == f"train-{model.replace('_', '-')}"
        template = templates[task["template"]]
        assert template["container"]["args"][-2:] == ["node", f"gate.{gate}"]
        assert template["synchronization"] == {"mutexes": [{"name": f"everything--model-{model.replace('_', '-')}"}]}
        assert (f"approve-{gate.replace('_', '-')}" in tasks) == (approval is not None)
    assert templates["approval"] == {"name": "approval", "suspend": {}}
    promote = templates["promote-churn-gbm-release"]["container"]["args"]
    assert promote[-5:] == ["node", "gate.churn_gbm_release", "promote", "--version", "{{inputs.parameters.version}}"]
    # resources come from the runner label of each step's GitHub job
    requests = {name: t["container"]["resources"]["requests"] for name, t in templates.items() if "container" in t}
    assert requests["train-churn-gbm"] == {"cpu": "8", "memory": "30Gi"}  # runner: gpu-large
    assert requests["train-churn-logreg"] == {"cpu": "1.5", "memory": "3Gi"}  # the project's ubuntu-24.04
    assert requests["check"] == {"cpu": "1.5", "memory": "3Gi"}
    # secrets: the Secret's keys are the names GitHub jobs get, per step
    manifest = _manifest(root)
    env = {name: sorted(v["valueFrom"]["secretKeyRef"]["key"] for v in t["container"].get("env", [])
                        if "valueFrom" in v) for name, t in templates.items() if "container" in t}
    assert env["check"] == []
    assert env["gate-churn-gbm-release"] == ["PGSSLROOTCERT", "REGISTRY_PASSWORD"]
    assert set(env["train-churn-gbm"]) >= set(env["gate-churn-gbm-release"])
    secret_names = {v["valueFrom"]["secretKeyRef"]["name"] for t in templates.values() if "container" in t
                    for v in t["container"].get("env", []) if "valueFrom" in v}
    assert secret_names == {manifest["project"]["argo"]["secret"]} == {"churn-state"}
    monitors = {n.removeprefix("monitor."): node for n, node in manifest["nodes"].items() if n.startswith("monitor.")}
    crons = {path: d for path, d in documents.items() if d["kind"] == "CronWorkflow"}
    assert sorted(crons) == [f"{ARGO_DIR}/monitor_{m}.yaml" for m in sorted(monitors)]
    for name, node in monitors.items():
        cron = crons[f"{ARGO_DIR}/monitor_{name}.yaml"]
        assert cron["spec"]["schedules"] == [" ".join(node["schedule"].split())]
        assert cron["spec"]["timezone"] == "UTC"
        args = cron["spec"]["workflowSpec"]["templates"][0]["container"]["args"]
        assert args[2:4] == ["node", f"monitor.{name}"]
        assert ("--retrain" in args) == ("retrain" in node.get("on_alert", []))


def test_compile_check_and_orphans_cover_argo_files(tmp_path: Path) -> None:
    root = compiled("everything", tmp_path)
    target = root / LIFECYCLE_PATH
    original = target.read_bytes()
    target.write_bytes(original.replace(b"cpu: '8'", b"cpu: '16'"))
    check = run_cli("-C", str(root), "compile", "--check")
    assert check.code == 1 and f"modified: {LIFECYCLE_PATH}" in check.stdout.splitlines()
    cron = root / ARGO_DIR / "monitor_churn_gbm_daily.yaml"
    cron.unlink()
    check = run_cli("-C", str(root), "compile", "--check")
    assert f"missing:  {ARGO_DIR}/monitor_churn_gbm_daily.yaml" in check.stdout.splitlines()
    assert run_cli("-C", str(root), "compile").code == 0
    assert target.read_bytes() == original and cron.is_file()
    # without project.argo the target's files are orphans, deleted by the next compile (the rest stays)
    project = root / "specs" / "project.yaml"
    document = yaml.safe_load(project.read_text(encoding="utf-8"))
    del document["project"]["argo"]
    project.write_text(dump(document), encoding="utf-8")
    check = run_cli("-C", str(root), "compile", "--check")
    orphaned = {line.split(None, 1)[1] for line in check.stdout.splitlines() if line.startswith("orphaned:")}
    assert orphaned == {LIFECYCLE_PATH, f"{ARGO_DIR}/monitor_churn_gbm_daily.yaml",
                        f"{ARGO_DIR}/monitor_churn_logreg_weekly.yaml"}
    assert run_cli("-C", str(root), "compile").code == 0
    assert not (root / ARGO_DIR).exists() or list((root / ARGO_DIR).iterdir()) == []
    assert "argo" not in _manifest(root)["project"]


def test_argo_output_is_the_same_bytes_in_any_folder_and_hash_seed(tmp_path: Path) -> None:
    first = compiled("everything", tmp_path / "a")
    second = copy_project("everything", tmp_path / "b")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-m", "mlspec", "-C", str(second), "compile"], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert {p: d for p, d in tree_snapshot(first).items() if p.startswith(ARGO_DIR)} == \
        {p: d for p, d in tree_snapshot(second).items() if p.startswith(ARGO_DIR)} != {}


# ------------------------------------------------------------------------------------------------
# `mlspec node`, what every step runs
# ------------------------------------------------------------------------------------------------


def test_node_command_runs_a_node_of_the_committed_manifest(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(REPO / "specs", root / "specs")
    shutil.copytree(REPO / "data", root / "data")
    assert run_cli("-C", str(root), "compile").code == 0
    ok = subprocess.run([sys.executable, "-m", "mlspec", "-C", str(root / "specs"), "node", "source.transactions"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "source.transactions" in ok.stderr
    unknown = run_cli("-C", str(root), "node", "model.nope")
    assert unknown.code == 1 and "model.nope is not in" in unknown.stderr and "help:" in unknown.stderr
    usage = run_cli("-C", str(root), "node", "gate.fraud_gbm_release", "promote", "--version", "x1")
    assert usage.code == 2 and "usage:" in usage.stderr
    (root / "generated" / "manifest.json").unlink()
    missing = run_cli("-C", str(root), "node", "source.transactions")
    assert missing.code == 1 and "cannot read" in missing.stderr


# ------------------------------------------------------------------------------------------------
# the documents run as Argo would run them (emulated: see argo_pods.py for what is and is not)
# ------------------------------------------------------------------------------------------------

URL = "https://git.example.test/acme/fraud-detection.git"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.test", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _argo_repository(tmp_path: Path, registry: str | None = None, secrets: list[str] = ("FRAUD_STATE_TOKEN",)
                     ) -> Path:
    """The fraud example in a git repository, its state in a store every "pod" reaches (a file:// folder by
    default), its artifacts beside it, and `secrets` the names of what the steps touching state must receive."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "specs", repo / "specs")
    shutil.copytree(REPO / "data", repo / "data")
    path = repo / "specs" / "project.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    project = document["project"]
    project["registry"] = {"uri": registry or (tmp_path / "state").as_uri() + "/registry"}
    project.pop("artifacts", None)
    project["secrets"] = list(secrets)
    project["argo"] = {"image": IMAGE, "repository": URL}
    path.write_text(dump(document), encoding="utf-8")
    compiled_ = run_cli("-C", str(repo), "compile")
    assert compiled_.code == 0, compiled_.stderr
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", "fraud")
    return repo


def _run_lifecycle_and_monitor(tmp_path: Path, repo: Path, secrets: dict[str, str]) -> None:
    """Run the WorkflowTemplate (approving every approval) and then the monitor's CronWorkflow; check each step."""
    commit = _git(repo, "rev-parse", "HEAD")
    documents = _documents(repo)
    emulator = Emulator(documents[LIFECYCLE_PATH], tmp_path / "pods", repositories={URL: repo},
                        secrets={"mlspec-secrets": secrets})
    steps = emulator.run({"revision": commit})
    failed = {name: step.stderr[-2000:] for name, step in steps.items() if step.status == "Failed"}
    assert failed == {}, failed
    assert {name: step.status for name, step in steps.items()} == {
        "check": "Succeeded", "train-fraud-gbm": "Succeeded", "gate-fraud-gbm-release": "Succeeded",
        "approve-fraud-gbm-release": "Succeeded", "promote-fraud-gbm-release": "Succeeded",
        "train-fraud-logreg": "Succeeded", "gate-fraud-logreg-release": "Succeeded"}
    assert "candidate" in steps["train-fraud-gbm"].artifacts
    # the gate registered a version that waits for approval; after the approval the promote step made it champion
    gate = steps["gate-fraud-gbm-release"].parameters
    assert gate["promote"] == "true" and gate["version"].isdigit()
    assert f"champion -> v{gate['version']}" in steps["promote-fraud-gbm-release"].stdout
    listing = run_cli("-C", str(repo), "registry", "ls")
    assert listing.code == 0, listing.stderr
    assert "fraud_gbm" in listing.stdout and "fraud_logreg" in listing.stdout and "champion" in listing.stdout
    # the monitor's CronWorkflow, on the default branch, against the champions those steps registered
    cron = Emulator(documents[f"{ARGO_DIR}/monitor_fraud_gbm_drift.yaml"], tmp_path / "cron",
                    repositories={URL: repo}, secrets={"mlspec-secrets": secrets})
    (monitor,) = cron.run().values()
    assert monitor.returncode in (0, 1), monitor.stderr  # 1: an alert (it then retrained here)
    assert "report" in monitor.artifacts and (monitor.artifacts["report"] / "report.html").is_file()


@pytest.mark.slow
def test_lifecycle_and_monitor_run_as_argo_would_run_them(tmp_path: Path) -> None:
    """State in a file:// store: the candidate's record travels between pods, its model file is in the store."""
    repo = _argo_repository(tmp_path)
    _run_lifecycle_and_monitor(tmp_path, repo, {"FRAUD_STATE_TOKEN": "t0ken"})


@pytest.mark.slow
def test_lifecycle_runs_with_state_on_object_storage(tmp_path: Path, s3_server, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    """State on S3 (a local moto server): the credentials reach the pods only through the Secret, and the
    candidate's model file travels to its gates as the `models` artifact (it waits in .mlspec/artifacts)."""
    names = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL"]
    repo = _argo_repository(tmp_path, f"s3://{s3_server.new_bucket()}/fraud", names)
    for name, value in s3_server.env.items():  # for this test's own `mlspec registry ls`
        monkeypatch.setenv(name, value)
    documents = _documents(repo)
    train = next(t for t in documents[LIFECYCLE_PATH]["spec"]["templates"] if t["name"] == "train-fraud-gbm")
    assert [a["name"] for a in train["outputs"]["artifacts"]] == ["candidate", "models"]
    _run_lifecycle_and_monitor(tmp_path, repo, {name: s3_server.env[name] for name in names})


@pytest.mark.slow
def test_approval_not_given_leaves_the_version_registered_not_champion(tmp_path: Path) -> None:
    repo = _argo_repository(tmp_path)
    emulator = Emulator(_documents(repo)[LIFECYCLE_PATH], tmp_path / "pods", repositories={URL: repo},
                        secrets={"mlspec-secrets": {"FRAUD_STATE_TOKEN": "t"}},
                        approve=lambda task: task != "approve-fraud-gbm-release")
    steps = emulator.run({"revision": _git(repo, "rev-parse", "HEAD")})
    assert steps["approve-fraud-gbm-release"].status == "Suspended"
    assert steps["promote-fraud-gbm-release"].status == "Omitted"
    assert steps["gate-fraud-logreg-release"].status == "Succeeded"
    shown = run_cli("-C", str(repo), "registry", "ls", "fraud_gbm")
    assert shown.code == 0 and "champion" not in shown.stdout, shown.stdout


def test_a_secret_missing_from_the_cluster_stops_the_step_before_it_runs(tmp_path: Path) -> None:
    repo = _argo_repository(tmp_path)
    emulator = Emulator(_documents(repo)[LIFECYCLE_PATH], tmp_path / "pods", repositories={URL: repo},
                        secrets={"mlspec-secrets": {}})
    steps = emulator.run({"revision": "main"})
    assert steps["check"].status == "Succeeded"  # needs no secret
    assert steps["train-fraud-gbm"].status == "Failed"
    assert "couldn't find key FRAUD_STATE_TOKEN in Secret mlspec-secrets" in steps["train-fraud-gbm"].stderr
    assert steps["gate-fraud-gbm-release"].status == "Omitted"
