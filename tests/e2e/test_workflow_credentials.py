"""Who holds which credential, and who waits for whom, in the generated workflows.

The read-write state credential lives only in GitHub Environments (project.state_environment and a gate's
approval environment) and reaches only the jobs that write state on the default branch; every other job,
pull requests first, gets the repository secrets (the read-only credential). Gate jobs of one model queue
across main and the retrain workflow; promote jobs never hold a group (an approval may wait for days).
The one retrain workflow gives each model what main gives it: the same runner, timeout, secrets and
environments, in jobs whose every one of those is written in the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli

EVERYTHING = Path(__file__).resolve().parents[1] / "golden" / "everything" / "specs"
WRITE_JOBS = ("gate_", "promote_", "record")


@pytest.fixture(scope="module")
def creds_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden project `everything`, on another default branch and state environment, compiled."""
    root = tmp_path_factory.mktemp("creds") / "p"
    shutil.copytree(EVERYTHING, root / "specs")
    project = root / "specs" / "project.yaml"
    project.write_text(project.read_text(encoding="utf-8")
                       + "  default_branch: release/ml\n  state_environment: registry-write\n", encoding="utf-8")
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stdout + result.stderr
    return root


@pytest.fixture(scope="module")
def workflows(creds_root: Path) -> dict[str, dict]:
    folder = creds_root / ".github" / "workflows"
    return {p.name: {"doc": yaml.safe_load(p.read_text(encoding="utf-8")), "text": p.read_text(encoding="utf-8")}
            for p in folder.glob("mlspec-*.yml")}


def _jobs(workflows: dict, name: str) -> dict[str, dict]:
    return workflows[name]["doc"]["jobs"]


def _secret_names(job: dict) -> set[str]:
    return {v.split("'")[1] for step in job["steps"] for v in (step.get("env") or {}).values()
            if isinstance(v, str) and v.startswith("${{ secrets[")}


def test_only_jobs_that_write_state_run_in_an_environment(workflows: dict) -> None:
    for name, workflow in workflows.items():
        for job_id, job in workflow["doc"]["jobs"].items():
            writes = job_id.startswith(WRITE_JOBS)
            assert ("environment" in job) == writes, (name, job_id)
            if job_id.startswith(("gate_", "record")):
                assert job["environment"] == "registry-write", (name, job_id)
            if job_id.startswith("promote_"):
                assert job["environment"] == "production", (name, job_id)
    pr = _jobs(workflows, "mlspec-pr.yml")
    assert all("environment" not in job for job in pr.values())
    # pull requests and main's training read the champion with the repository's (read-only) secrets
    assert any(_secret_names(job) for job in pr.values())


def test_each_workflow_names_every_jobs_secrets_and_where_they_come_from(workflows: dict) -> None:
    for name, workflow in workflows.items():
        header = "".join(line[2:] for line in workflow["text"].splitlines(keepends=True) if line.startswith("# "))
        header = " ".join(header.split())
        for job_id, job in workflow["doc"]["jobs"].items():
            names = _secret_names(job)
            if not names:
                continue
            assert job_id in header, (name, job_id, header)
            where = f"secrets of the environment {job['environment']}" if "environment" in job \
                else "repository secrets"
            assert where in header, (name, job_id)
            assert all(secret in header for secret in names), (name, job_id)


def test_gates_queue_per_model_and_approvals_hold_nothing(workflows: dict) -> None:
    main = workflows["mlspec-main.yml"]["doc"]
    assert "${{ github.sha }}" in main["concurrency"]["group"]  # never one group for every push
    for job_id, job in main["jobs"].items():
        if job_id.startswith("promote_"):
            assert "concurrency" not in job
        elif job_id.startswith("gate_"):
            model = job["needs"][0].removeprefix("train_")
            assert job["concurrency"] == {"group": f"mlspec-model-{model}", "cancel-in-progress": False}
    retrain = _jobs(workflows, "mlspec-retrain.yml")
    for job_id, job in retrain.items():
        if job_id.startswith("promote_"):
            assert "concurrency" not in job
        elif job_id.startswith("gate_"):  # the checked model's queue: main's group of that model
            assert job["concurrency"] == {"group": "mlspec-model-${{ needs.validate.outputs.model }}",
                                          "cancel-in-progress": False}


def test_main_trains_only_what_its_plan_says_and_records_a_run_without_waiting_for_approval(workflows: dict) -> None:
    jobs = _jobs(workflows, "mlspec-main.yml")
    trains = [j for j in jobs if j.startswith("train_")]
    assert set(jobs["plan"]["outputs"]) == set(trains)
    for job_id in trains:
        assert jobs[job_id]["if"] == f"needs.plan.outputs.{job_id} == 'true'"
        assert "plan" in jobs[job_id]["needs"]
    needs = set(jobs["record"]["needs"])
    assert {"validate", "plan", *trains} <= needs
    assert {j for j in jobs if j.startswith("gate_")} <= needs
    assert not any(n.startswith("promote_") for n in needs)
    assert "failure" in jobs["record"]["if"] and "cancelled()" in jobs["record"]["if"]
    installs = [s for s in jobs["plan"]["steps"] + jobs["record"]["steps"] if "MLSPEC_PACKAGE" in (s.get("env") or {})]
    assert all("state" in s["env"]["MLSPEC_PACKAGE"] and "runtime" not in s["env"]["MLSPEC_PACKAGE"]
               for s in installs), installs


def test_the_default_branch_is_the_projects(workflows: dict) -> None:
    assert workflows["mlspec-main.yml"]["doc"]["on"]["push"]["branches"] == ["release/ml"]
    assert workflows["mlspec-pr.yml"]["doc"]["on"]["pull_request"]["branches"] == ["release/ml"]
    assert "main" not in workflows["mlspec-main.yml"]["doc"]["on"]["push"]["branches"]


@pytest.mark.parametrize("branch", ["main..x", "-main", "feature/", "a b", "rel*", "x.lock", "a//b", ""])
def test_a_default_branch_git_would_refuse_is_refused(tmp_path: Path, branch: str) -> None:
    root = tmp_path / "p"
    shutil.copytree(EVERYTHING, root / "specs")
    project = root / "specs" / "project.yaml"
    project.write_text(project.read_text(encoding="utf-8") + f"  default_branch: '{branch}'\n", encoding="utf-8")
    result = run_cli("-C", str(root), "validate")
    assert result.code == 1, result.stdout + result.stderr
    assert "default_branch" in result.stdout + result.stderr
    assert not (root / ".github").exists()


def test_an_approval_needs_only_the_registry_and_the_version_the_gate_registered(workflows: dict) -> None:
    for name in ("mlspec-main.yml", "mlspec-retrain.yml"):
        jobs = _jobs(workflows, name)
        for job_id, job in jobs.items():
            if not job_id.startswith("promote_"):
                continue
            gate_job = job["needs"][-1]
            assert jobs[gate_job]["outputs"] == {"version": "${{ steps.gate.outputs.version }}",
                                                 "promote": "${{ steps.gate.outputs.promote }}"}
            assert job["if"] == f"needs.{gate_job}.outputs.promote == 'true'", (name, job_id)
            # the candidate's uploaded files expire after 14 days, approvals may wait longer: nothing downloaded
            assert not any("download-artifact" in step.get("uses", "") for step in job["steps"]), (name, job_id)
            install = next(step for step in job["steps"] if step["name"].startswith("Install"))
            assert "[runtime]" not in str(install.get("env")), (name, job_id)
            promote = job["steps"][-1]
            assert promote["env"]["VERSION"] == "${{ needs." + gate_job + ".outputs.version }}"
            assert promote["run"].endswith('promote --version "$VERSION"')


def _retrain_group(root: Path, model: str) -> dict[str, str]:
    """What the retrain workflow's check writes for `model` (its group and gates), by the command itself."""
    output = root / f"output-{model}"
    result = run_cli("-C", str(root), "check-input", "model", model, "--github-output", str(output))
    assert result.code == 0, result.stdout + result.stderr
    return dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())


def test_the_retrain_workflow_gives_each_model_mains_runner_secrets_and_environments(workflows: dict,
                                                                                      creds_root: Path) -> None:
    main, retrain = _jobs(workflows, "mlspec-main.yml"), _jobs(workflows, "mlspec-retrain.yml")
    models = workflows["mlspec-retrain.yml"]["doc"]["on"]["workflow_dispatch"]["inputs"]["model"]["options"]
    assert models == sorted(j.removeprefix("train_") for j in main if j.startswith("train_"))
    groups = set()
    for model in models:
        checked = _retrain_group(creds_root, model)
        group = checked["group"]
        groups.add(group)
        train = retrain[f"train_{group}"]
        assert train["if"] == f"needs.validate.outputs.group == '{group}'"
        for key in ("runs-on", "timeout-minutes", "permissions"):
            assert train[key] == main[f"train_{model}"][key], (model, key)
        assert _secret_names(train) == _secret_names(main[f"train_{model}"]), model
        gates = [g for g in main if g.startswith("gate_") and main[g]["needs"] == [f"train_{model}"]]
        assert [checked[f"gate_{i}"] for i in range(1, len(gates) + 1)] == [g.removeprefix("gate_") for g in gates]
        assert f"gate_{len(gates) + 1}" not in checked
        for i, gate_job in enumerate(gates, 1):
            ours = retrain[f"gate_{group}_{i}"]
            assert ours["needs"] == ["validate", f"train_{group}"]
            for key in ("runs-on", "environment", "permissions", "timeout-minutes"):
                assert ours[key] == main[gate_job][key], (model, key)
            assert _secret_names(ours) == _secret_names(main[gate_job])
            promote = gate_job.replace("gate_", "promote_", 1)
            assert (f"promote_{group}_{i}" in retrain) == (promote in main)
            if promote in main:
                assert retrain[f"promote_{group}_{i}"]["environment"] == main[promote]["environment"] == "production"
    # the golden project's three models differ: no gate, two gates (one approved) on a GPU runner, one gate
    assert len(groups) == 3 and {j for j in retrain if j.startswith("train_")} == {f"train_{g}" for g in groups}


def test_the_retrain_inputs_reach_no_script(workflows: dict) -> None:
    doc, text = workflows["mlspec-retrain.yml"]["doc"], workflows["mlspec-retrain.yml"]["text"]
    assert text.count("inputs.model") == 2  # the check's environment and the run's concurrency group
    assert doc["concurrency"]["group"] == "mlspec-retrain-${{ inputs.model }}-${{ github.sha }}"
    check = next(s for s in doc["jobs"]["validate"]["steps"] if s.get("id") == "check")
    assert check["env"] == {"MLSPEC_MODEL": "${{ inputs.model }}"}
    assert check["run"] == 'mlspec check-input model "$MLSPEC_MODEL" --github-output "$GITHUB_OUTPUT"'
    for job_id, job in doc["jobs"].items():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (job_id, step["name"])
            for name, value in (step.get("env") or {}).items():
                if "inputs." in value:
                    assert (name, value) in {("MLSPEC_MODEL", "${{ inputs.model }}"),
                                             ("MLSPEC_REASON", "${{ inputs.reason }}")}, (job_id, name)


def _compiled_variant(root: Path, old: str, new: str) -> dict[str, dict]:
    shutil.copytree(EVERYTHING, root / "specs")
    project = root / "specs" / "project.yaml"
    text = project.read_text(encoding="utf-8")
    assert old in text
    project.write_text(text.replace(old, new), encoding="utf-8")
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stdout + result.stderr
    return {p.name: yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in (root / ".github" / "workflows").glob("mlspec-*.yml")}


POSTGRES = 'registry: {uri: "postgresql://mlspec:${env:REGISTRY_PASSWORD}@registry.internal:5432/mlspec"}'


def test_an_mlflow_registry_token_reaches_every_state_job_from_the_same_place_as_other_credentials(
        tmp_path: Path) -> None:
    found = _compiled_variant(tmp_path, POSTGRES, 'registry: {uri: "mlflow+https://mlflow.acme.internal"}')
    seen = 0
    for name, doc in found.items():
        for job_id, job in doc["jobs"].items():
            names = _secret_names(job)
            if "PGSSLROOTCERT" not in names:  # not a job that touches state
                assert "MLFLOW_TRACKING_TOKEN" not in names, (name, job_id)
                continue
            seen += 1
            # the token beside the project's other secrets; the server's address is the spec's, not a secret
            assert "MLFLOW_TRACKING_TOKEN" in names and "MLFLOW_TRACKING_URI" not in names, (name, job_id)
            # read-write only where state is written on the default branch; pull requests get the repository's
            assert ("environment" in job) == job_id.startswith(WRITE_JOBS), (name, job_id)
    assert seen >= 6
    pr = found["mlspec-pr.yml"]["jobs"]
    assert all("environment" not in job for job in pr.values())
    assert any("MLFLOW_TRACKING_TOKEN" in _secret_names(job) for job in pr.values())


def test_tracking_gives_train_jobs_the_tracking_server_and_nothing_more_to_other_jobs(tmp_path: Path) -> None:
    found = _compiled_variant(tmp_path, POSTGRES, POSTGRES + "\n  tracking: mlflow")
    trains = 0
    for name, doc in found.items():
        for job_id, job in doc["jobs"].items():
            names = _secret_names(job)
            if job_id.startswith("train_"):
                trains += 1
                assert {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN"} <= names, (name, job_id)
                assert "environment" not in job, (name, job_id)  # the repository's (read-only for the registry)
            else:
                assert not names & {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN"}, (name, job_id)
    assert trains >= 3
