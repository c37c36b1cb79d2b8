"""Golden trees: `mlspec compile` of each project under tests/golden/ gives expected/, byte for byte.

Each `tests/golden/<project>/` holds `specs/` and `expected/` (the generated `.github/workflows/...`
and `generated/...`). Run `pytest tests/golden --update-goldens` to rewrite expected/ from the
current code, then review the diff like any other change.

Besides the trees themselves: a second compile rewrites nothing, `mlspec compile --check` reports
missing, modified (with a unified diff) and orphaned files with exit 1, and removing a model deletes
exactly that model's files while files mlspec did not generate survive.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from mlspec.emit import CONSTRAINTS_PATH
from mlspec.emit.lintconfig import HOSTED_LABELS
from mlspec.emit.ondemand import monitors_file
from tests.conftest import run_cli, tree_snapshot
from tests.spec_factory import dump

GOLDEN = Path(__file__).resolve().parent
PROJECTS = sorted(p.name for p in GOLDEN.iterdir() if (p / "specs").is_dir())
OUTPUTS = ("generated", ".github")
OLD_TIME_NS = 1_000_000_000 * 10**9  # 2001-09-09: any rewrite would set a current time

# the model each test removes from each project (with its gates and monitors)
REMOVED_MODEL = {"breast_cancer": "diagnosis_forest", "diabetes": "progression_gbm", "everything": "churn_gbm",
                 "fraud": "fraud_logreg"}


def test_golden_projects_present() -> None:
    assert {"fraud", "breast_cancer", "diabetes", "everything"} <= set(PROJECTS)
    assert set(REMOVED_MODEL) == set(PROJECTS), "name the model the orphan test removes from each project"


def copy_project(name: str, dest: Path) -> Path:
    """A fresh copy of a golden project's specs, nothing generated yet but the pins of its expected tree
    (generated/constraints.txt is kept like a lock file: committed, it makes compile independent of the
    versions installed here)."""
    root = dest / name
    shutil.copytree(GOLDEN / name / "specs", root / "specs")
    seed_pins(name, root)
    return root


def seed_pins(name: str, root: Path) -> None:
    """Put the expected tree's generated/constraints.txt into `root`, when there is one."""
    pins = GOLDEN / name / "expected" / CONSTRAINTS_PATH
    if pins.is_file():
        (root / CONSTRAINTS_PATH).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pins, root / CONSTRAINTS_PATH)


def generated_tree(root: Path) -> dict[str, bytes]:
    """Every file under the output folders, by POSIX path relative to root."""
    return {path: data for path, data in tree_snapshot(root).items() if path.split("/", 1)[0] in OUTPUTS}


def compile_ok(root: Path) -> str:
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stdout + result.stderr
    return result.stdout


def compiled(name: str, tmp_path: Path) -> Path:
    root = copy_project(name, tmp_path)
    compile_ok(root)
    return root


def _describe(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differ = sorted(p for p in set(expected) & set(actual) if expected[p] != actual[p])
    return f"missing: {missing}\nextra: {extra}\ndiffering: {differ}\n(run pytest --update-goldens to accept)"


@pytest.mark.parametrize("name", PROJECTS)
def test_golden_tree(name: str, tmp_path: Path, update_goldens: bool) -> None:
    root = compiled(name, tmp_path)
    actual = generated_tree(root)
    assert actual, "compile generated nothing"
    expected_dir = GOLDEN / name / "expected"
    if update_goldens:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for path, data in actual.items():
            target = expected_dir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return
    assert expected_dir.is_dir(), f"no expected tree for {name}: run pytest --update-goldens"
    expected = tree_snapshot(expected_dir)
    assert actual == expected, _describe(expected, actual)
    # everything generated is listed in the manifest, and nothing else is
    listed = json.loads(actual["generated/manifest.json"])["files"]
    assert listed == sorted(actual)


@pytest.mark.parametrize("name", PROJECTS)
def test_second_compile_rewrites_nothing(name: str, tmp_path: Path) -> None:
    root = compiled(name, tmp_path)
    before = tree_snapshot(root)
    for path in generated_tree(root):
        os.utime(root / path, ns=(OLD_TIME_NS, OLD_TIME_NS))
    out = compile_ok(root)
    assert out.startswith("Nothing to do:"), out
    assert f"{len(generated_tree(root))} generated files are up to date" in out
    assert tree_snapshot(root) == before
    rewritten = [p for p in generated_tree(root) if (root / p).stat().st_mtime_ns != OLD_TIME_NS]
    assert rewritten == []
    check = run_cli("-C", str(root), "compile", "--check")
    assert check.code == 0, check.stdout + check.stderr
    assert "up to date" in check.stdout


def _no_leftovers(root: Path) -> None:
    assert [p for p in tree_snapshot(root) if p.endswith((".mlspec-new", ".mlspec-old"))] == []


@pytest.mark.parametrize("name", PROJECTS)
def test_check_reports_modified_file_with_diff(name: str, tmp_path: Path) -> None:
    root = compiled(name, tmp_path)
    target = "generated/manifest.json" if name == "diabetes" else ".github/workflows/mlspec-retrain.yml"
    original = (root / target).read_text(encoding="ascii")
    edited = original.replace("\n", "\n# hand edit\n", 1)
    (root / target).write_text(edited, encoding="ascii")
    before = tree_snapshot(root)
    result = run_cli("-C", str(root), "compile", "--check")
    assert result.code == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"modified: {target}" in lines
    assert not [line for line in lines if line.startswith(("missing:", "orphaned:"))]
    assert f"--- a/{target}" in lines and f"+++ b/{target}" in lines
    assert "-# hand edit" in lines
    assert any(line.startswith("@@ ") for line in lines)
    assert "stale" in result.stderr
    assert tree_snapshot(root) == before, "--check wrote something"
    out = compile_ok(root)
    assert "1 updated" in out and "0 created" in out and "0 deleted" in out
    assert (root / target).read_text(encoding="ascii") == original
    assert run_cli("-C", str(root), "compile", "--check").code == 0


@pytest.mark.parametrize("name", PROJECTS)
def test_check_reports_missing_file(name: str, tmp_path: Path) -> None:
    root = compiled(name, tmp_path)
    target = sorted(p for p in generated_tree(root) if p.startswith("generated/model_"))[0]
    original = (root / target).read_bytes()
    (root / target).unlink()
    result = run_cli("-C", str(root), "compile", "--check")
    assert result.code == 1, result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if line.split(":")[0] in ("missing", "modified", "orphaned")
            ] == [f"missing:  {target}"]
    assert not (root / target).exists()
    out = compile_ok(root)
    assert "1 created" in out and "0 updated" in out
    assert (root / target).read_bytes() == original


def _remove_model(root: Path, model: str) -> set[str]:
    """Delete `model`, its gates and monitors from the specs; return the files they generated."""
    gates, monitors = [], []
    documents = {}
    for path in sorted((root / "specs").glob("*.yaml")):
        documents[path] = yaml.safe_load(path.read_text(encoding="utf-8"))
    removed_monitors = {}
    for doc in documents.values():
        gates += [g for g, spec in (doc.get("gates") or {}).items() if spec["model"] == model]
        removed_monitors |= {m: spec for m, spec in (doc.get("monitors") or {}).items() if spec["model"] == model}
    monitors = list(removed_monitors)
    for path, doc in documents.items():
        changed = False
        for section, names in (("models", [model]), ("gates", gates), ("monitors", monitors)):
            for entry in names:
                if entry in (doc.get(section) or {}):
                    del doc[section][entry]
                    changed = True
        if changed:
            path.write_text(dump(doc), encoding="utf-8")
    runners = {spec.get("runner") for doc in documents.values() for spec in (doc.get("models") or {}).values()}
    # a schedule's workflow goes with its last monitor; the retrain workflow stays for the other models
    schedules = {" ".join(spec["schedule"].split()) for doc in documents.values()
                 for spec in (doc.get("monitors") or {}).values()}
    removed_schedules = {" ".join(spec["schedule"].split()) for spec in removed_monitors.values()}
    # the actionlint config goes with the last model on a self-hosted runner label
    lint_config = {".github/actionlint.yaml"} if (root / ".github" / "actionlint.yaml").is_file() \
        and runners - {None} <= HOSTED_LABELS else set()
    return ({f"generated/model_{model}.py"} | {f"generated/gate_{g}.py" for g in gates}
            | {f"generated/monitor_{m}.py" for m in monitors}
            | {f"generated/argo/monitor_{m}.yaml" for m in monitors if (root / "generated" / "argo").is_dir()}
            | {f".github/workflows/{monitors_file(cron)}" for cron in removed_schedules - schedules} | lint_config)


@pytest.mark.parametrize("name", PROJECTS)
def test_removed_model_is_orphaned_then_deleted_alone(name: str, tmp_path: Path) -> None:
    root = compiled(name, tmp_path)
    user_files = {"generated/README.md": b"notes of my own\n", "generated/helpers/util.py": b"X = 1\n",
                  ".github/workflows/ci.yml": b"name: ci\n", ".github/workflows/mlspec-mine.yml": b"name: mine\n",
                  ".github/CODEOWNERS": b"* @me\n"}
    for path, data in user_files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    before = generated_tree(root)
    gone = _remove_model(root, REMOVED_MODEL[name])
    assert gone <= set(before)

    specs_before = tree_snapshot(root)
    check = run_cli("-C", str(root), "compile", "--check")
    assert check.code == 1, check.stdout + check.stderr
    orphaned = {line.split(None, 1)[1] for line in check.stdout.splitlines() if line.startswith("orphaned:")}
    assert orphaned == gone
    assert not [line for line in check.stdout.splitlines() if line.startswith("missing:")]
    assert tree_snapshot(root) == specs_before, "--check wrote something"

    out = compile_ok(root)
    assert f"{len(gone)} deleted" in out, out
    after = generated_tree(root)
    assert set(before) - set(after) == gone
    assert set(after) <= set(before), "removing a model created files"
    for path, data in user_files.items():
        assert after[path] == data, f"{path} did not survive"
    _no_leftovers(root)
    # the result is exactly what a fresh compile of the edited specs gives, plus the user's files
    fresh = tmp_path / "fresh"
    shutil.copytree(root / "specs", fresh / "specs")
    seed_pins(name, fresh)
    compile_ok(fresh)
    assert {p: d for p, d in after.items() if p not in user_files} == generated_tree(fresh)
    assert run_cli("-C", str(root), "compile", "--check").code == 0


def test_workflow_building_is_linear_in_project_size(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mlspec import api
    from mlspec.emit import workflows
    from mlspec.manifest import Manifest
    from tests.spec_factory import generate_project

    visits = 0
    real_of_kind = Manifest.of_kind

    def counting_of_kind(self: Manifest, kind: str) -> list:
        nonlocal visits
        visits += len(self.nodes)
        return real_of_kind(self, kind)

    per_node = {}
    for models in (50, 200):
        root = tmp_path / f"p{models}"
        for path, text in generate_project(3, models).items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        manifest = api.load(root).manifest
        visits = 0
        monkeypatch.setattr(Manifest, "of_kind", counting_of_kind)
        workflows.all_workflows(manifest)
        monkeypatch.setattr(Manifest, "of_kind", real_of_kind)
        per_node[models] = visits / len(manifest.nodes)
    # linear work visits a bounded number of nodes per node; quadratic work grows with the size (x4 here)
    assert per_node[200] <= 1.5 * per_node[50], per_node
