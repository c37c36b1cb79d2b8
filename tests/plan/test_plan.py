"""`mlspec plan` on a series of edits to the fraud example, against golden outputs in text, md and json.

Each case commits the fraud example's specs (tests/golden/fraud/specs) to a fresh git repository,
edits the work tree, and runs `mlspec plan --base HEAD --explain --detailed-exitcode` in every
format. The expected outputs live in tests/plan/expected/<case>.{txt,md,json} with the exit code in
<case>.exit; `pytest tests/plan --update-goldens` rewrites them for review.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli, tree_snapshot

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected"
FRAUD_SPECS = REPO / "tests" / "golden" / "fraud" / "specs"
FORMATS = {"txt": "text", "md": "md", "json": "json"}


def _git(root: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": str(root)}
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose HEAD holds the fraud example's specs."""
    root = tmp_path / "repo"
    shutil.copytree(FRAUD_SPECS, root / "specs")
    _git(root, "init", "--quiet", "--initial-branch=main")
    _git(root, "add", "-A")
    _git(root, "commit", "--quiet", "-m", "base")
    return root


def _edit(root: Path, file: str, old: str, new: str, count: int = 1) -> None:
    path = root / "specs" / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times in {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def hyperparameter(root: Path) -> None:
    _edit(root, "fraud.yaml", "learning_rate: 0.05", "learning_rate: 0.1")


def new_feature(root: Path) -> None:
    _edit(root, "fraud.yaml", "  card_present: {source: transactions, column: card_present}\n",
          "  card_present: {source: transactions, column: card_present}\n"
          "  amount_per_tx:\n    source: transactions\n    expr: \"amount / (num_tx_last_24h + 1)\"\n")
    _edit(root, "fraud.yaml", "               foreign_not_present, card_present]\n    estimator: logistic_regression",
          "               foreign_not_present, card_present, amount_per_tx]\n    estimator: logistic_regression")


def renamed_model(root: Path) -> None:
    _edit(root, "fraud.yaml", "  fraud_logreg:\n", "  fraud_baseline:\n")
    _edit(root, "fraud.yaml", "    model: fraud_logreg\n", "    model: fraud_baseline\n")


def deleted_monitor(root: Path) -> None:
    path = root / "specs" / "fraud.yaml"
    text = path.read_text(encoding="utf-8")
    assert "\nmonitors:\n" in text
    path.write_text(text.split("\nmonitors:\n")[0] + "\n", encoding="utf-8")


def tightened_gate(root: Path) -> None:
    _edit(root, "fraud.yaml", "      - roc_auc >= 0.88\n", "      - roc_auc >= 0.9\n")
    _edit(root, "fraud.yaml", "      - roc_auc >= champion.roc_auc - 0.005\n", "      - roc_auc >= champion.roc_auc\n")


def reformat_only(root: Path) -> None:
    """Same meaning: block style instead of flow style, keys reordered, comments edited, quoting changed."""
    _edit(root, "fraud.yaml",
          "    params: {max_iter: 200, learning_rate: 0.05, max_leaf_nodes: 31, l2_regularization: 1.0}\n",
          "    # tuned in the spring\n    params:\n      l2_regularization: 1.0\n      max_leaf_nodes: 31\n"
          "      learning_rate: 0.05\n      max_iter: 200\n")
    _edit(root, "fraud.yaml", "# Features, two competing models, their release gates, and monitors.\n",
          "# Rewritten comment: nothing here changes what mlspec builds.\n")
    _edit(root, "project.yaml", "  seed: 42\n  install: \".\"\n", "  install: '.'\n  seed: 42\n")
    _edit(root, "sources.yaml", "      hour: {type: int, min: 0, max: 23}\n",
          "      hour:\n        max: 23\n        type: \"int\"\n        min: 0\n", count=3)


def moved_between_files(root: Path) -> None:
    """Moving specs to another file changes no node, but the generated files name their source."""
    (root / "specs" / "fraud.yaml").rename(root / "specs" / "models.yaml")


def file_reorder_with_description(root: Path) -> None:
    """A description edit only: shown as such, and nothing retrains."""
    _edit(root, "fraud.yaml", "    description: A simple, explainable baseline.\n",
          "    description: A simple, explainable baseline (kept for comparison).\n")


def retagged(root: Path) -> None:
    """Tags label nodes for selectors: a tag added is shown, and nothing retrains."""
    _edit(root, "fraud.yaml", "    tags: [fraud, nightly]\n", "    tags: [fraud, nightly, review]\n")


CASES: dict[str, Callable[[Path], None]] = {
    "hyperparameter": hyperparameter,
    "new_feature": new_feature,
    "renamed_model": renamed_model,
    "deleted_monitor": deleted_monitor,
    "tightened_gate": tightened_gate,
    "reformat_only": reformat_only,
    "description_only": file_reorder_with_description,
    "retagged": retagged,
    "moved_between_files": moved_between_files,
}


def _plan(root: Path, fmt: str):
    return run_cli("-C", str(root), "plan", "--base", "HEAD", "--format", fmt, "--explain", "--detailed-exitcode")


@pytest.mark.parametrize("case", sorted(CASES))
def test_plan_golden(case: str, repo: Path, update_goldens: bool) -> None:
    CASES[case](repo)
    before = tree_snapshot(repo)
    outputs = {}
    codes = set()
    for suffix, fmt in FORMATS.items():
        result = _plan(repo, fmt)
        assert result.code in (0, 2), result.stdout + result.stderr
        outputs[suffix] = result.stdout
        codes.add(result.code)
    assert len(codes) == 1, "the exit code must not depend on the format"
    outputs["exit"] = f"{codes.pop()}\n"
    assert tree_snapshot(repo) == before, "plan must not touch the work tree"
    assert _git(repo, "status", "--porcelain", "--untracked-files=no") != "" or case == "reformat_only"
    if update_goldens:
        EXPECTED.mkdir(exist_ok=True)
        for suffix, text in outputs.items():
            (EXPECTED / f"{case}.{suffix}").write_text(text, encoding="utf-8")
    for suffix, text in outputs.items():
        expected = (EXPECTED / f"{case}.{suffix}").read_text(encoding="utf-8")
        assert text == expected, f"{case}.{suffix} differs (run pytest tests/plan --update-goldens to accept)"


def _plan_json(root: Path) -> dict:
    result = _plan(root, "json")
    assert result.code in (0, 2), result.stdout + result.stderr
    return json.loads(result.stdout)


def _actions(doc: dict) -> dict[str, str]:
    return {c["node_id"]: c["action"] for c in doc["changes"] if c["action"] != "unchanged"}


# The goldens are reviewed by eye; these pin down what each case must mean, independently of layout.

def test_changed_hyperparameter_retrains_exactly_that_model(repo: Path) -> None:
    hyperparameter(repo)
    doc = _plan_json(repo)
    assert _actions(doc) == {"model.fraud_gbm": "update"}
    change = next(c for c in doc["changes"] if c["node_id"] == "model.fraud_gbm")
    assert change["fields"] == {"params.learning_rate": [0.05, 0.1]}
    assert doc["retrain"] == ["model.fraud_gbm"]
    assert doc["affected_gates"] == ["gate.fraud_gbm_release"]
    assert doc["affected_monitors"] == ["monitor.fraud_gbm_drift"]
    assert doc["summary"] == "Plan: 0 to add, 1 to change, 0 to remove, 1 to retrain."


def test_new_feature_retrains_only_the_model_that_uses_it(repo: Path) -> None:
    new_feature(repo)
    doc = _plan_json(repo)
    assert _actions(doc) == {"feature.amount_per_tx": "create", "model.fraud_logreg": "update"}
    assert doc["retrain"] == ["model.fraud_logreg"]
    assert doc["affected_gates"] == ["gate.fraud_logreg_release"]
    assert doc["affected_monitors"] == []


def test_renamed_model_is_a_removal_and_an_addition_with_a_registry_note(repo: Path) -> None:
    renamed_model(repo)
    doc = _plan_json(repo)
    assert _actions(doc) == {"model.fraud_logreg": "delete", "model.fraud_baseline": "create",
                             "gate.fraud_logreg_release": "update"}
    assert doc["retrain"] == ["model.fraud_baseline"]
    assert any("model.fraud_logreg is removed" in note and "aliases" in note for note in doc["notes"])
    assert "generated/model_fraud_logreg.py" in doc["files"]["deleted"]
    assert "generated/model_fraud_baseline.py" in doc["files"]["created"]


def test_deleted_monitor_retrains_nothing_and_removes_its_workflow(repo: Path) -> None:
    deleted_monitor(repo)
    doc = _plan_json(repo)
    assert _actions(doc) == {"monitor.fraud_gbm_drift": "delete"}
    assert doc["retrain"] == []
    # its schedule's workflow goes with it (no other monitor runs at 0 6 * * *)
    assert ".github/workflows/mlspec-monitors-0_6_x_x_x.yml" in doc["files"]["deleted"]


def test_tightened_gate_retrains_nothing_and_shows_old_and_new(repo: Path) -> None:
    tightened_gate(repo)
    doc = _plan_json(repo)
    assert _actions(doc) == {"gate.fraud_gbm_release": "update"}
    assert doc["retrain"] == []
    assert doc["affected_gates"] == ["gate.fraud_gbm_release"]
    fields = next(c for c in doc["changes"] if c["node_id"] == "gate.fraud_gbm_release")["fields"]
    olds, news = zip(*fields.values(), strict=True)
    assert "roc_auc >= 0.88" in json.dumps(olds) and "roc_auc >= 0.9" in json.dumps(news)


def test_reformat_only_is_no_change(repo: Path) -> None:
    reformat_only(repo)
    result = _plan(repo, "text")
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("Plan: 0 to add, 0 to change, 0 to remove, 0 to retrain.")


def test_moving_specs_between_files_changes_headers_only(repo: Path) -> None:
    moved_between_files(repo)
    doc = _plan_json(repo)
    assert _actions(doc) == {} and doc["retrain"] == []
    assert doc["files"]["updated"] and not doc["files"]["created"] and not doc["files"]["deleted"]


def test_description_edit_is_shown_but_retrains_nothing(repo: Path) -> None:
    file_reorder_with_description(repo)
    doc = _plan_json(repo)
    assert _actions(doc) == {"model.fraud_logreg": "update"}
    assert doc["retrain"] == []


def test_state_file_gives_the_same_plan_as_the_git_base(repo: Path, tmp_path: Path) -> None:
    assert run_cli("-C", str(repo), "compile").code == 0
    state = tmp_path / "manifest.json"
    shutil.copy(repo / "generated" / "manifest.json", state)
    hyperparameter(repo)
    by_state = run_cli("-C", str(repo), "plan", "--state", str(state), "--format", "json")
    by_git = run_cli("-C", str(repo), "plan", "--base", "HEAD", "--format", "json")
    assert by_state.code == by_git.code == 0
    assert json.loads(by_state.stdout)["changes"] == json.loads(by_git.stdout)["changes"]


def test_plan_errors_are_clean(repo: Path) -> None:
    result = run_cli("-C", str(repo), "plan", "--base", "no-such-ref")
    assert result.code == 1
    assert re.search(r"mlspec: git .*no-such-ref", result.stderr)
    both = run_cli("-C", str(repo), "plan", "--base", "HEAD", "--state", str(repo / "specs" / "fraud.yaml"))
    assert both.code == 2  # two bases: a usage error


def test_plan_without_a_base_compares_with_where_the_branch_left_main(repo: Path) -> None:
    """No flags: the merge-base with the default branch (a pull request's view), said on standard error."""
    head = _git(repo, "rev-parse", "HEAD").strip()
    _git(repo, "checkout", "--quiet", "-b", "feature")
    hyperparameter(repo)
    _git(repo, "commit", "--quiet", "-am", "raise the learning rate")
    result = run_cli("-C", str(repo), "plan", "--format", "json")
    assert result.code == 0, result.stderr
    assert result.stderr == f"Base: the merge-base of HEAD and main ({head[:12]}) (choose another with --base REF)\n"
    assert _actions(json.loads(result.stdout)) == {"model.fraud_gbm": "update"}  # stdout stays parseable JSON
    committed = run_cli("-C", str(repo), "plan", "--base", "HEAD", "--format", "json")
    assert _actions(json.loads(committed.stdout)) == {}  # against HEAD, the committed change is not shown

    _git(repo, "checkout", "--quiet", "main")
    _git(repo, "commit", "--quiet", "--allow-empty", "-m", "main moves on")  # the merge-base stays where it was
    clone = repo.parent / "clone"  # a clone has origin/main, which wins over a local main
    subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True, capture_output=True)
    _git(clone, "checkout", "--quiet", "feature")
    cloned = run_cli("-C", str(clone), "plan", "--format", "json")
    assert cloned.code == 0, cloned.stderr
    assert cloned.stderr.startswith(f"Base: the merge-base of HEAD and origin/main ({head[:12]})")
    assert _actions(json.loads(cloned.stdout)) == {"model.fraud_gbm": "update"}


def test_plan_in_a_repository_without_commits(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    shutil.copytree(REPO / "tests" / "golden" / "fraud" / "specs", root / "specs")
    _git(root, "init", "--quiet", "--initial-branch=main")
    result = run_cli("-C", str(root), "plan", "--base", "HEAD")
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "mlspec: the repository has no commits yet, so there is no HEAD to compare with",
        "  help: commit first, or run `mlspec plan` without --base (on a repository without commits, everything "
        "is new)"]
    default = run_cli("-C", str(root), "plan", "--format", "json")
    assert default.code == 0, default.stderr
    assert default.stderr.startswith("Base: the repository has no commits yet: every node is new")
    assert set(_actions(json.loads(default.stdout)).values()) == {"create"}
    alone = tmp_path / "alone"  # not a repository at all
    shutil.copytree(root / "specs", alone / "specs")
    outside = run_cli("-C", str(alone), "plan")
    assert outside.code == 1 and f"mlspec: {alone} is not in a git repository" in outside.stderr
