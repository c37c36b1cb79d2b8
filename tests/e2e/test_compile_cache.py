"""The compile cache (`mlspec.write.cache`) never changes an answer: with it, `mlspec compile` and `compile --check`
print, exit and leave the tree exactly as they do without it, whatever happened since the last compile.

The property test applies random sequences of what happens to a repository (a spec edited, renamed, deleted or
only touched; a comment added; a generated file hand-edited, deleted or replaced by a link; a stray generated
file; the cache's entries damaged or removed) and after each one runs the commands in the repository with its
cache and in an identical copy with the cache off, and compares everything. Other tests: a no-change compile
takes the cache's path and writes nothing, another mlspec (a changed copy of its source) recompiles, the spec
files the cache hashes are the ones validation reads, and a cache folder that cannot be used is no cache.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec import api
from mlspec.spec.validate import discover
from mlspec.write import cache
from mlspec.write.outputs import GENERATED_HEADER
from tests.conftest import REPO, run_cli, tree_snapshot

FRAUD_SPECS = REPO / "tests" / "golden" / "fraud" / "specs"


def _project(folder: Path) -> Path:
    root = folder / "repo"
    shutil.copytree(FRAUD_SPECS, root / "specs")
    return root


def _generated(root: Path) -> list[Path]:
    return sorted(p for folder in ("generated", ".github") for p in (root / folder).rglob("*")
                  if p.is_file() or p.is_symlink())


def _spec_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "specs").rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------------
# what happens to a repository between two compiles
# ------------------------------------------------------------------------------------------------


def edit_value(root: Path, rnd: random.Random) -> None:
    path = root / "specs" / "fraud.yaml"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        new = rnd.choice(["0.05", "0.1", "0.2"])
        path.write_text(text.replace("learning_rate: 0.05", f"learning_rate: {new}", 1)
                        .replace("learning_rate: 0.1,", f"learning_rate: {new},", 1)
                        .replace("learning_rate: 0.2,", f"learning_rate: {new},", 1), encoding="utf-8")


def add_comment(root: Path, rnd: random.Random) -> None:
    files = _spec_files(root)
    if files:
        path = rnd.choice(files)
        path.write_bytes(path.read_bytes() + f"# note {rnd.randrange(1000)}\n".encode())


def touch_spec(root: Path, rnd: random.Random) -> None:
    files = _spec_files(root)
    if files:
        path = rnd.choice(files)
        stamp = path.stat().st_mtime + rnd.randrange(1, 100)
        os.utime(path, (stamp, stamp))


def rename_spec(root: Path, rnd: random.Random) -> None:
    files = _spec_files(root)
    if files:
        path = rnd.choice(files)
        target = root / "specs" / rnd.choice(["a.yaml", "models/b.yml", "z.yaml", "fraud.yaml"])
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)


def delete_spec(root: Path, rnd: random.Random) -> None:
    files = _spec_files(root)
    if len(files) > 1:
        rnd.choice(files).unlink()


def restore_specs(root: Path, rnd: random.Random) -> None:
    shutil.rmtree(root / "specs")
    shutil.copytree(FRAUD_SPECS, root / "specs")


def edit_generated(root: Path, rnd: random.Random) -> None:
    files = [p for p in _generated(root) if p.is_file() and not p.is_symlink()]
    if files:
        path = rnd.choice(files)
        path.write_bytes(path.read_bytes() + b"# hand-edited\n")


def delete_generated(root: Path, rnd: random.Random) -> None:
    files = _generated(root)
    if files:
        rnd.choice(files).unlink()


def link_generated(root: Path, rnd: random.Random) -> None:
    files = [p for p in _generated(root) if p.is_file() and not p.is_symlink()]
    if files:
        path = rnd.choice(files)
        (root / "elsewhere.txt").write_bytes(path.read_bytes())
        path.unlink()
        path.symlink_to(root / "elsewhere.txt")


def unlink_links(root: Path, rnd: random.Random) -> None:
    for path in _generated(root):
        if path.is_symlink():
            path.unlink()


def stray_generated(root: Path, rnd: random.Random) -> None:
    (root / "generated").mkdir(exist_ok=True)
    (root / "generated" / "stray.py").write_bytes(GENERATED_HEADER + b" from nothing.\n")
    (root / "generated" / "notes.txt").write_bytes(b"the user's own file\n")
    (root / "generated" / "deeper").mkdir(exist_ok=True)  # generated files may lie in subfolders
    (root / "generated" / "deeper" / "stray.yaml").write_bytes(GENERATED_HEADER + b" from nothing.\n")


def damage_cache(root: Path, rnd: random.Random) -> None:
    entries = sorted(Path(os.environ["MLSPEC_CACHE_DIR"]).glob("*.json"))
    for path in entries:
        how = rnd.choice(["truncate", "garbage", "flip", "other_key", "not_a_dict", "bad_path"])
        if how == "truncate":
            path.write_bytes(path.read_bytes()[: rnd.randrange(0, 40)])
        elif how == "garbage":
            path.write_bytes(bytes(rnd.randrange(256) for _ in range(64)))
        elif how == "not_a_dict":
            path.write_text("[1, 2, 3]")
        else:
            try:
                data = json.loads(path.read_text())
            except ValueError:  # damaged already
                continue
            if how == "flip" and data["files"]:
                name = rnd.choice(sorted(data["files"]))
                data["files"][name] = ("0" if data["files"][name][0] != "0" else "1") + data["files"][name][1:]
            elif how == "other_key":
                data["key"] = "0" * 64
            else:
                data["files"]["../outside.txt"] = "0" * 64
            path.write_text(json.dumps(data))


def clear_cache(root: Path, rnd: random.Random) -> None:
    for path in Path(os.environ["MLSPEC_CACHE_DIR"]).glob("*.json"):
        path.unlink()


MUTATIONS = [edit_value, add_comment, touch_spec, rename_spec, delete_spec, restore_specs, edit_generated,
             delete_generated, link_generated, unlink_links, stray_generated, damage_cache, clear_cache]


def _run(root: Path, *args: str, cached: bool) -> tuple[int, str, str]:
    old = os.environ["MLSPEC_CACHE_DIR"]
    if not cached:
        os.environ["MLSPEC_CACHE_DIR"] = ""  # the cache off
    try:
        result = run_cli("-C", str(root), "compile", *args)
    finally:
        os.environ["MLSPEC_CACHE_DIR"] = old
    return result.code, result.stdout.replace(str(root), "ROOT"), result.stderr.replace(str(root), "ROOT")


def _links(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): os.readlink(p) for p in root.rglob("*") if p.is_symlink()}


def _same_with_and_without_cache(root: Path, twin: Path, *args: str) -> None:
    if twin.exists():
        shutil.rmtree(twin)
    shutil.copytree(root, twin, symlinks=True)
    for name, target in _links(root).items():  # a link into the repository points into the twin
        (twin / name).unlink()
        (twin / name).symlink_to(target.replace(str(root), str(twin)))
    with_cache = _run(root, *args, cached=True)
    without = _run(twin, *args, cached=False)
    assert with_cache == without, f"compile {' '.join(args)}: with the cache {with_cache}, without {without}"
    assert tree_snapshot(root) == tree_snapshot(twin)
    assert {k: v.replace(str(root), "ROOT") for k, v in _links(root).items()} == \
        {k: v.replace(str(twin), "ROOT") for k, v in _links(twin).items()}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=5), seed=st.integers(0, 2**32 - 1))
def test_the_cache_never_changes_what_compile_says_or_writes(steps, seed, tmp_path_factory, monkeypatch) -> None:
    folder = tmp_path_factory.mktemp("cache-property")
    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(folder / "cache"))  # each example its own cache
    root, twin = _project(folder), folder / "twin"
    rnd = random.Random(seed)
    first = _run(root, cached=True)
    assert first[0] == 0, first
    for step in steps:
        step(root, rnd)
        _same_with_and_without_cache(root, twin, "--check")
        _same_with_and_without_cache(root, twin)
        _same_with_and_without_cache(root, twin, "--check")


def test_a_no_change_compile_takes_the_cache_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    root = _project(tmp_path)
    assert run_cli("-C", str(root), "compile").code == 0
    stamps = {p: p.stat().st_mtime_ns for p in _generated(root)}

    def not_called(*args, **kwargs):
        raise AssertionError("the specs were validated again although the cache knew them")

    monkeypatch.setattr(api, "load", not_called)
    again = run_cli("-C", str(root), "compile")
    assert again.code == 0 and again.stdout.startswith("Nothing to do:"), again.stdout + again.stderr
    check = run_cli("-C", str(root), "compile", "--check")
    assert check.code == 0 and check.stdout.startswith("Generated files are up to date"), check.stdout
    assert {p: p.stat().st_mtime_ns for p in _generated(root)} == stamps
    monkeypatch.undo()
    # a generated file edited by hand: the cache's hashes disagree, so the full path repairs it
    workflow = sorted((root / ".github" / "workflows").glob("mlspec-*.yml"))[0]
    original = workflow.read_bytes()
    workflow.write_bytes(original.replace(b"name:", b"name: x", 1))
    check = run_cli("-C", str(root), "compile", "--check")
    assert check.code == 1 and f"modified: .github/workflows/{workflow.name}" in check.stdout
    assert run_cli("-C", str(root), "compile").code == 0
    assert workflow.read_bytes() == original
    # a file of mlspec's that no compile lists, in a subfolder of generated/ (a killed compile's): removed
    (root / "generated" / "deeper").mkdir()
    (root / "generated" / "deeper" / "stray.yaml").write_bytes(GENERATED_HEADER + b" from nothing.\n")
    check = run_cli("-C", str(root), "compile", "--check")
    assert check.code == 1 and "orphaned: generated/deeper/stray.yaml" in check.stdout, check.stdout
    assert run_cli("-C", str(root), "compile").code == 0
    assert not (root / "generated" / "deeper" / "stray.yaml").exists()


def test_another_mlspec_compiles_again(tmp_path: Path) -> None:
    """A changed copy of mlspec's source (as a new version would be) gets no answer from the entries of this one."""
    root = _project(tmp_path)
    assert run_cli("-C", str(root), "compile").code == 0
    package = tmp_path / "other" / "mlspec"
    shutil.copytree(REPO / "src" / "mlspec", package, ignore=shutil.ignore_patterns("__pycache__"))
    tree = package / "emit" / "tree.py"
    text = tree.read_text(encoding="utf-8")
    assert "Generated by mlspec from" in text
    tree.write_text(text.replace("Generated by mlspec from", "Generated by mlspec (another) from"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(package.parent)}

    def other(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mlspec", "-C", str(root), "compile", *args], env=env,
                              capture_output=True, text=True, check=False, timeout=600)

    done = other()
    assert done.returncode == 0 and "Compiled:" in done.stdout and " updated" in done.stdout, done.stdout + done.stderr
    assert b"Generated by mlspec (another) from" in (root / "generated" / "manifest.json").read_bytes() or any(
        b"(another)" in p.read_bytes() for p in _generated(root))
    assert other("--check").returncode == 0
    # and back to this mlspec: its own entry says the tree is not what it generates any more
    check = run_cli("-C", str(root), "compile", "--check")
    assert check.code == 1, check.stdout
    assert run_cli("-C", str(root), "compile").code == 0
    assert not any(b"(another)" in p.read_bytes() for p in _generated(root))


def test_the_cache_hashes_the_spec_files_validation_reads(tmp_path: Path) -> None:
    root = tmp_path
    names = ["a.yaml", "b.yml", ".yaml", "..yaml", "c.YAML", "d.yaml.txt", "e", "deep/er/f.yaml", ".hidden/g.yml",
             "h.json", "weird name.yaml", "x.y.yaml"]
    for name in names:
        (root / "specs" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "specs" / name).write_text("apiVersion: mlspec/v1\n", encoding="utf-8")
    (root / "specs" / "dir.yaml").mkdir()
    found, _ = discover(root)
    assert sorted(cache.read_specs(root)) == [display for display, _ in found]


def test_the_cache_vouches_for_no_folder_with_links_or_odd_entries(tmp_path: Path) -> None:
    root = tmp_path
    (root / "specs").mkdir()
    (root / "specs" / "a.yaml").write_text("apiVersion: mlspec/v1\n", encoding="utf-8")
    assert cache.read_specs(root) == {"specs/a.yaml": b"apiVersion: mlspec/v1\n"}
    (root / "specs" / "b.yaml").symlink_to(root / "specs" / "a.yaml")
    assert cache.read_specs(root) is None
    (root / "specs" / "b.yaml").unlink()
    (root / "elsewhere").mkdir()
    (root / "specs" / "more").symlink_to(root / "elsewhere")
    assert cache.read_specs(root) is None
    (root / "specs" / "more").unlink()
    os.mkfifo(root / "specs" / "c.yaml")
    assert cache.read_specs(root) is None


@pytest.mark.parametrize("setting", ["", "file"])
def test_a_cache_that_cannot_be_used_is_no_cache(tmp_path: Path, monkeypatch, setting: str) -> None:
    if setting == "file":  # the folder's place is taken by a file: nothing can be stored
        (tmp_path / "taken").write_text("x")
        setting = str(tmp_path / "taken")
    monkeypatch.setenv("MLSPEC_CACHE_DIR", setting)
    root = _project(tmp_path)
    first, again = run_cli("-C", str(root), "compile"), run_cli("-C", str(root), "compile")
    assert first.code == 0 and again.code == 0 and again.stdout.startswith("Nothing to do:"), again.stderr
    assert cache.folder() is None or not Path(cache.folder()).is_dir()


# ------------------------------------------------------------------------------------------------
# plan: each side's files (and a proven base manifest) from the cache, the same plan as without it
# ------------------------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null"}
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


def _plan(root: Path, fmt: str, *, cached: bool) -> tuple[int, str]:
    old = os.environ["MLSPEC_CACHE_DIR"]
    if not cached:
        os.environ["MLSPEC_CACHE_DIR"] = ""
    try:
        result = run_cli("-C", str(root), "plan", "--base", "HEAD", "--format", fmt, "--explain",
                         "--detailed-exitcode")
    finally:
        os.environ["MLSPEC_CACHE_DIR"] = old
    assert result.code in (0, 2), result.stdout + result.stderr
    return result.code, result.stdout


@pytest.mark.parametrize("committed", ["specs", "compiled", "compiled, and the edit compiled"])
@pytest.mark.parametrize("case", ["none", *sorted(__import__("tests.plan.test_plan", fromlist=["CASES"]).CASES)])
def test_plan_is_the_same_with_the_cache(tmp_path: Path, case: str, committed: str) -> None:
    """Every plan case, with only the specs committed or with the compiled tree too (the base's manifest is
    then read from git once the cache proves it current), and with the edit compiled (the head's manifest is
    then the work tree's): cold cache, warm cache and no cache agree."""
    from tests.plan.test_plan import CASES

    root = _project(tmp_path)
    if committed == "compiled":
        assert run_cli("-C", str(root), "compile").code == 0
    _git(root, "init", "--quiet", "--initial-branch=main")
    _git(root, "add", "-A")
    _git(root, "commit", "--quiet", "-m", "base")
    if case != "none":
        CASES[case](root)
    if committed == "compiled, and the edit compiled":  # the head then comes from the cache too
        assert run_cli("-C", str(root), "compile").code == 0
    for fmt in ("json", "md", "text"):
        without = _plan(root, fmt, cached=False)
        cold = _plan(root, fmt, cached=True)
        warm = _plan(root, fmt, cached=True)
        assert cold == without and warm == without, fmt
