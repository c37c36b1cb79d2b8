"""`mlspec run` and `mlspec registry` end to end, through the CLI, on small generated projects.

Each test writes specs and a CSV to tmp_path and trains real scikit-learn models into a real SQLite
registry: the step cache (skip, --force, what a change retrains), determinism, gates (absolute,
against the champion, approval), tampered artifacts, errors caught before fitting, rollback, and
the bundled examples.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlspec import api
from mlspec.manifest import Manifest
from mlspec.runtime import artifacts, steps
from mlspec.runtime.errors import RegistryError
from mlspec.runtime.registry import Registry
from mlspec.state.artifacts import key_for
from tests.conftest import REPO, run_cli, tree_snapshot
from tests.spec_factory import dump

STATUS_LINE = re.compile(r"^\d\d:\d\d:\d\d\s+\d+ of \d+ (?P<status>OK|SKIP|FAIL|ERROR)\s+(?P<action>check|train|gate) "
                         r"(?P<node>\S+) \.+ \[(?P=status) in [0-9.]+s\] (?P<message>.*)$")
ALL_NODES = ["source.events", "model.risk_lr", "model.risk_gbm", "gate.risk_lr_release", "gate.risk_gbm_release"]


# ------------------------------------------------------------------------------------------------
# a small project: data with a learnable signal, every kind of feature, two models, two gates
# ------------------------------------------------------------------------------------------------


def make_frame(rows: int = 800, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, 1, rows)
    channel = rng.choice(["web", "app", "store"], rows, p=[0.4, 0.4, 0.2])
    hour = rng.integers(0, 24, rows)
    age = rng.integers(18, 90, rows).astype(float)
    age[rng.random(rows) < 0.1] = np.nan
    amount = rng.gamma(2.0, 30.0, rows).round(2)
    logit = 2.0 * signal + 0.8 * (channel == "web") + 0.7 * (hour < 6) - 0.02 * (np.nan_to_num(age, nan=50) - 50)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({
        "event_id": np.arange(1, rows + 1),
        "event_time": pd.date_range("2024-01-01", periods=rows, freq="37min").strftime("%Y-%m-%dT%H:%M:%S"),
        "signal": signal.round(6),
        "channel": channel,
        "hour": hour,
        "age": pd.array(age, dtype="Int64"),
        "amount": amount,
        "label": label,
    })


def spec_doc() -> dict:
    features = {
        "signal_z": {"source": "events", "column": "signal", "transform": "standardize"},
        "channel_oh": {"source": "events", "column": "channel", "transform": "one_hot"},
        "age_z": {"source": "events", "column": "age", "transform": "standardize", "impute": "median"},
        "hour_bucket": {"source": "events", "column": "hour", "transform": "bucketize", "bins": [6, 12, 18]},
        "amount_log": {"source": "events", "column": "amount", "transform": "log1p"},
        "is_night": {"source": "events", "expr": "hour < 6 or hour >= 23"},
        "amount_per_hour": {"source": "events", "expr": "amount / hour", "transform": "impute", "impute": "median"},
    }
    all_features = list(features)
    return {
        "apiVersion": "mlspec/v1",
        "project": {"name": "risk", "python": "3.11", "seed": 11},
        "sources": {"events": {
            "format": "csv", "path": "data/events.csv", "timestamp": "event_time",
            "schema": {
                "event_id": {"type": "int", "unique": True},
                "event_time": {"type": "datetime"},
                "signal": {"type": "float"},
                "channel": {"type": "category", "values": ["web", "app", "store"]},
                "hour": {"type": "int", "min": 0, "max": 23},
                "age": {"type": "int", "min": 18, "max": 95, "nullable": True},
                "amount": {"type": "float", "min": 0},
                "label": {"type": "int", "values": [0, 1]},
            },
            "checks": {"min_rows": 1, "rows": [{"name": "amount_sane", "expr": "amount < 100000"}]},
        }},
        "features": features,
        "models": {
            "risk_lr": {"task": "classification", "source": "events", "label": "label", "features": all_features,
                        "estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 500},
                        "split": {"method": "stratified", "test_fraction": 0.25},
                        "metrics": ["roc_auc", "accuracy"]},
            "risk_gbm": {"task": "classification", "source": "events", "label": "label", "features": all_features,
                         "estimator": "hist_gradient_boosting", "params": {"max_iter": 20, "learning_rate": 0.2},
                         "split": {"method": "time", "test_fraction": 0.25},
                         "metrics": ["roc_auc", "average_precision"], "slices": ["channel"]},
        },
        "gates": {
            "risk_lr_release": {"model": "risk_lr",
                                "require": ["roc_auc >= 0.6", "roc_auc >= champion.roc_auc - 0.001"],
                                "first_run": "skip_champion_checks"},
            "risk_gbm_release": {"model": "risk_gbm", "require": ["roc_auc >= 0.6"],
                                 "slices": [{"column": "channel", "require": ["roc_auc >= 0.5"], "min_rows": 20}]},
        },
    }


def write_spec(root: Path, doc: dict) -> None:
    (root / "specs").mkdir(parents=True, exist_ok=True)
    (root / "specs" / "risk.yaml").write_text(dump(doc), encoding="utf-8")


def write_data(root: Path, frame: pd.DataFrame) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    frame.to_csv(root / "data" / "events.csv", index=False)


def make_project(root: Path, doc: dict | None = None, frame: pd.DataFrame | None = None) -> Path:
    write_spec(root, doc if doc is not None else spec_doc())
    write_data(root, frame if frame is not None else make_frame())
    return root


def mlspec(root: Path, *args: str):
    return run_cli("-C", str(root), *args)


def statuses(stderr: str) -> dict[str, str]:
    """node id -> OK/SKIP/FAIL/ERROR, from the run log."""
    found = {}
    for line in stderr.splitlines():
        match = STATUS_LINE.match(line)
        if match:
            found[match["node"]] = match["status"]
    return found


def messages(stderr: str) -> dict[str, str]:
    return {m["node"]: m["message"] for m in map(STATUS_LINE.match, stderr.splitlines()) if m}


def run_results(root: Path) -> dict[str, dict]:
    data = json.loads((root / ".mlspec" / "run_results.json").read_text(encoding="utf-8"))
    return {r["node_id"]: r for r in data["results"]}


def registry_rows(root: Path) -> list[dict]:
    """`mlspec registry ls` as rows: model, version, aliases."""
    out = mlspec(root, "registry", "ls")
    assert out.code == 0, out.stderr
    rows = []
    for line in out.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            aliases = [p for p in parts if p in ("champion", "challenger", "champion,challenger")]
            rows.append({"model": parts[0], "version": int(parts[1]),
                         "aliases": aliases[0].split(",") if aliases else []})
    return rows


def show(root: Path, model: str, version: int | None = None) -> dict:
    args = ["registry", "show", model] + (["--version", str(version)] if version is not None else [])
    out = mlspec(root, *args)
    assert out.code == 0, out.stderr
    return json.loads(out.stdout)


def champion(root: Path, model: str) -> int | None:
    return show(root, model)["aliases"].get("champion") if any(
        r["model"] == model for r in registry_rows(root)) else None


def assert_nothing_registered(root: Path) -> None:
    out = mlspec(root, "registry", "ls")
    assert out.code == 0
    assert out.stdout.strip() == "No registered versions yet. Run: mlspec run"


# ------------------------------------------------------------------------------------------------
# the cache: first run, no-op run, --force, what a change retrains
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_first_run_second_run_and_force(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    first = mlspec(root, "run")  # default -j: the two models train in parallel worker processes
    assert first.code == 0, first.stderr
    assert statuses(first.stderr) == dict.fromkeys(ALL_NODES, "OK")
    assert "Done. PASS=5 SKIP=0 FAIL=0 ERROR=0 TOTAL=5" in first.stderr
    said = messages(first.stderr)
    assert said["source.events"] == "800 rows, contract passed"
    assert re.fullmatch(r"roc_auc=0\.\d{4} accuracy=0\.\d{4}", said["model.risk_lr"])
    assert said["gate.risk_lr_release"] == "passed; registered risk_lr v1 as champion"
    assert said["gate.risk_gbm_release"] == "passed; registered risk_gbm v1 as champion"

    results = run_results(root)
    assert set(results) == set(ALL_NODES)
    assert {r["status"] for r in results.values()} == {"success"}
    lr = results["model.risk_lr"]["outputs"]
    assert lr["metrics"]["roc_auc"] > 0.75
    assert re.fullmatch(r"[0-9a-f]{64}", lr["sha256"])
    assert (root / ".mlspec" / "artifacts" / key_for(lr["sha256"])).is_file()
    assert results["gate.risk_lr_release"]["outputs"] == {
        "alias": "champion", "summary": "passed; registered risk_lr v1 as champion", "version": 1,
        "approved": False}

    rows = registry_rows(root)
    assert rows == [{"model": "risk_gbm", "version": 1, "aliases": ["champion"]},
                    {"model": "risk_lr", "version": 1, "aliases": ["champion"]}]
    shown = show(root, "risk_lr")
    assert shown["artifact_sha256"] == lr["sha256"]
    assert shown["metrics"] == lr["metrics"]
    assert shown["lineage"]["data_fingerprint"] == hashlib.sha256(
        (root / "data" / "events.csv").read_bytes()).hexdigest()
    assert shown["lineage"]["seed"] == 11
    assert shown["lineage"]["gate"] == "risk_lr_release"
    report = json.loads((root / ".mlspec" / "reports" / "gate.risk_gbm_release.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "pass"
    assert {r["slice"] for r in report["requirements"]} == {None, "channel=web", "channel=app", "channel=store"}

    second = mlspec(root, "run", "-j", "1")
    assert second.code == 0, second.stderr
    assert statuses(second.stderr) == dict.fromkeys(ALL_NODES, "SKIP")
    assert "Done. PASS=0 SKIP=5 FAIL=0 ERROR=0 TOTAL=5" in second.stderr
    assert messages(second.stderr)["model.risk_lr"] == "unchanged (" + said["model.risk_lr"] + ")"
    assert {r["status"] for r in run_results(root).values()} == {"skipped"}

    forced = mlspec(root, "run", "--force", "-j", "1")
    assert forced.code == 0, forced.stderr
    assert statuses(forced.stderr) == dict.fromkeys(ALL_NODES, "OK")
    assert run_results(root)["model.risk_lr"]["outputs"]["metrics"] == lr["metrics"]
    # (the same artifact too, and so "already registered as v1", only when both runs trained the same way:
    # see test_artifact_does_not_depend_on_where_the_model_trained and
    # test_two_fresh_copies_give_identical_metrics_and_artifacts)


def test_skipped_source_shows_the_data_sha256(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    assert mlspec(root, "run", "-j", "1", "-s", "source.events").code == 0
    again = mlspec(root, "run", "-j", "1", "-s", "source.events")
    assert again.code == 0, again.stderr
    assert statuses(again.stderr) == {"source.events": "SKIP"}
    sha = hashlib.sha256((root / "data" / "events.csv").read_bytes()).hexdigest()
    assert messages(again.stderr)["source.events"] == f"unchanged (data sha256 {sha[:12]})"


def test_the_summary_names_the_results_from_where_mlspec_was_started(tmp_path: Path) -> None:
    # `mlspec -C examples/diabetes run` (README): the paths open from the working directory, not the project's
    make_project(tmp_path / "proj")
    result = run_cli("-C", "proj", "run", "-j", "1", "-s", "source.events", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "Run results: proj/.mlspec/run_results.json   reports: proj/.mlspec/reports/\n" in result.stderr
    again = run_cli("run", "-j", "1", "-s", "source.events", cwd=tmp_path / "proj")
    assert "Run results: .mlspec/run_results.json   reports: .mlspec/reports/\n" in again.stderr


@pytest.mark.slow
def test_changing_one_models_hyperparameter_retrains_only_that_model(tmp_path: Path) -> None:
    doc = spec_doc()
    root = make_project(tmp_path, doc)
    assert mlspec(root, "run", "-j", "1").code == 0
    before = run_results(root)
    doc["models"]["risk_gbm"]["params"]["learning_rate"] = 0.1
    write_spec(root, doc)
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 0, result.stderr
    assert statuses(result.stderr) == {"source.events": "SKIP", "model.risk_lr": "SKIP", "model.risk_gbm": "OK",
                                       "gate.risk_lr_release": "SKIP", "gate.risk_gbm_release": "OK"}
    after = run_results(root)
    assert after["model.risk_lr"]["outputs"] == before["model.risk_lr"]["outputs"]
    assert after["model.risk_gbm"]["outputs"]["sha256"] != before["model.risk_gbm"]["outputs"]["sha256"]
    assert messages(result.stderr)["gate.risk_gbm_release"] == "passed; registered risk_gbm v2 as champion"
    assert show(root, "risk_gbm")["params"]["learning_rate"] == 0.1
    assert [r["version"] for r in registry_rows(root) if r["model"] == "risk_lr"] == [1]


@pytest.mark.slow
def test_changing_a_derived_feature_retrains_the_models_that_use_it(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["models"]["risk_gbm"]["features"] = [f for f in doc["models"]["risk_gbm"]["features"] if f != "is_night"]
    doc["gates"]["risk_lr_release"]["require"] = ["roc_auc >= 0.6"]  # the new feature may score a little lower
    root = make_project(tmp_path, doc)
    assert mlspec(root, "run", "-j", "1").code == 0
    before = run_results(root)

    doc["features"]["is_night"]["expr"] = "hour < 5 or hour >= 23"  # only risk_lr uses is_night
    write_spec(root, doc)
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 0, result.stderr
    assert statuses(result.stderr) == {"source.events": "SKIP", "model.risk_lr": "OK", "model.risk_gbm": "SKIP",
                                       "gate.risk_lr_release": "OK", "gate.risk_gbm_release": "SKIP"}
    assert messages(result.stderr)["gate.risk_lr_release"] == "passed; registered risk_lr v2 as champion"
    after = run_results(root)
    assert after["model.risk_lr"]["outputs"]["sha256"] != before["model.risk_lr"]["outputs"]["sha256"]
    assert after["model.risk_gbm"]["outputs"] == before["model.risk_gbm"]["outputs"]

    doc["features"]["amount_per_hour"]["expr"] = "amount / (hour + 1)"  # both models use amount_per_hour
    write_spec(root, doc)
    both = mlspec(root, "run", "-j", "1", "-s", "model.risk_lr", "-s", "model.risk_gbm")
    assert both.code == 0, both.stderr
    assert statuses(both.stderr) == {"model.risk_lr": "OK", "model.risk_gbm": "OK"}


@pytest.mark.slow
def test_changing_the_data_rechecks_the_source_and_retrains(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["gates"]["risk_lr_release"]["require"] = ["roc_auc >= 0.6"]  # new data may score a little lower
    root = make_project(tmp_path, doc)
    assert mlspec(root, "run", "-j", "1").code == 0
    data = root / "data" / "events.csv"

    data.write_bytes(data.read_bytes())  # the same bytes, a new modification time: nothing to do
    touched = mlspec(root, "run", "-j", "1")
    assert touched.code == 0, touched.stderr
    assert statuses(touched.stderr) == dict.fromkeys(ALL_NODES, "SKIP")

    write_data(root, make_frame(rows=900, seed=1))
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 0, result.stderr
    assert statuses(result.stderr) == dict.fromkeys(ALL_NODES, "OK")
    said = messages(result.stderr)
    assert said["source.events"] == "900 rows, contract passed"
    assert said["gate.risk_lr_release"] == "passed; registered risk_lr v2 as champion"
    assert said["gate.risk_gbm_release"] == "passed; registered risk_gbm v2 as champion"
    fingerprint = hashlib.sha256(data.read_bytes()).hexdigest()
    assert show(root, "risk_lr")["lineage"]["data_fingerprint"] == fingerprint
    assert show(root, "risk_gbm")["lineage"]["data_fingerprint"] == fingerprint


# ------------------------------------------------------------------------------------------------
# determinism
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_fresh_copies_give_identical_metrics_and_artifacts(tmp_path: Path) -> None:
    doc, frame = spec_doc(), make_frame()
    outputs, registered = [], []
    for name in ("first", "second copy"):  # different folders: paths must not leak into the artifact
        root = make_project(tmp_path / name, copy.deepcopy(doc), frame.copy())
        result = mlspec(root, "run", "-j", "1")
        assert result.code == 0, result.stderr
        results = run_results(root)
        outputs.append({m: results[f"model.{m}"]["outputs"] for m in ("risk_lr", "risk_gbm")})
        registered.append({m: show(root, m)["artifact_sha256"] for m in ("risk_lr", "risk_gbm")})
    assert outputs[0] == outputs[1]
    assert registered[0] == registered[1] == {m: outputs[0][m]["sha256"] for m in ("risk_lr", "risk_gbm")}
    first = tmp_path / "first" / ".mlspec" / "artifacts" / key_for(outputs[0]["risk_lr"]["sha256"])
    second = tmp_path / "second copy" / ".mlspec" / "artifacts" / key_for(outputs[1]["risk_lr"]["sha256"])
    assert first.read_bytes() == second.read_bytes()


def test_artifact_does_not_depend_on_where_the_model_trained(tmp_path: Path) -> None:
    """In a training process a model trains from the manifest rebuilt from JSON (tests/e2e/test_trainers.py runs
    one); CI's generated scripts train from the manifest itself. Both must give the same bytes, or a re-run
    would register a duplicate."""
    root = make_project(tmp_path)
    project = api.load(root)
    assert project.ok, project.diagnostics
    manifest = project.manifest
    rebuilt = Manifest.model_validate_json(manifest.to_json())
    assert rebuilt == manifest  # the same manifest, only its dicts' key order differs
    paths = steps.Paths.of(manifest, root)
    in_process = steps.train_model(manifest, manifest.nodes["model.risk_lr"], paths)
    in_worker = steps.train_model(rebuilt, rebuilt.nodes["model.risk_lr"], paths)
    assert in_worker["metrics"] == in_process["metrics"]
    assert in_worker["sha256"] == in_process["sha256"]


def test_a_different_seed_gives_a_different_model(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["models"] = {"risk_lr": doc["models"]["risk_lr"]}
    doc["gates"] = {}
    results = []
    for seed in (11, 12):  # the seed drives the split
        doc["project"]["seed"] = seed
        root = make_project(tmp_path / str(seed), doc)
        assert mlspec(root, "run", "-j", "1").code == 0
        results.append(run_results(root)["model.risk_lr"]["outputs"])
    assert results[0]["sha256"] != results[1]["sha256"]


# ------------------------------------------------------------------------------------------------
# the registry a gate wrote to: a new, replaced or recreated registry does not hold the models
# ------------------------------------------------------------------------------------------------


def assert_only_the_gates_ran_and_registered_v1(result) -> None:
    """Nothing retrained, and both gates registered their unchanged candidate as v1 champion."""
    assert statuses(result.stderr) == {"source.events": "SKIP", "model.risk_lr": "SKIP", "model.risk_gbm": "SKIP",
                                       "gate.risk_lr_release": "OK", "gate.risk_gbm_release": "OK"}
    said = messages(result.stderr)
    assert said["gate.risk_lr_release"] == "passed; registered risk_lr v1 as champion"
    assert said["gate.risk_gbm_release"] == "passed; registered risk_gbm v1 as champion"


def test_a_new_registry_gets_the_models_registered(tmp_path: Path) -> None:
    doc = spec_doc()
    root = make_project(tmp_path, doc)
    assert mlspec(root, "run", "-j", "1").code == 0
    doc["project"]["registry"] = {"uri": "sqlite:///registries/new.db"}
    write_spec(root, doc)
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 0, result.stderr
    assert_only_the_gates_ran_and_registered_v1(result)
    assert (root / "registries" / "new.db").is_file()
    assert registry_rows(root) == [{"model": "risk_gbm", "version": 1, "aliases": ["champion"]},
                                   {"model": "risk_lr", "version": 1, "aliases": ["champion"]}]
    assert mlspec(root, "registry", "verify").code == 0
    assert statuses(mlspec(root, "run", "-j", "1").stderr) == dict.fromkeys(ALL_NODES, "SKIP")


@pytest.mark.parametrize("how", ["restored from a backup", "deleted and recreated"])
def test_a_registry_restored_from_backup_gets_the_models_registered(tmp_path: Path, how: str) -> None:
    root = make_project(tmp_path / "project")
    registry = root / ".mlspec" / "registry.db"
    backup = tmp_path / "backup.db"
    assert_nothing_registered(root)
    assert not registry.exists()  # reading a registry never creates it
    Registry(f"sqlite:///{registry}", root / ".mlspec" / "artifacts", root)._prepare(create=True)  # an empty one
    shutil.copyfile(registry, backup)
    first = mlspec(root, "run", "-j", "1")
    assert first.code == 0, first.stderr
    shown = show(root, "risk_lr")

    if how == "restored from a backup":
        shutil.copyfile(backup, registry)  # overwritten in place: the same file, an older content
    else:
        registry.unlink()
    assert_nothing_registered(root)

    result = mlspec(root, "run", "-j", "1")
    assert result.code == 0, result.stderr
    assert_only_the_gates_ran_and_registered_v1(result)
    assert show(root, "risk_lr")["artifact_sha256"] == shown["artifact_sha256"]
    assert mlspec(root, "registry", "verify").code == 0


# ------------------------------------------------------------------------------------------------
# gates
# ------------------------------------------------------------------------------------------------


def test_a_gate_the_model_cannot_pass_registers_nothing(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["gates"]["risk_lr_release"]["require"] = ["roc_auc >= 0.999", "accuracy >= 0.5"]
    root = make_project(tmp_path, doc)
    result = mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release")
    assert result.code == 1
    assert statuses(result.stderr) == {"source.events": "OK", "model.risk_lr": "OK", "gate.risk_lr_release": "FAIL"}
    auc = run_results(root)["model.risk_lr"]["outputs"]["metrics"]["roc_auc"]
    assert messages(result.stderr)["gate.risk_lr_release"] == (
        "gate 'risk_lr_release' failed: 1 requirement(s) not met; nothing was registered")
    assert f"    - roc_auc >= 0.999: roc_auc = {auc:.6g}, needs >= 0.999" in result.stderr.splitlines()
    assert "help: see .mlspec/reports/gate.risk_lr_release.json" in result.stderr
    assert "Done. PASS=2 SKIP=0 FAIL=1 ERROR=0 TOTAL=3" in result.stderr
    report = json.loads((root / ".mlspec" / "reports" / "gate.risk_lr_release.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "fail"
    assert [(r["text"], r["status"]) for r in report["requirements"]] == [
        ("roc_auc >= 0.999", "fail"), ("accuracy >= 0.5", "pass")]
    assert_nothing_registered(root)
    again = mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release")  # a failed gate is not cached
    assert again.code == 1
    assert statuses(again.stderr) == {"source.events": "SKIP", "model.risk_lr": "SKIP", "gate.risk_lr_release": "FAIL"}
    assert_nothing_registered(root)


def test_a_worse_candidate_fails_against_the_champion(tmp_path: Path) -> None:
    doc = spec_doc()
    root = make_project(tmp_path, doc)
    assert mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release").code == 0
    v1 = show(root, "risk_lr")
    doc["models"]["risk_lr"]["features"] = [f for f in doc["models"]["risk_lr"]["features"] if f != "signal_z"]
    write_spec(root, doc)
    result = mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release")
    assert result.code == 1
    assert statuses(result.stderr)["gate.risk_lr_release"] == "FAIL"
    worse = run_results(root)["model.risk_lr"]["outputs"]["metrics"]["roc_auc"]
    best = v1["metrics"]["roc_auc"]
    assert worse < best - 0.05
    line = (f"    - roc_auc >= champion.roc_auc - 0.001: roc_auc = {worse:.6g}, "
            f"needs >= {best - 0.001:.6g}")
    assert line in result.stderr.splitlines(), result.stderr
    report = json.loads((root / ".mlspec" / "reports" / "gate.risk_lr_release.json").read_text(encoding="utf-8"))
    assert report["champion_version"] == 1
    assert report["requirements"][1]["champion_value"] == best
    assert registry_rows(root) == [{"model": "risk_lr", "version": 1, "aliases": ["champion"]}]
    assert show(root, "risk_lr")["artifact_sha256"] == v1["artifact_sha256"]


def test_a_better_candidate_replaces_the_champion(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["models"]["risk_lr"]["features"] = ["channel_oh", "age_z", "is_night"]
    doc["gates"]["risk_lr_release"]["require"] = ["roc_auc >= 0.5", "roc_auc >= champion.roc_auc - 0.001"]
    root = make_project(tmp_path, doc)
    assert mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release").code == 0
    doc["models"]["risk_lr"]["features"].append("signal_z")
    write_spec(root, doc)
    result = mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release")
    assert result.code == 0, result.stderr
    assert messages(result.stderr)["gate.risk_lr_release"] == "passed; registered risk_lr v2 as champion"
    assert registry_rows(root) == [{"model": "risk_lr", "version": 1, "aliases": []},
                                   {"model": "risk_lr", "version": 2, "aliases": ["champion"]}]
    history = show(root, "risk_lr")["alias_history"]
    assert [(h["alias"], h["from_version"], h["to_version"]) for h in history] == [
        ("champion", None, 1), ("champion", 1, 2)]


def test_first_run_fail_policy_registers_nothing(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["gates"]["risk_lr_release"]["first_run"] = "fail"
    root = make_project(tmp_path, doc)
    result = mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release")
    assert result.code == 1
    assert "    - roc_auc >= champion.roc_auc - 0.001: no champion yet (first_run: fail)" in result.stderr.splitlines()
    assert_nothing_registered(root)


def test_approval_registers_a_challenger_and_approve_promotes_it(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["gates"]["risk_lr_release"]["approval"] = {"environment": "production"}
    root = make_project(tmp_path, doc)
    select = ("-s", "+gate:risk_lr_release")
    first = mlspec(root, "run", "-j", "1", *select)
    assert first.code == 0, first.stderr
    assert messages(first.stderr)["gate.risk_lr_release"] == (
        "passed; registered risk_lr v1 as challenger (promotion needs approval in 'production')")
    assert registry_rows(root) == [{"model": "risk_lr", "version": 1, "aliases": ["challenger"]}]
    assert show(root, "risk_lr", 1)["aliases"] == {"challenger": 1}
    assert mlspec(root, "registry", "show", "risk_lr").code == 1  # no champion yet

    assert statuses(mlspec(root, "run", "-j", "1", *select).stderr)["gate.risk_lr_release"] == "SKIP"

    approved = mlspec(root, "run", "-j", "1", "--approve", *select)
    assert approved.code == 0, approved.stderr
    assert statuses(approved.stderr) == {"source.events": "SKIP", "model.risk_lr": "SKIP",
                                         "gate.risk_lr_release": "OK"}
    assert messages(approved.stderr)["gate.risk_lr_release"] == (
        "passed; promoted risk_lr v1 to champion (approved locally)")
    assert registry_rows(root) == [{"model": "risk_lr", "version": 1, "aliases": ["champion"]}]
    history = show(root, "risk_lr")["alias_history"]
    assert [(h["alias"], h["from_version"], h["to_version"]) for h in history] == [
        ("challenger", None, 1), ("champion", None, 1), ("challenger", 1, None)]
    assert "approved locally" in history[1]["reason"]

    # once approved, nothing is left to do: a plain run and another approving run both skip the gate
    for again in (mlspec(root, "run", "-j", "1", *select), mlspec(root, "run", "-j", "1", "--approve", *select)):
        assert again.code == 0, again.stderr
        assert statuses(again.stderr)["gate.risk_lr_release"] == "SKIP", again.stderr
        assert messages(again.stderr)["gate.risk_lr_release"] == (
            "unchanged (passed; promoted risk_lr v1 to champion (approved locally))")
    assert len(show(root, "risk_lr")["alias_history"]) == 3


def test_approve_on_a_new_candidate_registers_it_as_champion_directly(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["gates"]["risk_lr_release"]["approval"] = {"environment": "production"}
    root = make_project(tmp_path, doc)
    result = mlspec(root, "run", "-j", "1", "--approve", "-s", "+gate:risk_lr_release")
    assert result.code == 0, result.stderr
    assert messages(result.stderr)["gate.risk_lr_release"] == "passed; registered risk_lr v1 as champion"
    assert registry_rows(root) == [{"model": "risk_lr", "version": 1, "aliases": ["champion"]}]
    # the no-op after `run --approve` (the README's `make demo` then `mlspec run`) skips the approved gate
    plain = mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release")
    assert plain.code == 0, plain.stderr
    assert statuses(plain.stderr) == {"source.events": "SKIP", "model.risk_lr": "SKIP",
                                      "gate.risk_lr_release": "SKIP"}
    assert "already registered" not in plain.stderr


# ------------------------------------------------------------------------------------------------
# a registry with two champions in its history (built once, copied per test)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_champions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """risk_lr v1 then v2 as champion (v2 differs only in max_iter: same metrics, new artifact)."""
    doc = spec_doc()
    root = make_project(tmp_path_factory.mktemp("two_champions"), doc)
    select = ("-s", "+gate:risk_lr_release")
    assert mlspec(root, "run", "-j", "1", *select).code == 0
    doc["models"]["risk_lr"]["params"]["max_iter"] = 600
    write_spec(root, doc)
    result = mlspec(root, "run", "-j", "1", *select)
    assert result.code == 0, result.stderr
    assert messages(result.stderr)["gate.risk_lr_release"] == "passed; registered risk_lr v2 as champion"
    return root


@pytest.fixture
def project(two_champions: Path, tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(two_champions, target)
    return target


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_rollback_moves_the_champion_back_and_records_it(project: Path) -> None:
    assert champion(project, "risk_lr") == 2
    result = mlspec(project, "registry", "rollback", "risk_lr", "--reason", "v2 misbehaves in production")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "risk_lr: champion -> v1"
    shown = show(project, "risk_lr")
    assert shown["version"] == 1
    assert shown["aliases"] == {"champion": 1}
    last = shown["alias_history"][-1]
    assert (last["alias"], last["from_version"], last["to_version"]) == ("champion", 2, 1)
    assert last["reason"] == "v2 misbehaves in production"
    assert last["actor"]
    assert [(h["from_version"], h["to_version"]) for h in shown["alias_history"]] == [(None, 1), (1, 2), (2, 1)]
    assert mlspec(project, "registry", "verify").code == 0


def test_rollback_without_an_earlier_champion_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    assert mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release").code == 0
    result = mlspec(root, "registry", "rollback", "risk_lr", "--reason", "oops")
    assert result.code == 1
    assert "model 'risk_lr' has no earlier champion to roll back to" in result.stderr
    assert champion(root, "risk_lr") == 1


def test_promote_moves_an_alias_after_verifying(project: Path) -> None:
    result = mlspec(project, "registry", "promote", "risk_lr", "--version", "1", "--alias", "challenger",
                    "--reason", "shadow traffic")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "risk_lr: challenger -> v1"
    assert show(project, "risk_lr")["aliases"] == {"champion": 2, "challenger": 1}
    unknown = mlspec(project, "registry", "promote", "risk_lr", "--version", "9", "--reason", "x")
    assert unknown.code == 1
    assert "model 'risk_lr' has no version 9" in unknown.stderr


def test_tampered_artifact_is_caught_by_verify_promote_and_load(project: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert mlspec(project, "registry", "verify").stdout.strip() == "Registry OK."
    v1 = show(project, "risk_lr", 1)
    store = project / ".mlspec" / "artifacts"
    flip_a_byte(store / key_for(v1["artifact_sha256"]))
    history_before = show(project, "risk_lr")["alias_history"]

    verify = mlspec(project, "registry", "verify")
    assert verify.code == 1
    problems = [line for line in verify.stdout.splitlines() if line.startswith("problem:")]
    assert problems == [f"problem: risk_lr v1: artifact {v1['artifact_sha256'][:12]} has been modified "
                        "(its sha256 no longer matches the registry)"]

    promote = mlspec(project, "registry", "promote", "risk_lr", "--version", "1", "--reason", "go back")
    assert promote.code == 1
    assert f"mlspec: artifact {v1['artifact_sha256'][:12]} has been modified" in promote.stderr
    assert "refusing to load a tampered model" in promote.stderr
    after = show(project, "risk_lr")
    assert after["aliases"] == {"champion": 2}
    assert after["alias_history"] == history_before

    rollback = mlspec(project, "registry", "rollback", "risk_lr", "--reason", "go back")
    assert rollback.code == 1
    assert show(project, "risk_lr")["aliases"] == {"champion": 2}

    import skops.io

    def must_not_run(*args, **kwargs):
        raise AssertionError("skops read a tampered artifact")

    monkeypatch.setattr(skops.io, "get_untrusted_types", must_not_run)
    monkeypatch.setattr(skops.io, "loads", must_not_run)
    with pytest.raises(RegistryError, match="has been modified"):
        artifacts.load(store, v1["artifact_sha256"])


def test_verified_artifact_loads_and_predicts(project: Path) -> None:
    v2 = show(project, "risk_lr", 2)
    pipeline = artifacts.load(project / ".mlspec" / "artifacts", v2["artifact_sha256"])
    frame = pd.read_csv(project / "data" / "events.csv").head(50)
    proba = pipeline.predict_proba(frame)
    assert proba.shape == (50, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_missing_artifact_is_reported_by_verify(project: Path) -> None:
    v1 = show(project, "risk_lr", 1)
    (project / ".mlspec" / "artifacts" / key_for(v1["artifact_sha256"])).unlink()
    verify = mlspec(project, "registry", "verify")
    assert verify.code == 1
    assert f"problem: risk_lr v1: artifact {v1['artifact_sha256'][:12]} is missing" in verify.stdout


# ------------------------------------------------------------------------------------------------
# errors caught before fitting
# ------------------------------------------------------------------------------------------------


def assert_training_error(root: Path, result, model: str, message: str) -> None:
    assert result.code == 1, result.stderr
    assert statuses(result.stderr)[f"model.{model}"] == "ERROR"
    assert statuses(result.stderr)[f"gate.{model}_release"] == "SKIP"
    assert message in messages(result.stderr)[f"model.{model}"], result.stderr
    assert f"  model.{model}: {message}" in result.stderr
    assert not (root / ".mlspec" / "candidates" / f"{model}.json").exists()
    assert_nothing_registered(root)


def test_single_class_label(tmp_path: Path) -> None:
    frame = make_frame()
    frame["label"] = 0
    root = make_project(tmp_path, frame=frame)
    result = mlspec(root, "run", "-j", "1")
    assert_training_error(root, result, "risk_lr", "model 'risk_lr': label 'label' has a single class")
    assert_training_error(root, result, "risk_gbm", "model 'risk_gbm': label 'label' has a single class")
    assert messages(result.stderr)["model.risk_lr"].endswith(" in 800 rows")
    assert "help: a classifier needs two classes" in result.stderr


def test_single_class_label_names_the_class_plainly(tmp_path: Path) -> None:
    frame = make_frame()
    frame["label"] = 0
    root = make_project(tmp_path, frame=frame)
    result = mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release")
    assert_training_error(root, result, "risk_lr", "model 'risk_lr': label 'label' has a single class (0) in 800 rows")
    assert "np.int64" not in result.stderr


def test_a_feature_identical_to_the_label(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["sources"]["events"]["schema"]["outcome"] = {"type": "int"}
    doc["features"]["outcome_copy"] = {"source": "events", "column": "outcome"}
    doc["models"]["risk_lr"]["features"].append("outcome_copy")
    frame = make_frame()
    frame["outcome"] = frame["label"]  # a copy under another name: the spec cannot see the leak
    root = make_project(tmp_path, doc, frame)
    result = mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release")
    assert_training_error(root, result, "risk_lr",
                          "model 'risk_lr': column 'outcome' is identical to the label 'label'")
    assert "help: the label leaked into the features; remove that feature" in result.stderr


def test_a_category_feature_identical_to_a_category_label(tmp_path: Path) -> None:
    doc = spec_doc()
    schema = doc["sources"]["events"]["schema"]
    schema["label"] = {"type": "category", "values": ["no", "yes"]}
    schema["verdict"] = {"type": "category", "values": ["no", "yes"]}
    doc["features"]["verdict_oh"] = {"source": "events", "column": "verdict", "transform": "one_hot"}
    doc["models"]["risk_lr"]["features"].append("verdict_oh")
    frame = make_frame()
    frame["label"] = np.where(frame["label"] == 1, "yes", "no")
    frame["verdict"] = frame["label"]
    root = make_project(tmp_path, doc, frame)
    result = mlspec(root, "run", "-j", "1", "-s", "+gate:risk_lr_release")
    assert_training_error(root, result, "risk_lr",
                          "model 'risk_lr': column 'verdict' is identical to the label 'label'")


def test_too_few_rows_for_a_split(tmp_path: Path) -> None:
    doc = spec_doc()
    for model in doc["models"].values():
        model["split"]["test_fraction"] = 0.75
    frame = make_frame().head(3)
    assert set(frame["label"]) == {0, 1}  # two classes: the split is what fails
    root = make_project(tmp_path, doc, frame)
    result = mlspec(root, "run", "-j", "1")
    for model in ("risk_lr", "risk_gbm"):
        assert_training_error(root, result, model, f"model '{model}': 3 row(s) cannot be split into non-empty "
                                                   "train and test sets (test_fraction 0.75)")


def test_zero_rows_is_a_training_error_not_a_crash(tmp_path: Path) -> None:
    doc = spec_doc()
    doc["sources"]["events"]["checks"]["min_rows"] = 0
    root = make_project(tmp_path, doc, make_frame().iloc[:0])
    assert (root / "data" / "events.csv").read_text(encoding="utf-8").count("\n") == 1  # the header line only
    result = mlspec(root, "run")  # default -j: the error comes back from the worker processes
    assert result.code == 1, result.stderr
    assert messages(result.stderr)["source.events"] == "0 rows, contract passed"
    for model in ("risk_lr", "risk_gbm"):
        assert_training_error(root, result, model, f"model '{model}': source 'events' has no rows to train on")
    assert "help: raise checks.min_rows on the source so empty data stops at the contract" in result.stderr


# ------------------------------------------------------------------------------------------------
# the bundled examples, trained in a copy (the repository tree stays untouched)
# ------------------------------------------------------------------------------------------------


def copy_example(name: str, target: Path) -> Path:
    """A copy of examples/<name> (specs and data, never a stale .mlspec) to run in."""
    shutil.copytree(REPO / "examples" / name, target, ignore=shutil.ignore_patterns(".mlspec"))
    return target


# The examples run with -j 1: the same code path as the default, without the cost of starting worker
# processes (parallel training is covered by test_first_run_second_run_and_force).


@pytest.mark.slow
def test_breast_cancer_example(tmp_path: Path) -> None:
    example = REPO / "examples" / "breast_cancer"
    before = tree_snapshot(example)
    root = copy_example("breast_cancer", tmp_path / "breast_cancer")
    result = mlspec(root, "run", "--approve", "-j", "1")
    assert result.code == 0, result.stderr
    assert statuses(result.stderr) == dict.fromkeys(
        ["source.biopsies", "model.diagnosis_logreg", "model.diagnosis_forest", "gate.diagnosis_release",
         "gate.diagnosis_forest_release"], "OK")
    forest = json.loads((root / ".mlspec" / "candidates" / "diagnosis_forest.json").read_text(encoding="utf-8"))
    assert forest["search"]["candidates"] == 3
    assert set(forest["search"]["best_params"]) == {"max_depth"}
    logreg = json.loads((root / ".mlspec" / "candidates" / "diagnosis_logreg.json").read_text(encoding="utf-8"))
    assert set(logreg["cv"]) == {"roc_auc", "recall", "precision", "f1"}
    assert logreg["metrics"]["roc_auc"] > 0.95
    assert tree_snapshot(example) == before  # a .mlspec/ of the README's own run there is left as it was
    # both gates pass, the forest's included: both models have a champion
    assert {r["model"] for r in registry_rows(root) if "champion" in r["aliases"]} == {
        "diagnosis_logreg", "diagnosis_forest"}
    assert mlspec(root, "registry", "verify").code == 0


@pytest.mark.slow
def test_diabetes_example(tmp_path: Path) -> None:
    root = copy_example("diabetes", tmp_path / "diabetes")
    result = mlspec(root, "run", "--approve", "-j", "1")
    assert result.code == 0, result.stderr
    assert statuses(result.stderr) == {"source.patients": "OK", "model.progression_ridge": "OK",
                                       "model.progression_gbm": "OK", "gate.progression_release": "OK"}
    assert registry_rows(root) == [{"model": "progression_ridge", "version": 1, "aliases": ["champion"]}]
    assert show(root, "progression_ridge")["metrics"]["r2"] >= 0.35
    assert mlspec(root, "registry", "verify").code == 0
    assert statuses(mlspec(root, "run", "--approve", "-j", "1").stderr) == dict.fromkeys(
        ["source.patients", "model.progression_ridge", "model.progression_gbm", "gate.progression_release"], "SKIP")


@pytest.mark.slow
def test_fraud_example(tmp_path: Path) -> None:
    root = tmp_path / "fraud"
    root.mkdir()
    shutil.copytree(REPO / "specs", root / "specs")
    shutil.copytree(REPO / "data", root / "data")
    result = mlspec(root, "run", "--approve", "-j", "1")
    assert result.code == 0, result.stderr
    found = statuses(result.stderr)
    # the live and drifted batches are for the monitor: no model trains on them, so the run skips them
    assert {node for node, status in found.items() if status != "OK"} == {"source.transactions_live",
                                                                          "source.transactions_drifted"}
    assert {found["source.transactions_live"], found["source.transactions_drifted"]} == {"SKIP"}
    assert "Done. PASS=5 SKIP=2 FAIL=0 ERROR=0 TOTAL=7" in result.stderr
    assert messages(result.stderr)["gate.fraud_gbm_release"] == (
        "passed; registered fraud_gbm v1 as champion")
    assert {(r["model"], r["version"]) for r in registry_rows(root) if "champion" in r["aliases"]} == {
        ("fraud_gbm", 1), ("fraud_logreg", 1)}
    assert mlspec(root, "registry", "verify").code == 0
