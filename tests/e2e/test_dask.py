"""Search and cross-validation on a Dask cluster (`compute: {backend: dask}`), for real: no mocks.

A real `LocalCluster` (2 worker processes on the loopback interface) started here runs the grid searches and
cross-validation of an `mlspec run` whose models name it through `${env:DASK_SCHEDULER_ADDRESS}`; the best
parameters, every trial's scores, the cross-validation scores, the held-out metrics and the artifact's sha256
equal a local run's, and the scheduler shows it ran the fits. Without an address mlspec starts its own local
cluster and closes it. An unreachable scheduler, or an address variable that is not set, fails the training
with one message and a hint, and registers nothing.
"""

from __future__ import annotations

import copy
import socket
from pathlib import Path

import pytest

from mlspec.runtime import cluster as compute
from tests.e2e.test_run import (
    assert_nothing_registered,
    make_frame,
    make_project,
    messages,
    mlspec,
    run_results,
    show,
    spec_doc,
    statuses,
)

MODELS = ("risk_lr", "risk_gbm")
ADDRESS = "${env:DASK_SCHEDULER_ADDRESS}"


def searching_doc(compute_setting: dict | None, *, on_project: bool = False) -> dict:
    """The run tests' project with a grid search and cross-validation on both models, on `compute_setting`."""
    doc = copy.deepcopy(spec_doc())
    models = doc["models"]
    models["risk_lr"].update(search={"method": "grid", "space": {"C": [0.05, 0.5, 5.0]}, "folds": 3},
                             cv={"folds": 3})
    models["risk_gbm"].update(search={"method": "grid", "space": {"max_depth": [2, 4], "learning_rate": [0.1, 0.3]},
                                      "folds": 3}, cv={"folds": 3})
    if compute_setting is not None:
        if on_project:
            doc["project"]["compute"] = compute_setting
        else:
            for name in MODELS:
                models[name]["compute"] = compute_setting
    return doc


def outcome(root: Path) -> dict[str, dict]:
    """What a run found per model: the registered version's search, cross-validation, metrics, params and sha256."""
    results = run_results(root)
    found = {}
    for name in MODELS:
        record = show(root, name)
        assert record["artifact_sha256"] == results[f"model.{name}"]["outputs"]["sha256"]
        found[name] = {"search": record["lineage"]["search"], "cv": record["lineage"]["cv"],
                       **{key: record[key] for key in ("metrics", "params", "artifact_sha256")}}
        assert found[name]["search"]["best_params"] and found[name]["cv"]
    return found


@pytest.fixture(scope="module")
def local_outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The same project trained locally (no compute setting): what every cluster run must equal."""
    root = make_project(tmp_path_factory.mktemp("local"), searching_doc(None), make_frame())
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 0, result.stderr
    return outcome(root)


@pytest.mark.slow
def test_a_search_on_a_dask_cluster_equals_a_local_run(tmp_path: Path, local_outcome: dict,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        root = make_project(tmp_path, searching_doc({"backend": "dask", "address": ADDRESS}), make_frame())
        result = mlspec(root, "run", "-j", "1")
        assert result.code == 0, result.stderr
        # the scheduler ran the fits: scikit-learn's cross-validation tasks went through it
        ran = dict(cluster.scheduler.task_prefixes)
        assert ran and any("fit_and_score" in name or "batch_of" in name for name in ran), ran
        assert sum(len(worker.processing) for worker in cluster.scheduler.workers.values()) == 0
    assert outcome(root) == local_outcome


@pytest.mark.slow
def test_without_an_address_mlspec_starts_and_closes_its_own_cluster(tmp_path: Path, local_outcome: dict) -> None:
    root = make_project(tmp_path, searching_doc({"backend": "dask"}, on_project=True), make_frame())
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 0, result.stderr
    assert outcome(root) == local_outcome


@pytest.mark.slow
def test_the_local_cluster_is_started_for_the_training_and_closed_after_it(tmp_path: Path) -> None:
    import psutil

    from mlspec import api

    root = make_project(tmp_path, searching_doc({"backend": "dask"}), make_frame())
    model = api.load(root).valid_manifest.model("risk_lr")
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    with compute.parallel(model) as n_jobs:
        started = {p.pid for p in me.children(recursive=True)} - before
        assert n_jobs == -1
        assert len(started) >= compute.local_workers()  # a nanny and a worker process per core
    left = {p.pid for p in me.children(recursive=True) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
            and not _multiprocessing_helper(p)}
    assert not left & started


def _multiprocessing_helper(process) -> bool:
    """multiprocessing's resource tracker (or fork server): started by the first cluster of this test process, it
    lives as long as the process by design, whichever test started it first."""
    try:
        command = " ".join(process.cmdline())
    except Exception:  # it ended meanwhile
        return True
    return "resource_tracker" in command or "forkserver" in command


@pytest.mark.slow
def test_the_local_cluster_listens_on_the_loopback_only(tmp_path: Path) -> None:
    """Its scheduler, workers and status page: a self-hosted runner's network never reaches them."""
    import psutil

    from mlspec import api

    root = make_project(tmp_path, searching_doc({"backend": "dask"}), make_frame())
    model = api.load(root).valid_manifest.model("risk_lr")
    me = psutil.Process()
    with compute.parallel(model):
        processes = [me, *me.children(recursive=True)]
        listening = [c.laddr for p in processes for c in p.net_connections(kind="inet") if c.status == "LISTEN"]
    assert len(listening) >= 3  # the scheduler, its status page, a worker at least
    assert {address.ip for address in listening} == {"127.0.0.1"}, listening


@pytest.mark.slow
def test_a_scheduler_without_workers_fails_the_training_not_the_run(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        doc = searching_doc({"backend": "dask", "address": ADDRESS})
        doc["models"]["risk_gbm"]["compute"] = {"backend": "local"}
        root = make_project(tmp_path, doc, make_frame())
        result = mlspec(root, "run", "-j", "1")
    output = result.stdout + result.stderr
    assert result.code == 1 and "Traceback" not in output and "internal error" not in output
    said = messages(result.stderr)["model.risk_lr"]
    assert "the Dask cluster at ${env:DASK_SCHEDULER_ADDRESS} failed during the search" in said
    assert cluster.scheduler_address not in output
    assert statuses(result.stderr)["model.risk_gbm"] == "OK"  # the other model trained: the run went on


def test_a_tls_address_without_tls_settings_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tls://127.0.0.1:8786")
    root = make_project(tmp_path, searching_doc({"backend": "dask", "address": ADDRESS}), make_frame())
    result = mlspec(root, "run", "-j", "1")
    output = result.stdout + result.stderr
    assert result.code == 1 and "Traceback" not in output and "internal error" not in output
    assert "cannot start the Dask client for ${env:DASK_SCHEDULER_ADDRESS}" in messages(result.stderr)["model.risk_lr"]
    assert "TLS settings" in output and "tls://127.0.0.1:8786" not in output
    assert_nothing_registered(root)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_an_unreachable_scheduler_fails_the_training_and_registers_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "3s")  # how long Dask keeps trying
    root = make_project(tmp_path, searching_doc({"backend": "dask", "address": ADDRESS}), make_frame())
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert statuses(result.stderr)["model.risk_lr"] == "ERROR"
    # named by its variable: the address came from a secret, which the output never shows
    said = messages(result.stderr)["model.risk_lr"]
    assert "cannot reach the Dask scheduler at ${env:DASK_SCHEDULER_ADDRESS}" in said
    assert address not in output
    assert "dask scheduler" in output and "secret" in output  # the hint: start one, check the network and secret
    assert not list((root / ".mlspec" / "candidates").glob("*.json"))
    assert_nothing_registered(root)


def test_an_address_variable_that_is_not_set_fails_before_any_fit(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    root = make_project(tmp_path, searching_doc({"backend": "dask", "address": ADDRESS}), make_frame())
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "DASK_SCHEDULER_ADDRESS is not set" in messages(result.stderr)["model.risk_lr"]
    assert "pull requests from forks receive no secrets" in result.stderr
    assert_nothing_registered(root)


def test_a_variable_holding_something_else_is_refused_without_showing_it(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://sched:8786; echo leaked")
    root = make_project(tmp_path, searching_doc({"backend": "dask", "address": ADDRESS}), make_frame())
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 1
    assert "does not hold a Dask scheduler address" in result.stderr
    assert "leaked" not in result.stdout + result.stderr
    assert_nothing_registered(root)


def test_compile_hands_train_jobs_the_address_secret_and_the_dask_extra(tmp_path: Path) -> None:
    import json

    import yaml

    doc = searching_doc({"backend": "dask", "address": ADDRESS}, on_project=True)
    doc["models"]["risk_gbm"]["compute"] = {"backend": "local"}  # a model's own setting wins
    plain_doc = searching_doc(None)
    for each in (doc, plain_doc):
        each["project"]["ci_state"] = "ephemeral"
    root = make_project(tmp_path / "dask", doc, make_frame())
    plain = make_project(tmp_path / "plain", plain_doc, make_frame())
    for project in (root, plain):
        result = mlspec(project, "compile")
        assert result.code == 0, result.stdout + result.stderr
    nodes = json.loads((root / "generated" / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    assert nodes["model.risk_lr"]["compute"] == {"backend": "dask", "address": ADDRESS}
    assert "compute" not in nodes["model.risk_gbm"]
    plain_nodes = json.loads((plain / "generated" / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    # where the search runs is not hashed: switching to a cluster retrains nothing
    assert all(nodes[m]["config_hash"] == plain_nodes[m]["config_hash"] for m in ("model.risk_lr", "model.risk_gbm"))
    main = yaml.safe_load((root / ".github" / "workflows" / "mlspec-main.yml").read_text(encoding="utf-8"))
    env = {job_id: {k: v for step in job["steps"] for k, v in (step.get("env") or {}).items()}
           for job_id, job in main["jobs"].items()}
    assert env["train_risk_lr"]["DASK_SCHEDULER_ADDRESS"] == "${{ secrets['DASK_SCHEDULER_ADDRESS'] }}"
    assert "DASK_SCHEDULER_ADDRESS" not in env["train_risk_gbm"]
    assert "dask" in env["train_risk_lr"]["MLSPEC_PACKAGE"] and "dask" not in env["record"]["MLSPEC_PACKAGE"]
