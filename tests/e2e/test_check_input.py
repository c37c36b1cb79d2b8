"""`mlspec check-input`: what a manual run of the retrain or a monitors workflow names is checked by mlspec.

GitHub checks a choice input against its options when a person starts the run from its page; a run
started through the API may carry any text. The generated workflows pass the input to `mlspec
check-input` through an environment variable, and their other jobs read only what it wrote to
GITHUB_OUTPUT. Here, on the golden project with three differently shaped models and two schedules:
what it writes for each model, and that it refuses (exit 1, one clear message, nothing written)
anything else, hostile text included, and a manifest of another mlspec version.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

EVERYTHING = REPO / "tests" / "golden" / "everything"
V1_MANIFEST = REPO / "tests" / "unit" / "data" / "manifest-v1-fraud.json"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("check") / "p"
    shutil.copytree(EVERYTHING / "specs", root / "specs")
    shutil.copytree(EVERYTHING / "expected", root, dirs_exist_ok=True)
    return root


def _check(root: Path, tmp_path: Path, *args: str) -> tuple[object, list[str]]:
    output = tmp_path / "github_output"
    output.write_text("earlier=1\n", encoding="utf-8")
    result = run_cli("-C", str(root), "check-input", *args, "--github-output", str(output))
    return result, output.read_text(encoding="utf-8").splitlines()[1:]


@pytest.mark.parametrize(("model", "written"), [
    ("churn_baseline", ["model=churn_baseline", "group=1"]),
    ("churn_gbm", ["model=churn_gbm", "group=2", "gate_1=churn_gbm_recall", "gate_2=churn_gbm_release"]),
    ("churn_logreg", ["model=churn_logreg", "group=3", "gate_1=churn_logreg_release"]),
])
def test_a_model_of_the_project_gets_its_group_and_gates(project: Path, tmp_path: Path, model: str,
                                                          written: list[str]) -> None:
    result, lines = _check(project, tmp_path, "model", model)
    assert result.code == 0, result.stderr
    assert lines == written
    assert f"retraining {model}: the jobs of group {written[1][6:]}" in result.stderr


@pytest.mark.parametrize(("name", "said", "hint"), [
    ("churn_gmb", "'churn_gmb', which is not a model of this project",
     "did you mean 'churn_gbm'? choose one of: churn_baseline, churn_gbm, churn_logreg"),
    ("", "'', which is not a model of this project", "choose one of: churn_baseline, churn_gbm, churn_logreg"),
    # through the API: a line break and a workflow command, shell and expression syntax, stay inert text
    ("churn_gbm\n::add-mask::x", "'churn_gbm\\n::add-mask::x', which is not a model", "choose one of"),
    ("$(id); `id` ${{ github.token }}", "'$(id); `id` ${{ github.token }}', which is not a model", "choose one of"),
    ("x" * 500, "'" + "x" * 80 + "...', which is not a model", "choose one of"),
    ("churn_gbm\u2028", "'churn_gbm\\u2028', which is not a model", "did you mean 'churn_gbm'?"),
])
def test_anything_else_is_refused_with_what_to_choose(project: Path, tmp_path: Path, name: str, said: str,
                                                      hint: str) -> None:
    result, lines = _check(project, tmp_path, "model", name)
    assert result.code == 1, result.stderr
    first, second = result.stderr.splitlines()
    assert first.startswith("mlspec: the retrain workflow was started for ") and said in first, first
    assert second.startswith("  help: ") and hint in second, second
    assert lines == []  # nothing for the other jobs


def test_a_monitor_of_the_workflows_schedule_passes(project: Path, tmp_path: Path) -> None:
    result, lines = _check(project, tmp_path, "monitor", "churn_gbm_daily", "--schedule", "30 5 * * *")
    assert result.code == 0, result.stderr
    assert lines == ["monitor=churn_gbm_daily"]
    # the schedule as the workflow's environment passes it, or spaced otherwise: the same schedule
    assert run_cli("-C", str(project), "check-input", "monitor", "churn_logreg_weekly", "--schedule",
                   "0  7 * *\tMON").code == 0


def test_a_monitor_of_another_schedule_or_none_is_refused(project: Path, tmp_path: Path) -> None:
    result, lines = _check(project, tmp_path, "monitor", "churn_gbm_daily", "--schedule", "0 7 * * MON")
    assert result.code == 1 and lines == []
    assert result.stderr.splitlines() == [
        "mlspec: the monitor churn_gbm_daily runs on the schedule '30 5 * * *', not on this workflow's "
        "('0 7 * * MON')",
        "  help: run it from .github/workflows/mlspec-monitors-30_5_x_x_x.yml"]
    result, lines = _check(project, tmp_path, "monitor", "churn_gbm", "--schedule", "0 7 * * MON")
    assert result.code == 1 and lines == []
    assert result.stderr.splitlines() == [
        "mlspec: this workflow was started for 'churn_gbm', which is not one of its monitors",
        "  help: choose one of: churn_logreg_weekly"]
    result = run_cli("-C", str(project), "check-input", "monitor", "churn_gbm_daily", "--schedule", "0 8 * * *")
    assert result.code == 1
    assert "no monitor runs on the schedule '0 8 * * *'" in result.stderr and "mlspec compile" in result.stderr


def test_kind_and_schedule_go_together(project: Path) -> None:
    for args in (("monitor", "churn_gbm_daily"), ("model", "churn_gbm", "--schedule", "30 5 * * *")):
        result = run_cli("-C", str(project), "check-input", *args)
        assert result.code == 2 and "--schedule goes with monitor" in result.stderr


def test_a_manifest_of_another_mlspec_version_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "generated").mkdir(parents=True)
    shutil.copy2(V1_MANIFEST, root / "generated" / "manifest.json")
    result, lines = _check(root, tmp_path, "model", "fraud_gbm")
    assert result.code == 1 and lines == []
    assert result.stderr.splitlines() == [
        "mlspec: cannot read generated/manifest.json: the manifest was written by an older mlspec (manifest "
        "version 1; this mlspec reads version 2)",
        "  help: run `mlspec compile` and commit the result"]
    (root / "generated" / "manifest.json").unlink()
    result = run_cli("-C", str(root), "check-input", "model", "fraud_gbm")
    assert result.code == 1 and "cannot read generated/manifest.json" in result.stderr
    assert "run `mlspec compile`" in result.stderr
