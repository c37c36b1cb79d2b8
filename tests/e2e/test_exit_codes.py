"""Every command's exit codes keep to the one table in README.md, checked through the real entry point.

The table is read from README.md ("## Exit codes"), so the documentation and the code cannot drift:
each case below names the row it exercises by a phrase of its situation, runs `python -m mlspec`
(the console entry point, with its one error handler) in a subprocess on real files, and expects
that row's code. Every row must be exercised by some case. Faults of the machine (a read-only
project folder, a full disk) are in `test_environment_faults.py`, against the same table.

The project: a training source and a live batch (CSV), one model, a gate and a monitor, trained
once per module; each test works on its own copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO

SPEC = """\
apiVersion: mlspec/v1
project: {name: faults, python: "3.11", seed: 5, ci_state: ephemeral}
sources:
  rows:
    format: csv
    path: data/rows.csv
    schema:
      id: {type: int, unique: true}
      amount: {type: float, min: 0, max: 100}
      kind: {type: category, values: [a, b, c]}
      label: {type: int, values: [0, 1]}
    checks: {min_rows: 5}
  live:
    format: csv
    path: data/live.csv
    schema:
      id: {type: int, unique: true}
      amount: {type: float, min: 0, max: 100}
      kind: {type: category, values: [a, b, c]}
      label: {type: int, values: [0, 1]}
features:
  f_amount: {source: rows, column: amount, transform: standardize}
  f_kind: {source: rows, column: kind, transform: one_hot}
models:
  m:
    task: classification
    source: rows
    label: label
    features: [f_amount, f_kind]
    estimator: logistic_regression
    params: {max_iter: 500}
    split: {method: stratified, test_fraction: 0.25}
    metrics: [roc_auc]
gates:
  g:
    model: m
    require: ["roc_auc >= 0.6"]
monitors:
  mon:
    model: m
    data: live
    schedule: "0 6 * * *"
    drift: {method: psi, threshold: 0.2}
"""


# ------------------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------------------


def exit_table() -> dict[str, int]:
    """README's table of exit codes: situation -> code."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.fullmatch(r"\| (?P<situation>.+?) \| (?P<code>\d) \|", line.strip())
        if match:
            rows[match["situation"]] = int(match["code"])
    assert len(rows) >= 10, f"README's exit code table was not found or is short: {rows}"
    return rows


TABLE = exit_table()


def expected(phrase: str) -> int:
    """The code of the one README row whose situation contains `phrase`."""
    rows = [code for situation, code in TABLE.items() if phrase in situation]
    assert len(rows) == 1, f"{phrase!r} must name exactly one row of README's exit codes, not {len(rows)}"
    return rows[0]


# ------------------------------------------------------------------------------------------------
# the project and the CLI
# ------------------------------------------------------------------------------------------------


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = np.clip(rng.uniform(0, 100, rows) + shift, 0, 100)
    kind = rng.choice(["a", "b", "c"], rows)
    label = ((amount / 25 + (kind == "a") + rng.normal(0, 0.7, rows)) > 2.3).astype(int)
    return pd.DataFrame({"id": np.arange(1, rows + 1), "amount": amount.round(3), "kind": kind, "label": label})


def write_project(root: Path) -> Path:
    (root / "specs").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "specs" / "p.yaml").write_text(SPEC, encoding="utf-8")
    frame(400, 1).to_csv(root / "data" / "rows.csv", index=False)
    frame(300, 2).to_csv(root / "data" / "live.csv", index=False)
    return root


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def environment(tmp: Path) -> dict[str, str]:
    """This process's environment without GitHub's (a monitor would call `gh`), with TMPDIR=tmp (crash reports)."""
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(TMPDIR=str(tmp), NO_COLOR="1")
    return env


def mlspec(root: Path, *args: str, tmp: Path, prefix: tuple[str, ...] = (), preexec: Callable | None = None,
           code: str | None = None) -> Result:
    """`python -m mlspec -C ROOT ARGS` in a fresh process (or `code` run with those arguments), TMPDIR=tmp."""
    runner = ["-c", code] if code is not None else ["-m", "mlspec"]
    done = subprocess.run([*prefix, sys.executable, *runner, "-C", str(root), *args], capture_output=True,
                          text=True, env=environment(tmp), cwd=root, preexec_fn=preexec, check=False, timeout=900)
    return Result(done.returncode, done.stdout, done.stderr)


def run_script(root: Path, path: str, *args: str, tmp: Path) -> Result:
    """A generated script, run as CI runs it."""
    done = subprocess.run([sys.executable, str(root / path), *args], capture_output=True, text=True, cwd=root,
                          env=environment(tmp), check=False, timeout=900)
    return Result(done.returncode, done.stdout, done.stderr)


def crash_reports(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("mlspec-crash-*")) if tmp.is_dir() else []


def assert_code(result: Result, phrase: str, tmp: Path, *, internal: bool = False) -> None:
    """The README row's code, never a traceback, and a crash report only for an internal error."""
    want = expected(phrase)
    assert result.code == want, f"{phrase}: exit {result.code}, README says {want}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    assert bool(crash_reports(tmp)) == internal, result.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("exit-codes") / "project")
    tmp = root.parent / "tmp"
    for args in (("run",), ("compile",)):
        result = mlspec(root, *args, tmp=tmp)
        assert result.code == 0, result.stderr
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(trained, root)
    return root


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path / "tmp"


# ------------------------------------------------------------------------------------------------
# 0: success
# ------------------------------------------------------------------------------------------------

SUCCESS = "success, including a monitor"


@pytest.mark.parametrize("args", [("validate",), ("ls",), ("run",), ("compile",), ("compile", "--check"),
                                  ("monitor",), ("registry", "ls"), ("registry", "verify"),
                                  ("score", "m", "--source", "live")])
def test_success(project: Path, tmp: Path, args: tuple[str, ...]) -> None:
    assert_code(mlspec(project, *args, tmp=tmp), SUCCESS, tmp)


def test_a_monitor_with_too_little_data_succeeds_and_says_so(project: Path, tmp: Path) -> None:
    frame(50, 3).to_csv(project / "data" / "live.csv", index=False)
    result = mlspec(project, "monitor", tmp=tmp)
    assert_code(result, SUCCESS, tmp)
    assert "NODATA monitor monitor.mon" in result.stderr


# ------------------------------------------------------------------------------------------------
# 1: findings
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("validate",), ("ls",), ("run",), ("compile",), ("compile", "--check"),
                                  ("monitor",), ("plan", "--state", "generated/manifest.json")])
def test_invalid_specs(project: Path, tmp: Path, args: tuple[str, ...]) -> None:
    spec = project / "specs" / "p.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("max_iter: 500", "max_iter: 500, bogus: 1"),
                    encoding="utf-8")
    result = mlspec(project, *args, tmp=tmp)
    assert_code(result, "invalid specs", tmp)
    assert "MLS" in result.stdout + result.stderr


@pytest.mark.parametrize("args", [("ls", "-s", "model:nope"), ("run", "-s", "model:nope")])
def test_a_selector_that_matches_nothing(project: Path, tmp: Path, args: tuple[str, ...]) -> None:
    assert_code(mlspec(project, *args, tmp=tmp), "a selector that matches nothing", tmp)


@pytest.mark.parametrize("args", [("run",), ("score", "m", "--source", "live")])
def test_a_broken_contract(project: Path, tmp: Path, args: tuple[str, ...]) -> None:
    for name in ("rows", "live"):
        data = pd.read_csv(project / "data" / f"{name}.csv")
        data.loc[3, "amount"] = 250.0
        data.to_csv(project / "data" / f"{name}.csv", index=False)
    result = mlspec(project, *args, tmp=tmp)
    assert_code(result, "breaks its contract", tmp)
    assert "breaks its data contract" in result.stderr


def test_a_failed_gate(project: Path, tmp: Path) -> None:
    spec = project / "specs" / "p.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("roc_auc >= 0.6", "roc_auc >= 0.999"), encoding="utf-8")
    result = mlspec(project, "run", tmp=tmp)
    assert_code(result, "a gate fails", tmp)
    assert "gate 'g' failed" in result.stderr


def test_a_model_that_cannot_be_trained(project: Path, tmp: Path) -> None:
    data = frame(400, 5)
    data["label"] = 0
    data.to_csv(project / "data" / "rows.csv", index=False)
    result = mlspec(project, "run", tmp=tmp)
    assert_code(result, "a model cannot be trained", tmp)
    assert "single class" in result.stderr


def test_stale_generated_files(project: Path, tmp: Path) -> None:
    script = project / "generated" / "model_m.py"
    script.write_text(script.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    result = mlspec(project, "compile", "--check", tmp=tmp)
    assert_code(result, "generated files are stale", tmp)
    assert "modified: generated/model_m.py" in result.stdout


def test_a_generated_script_whose_node_the_manifest_lacks(project: Path, tmp: Path) -> None:
    script = project / "generated" / "model_m.py"
    gone = project / "generated" / "model_gone.py"
    gone.write_text(script.read_text(encoding="utf-8").replace("'model.m'", "'model.gone'"), encoding="utf-8")
    result = run_script(project, "generated/model_gone.py", tmp=tmp)
    assert_code(result, "a generated script whose node", tmp)
    assert "model.gone is not in" in result.stderr and "help: run `mlspec compile`" in result.stderr


def test_a_monitor_alert(project: Path, tmp: Path) -> None:
    frame(300, 6, shift=60.0).to_csv(project / "data" / "live.csv", index=False)
    result = mlspec(project, "monitor", tmp=tmp)
    assert_code(result, "a monitor alerts", tmp)
    assert "ALERT  monitor monitor.mon" in result.stderr


@pytest.mark.parametrize("how", ["no champion", "unknown source", "missing data"])
def test_a_monitor_that_cannot_be_evaluated(project: Path, tmp: Path, how: str) -> None:
    args = ["monitor"]
    if how == "no champion":
        shutil.rmtree(project / ".mlspec")
    elif how == "unknown source":
        args += ["--data", "no_such_source"]
    else:
        (project / "data" / "live.csv").unlink()
    result = mlspec(project, *args, tmp=tmp)
    assert_code(result, "or cannot be evaluated", tmp)
    assert "ERROR  monitor monitor.mon" in result.stderr


def test_a_generated_monitor_script_keeps_to_the_table_too(project: Path, tmp: Path) -> None:
    shutil.rmtree(project / ".mlspec")
    assert_code(run_script(project, "generated/monitor_mon.py", tmp=tmp), "or cannot be evaluated", tmp)


@pytest.mark.parametrize("how", ["tampered artifact", "no such version"])
def test_the_registry_refuses(project: Path, tmp: Path, how: str) -> None:
    if how == "tampered artifact":
        [artifact] = (project / ".mlspec" / "artifacts").rglob("*.skops")
        artifact.write_bytes(artifact.read_bytes() + b"tampered")
        result = mlspec(project, "registry", "verify", tmp=tmp)
        assert "has been modified" in result.stdout
    else:
        result = mlspec(project, "registry", "show", "m", "--version", "9", tmp=tmp)
        assert "has no version 9" in result.stderr
    assert_code(result, "the registry refuses", tmp)


# ------------------------------------------------------------------------------------------------
# 2: usage and internal errors
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("run", "--no-such-option"), ("no-such-command",), ("registry", "show"),
                                  ("explain", "MLS999"), ("plan", "--base", "HEAD", "--last-run"), ("run", "-j", "0"),
                                  ("plan", "--state", "missing.json")])
def test_usage_errors(project: Path, tmp: Path, args: tuple[str, ...]) -> None:
    assert_code(mlspec(project, *args, tmp=tmp), "usage error", tmp)


def test_an_internal_error_is_one_line_and_a_saved_report(project: Path, tmp: Path) -> None:
    bug = ("import sys, mlspec.api as api\n"
           "def broken(root):\n    raise RuntimeError('a bug')\n"
           "api.check = broken\nsys.argv[0] = 'mlspec'\nfrom mlspec.cli.main import main\nmain()")
    result = mlspec(project, "validate", tmp=tmp, code=bug)
    assert_code(result, "internal error: a bug", tmp, internal=True)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("mlspec: internal error (RuntimeError); details saved to ")
    assert "RuntimeError: a bug" in crash_reports(tmp)[0].read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# plan --detailed-exitcode
# ------------------------------------------------------------------------------------------------

PLAN = ("plan", "--state", "generated/manifest.json", "--detailed-exitcode")


def test_plan_detailed_no_changes(project: Path, tmp: Path) -> None:
    assert_code(mlspec(project, *PLAN, tmp=tmp), "`plan --detailed-exitcode`: no changes", tmp)


def test_plan_detailed_changes(project: Path, tmp: Path) -> None:
    spec = project / "specs" / "p.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("max_iter: 500", "max_iter: 600"), encoding="utf-8")
    result = mlspec(project, *PLAN, tmp=tmp)
    assert_code(result, "`plan --detailed-exitcode`: changes", tmp)
    assert "params.max_iter" in result.stdout or "UPDATE model.m" in result.stdout


@pytest.mark.parametrize("how", ["invalid specs", "usage", "internal"])
def test_plan_detailed_any_error_is_1(project: Path, tmp: Path, how: str) -> None:
    if how == "invalid specs":
        spec = project / "specs" / "p.yaml"
        spec.write_text(spec.read_text(encoding="utf-8").replace("max_iter: 500", "max_iter: -1"), encoding="utf-8")
        result = mlspec(project, *PLAN, tmp=tmp)
    elif how == "usage":
        result = mlspec(project, "plan", "--state", "missing.json", "--detailed-exitcode", tmp=tmp)
    else:
        bug = ("import sys, mlspec.api as api\n"
               "def broken(*args, **kwargs):\n    raise RuntimeError('a bug')\n"
               "api.plan = broken\nsys.argv[0] = 'mlspec'\nfrom mlspec.cli.main import main\nmain()")
        result = mlspec(project, *PLAN, tmp=tmp, code=bug)
    assert_code(result, "`plan --detailed-exitcode`: any error", tmp, internal=how == "internal")


# ------------------------------------------------------------------------------------------------
# the table itself
# ------------------------------------------------------------------------------------------------

EXERCISED = [SUCCESS, "invalid specs", "a selector that matches nothing", "breaks its contract", "a gate fails",
             "generated files are stale", "a monitor alerts", "the registry refuses", "read-only", "usage error",
             "internal error: a bug", "`plan --detailed-exitcode`: no changes", "`plan --detailed-exitcode`: changes",
             "`plan --detailed-exitcode`: any error"]


def test_every_row_of_the_table_is_exercised() -> None:
    """A row added to README's table needs a case here (the phrases above are the ones the tests use)."""
    for situation in TABLE:
        assert any(phrase in situation for phrase in EXERCISED), f"no test exercises README's row: {situation}"
    assert set(TABLE.values()) == {0, 1, 2}
