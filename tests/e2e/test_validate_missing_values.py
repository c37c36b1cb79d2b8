"""`mlspec validate` warns (exit 0) when a nullable column reaches an estimator that refuses NaN (MLS224, issue #15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

SPEC = """\
apiVersion: mlspec/v1
project: {{name: missing}}
sources:
  customers:
    format: csv
    path: data/customers.csv
    schema:
      tenure: {{type: int, min: 0}}
      age: {{type: int, min: 18, nullable: {nullable}}}
      churned: {{type: bool}}
features:
  tenure: {{source: customers, column: tenure}}
  age_years: {{source: customers, {age}}}
models:
  churn:
    task: classification
    source: customers
    label: churned
    features: [tenure, age_years]
    estimator: {estimator}
    metrics: [roc_auc]
"""


def _validate(tmp_path: Path, nullable: str = "true", age: str = "column: age",
              estimator: str = "logistic_regression") -> tuple[int, str]:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "main.yaml").write_text(SPEC.format(nullable=nullable, age=age, estimator=estimator),
                                                  encoding="utf-8")
    result = run_cli("-C", str(tmp_path), "validate")
    return result.code, result.stdout + result.stderr


def test_a_nullable_column_into_logistic_regression_is_a_warning(tmp_path: Path) -> None:
    code, out = _validate(tmp_path)
    assert code == 0, out
    assert "warning" in out and "MLS224" in out and "feature 'age_years'" in out
    assert "impute: median" in out and "hist_gradient_boosting" in out


@pytest.mark.parametrize(("nullable", "age", "estimator"), [
    ("false", "column: age", "logistic_regression"),
    ("true", "column: age, impute: median", "logistic_regression"),
    ("true", "column: age, transform: bucketize, n_bins: 3", "knn"),
    ("true", "expr: \"where(is_null(age), 0, age)\"", "logistic_regression"),
    ("true", "column: age", "hist_gradient_boosting"),
    ("true", "column: age", "random_forest"),
])
def test_no_warning_when_missing_values_cannot_reach_the_estimator(tmp_path: Path, nullable: str, age: str,
                                                                    estimator: str) -> None:
    code, out = _validate(tmp_path, nullable, age, estimator)
    assert code == 0 and "MLS224" not in out, out
