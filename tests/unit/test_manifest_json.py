"""`Manifest.to_json`: the canonical text of generated/manifest.json, its file form, and what it cannot hold.

Canonical: sorted keys at every level, two-space indentation, a final newline, ASCII (text outside
it escaped as the standard library's `ensure_ascii` does); the text reads back as the same manifest.
The file leaves out defaults and what the reader derives (`mlspec.manifest.fileform`), losslessly; a
manifest of the previous version (1) is refused by generated scripts and read by plans.
orjson writes integers of at most 64 bits, so specs never get larger ones past the loader or the
expression parser: compile reports them instead of failing while writing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlspec import api
from mlspec.manifest import SCHEMA_VERSION, Manifest, ManifestVersionError
from tests.conftest import REPO, run_cli, tree_snapshot

FRAUD = REPO / "tests" / "golden" / "fraud" / "specs"
GOLDENS = sorted(p.parent.name for p in (REPO / "tests" / "golden").glob("*/specs"))
V1_FRAUD = Path(__file__).parent / "data" / "manifest-v1-fraud.json"  # the fraud golden's manifest, version 1


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
    assert text.endswith("}\n") and text.startswith('{\n  "nodes": ')  # no files: compile lists them
    assert text.isascii() and '"description": "N\\u00e4chtliche Zahlungen, riskanter \\ud83d\\ude34."' in text
    assert text == json.dumps(manifest.to_data(), sort_keys=True, indent=2) + "\n"
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


@pytest.mark.parametrize("golden", GOLDENS)
def test_the_file_leaves_out_defaults_and_derived_values_and_reads_back_whole(golden: str) -> None:
    manifest = api.load(REPO / "tests" / "golden" / golden).manifest
    text = manifest.to_json()
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    project = data["project"]
    for key, node in data["nodes"].items():
        kind = key.split(".")[0]
        assert not {"id", "kind", "name", "depends_on"} & set(node), (key, node)
        assert None not in node.values() and [] not in node.values(), (key, node)  # defaults
        if kind == "feature":
            assert "input_type" not in node and ("column" not in node or "inputs" not in node), (key, node)
        if kind == "model":
            assert not {"label_type", "primary_metric"} & set(node), (key, node)
            full = manifest.nodes[key]
            assert ("runner" in node) == (full.runner != project["runner"])
        for requirement in node.get("requirements", []):
            assert "metric_span" not in requirement and None not in requirement.values()
    assert Manifest.read_json(text) == manifest
    assert Manifest.read_json(text).to_json() == text


def test_a_value_its_derivation_would_not_restore_is_written() -> None:
    manifest = api.load(REPO / "tests" / "golden" / "everything").manifest
    model = next(m for m in manifest.of_kind("model") if m.runner != manifest.project.runner)
    feature = manifest.of_kind("feature")[0]
    odd = manifest.model_copy(update={"nodes": {**manifest.nodes,
                                                feature.id: feature.model_copy(update={"depends_on": []})}})
    data = odd.to_data()
    assert data["nodes"][model.id]["runner"] == model.runner  # not the project's: kept
    assert data["nodes"][feature.id]["depends_on"] == []  # the default, yet not what the reader would derive
    back = Manifest.model_validate(data)
    assert back.nodes[feature.id].depends_on == [] and back.nodes[model.id].runner == model.runner


def test_a_node_under_another_nodes_key_is_refused() -> None:
    data = api.load(REPO / "tests" / "golden" / "fraud").manifest.to_data()
    nodes = data["nodes"]
    nodes["model.elsewhere"] = {**nodes["model.fraud_gbm"], "id": "model.fraud_gbm"}
    with pytest.raises(ValueError, match=r"node 'model\.elsewhere' has id 'model\.fraud_gbm'"):
        Manifest.model_validate(data)


def test_a_version_1_manifest_is_refused_by_default_and_read_when_older_ones_are_allowed() -> None:
    text = V1_FRAUD.read_bytes()
    with pytest.raises(ManifestVersionError) as refused:
        Manifest.read_json(text)
    assert str(refused.value) == ("the manifest was written by an older mlspec (manifest version 1; this mlspec "
                                  "reads version 2)")
    assert refused.value.hint == "run `mlspec compile` and commit the result"
    old = Manifest.read_json(text, oldest=1)
    written = json.loads(text)
    assert old.schema_version == 1 and set(old.nodes) == set(written["nodes"])
    for key, node in written["nodes"].items():  # every value version 1 wrote is read as it was written
        assert old.nodes[key].model_dump(mode="json") == node, key
    assert old.project.model_dump(mode="json") == written["project"]
    # written again, it is this version's file, which reads back with the same values
    rewritten = Manifest.read_json(old.to_json())
    assert rewritten.schema_version == SCHEMA_VERSION and rewritten.nodes == old.nodes


def test_a_manifest_of_a_newer_mlspec_is_refused_with_what_to_do() -> None:
    data = json.loads(V1_FRAUD.read_text(encoding="utf-8"))
    data["schema_version"] = SCHEMA_VERSION + 1
    for oldest in (1, SCHEMA_VERSION):
        with pytest.raises(ManifestVersionError, match=r"written by a newer mlspec \(manifest version 3; this "
                           r"mlspec reads up to version 2\)") as refused:
            Manifest.read_json(json.dumps(data), oldest=oldest)
        assert refused.value.hint == "upgrade mlspec (pip install -U mlspec-gitops)"
