"""The committed JSON Schema is current, is valid draft-07, documents every field, and accepts the examples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlspec.api import json_schema_text
from tests.conftest import REPO

SCHEMA = REPO / "schema" / "mlspec-v1.json"
EXAMPLE_SPECS = sorted([*REPO.glob("specs/*.yaml"), *REPO.glob("examples/*/specs/*.yaml")])


def test_committed_schema_is_current() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == json_schema_text(), "run: mlspec schema"


def test_schema_is_valid_draft7() -> None:
    jsonschema.Draft7Validator.check_schema(json.loads(json_schema_text()))


def test_every_property_has_a_description() -> None:
    missing: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, prop in node.get("properties", {}).items():
                if "description" not in prop:
                    missing.append(f"{where}/{key}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(json.loads(json_schema_text()), "")
    assert missing == []


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_examples_validate_against_schema(path: Path) -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
    assert errors == []


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_examples_carry_the_schema_modeline(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == SCHEMA.resolve()


def test_schema_rejects_what_the_validator_rejects() -> None:
    validator = jsonschema.Draft7Validator(json.loads(json_schema_text()))
    bad = {"apiVersion": "mlspec/v1", "models": {"m": {"task": "classify", "estimater": "x"}}}
    assert list(validator.iter_errors(bad))
