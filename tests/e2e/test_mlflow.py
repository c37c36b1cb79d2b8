"""MLflow as registry and tracker, through the CLI against a real `mlflow server` (tests/e2e/mlflow_harness.py).

* `mlspec run` -> `mlspec registry ls` -> MLflow's own `mlflow.pyfunc.load_model("models:/NAME@champion")`
  predicts what `mlspec score` predicts, and `mlflow.sklearn.load_model` gives the same probabilities;
* a file changed on the MLflow side (the flavour's model.skops, the canonical artifact) is refused before a
  promotion and reported by `verify`;
* an alias moved in MLflow outside mlspec: `verify` reports it, a compare-and-set promotion refuses, and the
  next move records it, so `registry show` lists every move;
* `project.tracking: mlflow` with a SQLite registry mirrors each training run (parameters, metrics per split,
  cross-validation, search trials as child runs, lineage tags), and a run without a server still succeeds;
* a server-less MLflow store (mlflow+sqlite:///) works from a project folder;
* commands that do not reach the registry never import MLflow.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_run import make_project, mlspec, spec_doc

pytest.importorskip("mlflow", reason="the mlflow extra (mlflow-skinny) is needed for the MLflow tests")
pytestmark = pytest.mark.slow


@pytest.fixture
def server(mlflow_server, monkeypatch: pytest.MonkeyPatch):
    """The package's MLflow server, emptied, with this process pointed at it as a user's shell would be."""
    mlflow_server.reset()
    for name, value in {**mlflow_server.env, **mlflow_server.s3.env}.items():
        monkeypatch.setenv(name, value)
    return mlflow_server


def _project(root: Path, registry: str, *, tracking: bool = False, search: bool = False) -> Path:
    doc = spec_doc()
    doc["project"]["registry"] = {"uri": registry}
    doc["project"]["ci_state"] = "ephemeral"
    if tracking:
        doc["project"]["tracking"] = "mlflow"
    if search:
        doc["models"]["risk_lr"]["search"] = {"method": "grid", "space": {"C": [0.1, 1.0, 10.0]}, "folds": 3}
        doc["models"]["risk_lr"]["cv"] = {"folds": 3}
    return make_project(root, doc)


def _ok(result) -> str:
    assert result.code == 0, result.stdout + result.stderr
    return result.stdout


class _Ran:
    def __init__(self, done: subprocess.CompletedProcess) -> None:
        self.code, self.stdout, self.stderr = done.returncode, done.stdout, done.stderr


def _process(root: Path, *args: str, env: dict[str, str]) -> _Ran:
    """`mlspec ARGS` in a process of its own with `env`: training processes take the environment of the process
    that started them, so a variable set in this one after an earlier test's run would not reach them."""
    return _Ran(subprocess.run([sys.executable, "-m", "mlspec", "-C", str(root), *args], capture_output=True,
                               text=True, env=env, check=False))


def test_run_then_mlflow_loads_the_champion_and_predicts_what_mlspec_scores(server, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow
    import numpy as np
    import pandas as pd

    root = _project(tmp_path, server.registry_uri)
    _ok(mlspec(root, "run", "-j", "1"))
    listed = _ok(mlspec(root, "registry", "ls"))
    assert [line.split()[:2] + line.split()[4:5] for line in listed.splitlines()[1:]] == [
        ["risk_gbm", "1", "champion"], ["risk_lr", "1", "champion"]], listed
    scored = tmp_path / "scored.csv"
    _ok(mlspec(root, "score", "risk_lr", "--source", "events", "-o", str(scored)))
    expected = pd.read_csv(scored)

    monkeypatch.setenv("MLFLOW_ALLOW_MODEL_CODE_EXECUTION", "true")  # MLflow 3.18 loads no model without it
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    frame = pd.read_csv(root / "data" / "events.csv")
    loaded = mlflow.pyfunc.load_model("models:/risk_lr@champion")
    assert loaded.metadata.metadata["mlspec_sha256"] == json.loads(
        _ok(mlspec(root, "registry", "show", "risk_lr")))["artifact_sha256"]
    predicted = np.asarray(loaded.predict(frame))
    assert len(predicted) == len(expected) == 800
    assert (predicted == expected["prediction"].to_numpy()).all()
    model = mlflow.sklearn.load_model("models:/risk_lr@champion")
    assert np.allclose(model.predict_proba(frame)[:, 1], expected["proba_1"].to_numpy(), rtol=0, atol=1e-12)

    # the version's run holds the canonical artifact, the record, the params, the metrics and the lineage tags
    version = server.client().get_model_version("risk_lr", "1")
    run = server.client().get_run(version.run_id)
    shown = json.loads(_ok(mlspec(root, "registry", "show", "risk_lr")))
    assert run.data.tags["mlspec.sha256"] == version.tags["mlspec.sha256"] == shown["artifact_sha256"]
    assert run.data.tags["mlspec.config_hash"] == shown["lineage"]["model_config_hash"]
    assert run.data.tags["mlspec.data_sha256"] == shown["lineage"]["data_fingerprint"]
    assert run.data.tags["mlspec.library.scikit-learn"] == shown["lineage"]["libraries"]["scikit-learn"]
    assert run.data.params["C"] == "1.0" and run.data.metrics["roc_auc"] == shown["metrics"]["roc_auc"]
    assert version.source == f"runs:/{version.run_id}/model"
    assert _ok(mlspec(root, "registry", "verify")).strip().endswith("Registry OK.")


def test_a_file_changed_on_the_mlflow_side_is_refused_before_promotion(server, tmp_path: Path) -> None:
    root = _project(tmp_path, server.registry_uri)
    _ok(mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release"))
    version = server.client().get_model_version("risk_lr", "1")
    # the flavour's file is what MLflow's tools load: a changed one is refused like a changed artifact
    server.s3.put(server.bucket, server.artifact_key(version.run_id, "model/model.skops"), b"not the model")
    promoted = mlspec(root, "registry", "promote", "risk_lr", "--version", "1", "--reason", "again")
    assert promoted.code == 1 and "refusing to promote risk_lr v1" in promoted.stderr, promoted.stderr
    assert "model/model.skops" in promoted.stderr and "modified" in promoted.stderr
    verified = mlspec(root, "registry", "verify")
    assert verified.code == 1 and "model/model.skops" in verified.stdout, verified.stdout

    server.tamper(version.tags["mlspec.sha256"], b"PK not the artifact")
    promoted = mlspec(root, "registry", "promote", "risk_lr", "--version", "1", "--reason", "again")
    assert promoted.code == 1 and "has been modified" in promoted.stderr, promoted.stderr
    # a fresh machine (no verified local copy) scoring with the champion is refused before skops reads a byte
    for folder in (root / ".mlspec" / "artifacts").iterdir():
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    scored = mlspec(root, "score", "risk_lr", "--source", "events")
    assert scored.code == 1 and "has been modified" in scored.stderr, scored.stderr


def test_an_alias_moved_outside_mlspec_is_reported_refused_by_compare_and_set_and_then_recorded(
        server, tmp_path: Path) -> None:
    from mlspec.runtime.errors import RegistryError
    from mlspec.runtime.registry import open_registry

    root = _project(tmp_path, server.registry_uri)
    registry = open_registry(server.registry_uri, ".mlspec/artifacts", root, project="risk")
    rng = random.Random(3)
    for alias in ("champion", "challenger"):
        registry.register_once("risk_lr", rng.randbytes(2_000), metrics={"roc_auc": 0.7}, params={}, lineage={},
                               profile={}, alias=alias, reason=f"as {alias}")
    # a person moves the champion in MLflow's UI: mlspec's lock and history know nothing of it
    server.client().set_registered_model_alias("risk_lr", "champion", "2")
    verified = mlspec(root, "registry", "verify")
    assert verified.code == 1 and "history does not record that move" in verified.stdout, verified.stdout
    with pytest.raises(RegistryError, match="changed since the gate ran"):  # the gate compared against v1
        registry.set_alias("risk_lr", "champion", 2, "late approval", expected=1)
    _ok(mlspec(root, "registry", "promote", "risk_lr", "--version", "1", "--reason", "back to v1"))
    history = json.loads(_ok(mlspec(root, "registry", "show", "risk_lr")))["alias_history"]
    assert [(m["alias"], m["from_version"], m["to_version"]) for m in history] == [
        ("champion", None, 1), ("challenger", None, 2),
        ("champion", 1, 2),  # the move made in MLflow, found when mlspec next moved the alias
        ("champion", 2, 1)]
    assert history[2]["actor"] == "unknown" and history[2]["reason"].startswith("moved outside mlspec")
    assert history[3]["reason"] == "back to v1"
    assert _ok(mlspec(root, "registry", "verify")).strip().endswith("Registry OK.")
    registry.close()


def test_the_write_lock_passes_to_one_writer_and_a_dead_holder_is_taken_over_after_its_lease(server) -> None:
    import time

    from mlspec.runtime.mlflow_lock import WriteLock
    from mlspec.runtime.mlflow_server import Connection, target

    conn = Connection(target(server.registry_uri, Path.cwd()))
    with WriteLock(conn) as first:
        assert first.number == 1
        with pytest.raises(Exception, match="is busy: another writer has held its write lock"):
            WriteLock(conn, wait=0.5).__enter__()  # a second writer waits, then is told to try again
    dead = WriteLock(conn, lease=1.0).__enter__()  # a writer killed while holding the lock: never released
    assert dead.number == 3
    time.sleep(1.1)
    with WriteLock(conn) as heir:  # the lease is over: the next writer takes the lock over
        assert heir.number == 4
        with pytest.raises(Exception, match="held longer than its lease"):
            dead.check()  # the dead holder, were it only slow, would stop before writing
        dead.__exit__(None, None, None)  # and its late release does not free the heir's lock
        with pytest.raises(Exception, match="is busy"):
            WriteLock(conn, wait=0.5).__enter__()
    names = sorted(m.name for m in server.client().search_registered_models(filter_string="name LIKE 'mlspec-lock.%'"))
    assert names == ["mlspec-lock.000000000005"]  # released, and the older lock models deleted


def test_tracking_mirrors_every_training_run_whatever_the_registry(server, tmp_path: Path) -> None:
    root = _project(tmp_path, "sqlite:///.mlspec/registry.db", tracking=True, search=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    ran = _process(root, "run", "-j", "1", env=env)
    _ok(ran)
    assert ran.stderr.count("; MLflow run ") == 2, ran.stderr
    client = server.client()
    experiment = client.get_experiment_by_name("mlspec/risk")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    parent = next(r for name, r in runs.items() if name.startswith("risk_lr ") and "trial" not in name)
    candidate = json.loads((root / ".mlspec" / "candidates" / "risk_lr.json").read_text())
    assert candidate["tracking"]["run_id"] == parent.info.run_id
    tags, metrics, params = parent.data.tags, parent.data.metrics, parent.data.params
    assert tags["mlspec.kind"] == "training" and tags["mlspec.sha256"] == candidate["sha256"]
    assert tags["mlspec.config_hash"] == candidate["lineage"]["model_config_hash"]
    assert tags["mlspec.data_sha256"] == candidate["lineage"]["data_fingerprint"]
    assert tags["mlspec.git_commit"] == tags["mlflow.source.git.commit"] == commit
    assert metrics["test_roc_auc"] == candidate["metrics"]["roc_auc"]
    assert metrics["train_roc_auc"] == candidate["metrics_train"]["roc_auc"] and "train_accuracy" in metrics
    assert metrics["cv_roc_auc_mean"] == candidate["cv"]["roc_auc"]["mean"] and "cv_accuracy_std" in metrics
    assert metrics["search_best_roc_auc"] == candidate["search"]["best_score"]
    assert params["C"] == str(candidate["params"]["C"]) and params["mlspec.search.method"] == "grid"
    trials = [r for r in runs.values() if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(float(t.data.params["C"]) for t in trials) == [0.1, 1.0, 10.0]
    best = min(trials, key=lambda t: t.data.metrics["rank"])
    assert best.data.metrics["cv_roc_auc_mean"] == pytest.approx(candidate["search"]["best_score"])
    # the registered version (in SQLite) names the training run it came from
    shown = json.loads(_ok(mlspec(root, "registry", "show", "risk_lr")))
    assert shown["lineage"]["tracking_run_id"] == parent.info.run_id

    # without a server to mirror to, training still succeeds and says why nothing was mirrored
    env.pop("MLFLOW_TRACKING_URI")
    again = _process(root, "run", "-j", "1", "--force", "-s", "model:risk_gbm", env=env)
    _ok(again)
    assert "not mirrored: no MLflow server is named: set MLFLOW_TRACKING_URI" in again.stderr, again.stderr


def test_a_server_less_mlflow_store_in_the_project(tmp_path: Path) -> None:
    root = _project(tmp_path, "mlflow+sqlite:///.mlspec/mlflow.db")
    assert _ok(mlspec(root, "registry", "ls")).startswith("No registered versions yet")
    assert not (root / ".mlspec" / "mlflow.db").exists()  # reading creates nothing
    _ok(mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release"))
    listed = _ok(mlspec(root, "registry", "ls"))
    assert "risk_lr" in listed and "champion" in listed, listed
    assert (root / ".mlspec" / "mlflow-artifacts").is_dir() and not (Path.cwd() / "mlruns").exists()
    assert _ok(mlspec(root, "registry", "verify")).strip().endswith("Registry OK.")


IMPORTS = """
import sys
from mlspec.cli.main import main
sys.argv = ['mlspec', '-C', sys.argv[1], *sys.argv[2:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
print('MLFLOW=' + ','.join(sorted(m for m in sys.modules if m == 'mlflow' or m.startswith('mlflow.'))[:3]))
"""


def test_commands_that_do_not_touch_the_registry_never_import_mlflow(tmp_path: Path) -> None:
    root = _project(tmp_path, "mlflow+sqlite:///.mlspec/mlflow.db", tracking=True)
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}

    def imported(*args: str) -> str:
        result = subprocess.run([sys.executable, "-c", IMPORTS, str(root), *args], capture_output=True, text=True,
                                env=env, check=False)
        return result.stdout.splitlines()[-1]

    assert imported("validate") == "MLFLOW="
    assert imported("compile") == "MLFLOW="
    _ok(mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release"))
    assert imported("run", "-j", "1", "-s", "+gate:risk_lr_release") == "MLFLOW="  # a no-op run
    assert imported("registry", "ls").startswith("MLFLOW=mlflow")  # the registry itself does
