"""Generated workflows in user-shaped repositories, run by act: what test_act_user_repo.py does not cover.

test_act_user_repo.py runs the main, monitor and pull-request workflows of a one-model project against
S3 state. Here: the offline stubs match the pins; the bundled fraud example's two models in a pull
request, where only the changed one trains, a second push without an ML change trains nothing, and
the comment workflow posts one comment and edits it; and, with MLSPEC_TEST_PG_URL, the main workflow
of the churn project (tests/e2e/churn_project.py) with its registry in PostgreSQL; and, with
MLSPEC_TEST_MLFLOW, the same workflow with its registry on a real MLflow server (tests/e2e/mlflow_harness.py).

Each repository is user-shaped: specs/ and data/, a project file pointing the state at a bucket of the
local S3 server, and what `mlspec compile` generates; no mlspec source. Every job starts from an empty
Python environment and installs `mlspec-gitops` from the wheel of this checkout on a package index
served on 127.0.0.1 (tests/e2e/act_harness.py). act does not enforce `permissions:` or environment
approvals: the promote job runs as if approved.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mlspec.emit.pins import PINS
from tests.conftest import REPO
from tests.e2e.act_harness import (
    STUBS,
    Act,
    ActRun,
    check_fresh_install,
    commit_all,
    compile_repo,
    edit_file,
    git,
    init_repo,
    registry_show,
)
from tests.e2e.churn_project import SECRET_NAMES, make_user_repo
from tests.e2e.conftest import S3Server
from tests.e2e.fake_gh import FakeGitHub

PG_URL = os.environ.get("MLSPEC_TEST_PG_URL", "")
PROJECT = """\
apiVersion: mlspec/v1
project:
  name: fraud-detection
  description: Flag fraudulent card transactions before they settle.
  python: "3.11"
  seed: 42
  registry: {uri: "REGISTRY"}
  secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL]
"""


def make_fraud_repo(root: Path, s3: S3Server, *,
                    pr_edits: dict[str, str] | None = None) -> tuple[Path, dict[str, str]]:
    """A user's repository of the fraud example on main, its state in a new bucket, and the repository
    secrets its jobs need. origin/main points at the commit, as after a checkout with fetch-depth 0, and
    origin is acme/fraud. With `pr_edits` (old -> new in specs/fraud.yaml), branch `feature` adds one
    commit of them on top.
    """
    repo = root / "fraud"
    (repo / "specs").mkdir(parents=True)
    for name in ("fraud.yaml", "sources.yaml"):
        shutil.copy2(REPO / "specs" / name, repo / "specs" / name)
    shutil.copytree(REPO / "data", repo / "data")
    bucket = s3.new_bucket("acme-fraud")
    secrets = {name: s3.env[name] for name in SECRET_NAMES}
    project = PROJECT.replace("REGISTRY", f"s3://{bucket}/mlspec")
    (repo / "specs" / "project.yaml").write_text(project, encoding="utf-8")
    (repo / ".gitignore").write_text(".mlspec/\n__pycache__/\n", encoding="utf-8")
    compile_repo(repo)
    init_repo(repo, "acme/fraud", "the fraud example")
    if pr_edits:
        git(repo, "checkout", "--quiet", "-b", "feature")
        for old, new in pr_edits.items():
            edit_file(repo, "specs/fraud.yaml", old, new)
        compile_repo(repo)
        commit_all(repo, "a change under review", publish=False)
    return repo, secrets


# ------------------------------------------------------------------------------------------------
# the stubs match the pins
# ------------------------------------------------------------------------------------------------


def test_every_pinned_action_but_checkout_has_a_stub_taking_what_the_workflows_pass() -> None:
    import yaml

    passed: dict[str, set[str]] = {action: set() for action in PINS}
    for workflow in (REPO / ".github" / "workflows").glob("mlspec-*.yml"):
        text = workflow.read_text(encoding="utf-8")
        uses = set(re.findall(r"uses: ([\w-]+/[\w-]+)@([0-9a-f]{40})", text))
        assert uses <= {(a, sha) for a, (sha, _) in PINS.items()}, workflow.name
        for job in yaml.safe_load(text)["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    passed[step["uses"].split("@")[0]] |= set(step.get("with", {}))
    for action in PINS:
        stub = STUBS / action.split("/")[1] / "action.yml"
        if action == "actions/checkout":  # act emulates checkout by copying the repository
            assert not stub.parent.exists()
            continue
        doc = yaml.safe_load(stub.read_text(encoding="utf-8"))
        assert doc["runs"]["using"] == "composite"
        assert passed[action], action  # the workflows use it, so the stub is exercised
        assert passed[action] <= set(doc["inputs"]), action  # an undeclared input would be ignored under act


def test_upload_stub_lays_out_files_like_the_real_action(tmp_path: Path) -> None:
    """Least common ancestor of the search paths as the root; hidden names only when asked; one named
    file alone is stored under its bare name; a name once per run."""
    ws = tmp_path / "ws"
    for rel in ("generated/manifest.json", ".mlspec/candidates/m.json", ".mlspec/artifacts/sha256/ab/ab.skops",
                ".mlspec/artifacts/sha256/.hidden", "reports/one.md"):
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(rel, encoding="utf-8")

    def upload(name: str, path: str, **inputs: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "GITHUB_WORKSPACE": str(ws), "MLSPEC_ACT_ARTIFACTS": str(tmp_path / "store"),
               "INPUT_NAME": name, "INPUT_PATH": path,
               **{f"INPUT_{k.upper()}": v for k, v in inputs.items()}}
        return subprocess.run([sys.executable, str(STUBS / "upload-artifact" / "upload.py")], env=env,
                              capture_output=True, text=True, check=False)

    def stored(name: str) -> set[str]:
        base = tmp_path / "store" / name
        return {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}

    paths = "generated/manifest.json\n.mlspec/candidates/m.json\n.mlspec/artifacts/sha256/\n"
    assert upload("all", paths, include_hidden_files="true").returncode == 0
    assert stored("all") == {"generated/manifest.json", ".mlspec/candidates/m.json",
                             ".mlspec/artifacts/sha256/ab/ab.skops", ".mlspec/artifacts/sha256/.hidden"}
    assert upload("visible", paths).returncode == 0
    assert stored("visible") == {"generated/manifest.json", ".mlspec/candidates/m.json",
                                 ".mlspec/artifacts/sha256/ab/ab.skops"}
    assert upload("deep", ".mlspec/candidates/m.json\n.mlspec/artifacts/sha256/").returncode == 0
    assert stored("deep") == {"candidates/m.json", "artifacts/sha256/ab/ab.skops"}
    assert upload("single", "reports/one.md").returncode == 0
    assert stored("single") == {"one.md"}
    assert upload("glob", "reports/*.md").returncode == 0
    assert stored("glob") == {"one.md"}
    again = upload("single", "reports/one.md")
    assert again.returncode == 1 and "already exists" in again.stdout
    missing = upload("none", "nothing/here", if_no_files_found="error")
    assert missing.returncode == 1 and "No files were found" in missing.stdout
    assert upload("none", "nothing/here").returncode == 0  # warn


# ------------------------------------------------------------------------------------------------
# a pull request that changes one model, and the comment workflow that posts its report
# ------------------------------------------------------------------------------------------------

PR_NUMBER = 7
PR_CHANGE = {"params: {C: 1.0, max_iter: 1000": "params: {C: 0.5, max_iter: 1000"}  # fraud_logreg only
REPOSITORY = {"full_name": "acme/fraud", "name": "fraud", "owner": {"login": "acme"}, "default_branch": "main"}


def pr_payload(repo: Path) -> dict:
    """The pull_request event of PR_NUMBER, whose head is the checked-out commit of branch feature."""
    head = {"ref": "feature", "sha": git(repo, "rev-parse", "HEAD"), "repo": {"full_name": "acme/fraud"}}
    return {"action": "synchronize", "number": PR_NUMBER, "repository": REPOSITORY,
            "pull_request": {"number": PR_NUMBER, "head": head, "base": {"ref": "main"}}}
PR_JOBS = ("Validate specs", "Plan", "Train fraud_logreg", "Report")  # fraud_gbm's job is skipped before it starts


@pytest.fixture(scope="module")
def pull_request(tmp_path_factory: pytest.TempPathFactory, act: Act, s3_server: S3Server):
    """The example on main, a branch changing fraud_logreg, and act's run of mlspec-pr.yml: (repo, secrets, run)."""
    repo, secrets = make_fraud_repo(tmp_path_factory.mktemp("pr"), s3_server, pr_edits=PR_CHANGE)
    run = act.run(repo, "pull_request", "mlspec-pr.yml", payload=pr_payload(repo), secrets=secrets)
    print(f"act pull_request: {run.seconds:.1f}s")
    return repo, secrets, run


@pytest.mark.slow
def test_pull_request_workflow_plans_trains_the_changed_model_and_reports(pull_request, mlspec_wheel: Path) -> None:
    _repo, _secrets, run = pull_request
    assert run.code == 0, run.tail()
    assert run.jobs() == dict.fromkeys(PR_JOBS, "succeeded"), run.tail()
    for job in PR_JOBS:
        check_fresh_install(run, job, mlspec_wheel)
    assert "Generated files are up to date" in run.job_log("Validate specs")

    # the plan compared with origin/main: only fraud_logreg retrains
    plan = json.loads((run.artifacts / "mlspec-plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["retrain"] == ["model.fraud_logreg"]
    assert "1 to retrain" in (run.artifacts / "mlspec-plan" / "plan.md").read_text(encoding="utf-8")

    # the unaffected model's job never started: no install, no training, no report
    assert "setup-python stub" not in run.job_log("Train fraud_gbm")
    assert not (run.artifacts / "gate-report-fraud_gbm").exists()

    logreg = run.job_log("Train fraud_logreg")
    assert re.search(r"Summary - .*Gate `fraud_logreg_release` on model `fraud_logreg`: pass", logreg), logreg[-3000:]
    report = run.artifacts / "gate-report-fraud_logreg" / "gate-report-fraud_logreg_release.md"
    assert "fraud_logreg_release" in report.read_text(encoding="utf-8")

    # the Report job put plan and gate report together, in its summary and in the mlspec-report artifact
    assembled = run.artifacts / "mlspec-report"
    assert sorted(p.name for p in assembled.iterdir()) == ["head-sha.txt", "report.md"]
    assert (assembled / "head-sha.txt").read_text(encoding="utf-8") == f"{run.commit}\n"
    text = (assembled / "report.md").read_text(encoding="utf-8")
    assert text.startswith("<!-- mlspec-report -->")
    assert "## mlspec plan" in text and "`model.fraud_logreg`" in text
    assert "Gate `fraud_logreg_release` on model `fraud_logreg`: pass" in text
    assert "fraud_gbm_release" not in text
    assert "https://github.com/acme/fraud/actions/runs/" in text
    assert "Summary - <!-- mlspec-report -->" in run.job_log("Report"), run.job_log("Report")[-3000:]


@pytest.fixture(scope="module")
def second_push(pull_request, act: Act) -> ActRun:
    """A second push to the same pull request that takes the model change back: no ML change is left."""
    repo, secrets, _first = pull_request
    git(repo, "checkout", "--quiet", "feature")
    for old, new in PR_CHANGE.items():
        edit_file(repo, "specs/fraud.yaml", new, old)
    compile_repo(repo)
    (repo / "data" / "NOTES.md").write_text("Where the data comes from.\n", encoding="utf-8")
    commit_all(repo, "take the model change back; add notes", publish=False)
    try:
        run = act.run(repo, "pull_request", "mlspec-pr.yml", payload=pr_payload(repo), secrets=secrets)
    finally:
        git(repo, "checkout", "--quiet", "main")  # workflow_run runs the default branch's workflow and code
    print(f"act pull_request (second push): {run.seconds:.1f}s")
    return run


@pytest.mark.slow
def test_second_push_without_ml_change_trains_nothing_and_says_so(second_push: ActRun) -> None:
    run = second_push
    assert run.code == 0, run.tail()
    plan = json.loads((run.artifacts / "mlspec-plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["retrain"] == [] and plan["summary"] == "Plan: 0 to add, 0 to change, 0 to remove, 0 to retrain."
    # no model is affected: both train jobs are skipped before they install anything
    assert run.jobs() == dict.fromkeys(("Validate specs", "Plan", "Report"), "succeeded"), run.tail()
    for model in ("fraud_gbm", "fraud_logreg"):
        assert "setup-python stub" not in run.job_log(f"Train {model}")
    text = (run.artifacts / "mlspec-report" / "report.md").read_text(encoding="utf-8")
    assert "No ML change" in text and "No model was trained: this change affects no model." in text


def _comment_run(act: Act, repo: Path, run: ActRun, run_id: int, gh: FakeGitHub, runs: Path) -> ActRun:
    """The workflow_run-triggered comment workflow, given the artifacts of pull-request run `run_id`, while
    that run's commit is the pull request's head (as GitHub's API tells the fake gh)."""
    shutil.copytree(run.artifacts, runs / str(run_id))
    state = gh.state()
    gh.seed(**{**state, "pulls": [{"number": PR_NUMBER, "sha": run.commit, "repo": "acme/fraud",
                                   "branch": "feature"}]})
    payload = {"action": "completed", "repository": REPOSITORY,
               "workflow_run": {"id": run_id, "event": "pull_request", "conclusion": "success",
                                "name": "mlspec: pull request", "head_branch": "feature",
                                "head_sha": run.commit, "head_repository": {"full_name": "acme/fraud"}}}
    return act.run(repo, "workflow_run", "mlspec-pr-comment.yml", payload=payload, path_first=gh.bin,
                   secrets={"GITHUB_TOKEN": "not-a-real-token"},
                   step_env={"MLSPEC_ACT_RUNS": str(runs), **gh.step_env()})


@pytest.mark.slow
def test_comment_workflow_posts_one_comment_and_edits_it_on_the_next_push(
        pull_request, second_push: ActRun, act: Act, tmp_path: Path) -> None:
    repo, _secrets, first = pull_request
    assert first.code == 0 and second_push.code == 0
    gh, runs = FakeGitHub(tmp_path), tmp_path / "runs"
    human = {"id": 17, "issue": PR_NUMBER, "body": "LGTM, but mention <!-- mlspec-report --> later"}
    other = {"id": 18, "issue": PR_NUMBER + 1, "body": "<!-- mlspec-report -->\nanother pull request's report"}
    gh.seed(comments=[human, other])
    reports = [r.artifacts / "mlspec-report" / "report.md" for r in (first, second_push)]

    # first push: no mlspec comment yet on this pull request's thread -> one is created
    run = _comment_run(act, repo, first, 4242, gh, runs)
    print(f"act workflow_run: {run.seconds:.1f}s")
    assert run.code == 0, run.tail()
    assert run.jobs() == {"Comment on the pull request": "succeeded"}, run.tail()
    calls = gh.calls()
    assert calls[0][:5] == ["api", "--method", "GET", "--paginate", "repos/acme/fraud/pulls"]
    assert calls[1][:4] == ["api", "--paginate", f"repos/acme/fraud/issues/{PR_NUMBER}/comments", "--jq"]
    assert calls[2][:4] == ["api", "--method", "POST", f"repos/acme/fraud/issues/{PR_NUMBER}/comments"]
    ours = [c for c in gh.state()["comments"] if c["id"] not in (17, 18)]
    assert len(ours) == 1 and ours[0]["body"] == reports[0].read_text(encoding="utf-8")

    # second push: the same comment is edited in place, nothing is added, other comments are untouched
    run = _comment_run(act, repo, second_push, 4243, gh, runs)
    assert run.code == 0, run.tail()
    calls = gh.calls()[3:]
    assert [c[:4] for c in calls] == [
        ["api", "--method", "GET", "--paginate"],
        ["api", "--paginate", f"repos/acme/fraud/issues/{PR_NUMBER}/comments", "--jq"],
        ["api", "--method", "PATCH", f"repos/acme/fraud/issues/comments/{ours[0]['id']}"]]
    comments = gh.state()["comments"]
    assert [c["id"] for c in comments] == [17, 18, ours[0]["id"]]
    assert comments[:2] == [human, other]
    assert comments[2]["edits"] == 1
    assert comments[2]["body"] == reports[1].read_text(encoding="utf-8")
    assert "No ML change" in comments[2]["body"]
    assert all(call[-1] == "GH_TOKEN=set" for call in gh.calls())
    assert "not-a-real-token" not in run.log


# ------------------------------------------------------------------------------------------------
# the main workflow with a PostgreSQL registry (artifacts in the bucket)
# ------------------------------------------------------------------------------------------------


needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="MLSPEC_TEST_PG_URL is not set (CI sets it; locally run: "
    "eval \"$(bash scripts/ci_postgres.sh)\")")

MAIN_JOBS = ("Validate specs", "Plan", "Train churn", "Train churn_calls", "Gate churn_release",
             "Promote churn (approval: production)", "Record the run")


def _push_releases_v1(act: Act, repo: Path, secrets: dict[str, str], label: str) -> ActRun:
    """A push to main that trains, gates (v1 as challenger) and promotes after approval, every job succeeding."""
    run = act.run(repo, "push", "mlspec-main.yml", secrets=secrets)
    print(f"act push ({label}): {run.seconds:.1f}s")
    assert run.code == 0, run.tail()
    assert run.jobs() == dict.fromkeys(MAIN_JOBS, "succeeded"), run.tail()
    assert "registered churn v1 as challenger" in run.job_log("Gate churn_release")
    assert "churn: champion -> v1" in run.job_log("Promote churn (approval: production)")
    return run


@pytest.fixture
def pg_registry():
    """(registry URL, its secrets): a fresh schema of MLSPEC_TEST_PG_URL's database, dropped afterwards.
    The URL's password variable is renamed to a secret name a user could choose (MLSPEC_* is reserved)."""
    sa = pytest.importorskip("sqlalchemy")
    from mlspec.runtime.data import expand_env

    schema = f"mlspec_act_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(expand_env(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                                         "MLSPEC_TEST_PG_URL"))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url, secrets = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}", {}
    for name in re.findall(r"\$\{env:([A-Z_][A-Z0-9_]*)\}", url):
        own = name.removeprefix("MLSPEC_")
        url, secrets[own] = url.replace(f"${{env:{name}}}", f"${{env:{own}}}"), os.environ[name]
    try:
        yield url, secrets
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@needs_postgres
@pytest.mark.slow
def test_main_workflow_with_a_postgresql_registry_trains_gates_registers_and_promotes(
        tmp_path: Path, act: Act, s3_server: S3Server, pg_registry: tuple[str, dict[str, str]]) -> None:
    """The churn project of test_act_user_repo.py with its registry in PostgreSQL, artifacts in the bucket."""
    url, pg_secrets = pg_registry
    repo = make_user_repo(tmp_path, s3_server.new_bucket("acme-churn"), registry=url)
    secrets = {**{name: s3_server.env[name] for name in SECRET_NAMES}, **pg_secrets}
    run = _push_releases_v1(act, repo, secrets, "PostgreSQL registry")

    shown = registry_show(repo, {**s3_server.env, **pg_secrets}, "churn")
    assert shown["version"] == 1 and shown["aliases"] == {"champion": 1}, shown
    assert shown["created_by"] == "github:mlspec-e2e"
    assert shown["lineage"]["git_commit"] == git(repo, "rev-parse", "HEAD")
    moves = [(h["alias"], h["from_version"], h["to_version"], h["reason"]) for h in shown["alias_history"]]
    assert moves == [("challenger", None, 1, "gate churn_release passed"),
                     ("champion", None, 1, "approved in environment production"),
                     ("challenger", 1, None, "promoted: approved in environment production")]
    for name, value in secrets.items():
        if name != "AWS_REGION":
            assert value not in run.log, f"the secret {name} appears in act's output"


# ------------------------------------------------------------------------------------------------
# the main workflow with an MLflow registry (a real `mlflow server` on 127.0.0.1, artifacts on the moto server)
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_main_workflow_with_an_mlflow_registry_trains_gates_registers_and_promotes(
        tmp_path: Path, act: Act, s3_server: S3Server, mlflow_server) -> None:
    """The churn project with `registry: mlflow+http://127.0.0.1:PORT`: every job installs the mlflow extra from
    the constraints compile wrote, reaches the server on the host with the token secret, and the champion is
    MLflow's `champion` alias, loadable with MLflow's own tools."""
    mlflow_server.reset()
    repo = make_user_repo(tmp_path, s3_server.new_bucket("acme-churn"), registry=mlflow_server.registry_uri,
                          artifacts_in_bucket=False)
    constraints = (repo / "generated" / "constraints.txt").read_text(encoding="utf-8")
    assert re.search(r"^mlflow-skinny==\S+$", constraints, re.MULTILINE), constraints
    token = "mlflow-token-" + uuid.uuid4().hex  # the server has no authentication: only its passing is checked
    secrets = {**{name: s3_server.env[name] for name in SECRET_NAMES}, "MLFLOW_TRACKING_TOKEN": token}
    run = _push_releases_v1(act, repo, secrets, "MLflow registry")
    assert "recorded commit" in run.job_log("Record the run"), run.tail()
    assert token not in run.log

    client = mlflow_server.client()
    assert client.get_registered_model("churn").aliases == {"champion": "1"}
    version = client.get_model_version("churn", "1")
    assert version.source == f"runs:/{version.run_id}/model"  # MLflow's sklearn flavour, in skops
    shown = registry_show(repo, mlflow_server.env, "churn")
    assert shown["version"] == 1 and shown["aliases"] == {"champion": 1}, shown
    assert shown["created_by"] == "github:mlspec-e2e"
    assert shown["lineage"]["git_commit"] == git(repo, "rev-parse", "HEAD")
    assert shown["artifact_sha256"] == version.tags["mlspec.sha256"]
    moves = [(h["alias"], h["from_version"], h["to_version"], h["reason"]) for h in shown["alias_history"]]
    assert moves == [("challenger", None, 1, "gate churn_release passed"),
                     ("champion", None, 1, "approved in environment production"),
                     ("challenger", 1, None, "promoted: approved in environment production")]
    # the record job's run, which the next push plans against, is in the project's experiment
    experiment = client.get_experiment_by_name("mlspec/acme-churn")
    assert client.search_runs([experiment.experiment_id], "tags.`mlspec.kind` = 'last-run'")
