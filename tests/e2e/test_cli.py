"""The CLI end to end on real folders: init, validate, ls, graph, schema, explain, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.codes import CODES
from tests.conftest import REPO, run_cli, tree_snapshot


def test_validate_bundled_examples() -> None:
    result = run_cli("-C", str(REPO), "validate")
    assert result.code == 0
    assert result.stdout == "OK: 3 spec file(s), 3 sources, 10 features, 2 models, 2 gates, 1 monitor.\n"
    for example in ("breast_cancer", "diabetes"):
        assert run_cli("-C", str(REPO / "examples" / example), "validate").code == 0


def test_init_creates_a_project_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = run_cli("init", str(target))
    assert result.code == 0
    assert (target / "specs" / "project.yaml").is_file()
    assert (target / "schema" / "mlspec-v1.json").is_file()
    check = run_cli("-C", str(target), "validate")
    assert check.code == 0, check.stdout
    assert check.stdout.startswith("OK: 1 spec file(s), 2 sources, 4 features, 1 model, 1 gate, 1 monitor")


def test_init_in_the_working_directory_says_what_to_run_next_without_a_cd(tmp_path: Path) -> None:
    result = run_cli("init", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "Next: mlspec validate && mlspec run && mlspec monitor " in result.stdout
    elsewhere = run_cli("init", "new", cwd=tmp_path)
    assert "Next: cd new && mlspec validate && " in elsewhere.stdout


def test_init_never_overwrites(tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path)).code == 0
    (tmp_path / "specs" / "project.yaml").write_text("mine", encoding="utf-8")
    before = tree_snapshot(tmp_path)
    result = run_cli("init", str(tmp_path))
    assert result.code == 2
    assert "already exists" in result.stderr
    assert tree_snapshot(tmp_path) == before


def test_validate_without_specs_folder(tmp_path: Path) -> None:
    result = run_cli("-C", str(tmp_path), "validate")
    assert result.code == 1
    assert "MLS001" in result.stdout and "mlspec init" in result.stdout


def _bad_project(tmp_path: Path, count: int) -> Path:
    (tmp_path / "specs").mkdir()
    lines = ["apiVersion: mlspec/v1", "project: {name: p}", "models:"]
    for i in range(count):
        lines += [f"  m{i}:", "    task: classify"]
    (tmp_path / "specs" / "a.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_output_formats(tmp_path: Path) -> None:
    root = _bad_project(tmp_path, 1)
    concise = run_cli("-C", str(root), "validate", "--output-format", "concise")
    assert concise.code == 1
    assert concise.stdout.splitlines()[0].startswith("specs/a.yaml:")
    data = json.loads(run_cli("-C", str(root), "validate", "--output-format", "json").stdout)
    assert data["errors"] == len(data["diagnostics"]) > 0
    first = data["diagnostics"][0]
    assert {"code", "message", "file", "line", "col", "hint", "severity"} <= first.keys()


def test_github_format_caps_annotations(tmp_path: Path) -> None:
    root = _bad_project(tmp_path, 8)  # 8 models x (invalid task + 5 missing fields) = 48 errors
    out = run_cli("-C", str(root), "validate", "--output-format", "github").stdout.splitlines()
    errors = [line for line in out if line.startswith("::error ")]
    notices = [line for line in out if line.startswith("::notice ")]
    assert len(errors) == 10
    assert len(notices) == 1 and "38 more finding(s)" in notices[0]
    assert errors[0].startswith("::error file=specs/a.yaml,line=")


def test_ls_and_graph_formats() -> None:
    listing = run_cli("-C", str(REPO), "ls", "-s", "+gate:fraud_logreg_release").stdout.splitlines()
    assert listing[0] == "source.transactions" and listing[-1] == "gate.fraud_logreg_release"
    as_json = json.loads(run_cli("-C", str(REPO), "ls", "--output", "json", "-s", "model:fraud_gbm").stdout)
    assert as_json[0]["id"] == "model.fraud_gbm" and "feature.amount_log" in as_json[0]["depends_on"]
    mermaid = run_cli("-C", str(REPO), "graph", "-s", "model:fraud_gbm+").stdout
    assert mermaid.startswith("flowchart LR\n") and "model_fraud_gbm --> gate_fraud_gbm_release" in mermaid
    dot = run_cli("-C", str(REPO), "graph", "--format", "dot").stdout
    assert '"model.fraud_gbm" -> "gate.fraud_gbm_release";' in dot
    graph = json.loads(run_cli("-C", str(REPO), "graph", "--format", "json").stdout)
    assert {"from": "model.fraud_gbm", "to": "gate.fraud_gbm_release"} in graph["edges"]


def test_selector_matching_nothing_is_an_error() -> None:
    result = run_cli("-C", str(REPO), "ls", "-s", "model:fraud_gmb")
    assert result.code == 1
    assert "MLS301" in result.stderr and "did you mean 'fraud_gbm'?" in result.stderr


def test_schema_to_stdout_matches_committed_file() -> None:
    result = run_cli("-C", str(REPO), "schema", "-o", "-")
    assert result.code == 0
    assert result.stdout == (REPO / "schema" / "mlspec-v1.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_is_explained(code: str) -> None:
    result = run_cli("explain", code.lower())
    assert result.code == 0
    assert result.stdout.startswith(f"{code}: ")


def test_explain_unknown_code() -> None:
    result = run_cli("explain", "MLS999")
    assert result.code == 2


def test_usage_error_exits_2() -> None:
    result = subprocess.run([sys.executable, "-m", "mlspec", "validate", "--output-format", "xml"],
                            capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_cli_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from mlspec.cli.main import main; sys.argv = ['mlspec', 'validate'];\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('pandas', 'sklearn', 'numpy', 'scipy', 'jinja2') if m in sys.modules)\n"
            "print('HEAVY=' + ','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.splitlines()[-1] == "HEAVY="


def test_internal_error_is_one_line_with_a_saved_report(tmp_path: Path) -> None:
    code = ("import sys; import mlspec.api as api\n"
            "def boom(root):\n    raise RuntimeError('boom')\n"
            "api.check = boom\nfrom mlspec.cli.main import main\nsys.argv = ['mlspec', 'validate']\nmain()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.startswith("mlspec: internal error (RuntimeError); details saved to ")
    saved = Path(line.rsplit(" ", 1)[1])
    try:
        assert "RuntimeError: boom" in saved.read_text(encoding="utf-8")
    finally:
        saved.unlink()
