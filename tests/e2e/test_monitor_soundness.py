"""Monitoring unchanged data never alerts; too little data is counted in rows (issue #15).

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

from tests.conftest import run_cli
from tests.spec_factory import dump

ROWS = 1000
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


# ------------------------------------------------------------------------------------------------
# min_rows counts rows; the summary counts the columns it could judge
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rows")
    write_batches(root)
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
