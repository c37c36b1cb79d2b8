"""`mlspec compile` on hostile specs: spec text never becomes code, names are safe, links are refused.

- taint: a marker and hostile payloads in every free-text field (and in a spec file's name) never
  reach a `run:` script, a `${{ }}` expression or a key of a workflow, and in generated Python live
  only inside string constants; every generated file is ASCII.
- names: every shape of name the schema accepts gives working file names and job ids; hostile names
  are refused at validation, and nothing is written.
- symbolic links in the output folders are never written through.
- a spec error writes nothing.
"""

from __future__ import annotations

import ast
import io
import json
import re
import shutil
import sys
import tokenize
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_cli, tree_snapshot
from tests.spec_factory import dump

TAINT = "TAINT_ab12"  # free text: must never reach a workflow at all
LABEL = "TAINTLBL_cd34"  # pattern-checked fields (runner, environment, paths, columns): values only
PAYLOAD = (TAINT + " \"; import os; os.system('id'); x=\" ${{ secrets.X }} ${{ github.event.issue.title }} $(id) "
           "`id` '; id; ' \n{{ 7*7 }} {% raw %}{{ config }}{% endraw %} ''' \"\"\" \\ \\n # -- */ <!-- "
           "\u00e9 \u00fc \u65e5\u672c \U0001f40d \u0430 \t done: yes\n- item\n" + TAINT)
# URLs refuse `${` that is not an ${env:VAR} reference, and hold no line breaks
URL_PAYLOAD = PAYLOAD.replace("${", "{").replace("\n", " ")
HOSTILE_FILE = "specs/" + TAINT + " $(id) `id` \"; x='\non: pwned ${{ secrets.X }} {{ 7*7 }}.yaml"
EXPR_RE = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


def _schema() -> dict:
    return {
        "order_id": {"type": "int", "unique": True, "description": PAYLOAD},
        "placed_at": {"type": "datetime", "description": PAYLOAD},
        "total": {"type": "float", "min": 0, "description": PAYLOAD},
        "channel": {"type": "category", "values": ["web", PAYLOAD], "description": PAYLOAD},
        LABEL: {"type": "string", "nullable": True, "description": PAYLOAD},
        "note": {"type": "string", "nullable": True, "description": PAYLOAD},
        "churned": {"type": "int", "values": [0, 1], "description": PAYLOAD},
    }


def taint_documents() -> dict[str, dict]:
    """A valid project with PAYLOAD in every free-text field and LABEL in every pattern-checked one."""
    query = "SELECT * FROM orders WHERE note <> '" + PAYLOAD.replace("'", "''") + "'"
    row_check = {"name": "note_ok", "expr": "note != \"" + TAINT + " $(id) ${{ x }} '\" or is_null(note)",
                 "description": PAYLOAD}
    return {
        "specs/project.yaml": {"apiVersion": "mlspec/v1", "project": {
            "name": "taint", "description": PAYLOAD,
            "registry": {"uri": "postgresql://u:${env:REGISTRY_PASSWORD}@h/" + TAINT + "?application_name="
                         + URL_PAYLOAD},
            "artifacts": {"uri": "store/" + LABEL}, "runner": LABEL, "install": "./" + LABEL + "[postgres]"}},
        "specs/data.yaml": {"apiVersion": "mlspec/v1", "sources": {
            "orders": {"description": PAYLOAD, "format": "sql",
                       "uri": "postgresql://r:${env:PG_PASSWORD}@h/" + TAINT + "?application_name=" + URL_PAYLOAD,
                       "query": query, "timestamp": "placed_at", "schema": _schema(),
                       "checks": {"min_rows": 10, "rows": [row_check]}},
            "live": {"description": PAYLOAD, "format": "csv", "path": "data/" + LABEL + ".csv", "delimiter": ";",
                     "timestamp": "placed_at", "schema": _schema()}},
            "features": {
                "total_log": {"source": "orders", "column": "total", "transform": "log1p", "description": PAYLOAD},
                "chan": {"source": "orders", "column": "channel", "transform": "one_hot", "description": PAYLOAD},
                "label_f": {"source": "orders", "column": LABEL, "transform": "one_hot", "description": PAYLOAD},
                "filled": {"source": "orders", "column": "channel", "transform": "one_hot", "impute": "constant",
                           "fill_value": PAYLOAD, "description": PAYLOAD},
                "big": {"source": "orders", "expr": "where(note == \"" + TAINT + " `id`\", 1, 0)",
                        "description": PAYLOAD}}},
        HOSTILE_FILE: {"apiVersion": "mlspec/v1",
                       "models": {"m1": {"description": PAYLOAD, "task": "classification", "source": "orders",
                                         "label": "churned", "features": ["total_log", "chan", "filled", "big"],
                                         "estimator": "logistic_regression", "metrics": ["roc_auc"],
                                         "runner": LABEL}},
                       "gates": {"g1": {"description": PAYLOAD, "model": "m1", "require": ["roc_auc >= 0.5"],
                                        "approval": {"environment": LABEL}}},
                       "monitors": {"mon1": {"description": PAYLOAD, "model": "m1", "data": "orders",
                                             "schedule": "0 6 * * *", "drift": {"method": "psi"},
                                             "on_alert": ["open_issue", "retrain"]}}},
    }


def write_project(root: Path, documents: dict[str, dict]) -> Path:
    for path, doc in documents.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(dump(doc), encoding="utf-8")
    return root


def _walk(value: object, on_key, on_value, key: object = None) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            on_key(k)
            _walk(v, on_key, on_value, k)
    elif isinstance(value, list):
        for item in value:
            _walk(item, on_key, on_value, key)
    else:
        on_value(key, value)


def _check_workflow(path: Path) -> int:
    """Assert the taint rules on one workflow; return how many values carry LABEL."""
    text = path.read_bytes().decode("ascii")
    for number, line in enumerate(text.splitlines(), 1):
        if TAINT in line:
            assert line.startswith("#"), f"{path.name}:{number}: free text outside a comment: {line!r}"
    document = yaml.safe_load(text)
    seen = []

    def on_key(key: object) -> None:
        assert TAINT not in str(key) and LABEL not in str(key), f"{path.name}: tainted key {key!r}"

    def on_value(key: object, value: object) -> None:
        if not isinstance(value, str):
            return
        assert TAINT not in value, f"{path.name}: free text in the value of {key!r}: {value!r}"
        if key == "run":
            assert LABEL not in value and "${{" not in value, f"{path.name}: tainted run: {value!r}"
        for expression in EXPR_RE.findall(value):
            assert LABEL not in expression, f"{path.name}: tainted expression {expression!r}"
        if LABEL in value:
            seen.append(value)

    _walk(document, on_key, on_value)
    return len(seen)


def _check_python(path: Path, text: str) -> None:
    tree = ast.parse(text, filename=str(path))
    for node in ast.walk(tree):
        for field, value in ast.iter_fields(node):
            if isinstance(node, ast.Constant) and field == "value":
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    assert TAINT not in item and LABEL not in item, f"{path.name}: {type(node).__name__}.{field}"
        if isinstance(node, ast.Constant) and not isinstance(node.value, str):
            assert TAINT not in repr(node.value)
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if TAINT in token.string or LABEL in token.string:
            assert token.type in (tokenize.STRING, tokenize.COMMENT), f"{path.name}: tainted token {token}"
    # the template's shape, whatever the text: docstring, 2 imports, 3 constants, the main guard
    kinds = [type(statement).__name__ for statement in tree.body]
    assert kinds == ["Expr", "Import", "ImportFrom", "Assign", "Assign", "Assign", "If"], kinds
    names = [statement.targets[0].id for statement in tree.body[3:6]]
    assert names == ["NODE_ID", "SOURCE_SPEC", "DESCRIPTION"]


def test_spec_text_never_becomes_code(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", taint_documents())
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stdout + result.stderr
    files = {p: d for p, d in tree_snapshot(root).items() if not p.startswith("specs/")}
    for path, data in files.items():
        assert data.isascii(), f"{path} is not ASCII"

    label_values = 0
    workflows = sorted(p for p in files if p.startswith(".github/workflows/"))
    assert {".github/workflows/mlspec-main.yml", ".github/workflows/mlspec-pr.yml",
            ".github/workflows/mlspec-retrain.yml", ".github/workflows/mlspec-monitors-0_6_x_x_x.yml"} <= set(workflows)
    for path in workflows:
        label_values += _check_workflow(root / path)
    assert label_values > 0, "LABEL fields (runner, environment, ...) should reach workflows as values"

    scripts = sorted(p for p in files if p.endswith(".py"))
    assert scripts == ["generated/gate_g1.py", "generated/model_m1.py", "generated/monitor_mon1.py",
                       "generated/source_live.py", "generated/source_orders.py"]
    for path in scripts:
        text = files[path].decode("ascii")
        _check_python(root / path, text)
        namespace = {stmt.targets[0].id: ast.literal_eval(stmt.value)
                     for stmt in ast.parse(text).body if isinstance(stmt, ast.Assign)}
        assert namespace["DESCRIPTION"] == PAYLOAD, "descriptions must survive exactly, as string constants"
        assert namespace["SOURCE_SPEC"] in ("specs/data.yaml", HOSTILE_FILE)

    manifest = json.loads(files["generated/manifest.json"].decode("ascii"))
    assert manifest["project"]["description"] == PAYLOAD
    assert manifest["nodes"]["model.m1"]["file"] == HOSTILE_FILE


def test_non_ascii_spec_file_name_does_not_crash(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(REPO / "specs", root / "specs")
    (root / "specs" / "fraud.yaml").rename(root / "specs" / "fraud\u00e9 \U0001f40d.yaml")
    assert run_cli("-C", str(root), "validate").code == 0
    result = run_cli("-C", str(root), "compile")  # an uncaught exception fails here
    assert result.code in (0, 1), result.stdout + result.stderr
    for path, data in tree_snapshot(root).items():
        assert path.startswith("specs/") or data.isascii(), f"{path} is not ASCII"


# ------------------------------------------------------------------------------------------------
# names
# ------------------------------------------------------------------------------------------------

_LONG = "n" + "_0" * 23 + "z"  # 48 characters, the longest a name may be
_ODD_MODELS = ["a", "a_1", "a__b_", _LONG, "no", "on", "true", "null", "y", "nan", "inf", "e1", "x0777", "print"]


def _names_documents(models: list[str], *, gate: str = "g", monitor: str = "mon") -> dict[str, dict]:
    schema = {"id": {"type": "int"}, "t": {"type": "datetime"}, "x": {"type": "float"},
              "label": {"type": "int", "values": [0, 1]}}
    source = {"format": "csv", "path": "data/d.csv", "timestamp": "t", "schema": schema}
    docs = {"apiVersion": "mlspec/v1", "project": {"name": "names", "ci_state": "ephemeral"},
            "sources": {"s": source, "s_live": dict(source)},
            "features": {"f": {"source": "s", "column": "x"}},
            "models": {m: {"task": "classification", "source": "s", "label": "label", "features": ["f"],
                           "estimator": "logistic_regression", "metrics": ["roc_auc"]} for m in models},
            "gates": {gate: {"model": models[0], "require": ["roc_auc >= 0.5"], "approval": {"environment": "prod"}}},
            "monitors": {monitor: {"model": models[-1], "data": "s_live", "schedule": "0 0 * * 0",
                                   "quality": {"max_failed_rows": 0.1}}}}
    return {"specs/all.yaml": docs}


def test_every_accepted_name_shape_gives_safe_paths_and_job_ids(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", _names_documents(_ODD_MODELS, gate=_LONG, monitor="y"))
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stdout + result.stderr
    generated = {p for p in tree_snapshot(root) if not p.startswith("specs/")}
    expected = ({f"generated/model_{m}.py" for m in _ODD_MODELS}
                | {"generated/source_s.py", "generated/source_s_live.py", f"generated/gate_{_LONG}.py",
                   "generated/monitor_y.py", ".github/workflows/mlspec-monitors-0_0_x_x_0.yml",
                   "generated/manifest.json", ".github/workflows/mlspec-retrain.yml",
                   ".github/workflows/mlspec-pr.yml", ".github/workflows/mlspec-main.yml"})
    assert expected <= generated, sorted(expected - generated)
    safe_path = re.compile(r"generated/[a-z0-9_]+\.(py|json|txt)|\.github/workflows/mlspec-[a-z0-9_-]+\.yml")
    assert all(safe_path.fullmatch(p) for p in generated), sorted(generated)
    job_id = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
    main = yaml.safe_load((root / ".github/workflows/mlspec-main.yml").read_text(encoding="ascii"))
    assert set(main["jobs"]) == ({"validate", "plan", "record"} | {f"train_{m}" for m in _ODD_MODELS}
                                 | {f"gate_{_LONG}", f"promote_{_LONG}"})
    retrain = yaml.safe_load((root / ".github/workflows/mlspec-retrain.yml").read_text(encoding="ascii"))
    # every name is a choice, as the string it is (YAML's `no`, `on`, `null`... quoted)
    assert retrain["on"]["workflow_dispatch"]["inputs"]["model"]["options"] == sorted(_ODD_MODELS)
    monitors = yaml.safe_load((root / ".github/workflows/mlspec-monitors-0_0_x_x_0.yml").read_text(encoding="ascii"))
    assert monitors["on"]["workflow_dispatch"]["inputs"]["monitor"]["options"] == ["y"]
    assert set(monitors["jobs"]) == {"check", "monitor_y"}
    for path in generated:
        if path.endswith(".yml"):
            document = yaml.safe_load((root / path).read_text(encoding="ascii"))
            assert isinstance(document["name"], str)
            assert all(job_id.fullmatch(j) for j in document["jobs"]), path
            for job in document["jobs"].values():
                for step in job["steps"]:
                    if "run" in step:
                        # names, file names, options and "$VARIABLES" only: no quotes, ;, `, $( or ${{
                        assert re.fullmatch(r"[A-Za-z0-9_ ./\"$>\\\n-]+", step["run"]), step["run"]
        elif path.endswith(".py"):
            ast.parse((root / path).read_text(encoding="ascii"))
    actionlint = Path(sys.executable).parent / "actionlint"
    if actionlint.is_file():
        import subprocess

        files = sorted(str(root / p) for p in generated if p.endswith(".yml"))
        lint = subprocess.run([str(actionlint), "-pyflakes=", "-shellcheck=", *files], capture_output=True,
                              text=True, timeout=120)
        assert lint.returncode == 0, lint.stdout


@pytest.mark.parametrize("bad", ["../evil", "a;id", "Fraud", "fraud-gbm", "\u0430pple", "class", "match",
                                 "n" * 49, "a b", "_x", "1a", "x$(id)", "x\u200b"])
def test_hostile_names_are_refused_and_nothing_is_written(tmp_path: Path, bad: str) -> None:
    documents = _names_documents(["good", bad])
    root = write_project(tmp_path / "p", documents)
    before = tree_snapshot(root)
    result = run_cli("-C", str(root), "compile")
    assert result.code == 1, result.stdout + result.stderr
    assert "MLS" in result.stderr
    assert tree_snapshot(root) == before
    assert not (root / "generated").exists() and not (root / ".github").exists()


# ------------------------------------------------------------------------------------------------
# symbolic links
# ------------------------------------------------------------------------------------------------


def _fraud(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "specs", root / "specs")
    (root / "README.md").write_text("the user's readme\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("outside", [False, True])
def test_symlinked_generated_file_is_refused(tmp_path: Path, outside: bool) -> None:
    root = _fraud(tmp_path)
    victim = tmp_path / "outside.txt" if outside else root / "README.md"
    victim.write_text("precious\n", encoding="utf-8")
    (root / "generated").mkdir()
    link = root / "generated" / "model_fraud_gbm.py"
    link.symlink_to(victim if outside else Path("..") / "README.md")
    result = run_cli("-C", str(root), "compile")
    assert result.code != 0
    assert "symbolic link" in result.stderr
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert link.is_symlink()
    assert sorted(p.name for p in (root / "generated").iterdir()) == ["model_fraud_gbm.py"]
    assert not (root / ".github").exists()
    assert run_cli("-C", str(root), "compile", "--check").code != 0


@pytest.mark.parametrize("folder", ["generated", ".github", ".github/workflows"])
def test_symlinked_output_folder_is_refused(tmp_path: Path, folder: str) -> None:
    root = _fraud(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / folder).parent.mkdir(parents=True, exist_ok=True)
    (root / folder).symlink_to(elsewhere, target_is_directory=True)
    before = tree_snapshot(root)
    result = run_cli("-C", str(root), "compile")
    assert result.code != 0
    assert "symbolic link" in result.stderr
    assert list(elsewhere.iterdir()) == []
    assert tree_snapshot(root) == before


def test_symlinked_staging_file_is_not_written_through(tmp_path: Path) -> None:
    root = _fraud(tmp_path)
    (root / "generated").mkdir()
    (root / "generated" / "model_fraud_gbm.py.mlspec-new").symlink_to(Path("..") / "README.md")
    run_cli("-C", str(root), "compile")
    assert (root / "README.md").read_text(encoding="utf-8") == "the user's readme\n"
    assert not (root / "generated" / "model_fraud_gbm.py").is_symlink()


# ------------------------------------------------------------------------------------------------
# a spec error writes nothing
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("generated_before", [False, True])
def test_spec_error_writes_nothing(tmp_path: Path, generated_before: bool) -> None:
    root = _fraud(tmp_path)
    if generated_before:
        assert run_cli("-C", str(root), "compile").code == 0
        (root / "generated" / "model_fraud_gbm.py").write_text("# edited\n", encoding="utf-8")
        (root / "generated" / "source_transactions.py").unlink()
    fraud = root / "specs" / "fraud.yaml"
    fraud.write_text(fraud.read_text(encoding="utf-8").replace("split: {method: time",
                                                                "split: {method: sometimes"), encoding="utf-8")
    (root / "specs" / "extra.yaml").write_text("apiVersion: mlspec/v1\nmodels:\n  new_model: {task: x}\n",
                                               encoding="utf-8")
    before = tree_snapshot(root)
    result = run_cli("-C", str(root), "compile")
    assert result.code == 1
    assert "specs/fraud.yaml:" in result.stderr and "specs/extra.yaml:" in result.stderr
    assert tree_snapshot(root) == before
    assert (root / "generated").exists() == generated_before
    assert run_cli("-C", str(root), "compile", "--check").code == 1
    assert tree_snapshot(root) == before
