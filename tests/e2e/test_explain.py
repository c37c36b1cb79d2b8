"""`mlspec explain` shows an estimator's parameters, and hints list every name they announce (issue #15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec.lang.estimators import ESTIMATORS
from mlspec.lang.metrics import METRICS
from tests.conftest import run_cli


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_explain_an_estimator_lists_every_parameter_with_bounds_and_default(name: str) -> None:
    result = run_cli("explain", name)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{name}: ")
    for param in ESTIMATORS[name].params:
        line = next(line for line in lines if line.startswith(f"  {param.name}: "))
        assert param.describe_range() in line and "default" in line


def test_explain_a_misspelt_estimator_suggests_it() -> None:
    result = run_cli("explain", "random_forrest")
    assert result.code == 2 and "did you mean 'random_forest'?" in result.stderr


def test_a_hint_lists_every_name_it_announces(tmp_path: Path) -> None:
    """An unknown metric far from every name lists all of them (once the list was cut at 8, hiding roc_auc)."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "main.yaml").write_text("""\
apiVersion: mlspec/v1
project: {name: hints}
sources:
  s: {format: csv, path: data/s.csv, schema: {x: {type: float}, label: {type: int, values: [0, 1]}}}
features:
  x: {source: s, column: x}
models:
  m: {task: classification, source: s, label: label, features: [x], estimator: knn, metrics: [zzzz]}
""", encoding="utf-8")
    result = run_cli("-C", str(tmp_path), "validate")
    assert result.code == 1
    hint = next(line for line in result.stdout.splitlines() if "help:" in line)
    for name, metric in METRICS.items():
        if metric.task == "classification":
            assert name in hint
    assert "in all" not in hint
