"""`Manifest.to_json`: the canonical text of generated/manifest.json, and what it cannot hold.

Canonical: sorted keys at every level, two-space indentation, a final newline, ASCII (text outside
it escaped as the standard library's `ensure_ascii` does); the text reads back as the same manifest.
orjson writes integers of at most 64 bits, so specs never get larger ones past the loader or the
expression parser: compile reports them instead of failing while writing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlspec import api
from mlspec.manifest import Manifest
from tests.conftest import REPO, run_cli, tree_snapshot

FRAUD = REPO / "tests" / "golden" / "fraud" / "specs"


def _project(tmp_path: Path, old: str = "", new: str = "") -> Path:
    root = tmp_path / "project"
    shutil.copytree(FRAUD, root / "specs")
    spec = root / "specs" / "fraud.yaml"
    text = spec.read_text(encoding="utf-8")
    assert old in text
    spec.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


def _keys_sorted(value: object) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(_keys_sorted(v) for v in value.values())
    if isinstance(value, list):
        return all(_keys_sorted(v) for v in value)
    return True


def test_the_text_is_canonical_and_reads_back_as_the_same_manifest(tmp_path: Path) -> None:
    root = _project(tmp_path, "Night-time transactions are riskier.", "Nächtliche Zahlungen, riskanter 😴.")
    manifest = api.load(root).manifest
    text = manifest.to_json()
    assert text.endswith("}\n") and text.startswith('{\n  "files": ')
    assert text.isascii() and '"description": "N\\u00e4chtliche Zahlungen, riskanter \\ud83d\\ude34."' in text
    assert text == json.dumps(manifest.model_dump(mode="json"), sort_keys=True, indent=2) + "\n"
    assert _keys_sorted(json.loads(text))
    assert all((len(line) - len(line.lstrip(" "))) % 2 == 0 for line in text.splitlines())
    assert Manifest.model_validate_json(text) == manifest
    assert Manifest.model_validate_json(text).to_json() == text


@pytest.mark.parametrize(("old", "new", "said"), [
    ("hour >= 23", "hour >= 23000000000000000000", "number '23000000000000000000' is too large"),
    ("roc_auc >= 0.88", "roc_auc >= 9223372036854775808", "number '9223372036854775808' is too large"),
    ("min_rows: 100", "min_rows: 9223372036854775808", "integer 9223372036854775808 does not fit in 64 bits"),
])
def test_integers_beyond_64_bits_are_reported_not_written(tmp_path: Path, old: str, new: str, said: str) -> None:
    root = _project(tmp_path, old, new)
    before = tree_snapshot(root)
    result = run_cli("-C", str(root), "compile")
    assert result.code == 1, result.stdout + result.stderr
    assert said in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert tree_snapshot(root) == before


def test_the_largest_64_bit_integer_is_written(tmp_path: Path) -> None:
    root = _project(tmp_path, "hour >= 23", "hour >= 9223372036854775807")
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stdout + result.stderr
    assert "9223372036854775807" in (root / "generated" / "manifest.json").read_text(encoding="utf-8")
