"""Monitoring unchanged data never alerts; too little data is counted in rows (issue #15).

The prediction reference used to be the model's predictions on its own training rows, where a
forest is far more confident than on rows it has not seen: a fresh batch from the very distribution
the model was trained on raised "drift in the predictions". It is now made of held-out predictions,
and a batch that is the training data itself meets the model's predictions on that data. Both
batches are monitored here for every estimator of the allowlist, with the default measure
(Wasserstein) and with KS, on generated data, through the real CLI.

Drift's `min_rows` counted the non-missing values of each column, so a batch of exactly min_rows rows
with one missing value was "insufficient data" everywhere; it counts rows now, and the summary says
how many of the columns that could be judged drifted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlspec.lang.estimators import ESTIMATORS
from tests.conftest import run_cli
from tests.spec_factory import dump

ROWS = 5000  # fewer, and a batch's sampling noise alone comes near the default thresholds (0.1)
ALLOWLIST = [(task, name) for task in ("classification", "regression") for name, estimator in ESTIMATORS.items()
             if task in estimator.tasks]
METHODS = ("wasserstein", "ks")
SCHEMA = {"x": {"type": "float", "nullable": True}, "z": {"type": "float", "nullable": True},
          "c": {"type": "category", "values": ["a", "b", "c"], "nullable": True},
          "label": {"type": "int", "values": [0, 1]}, "target": {"type": "float"}}


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)  # the monitor would call `gh` to open issues
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def sample(rows: int, seed: int) -> pd.DataFrame:
    """Rows of one fixed distribution: a class label and a numeric target driven by x, z and c."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(0, 1, rows), rng.gamma(2.0, 2.0, rows)
    c = rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2])
    signal = 1.5 * x - 0.3 * z + (c == "a")
    return pd.DataFrame({"x": x.round(5), "z": z.round(5), "c": c,
                         "label": (rng.random(rows) < 1 / (1 + np.exp(-signal))).astype(int),
                         "target": (signal + rng.normal(0, 0.5, rows)).round(5)})


def source(path: str) -> dict:
    return {"format": "csv", "path": path, "schema": {k: dict(v) for k, v in SCHEMA.items()}}


def project(root: Path, models: dict, monitors: dict, *, features: dict | None = None) -> Path:
    """specs/p.yaml over data/train.csv (source `train`) and any other CSV under data/ (a source each)."""
    sources = {path.stem: source(f"data/{path.name}") for path in sorted((root / "data").glob("*.csv"))}
    metric = {"classification": "roc_auc", "regression": "rmse"}
    doc = {
        "apiVersion": "mlspec/v1",
        "project": {"name": "soundness", "python": "3.11", "seed": 3},
        "sources": sources,
        "features": features or {"fx": {"source": "train", "column": "x", "transform": "standardize"},
                                 "fz": {"source": "train", "column": "z", "transform": "standardize"},
                                 "fc": {"source": "train", "column": "c", "transform": "one_hot"}},
        "models": models,
        "gates": {f"{name}_release": {"model": name, "require": [f"{metric[m['task']]} >= 0"]}
                  for name, m in models.items()},
        "monitors": monitors,
    }
    (root / "specs").mkdir(exist_ok=True)
    (root / "specs" / "p.yaml").write_text(dump(doc), encoding="utf-8")
    return root


def a_model(task: str, estimator: str, features: list[str] | None = None) -> dict:
    return {"task": task, "source": "train", "label": "label" if task == "classification" else "target",
            "features": features or ["fx", "fz", "fc"], "estimator": estimator,
            "metrics": ["roc_auc"] if task == "classification" else ["rmse"]}


def a_monitor(model: str, method: str, **drift) -> dict:
    return {"model": model, "data": "fresh", "schedule": "0 6 * * *", "drift": {"method": method, **drift}}


def monitor(root: Path, batch: str) -> dict[str, dict]:
    """`mlspec monitor --data BATCH`: every monitor's report, by monitor name."""
    result = run_cli("-C", str(root), "monitor", "--data", batch)
    assert result.code in (0, 1), result.stderr
    folder = root / ".mlspec" / "reports"
    return {path.parent.name.removeprefix("monitor."): json.loads(path.read_text(encoding="utf-8"))
            for path in folder.glob("monitor.*/report.json")}


def write_batches(root: Path, rows: int = ROWS) -> None:
    (root / "data").mkdir(parents=True)
    sample(rows, 1).to_csv(root / "data" / "train.csv", index=False)
    sample(rows, 2).to_csv(root / "data" / "fresh.csv", index=False)  # new rows, the same distribution


def explain(report: dict) -> str:
    drift = report["drift"]
    scores = {c["column"]: (c["score"], c["verdict"]) for c in drift["columns"]}
    prediction = drift["prediction"]
    return (f"{report['reasons']}; columns {scores}; predictions {prediction['score']} > {prediction['threshold']}? "
            f"{prediction['verdict']} {prediction['note']}")


def assert_sound(report: dict) -> None:
    assert report["verdict"] == "ok", explain(report)
    assert report["drift"]["verdict"] == "ok" and report["drift"]["drifted"] == [], explain(report)
    assert report["drift"]["prediction"]["verdict"] == "ok", explain(report)


# ------------------------------------------------------------------------------------------------
# every estimator of the allowlist, trained once
# ------------------------------------------------------------------------------------------------


def model_name(task: str, estimator: str) -> str:
    return f"{task[:3]}_{estimator}"


@pytest.fixture(scope="module")
def every_estimator(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    """Reports of every monitor on the training data itself and on a fresh batch, by batch."""
    root = tmp_path_factory.mktemp("allowlist")
    write_batches(root)
    models = {model_name(task, name): a_model(task, name) for task, name in ALLOWLIST}
    project(root, models, {f"{name}_{method}": a_monitor(name, method) for name in models for method in METHODS})
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GITHUB_ACTIONS", raising=False)
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        result = run_cli("-C", str(root), "run")
        assert result.code == 0, result.stderr
        return {batch: monitor(root, batch) for batch in ("train", "fresh")}


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("batch", ["train", "fresh"])
@pytest.mark.parametrize(("task", "estimator"), ALLOWLIST, ids=[f"{t}-{e}" for t, e in ALLOWLIST])
def test_monitoring_unchanged_data_never_alerts(every_estimator: dict, task: str, estimator: str, batch: str,
                                                method: str) -> None:
    report = every_estimator[batch][f"{model_name(task, estimator)}_{method}"]
    assert report["rows"] == ROWS and report["drift"]["evaluated"] == 3
    assert_sound(report)
    on_training = report["drift"]["prediction"]["note"]
    assert bool(on_training) == (batch == "train"), on_training


def test_a_forest_on_a_fresh_batch_of_its_own_distribution_is_ok(tmp_path: Path) -> None:
    # the fast guard of the sweep above, on the estimator whose in-sample predictions are the most confident
    write_batches(tmp_path, 1000)
    project(tmp_path, {"trees": a_model("classification", "extra_trees")},
            {"trees_ks": a_monitor("trees", "ks")})
    assert run_cli("-C", str(tmp_path), "run").code == 0
    fresh, train = monitor(tmp_path, "fresh")["trees_ks"], monitor(tmp_path, "train")["trees_ks"]
    assert_sound(fresh)
    assert_sound(train)
    assert train["drift"]["prediction"]["note"] == ("this batch is the model's training data: compared with its "
                                                    "predictions on it")
    # the reference is held out: the test split's 200 predictions, then out-of-fold ones for the other 800 rows
    profile = json.loads((tmp_path / ".mlspec" / "candidates" / "trees.json").read_text(encoding="utf-8"))["profile"]
    assert profile["prediction"]["count"] == 1000
    assert profile["prediction_on_training_data"]["count"] == 1000


# ------------------------------------------------------------------------------------------------
# min_rows counts rows; the summary counts the columns it could judge
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rows")
    write_batches(root, 1000)
    one_missing = sample(200, 4)  # exactly min_rows rows, one value missing in each column
    one_missing = one_missing.astype({"x": object, "z": object, "c": object})
    for row, column in ((5, "x"), (6, "z"), (7, "c")):
        one_missing.loc[row, column] = None
    one_missing.to_csv(root / "data" / "one_missing.csv", index=False)
    shifted = sample(250, 5)
    shifted["x"] += 2.0
    shifted["z"] = np.nan  # every value missing: this column cannot be judged
    shifted.to_csv(root / "data" / "shifted.csv", index=False)
    features = {"fx": {"source": "train", "column": "x", "transform": "standardize", "impute": "median"},
                "fz": {"source": "train", "column": "z", "transform": "standardize", "impute": "median"},
                "fc": {"source": "train", "column": "c", "transform": "one_hot", "impute": "most_frequent"}}
    monitors = {"lr_drift": a_monitor("lr", "psi", min_rows=200, prediction=False)}
    project(root, {"lr": a_model("classification", "logistic_regression")}, monitors, features=features)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GITHUB_ACTIONS", raising=False)
        result = run_cli("-C", str(root), "run")
    assert result.code == 0, result.stderr
    return root


def test_one_missing_value_in_a_batch_of_min_rows_rows_leaves_every_column_judged(small_batches: Path,
                                                                                  tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(small_batches, root)
    report = monitor(root, "one_missing")["lr_drift"]
    columns = {c["column"]: c for c in report["drift"]["columns"]}
    assert {name: c["verdict"] for name, c in columns.items()} == {"c": "ok", "x": "ok", "z": "ok"}, columns
    assert {c["rows"] for c in columns.values()} == {200}
    assert all(c["null_rate_live"] == pytest.approx(1 / 200) for c in columns.values())
    assert report["verdict"] == "ok" and report["drift"]["evaluated"] == 3
    summary = (root / ".mlspec" / "reports" / "monitor.lr_drift" / "summary.md").read_text(encoding="utf-8")
    assert "### Drift: ok (0 of 3 evaluated columns drifted, 0%)\n" in summary


def test_the_summary_states_the_drifted_share_of_the_columns_it_could_judge(small_batches: Path,
                                                                            tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(small_batches, root)
    report = monitor(root, "shifted")["lr_drift"]
    columns = {c["column"]: c for c in report["drift"]["columns"]}
    assert columns["z"]["verdict"] == "insufficient_data"
    assert columns["z"]["note"] == "every one of the 250 live values is missing"
    assert report["drift"]["drifted"] == ["x"] and report["drift"]["evaluated"] == 2
    assert report["drift"]["share"] == 0.5
    summary = (root / ".mlspec" / "reports" / "monitor.lr_drift" / "summary.md").read_text(encoding="utf-8")
    assert ("### Drift: drift (1 of 2 evaluated columns drifted, 50%; 1 more had too little data to judge)\n"
            in summary)
    page = (root / ".mlspec" / "reports" / "monitor.lr_drift" / "report.html").read_text(encoding="utf-8")
    assert "<p>1 of 2 evaluated columns drifted, 50%; 1 more had too little data to judge.</p>" in page
