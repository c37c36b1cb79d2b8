"""The default install is the compiler alone, and it is enough for every command the light CI jobs run.

A fresh virtual environment gets the wheel of this checkout (`mlspec-gitops`, no extras) and exactly the
distributions its default requirements need, linked from this environment: no numpy, pandas, pyarrow,
scikit-learn, SQLAlchemy, skops, pandera or obstore. There, `mlspec validate`, `compile` (with the
committed generated/constraints.txt), `compile --check`, `plan`, `pr-report` and `pr-comment` (against a
fake `gh`) must work, and compile must give byte for byte the golden tree that the full environment
gives. Without a committed constraints file compile cannot pin the runtime it does not have: it must
say what to install. Commands that need the runtime (`mlspec run`) must say so too, not crash.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO, tree_snapshot
from tests.e2e.act_harness import build_wheel
from tests.e2e.fake_gh import FakeGitHub

pytestmark = pytest.mark.slow

GOLDEN = REPO / "tests" / "golden" / "fraud"
RUNTIME_ONLY = ("numpy", "pandas", "pyarrow", "sklearn", "sqlalchemy", "skops", "pandera", "obstore", "psycopg")


def _closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions `requirements` need, transitively (markers of this machine, no extras)."""
    found: dict[str, metadata.Distribution] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if key in found:
            continue
        found[key] = dist = metadata.distribution(requirement.name)
        todo += [Requirement(text) for text in dist.requires or []]
    return list(found.values())


class LightEnv:
    """A virtual environment holding mlspec-gitops without extras; runs `python -m mlspec` there."""

    def __init__(self, root: Path, wheel: Path) -> None:
        self.root = root
        venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        self.python = venv / "bin" / "python"
        site = Path(subprocess.run([str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                   capture_output=True, text=True, check=True).stdout.strip())
        with zipfile.ZipFile(wheel) as archive:  # what pip would put into site-packages (no scripts in this wheel)
            archive.extractall(site)
        requires = metadata.Distribution.at(next(site.glob("mlspec_gitops-*.dist-info"))).requires or []
        # the default requirements' closure, linked from this environment into a folder on the new sys.path
        deps = root / "deps"
        deps.mkdir()
        for dist in _closure([r for r in requires if "extra ==" not in r]):
            for file in dist.files or []:
                top = file.parts[0]
                if top in ("..", "__pycache__", "bin") or (deps / top).exists():
                    continue
                source = Path(str(dist.locate_file(top)))
                if source.exists():
                    (deps / top).symlink_to(source)
        (site / "zz_light_deps.pth").write_text(f"{deps}\n", encoding="utf-8")
        self.env = {"PATH": os.environ["PATH"], "HOME": str(root), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}

    def run(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """`python -m mlspec ARGS` in the light environment."""
        return subprocess.run([str(self.python), "-I", "-m", "mlspec", *args], cwd=cwd, capture_output=True,
                              text=True, env={**self.env, **(env or {})}, timeout=300, check=False)

    def importable(self, module: str) -> bool:
        """Whether `module` can be imported in the light environment."""
        code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
        return subprocess.run([str(self.python), "-I", "-c", code], env=self.env, check=False).returncode == 0


@pytest.fixture(scope="module")
def light(tmp_path_factory: pytest.TempPathFactory) -> LightEnv:
    root = tmp_path_factory.mktemp("light")
    try:
        wheel = build_wheel(root / "build")
    except RuntimeError as exc:  # the isolated build needs setuptools from a package index
        pytest.skip(str(exc)[-500:])
    return LightEnv(root, wheel)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "-c", "commit.gpgsign=false", *args], capture_output=True, check=True)


def test_the_light_environment_has_no_runtime(light: LightEnv) -> None:
    assert light.importable("mlspec") and light.importable("pydantic") and light.importable("jinja2")
    assert [m for m in RUNTIME_ONLY if light.importable(m)] == []


def test_light_commands_work_without_the_runtime(light: LightEnv, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(GOLDEN / "specs", repo / "specs")
    assert light.run("validate", cwd=repo).returncode == 0

    # no committed pins: compile cannot pin a runtime it does not have, and says what to install
    refused = light.run("compile", cwd=repo)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "not installed here and not in generated/constraints.txt" in refused.stderr
    assert "pip install 'mlspec-gitops[runtime]'" in refused.stderr
    assert not (repo / "generated").exists() and not (repo / ".github").exists()

    # with the committed pins, the light compile gives exactly the golden tree of the full environment
    (repo / "generated").mkdir()
    shutil.copy2(GOLDEN / "expected" / "generated" / "constraints.txt", repo / "generated" / "constraints.txt")
    compiled = light.run("compile", cwd=repo)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    actual = {p: d for p, d in tree_snapshot(repo).items() if not p.startswith("specs/")}
    assert actual == tree_snapshot(GOLDEN / "expected")
    check = light.run("compile", "--check", cwd=repo)
    assert check.returncode == 0 and "up to date" in check.stdout, check.stdout + check.stderr

    # plan against main, then the pull request's report and comment
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--message", "base")
    spec = repo / "specs" / "fraud.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("C: 1.0", "C: 0.5", 1), encoding="utf-8")
    plan = light.run("plan", "--base", "main", "--format", "md", "-o", "plan.md", cwd=repo)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "`model.fraud_logreg`" in (repo / "plan.md").read_text(encoding="utf-8")
    (repo / "reports").mkdir()
    head = "b" * 40
    report = light.run("pr-report", "--plan", "plan.md", "--reports", "reports", "--head-sha", head, "-o", "out",
                       cwd=repo)
    assert report.returncode == 0, report.stdout + report.stderr
    gh = FakeGitHub(tmp_path)
    gh.seed(comments=[], issues=[], dispatches=[],
            pulls=[{"number": 7, "sha": head, "repo": "acme/fraud", "branch": "feature"}])
    env = {**gh.step_env(), "GH_TOKEN": "test", "PATH": f"{gh.bin}{os.pathsep}{os.environ['PATH']}"}
    comment = light.run("pr-comment", "--report", "out", "--repo", "acme/fraud", "--head-sha", head,
                        "--head-repo", "acme/fraud", "--head-branch", "feature", cwd=repo, env=env)
    assert comment.returncode == 0, comment.stdout + comment.stderr
    assert [c["issue"] for c in json.loads((gh.folder / "state.json").read_text(encoding="utf-8"))["comments"]] == [7]


def test_commands_that_need_the_runtime_say_how_to_install_it(light: LightEnv, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(GOLDEN / "specs", repo / "specs")
    shutil.copytree(REPO / "data", repo / "data")
    result = light.run("run", cwd=repo)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert "pip install 'mlspec-gitops[runtime]'" in result.stderr, result.stderr
