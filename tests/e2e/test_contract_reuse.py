"""A source reuses another's contract (`schema: {like: SOURCE, ...}`, issue #15), end to end.

The live batch of a model declares its columns once, as the training source's less the label: the
manifest holds the full contract, `mlspec run` checks the batch against every reused column (a
category value the training contract does not allow fails the run, naming the column), and a batch
that keeps to it passes.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

SPEC = """\
apiVersion: mlspec/v1
project: {name: reuse, python: "3.11", seed: 3}
sources:
  transactions:
    format: csv
    path: data/transactions.csv
    schema:
      amount: {type: float, min: 0}
      merchant: {type: category, values: [grocery, travel]}
      is_fraud: {type: int, values: [0, 1]}
  transactions_live:
    format: csv
    path: data/live.csv
    schema: {like: transactions, drop: [is_fraud], add: {batch: {type: int}}}
    checks: {min_rows: 2}
  transactions_labelled:
    format: csv
    path: data/labelled.csv
    schema:
      like: transactions_live
      override: {merchant: {type: category, values: [grocery, travel, online]}}
      add: {is_fraud: {type: int, values: [0, 1], nullable: true}}
features:
  amount: {source: transactions, column: amount}
models:
  fraud:
    task: classification
    source: transactions
    label: is_fraud
    features: [amount]
    estimator: logistic_regression
    metrics: [roc_auc]
"""


def _project(tmp_path: Path, live: str) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "main.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "transactions.csv").write_text(
        "amount,merchant,is_fraud\n1.5,grocery,0\n2.0,travel,1\n", encoding="utf-8")
    (tmp_path / "data" / "live.csv").write_text(live, encoding="utf-8")
    (tmp_path / "data" / "labelled.csv").write_text(
        "amount,merchant,batch,is_fraud\n1.0,online,1,\n2.0,grocery,1,1\n", encoding="utf-8")
    return tmp_path


def test_the_manifest_holds_the_full_reused_contract(tmp_path: Path) -> None:
    root = _project(tmp_path, "amount,merchant,batch\n1.0,grocery,7\n3.0,travel,7\n")
    result = run_cli("-C", str(root), "ls", "--output", "json")
    assert result.code == 0, result.stderr
    from mlspec import api

    nodes = api.load(root).manifest.nodes
    live = nodes["source.transactions_live"].columns
    assert sorted(live) == ["amount", "batch", "merchant"]
    assert live["merchant"].values == ["grocery", "travel"] and live["amount"].min == 0
    labelled = nodes["source.transactions_labelled"].columns
    assert sorted(labelled) == ["amount", "batch", "is_fraud", "merchant"]
    assert labelled["merchant"].values == ["grocery", "travel", "online"]
    assert labelled["is_fraud"].nullable is True
    assert json.dumps(nodes["source.transactions_live"].model_dump()).count("like") == 0


def test_run_checks_a_batch_against_the_reused_columns(tmp_path: Path) -> None:
    root = _project(tmp_path, "amount,merchant,batch\n1.0,grocery,7\n3.0,online,7\n")
    result = run_cli("-C", str(root), "run", "-s", "source:transactions_live")
    assert result.code == 1
    assert "merchant" in result.stdout + result.stderr
    assert "online" in result.stdout + result.stderr


def test_run_passes_a_batch_that_keeps_to_the_reused_contract(tmp_path: Path) -> None:
    root = _project(tmp_path, "amount,merchant,batch\n1.0,grocery,7\n3.0,travel,7\n")
    result = run_cli("-C", str(root), "run", "-s", "source:transactions_live source:transactions_labelled")
    assert result.code == 0, result.stdout + result.stderr
