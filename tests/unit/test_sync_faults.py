"""Fault injection into `mlspec.write.sync.apply`: after a failure at any write point the tree is entirely the
old generation (byte for byte, no `*.mlspec-new` / `*.mlspec-old` left); without one, entirely the new.
After a kill at any of them, the next `mlspec compile` leaves the new generation and `--check` passes.

The old generation is the golden `everything` project compiled; the new one removes a model with its
gate and monitor (deletes), adds a model with a gate (creates) and edits descriptions (updates). The
write points: the `write` callable for each staged file, and every `os.replace` call (swaps into
place, backups, and deletions), failed one at a time: N = 1 .. the number of calls a clean run makes.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from mlspec import api
from mlspec.emit import MANIFEST_PATH
from mlspec.emit.tree import emit
from mlspec.write import sync
from mlspec.write.outputs import NEW_SUFFIX, OLD_SUFFIX
from mlspec.write.outputs import write_new as _write_file
from mlspec.write.sync import Changes, apply, compare
from tests.conftest import REPO, run_cli, tree_snapshot
from tests.spec_factory import dump

GOLDEN_SPECS = REPO / "tests" / "golden" / "everything" / "specs"
REAL_REPLACE = os.replace
HANG_GUARD = 300.0  # seconds: turns a hung process into a failure; never a speed limit


class InjectedError(OSError):
    """The failure this test injects."""


def _edit_specs(root: Path) -> None:
    models_file = root / "specs" / "models.yaml"
    models = yaml.safe_load(models_file.read_text(encoding="utf-8"))
    del models["models"]["churn_gbm"], models["monitors"]["churn_gbm_daily"]
    models["models"]["churn_logreg"]["description"] = "Edited: every script of this model changes."
    models["models"]["churn_tree"] = {"task": "classification", "source": "orders", "label": "churned",
                                      "features": ["total_log", "channel"], "estimator": "random_forest",
                                      "metrics": ["roc_auc"]}
    models_file.write_text(dump(models), encoding="utf-8")
    gates_file = root / "specs" / "gates.yaml"
    gates = yaml.safe_load(gates_file.read_text(encoding="utf-8"))
    del gates["gates"]["churn_gbm_release"], gates["gates"]["churn_gbm_recall"]
    gates["gates"]["churn_tree_release"] = {"model": "churn_tree", "require": ["roc_auc >= 0.6"]}
    gates_file.write_text(dump(gates), encoding="utf-8")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A project holding the old generation with edited specs; its snapshot; the snapshot after a clean apply."""
    root = tmp_path_factory.mktemp("template") / "project"
    shutil.copytree(GOLDEN_SPECS, root / "specs")
    assert run_cli("-C", str(root), "compile").code == 0
    (root / "generated" / "user_notes.txt").write_text("not generated\n", encoding="utf-8")
    _edit_specs(root)
    old = tree_snapshot(root)
    clean = tmp_path_factory.mktemp("clean") / "project"
    shutil.copytree(root, clean)
    files, changes = _plan(clean)
    assert changes.created and changes.updated and changes.deleted, changes
    apply(clean, files, changes)
    new = tree_snapshot(clean)
    assert new != old
    return root, old, new


def _plan(root: Path) -> tuple[dict[str, bytes], Changes]:
    project = api.load(root)
    assert project.ok
    pins = api.pins(project)  # what compile writes, generated/constraints.txt included
    files = emit(project.manifest, constraints=pins.text if pins is not None else None)
    return files, compare(root, files)


def _fresh(template_root: Path, tmp_path: Path, n: int) -> Path:
    root = tmp_path / f"run{n}"
    shutil.copytree(template_root, root, symlinks=True)
    return root


def _leftovers(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.name.endswith((NEW_SUFFIX, OLD_SUFFIX)))


def _count_replace_calls(template_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    calls = []

    def counting(src, dst, **kwargs):
        calls.append((src, dst))
        return REAL_REPLACE(src, dst, **kwargs)

    root = _fresh(template_root, tmp_path, 0)
    files, changes = _plan(root)
    monkeypatch.setattr(os, "replace", counting)
    apply(root, files, changes)
    monkeypatch.setattr(os, "replace", REAL_REPLACE)
    return len(calls)


def test_clean_apply_gives_entirely_the_new_tree(template, tmp_path: Path) -> None:
    template_root, old, new = template
    root = _fresh(template_root, tmp_path, 0)
    files, changes = _plan(root)
    apply(root, files, changes)
    assert tree_snapshot(root) == new
    assert _leftovers(root) == []
    assert new["generated/user_notes.txt"] == b"not generated\n"
    assert "generated/model_churn_gbm.py" in old and "generated/model_churn_gbm.py" not in new
    assert "generated/model_churn_tree.py" in new and "generated/model_churn_tree.py" not in old
    assert not compare(root, files).stale


def test_failing_replace_at_every_call_restores_the_old_tree(template, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    template_root, old, _new = template
    total = _count_replace_calls(template_root, tmp_path, monkeypatch)
    files_count = len(_plan(_fresh(template_root, tmp_path, -1))[1].deleted)
    assert total > files_count > 0
    for n in range(1, total + 1):
        root = _fresh(template_root, tmp_path, n)
        files, changes = _plan(root)
        calls = 0

        def failing(src, dst, n=n, **kwargs):
            nonlocal calls
            calls += 1
            if calls == n:
                raise InjectedError(f"injected failure at os.replace call {n}")
            return REAL_REPLACE(src, dst, **kwargs)

        monkeypatch.setattr(os, "replace", failing)
        try:
            with pytest.raises(InjectedError):
                apply(root, files, changes)
        finally:
            monkeypatch.setattr(os, "replace", REAL_REPLACE)
        assert _leftovers(root) == [], f"call {n}/{total}"
        assert tree_snapshot(root) == old, f"call {n}/{total}: the tree is not the old generation"
        shutil.rmtree(root)


def test_failing_write_of_every_staged_file_restores_the_old_tree(template, tmp_path: Path) -> None:
    """The write callable fails before it touches the disk (e.g. the file cannot be created)."""
    template_root, old, _new = template
    staged = len(_plan(_fresh(template_root, tmp_path, -1))[1].created) + \
        len(_plan(_fresh(template_root, tmp_path, -2))[1].updated)
    assert staged > 2
    for n in range(1, staged + 1):
        root = _fresh(template_root, tmp_path, n)
        files, changes = _plan(root)
        calls = 0

        def write(path: Path, content: bytes, n=n) -> None:
            nonlocal calls
            calls += 1
            if calls == n:
                raise InjectedError(f"injected failure writing staged file {n}")
            _write_file(path, content)

        with pytest.raises(InjectedError):
            apply(root, files, changes, write=write)
        assert _leftovers(root) == [], f"write {n}/{staged}"
        assert tree_snapshot(root) == old, f"write {n}/{staged}"
        shutil.rmtree(root)


def test_failing_flush_leaves_nothing_behind(template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch sync(2) that makes the staged files durable fails (a full or failing disk)."""
    template_root, old, _new = template
    root = _fresh(template_root, tmp_path, 0)
    files, changes = _plan(root)

    def failing_sync() -> None:
        raise InjectedError(5, "Input/output error (injected)")

    monkeypatch.setattr(os, "sync", failing_sync)
    with pytest.raises(InjectedError):
        apply(root, files, changes)
    assert _leftovers(root) == []
    assert tree_snapshot(root) == old


def test_failing_fsync_of_every_staged_file_leaves_nothing_behind(template, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the platform has no sync(2), each staged file is fsynced: fail each of them in turn."""
    template_root, old, _new = template
    monkeypatch.delattr(os, "sync")
    staged = len(_plan(_fresh(template_root, tmp_path, -1))[1].created) + \
        len(_plan(_fresh(template_root, tmp_path, -2))[1].updated)
    real_fsync = os.fsync
    for n in range(1, staged + 1):
        root = _fresh(template_root, tmp_path, n)
        files, changes = _plan(root)
        calls = 0

        def failing_fsync(fd: int, n=n) -> None:
            nonlocal calls
            calls += 1
            if calls == n:
                raise InjectedError(28, "No space left on device (injected)")
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", failing_fsync)
        try:
            with pytest.raises(InjectedError):
                apply(root, files, changes)
        finally:
            monkeypatch.setattr(os, "fsync", real_fsync)
        assert calls >= n, "each staged file is fsynced"
        assert _leftovers(root) == [], f"fsync {n}/{staged}"
        assert tree_snapshot(root) == old, f"fsync {n}/{staged}"
        shutil.rmtree(root)


def test_directory_in_place_of_a_generated_file_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(GOLDEN_SPECS, root / "specs")
    (root / "generated" / "model_churn_gbm.py").mkdir(parents=True)
    (root / "generated" / "model_churn_gbm.py" / "user.txt").write_text("mine\n", encoding="utf-8")
    before = tree_snapshot(root)
    result = run_cli("-C", str(root), "compile")
    assert result.code != 0
    assert _leftovers(root) == []
    assert tree_snapshot(root) == before, "compile failed but changed the tree"


linux_only = pytest.mark.skipif(not (sys.platform.startswith("linux") and hasattr(os, "fork")),
                                reason="kills a forked compile (fork is safe on Linux)")
pytestmark = pytest.mark.usefixtures("single_threaded")  # fork only while no other thread runs

REAL_UNLINK = os.unlink


def _dying_at(n: int):
    """`write`, os.replace and os.unlink that end the process, as kill -9 would, at their n-th call together."""
    calls = 0

    def wrap(real):
        def call(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == n:
                os._exit(9)
            return real(*args, **kwargs)
        return call

    return wrap(_write_file), wrap(REAL_REPLACE), wrap(REAL_UNLINK)


def _write_points(template_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many staged writes, renames and removals a clean apply makes."""
    calls = []
    root = _fresh(template_root, tmp_path, 0)
    files, changes = _plan(root)
    monkeypatch.setattr(os, "replace", lambda *a, **k: calls.append(a) or REAL_REPLACE(*a, **k))
    monkeypatch.setattr(os, "unlink", lambda *a, **k: calls.append(a) or REAL_UNLINK(*a, **k))
    apply(root, files, changes, write=lambda *a: calls.append(a) or _write_file(*a))
    monkeypatch.setattr(os, "replace", REAL_REPLACE)
    monkeypatch.setattr(os, "unlink", REAL_UNLINK)
    shutil.rmtree(root)
    return len(calls)


def _killed_at(template_root: Path, tmp_path: Path, n: int) -> Path:
    """A copy of the template whose compile was killed at its n-th staged write, rename or removal."""
    root = _fresh(template_root, tmp_path, n)
    files, changes = _plan(root)
    pid = os.fork()
    if pid == 0:  # the compile that dies
        try:
            write, os.replace, os.unlink = _dying_at(n)
            apply(root, files, changes, write=write)
        finally:
            os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 9, f"no kill at write point {n}"
    return root


@linux_only
def test_after_a_kill_at_any_write_point_the_next_compile_leaves_the_new_tree(template, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 at every staged write, rename and removal of a compile. The manifest is renamed last, so
    while any other file is still old the previous manifest (and its list of files to delete) stays;
    `compile --check` reports such a mixed tree. The next `mlspec compile` removes what the killed one
    left beside its targets and leaves exactly the new tree, which `--check` then accepts."""
    template_root, old, new = template
    total = _write_points(template_root, tmp_path, monkeypatch)
    assert total > 20
    mixed = 0
    for n in range(1, total + 1):
        root = _killed_at(template_root, tmp_path, n)
        killed = {path: data for path, data in tree_snapshot(root).items() if path not in _leftovers(root)}
        if killed[MANIFEST_PATH] == new[MANIFEST_PATH]:
            assert killed == new, f"the new manifest stands beside old files after a kill at {n} of {total}"
        else:
            assert killed[MANIFEST_PATH] == old[MANIFEST_PATH]
        if killed not in (old, new):
            mixed += 1
            check = run_cli("-C", str(root), "compile", "--check")
            assert check.code == 1 and "Generated files are stale" in check.stderr, f"write point {n}"
        result = run_cli("-C", str(root), "compile")
        assert result.code == 0, result.stderr
        assert tree_snapshot(root) == new, f"not the new tree after a kill at {n} of {total}"
        assert _leftovers(root) == []
        assert run_cli("-C", str(root), "compile", "--check").code == 0
        shutil.rmtree(root)
    assert mixed > 0  # kills between two renames left a tree the next compile had to repair


@linux_only
def test_a_kill_then_other_specs_leaves_no_file_of_the_killed_compile(template, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 at every write point, then the specs change back before the next compile: a file the killed
    compile renamed into place (not listed by the manifest it never wrote, not produced by the new specs)
    is found by mlspec's header and removed, so the tree is exactly what the restored specs generate."""
    template_root, _old, _new = template
    expected_root = tmp_path / "expected"
    shutil.copytree(GOLDEN_SPECS, expected_root / "specs")
    (expected_root / "generated").mkdir()
    (expected_root / "generated" / "user_notes.txt").write_text("not generated\n", encoding="utf-8")
    assert run_cli("-C", str(expected_root), "compile").code == 0
    expected = tree_snapshot(expected_root)
    total = _write_points(template_root, tmp_path, monkeypatch)
    for n in range(1, total + 1):
        root = _killed_at(template_root, tmp_path, n)
        shutil.rmtree(root / "specs")
        shutil.copytree(GOLDEN_SPECS, root / "specs")
        result = run_cli("-C", str(root), "compile")
        assert result.code == 0, result.stderr
        assert tree_snapshot(root) == expected, f"a kill at {n} of {total} left a file behind"
        shutil.rmtree(root)


@linux_only
def test_the_next_compile_says_it_removed_what_a_killed_one_left(template, tmp_path: Path) -> None:
    template_root, _old, new = template
    root = _killed_at(template_root, tmp_path, 4)  # while staging: three staged files are left
    assert len(_leftovers(root)) == 3
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stderr
    assert "An earlier `mlspec compile` was interrupted: removed the 3 files" in result.stderr
    assert tree_snapshot(root) == new and _leftovers(root) == []


def test_sweep_removes_only_compile_s_own_leftovers_and_never_through_links(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "workflows").mkdir(parents=True)
    (shared / "workflows" / "mlspec-x.yml.mlspec-old").write_text("someone else's\n", encoding="utf-8")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    root = tmp_path / "project"
    (root / "generated").mkdir(parents=True)
    (root / "generated" / "model_a.py.mlspec-new").write_text("left by a kill\n", encoding="utf-8")
    (root / "generated" / "model_b.py.mlspec-old").write_text("left by a kill\n", encoding="utf-8")
    (root / "generated" / "notes.txt.bak").write_text("mine\n", encoding="utf-8")
    (root / "generated" / "link.py.mlspec-new").symlink_to(victim)
    (root / "generated" / "argo").mkdir()  # generated files in a subfolder leave theirs there
    (root / "generated" / "argo" / "train.yaml.mlspec-old").write_text("left by a kill\n", encoding="utf-8")
    (root / "generated" / "elsewhere").symlink_to(shared / "workflows", target_is_directory=True)
    (root / ".github").symlink_to(shared, target_is_directory=True)
    assert sync.sweep(root) == [str(root / "generated" / "argo" / "train.yaml.mlspec-old"),
                                str(root / "generated" / "model_a.py.mlspec-new"),
                                str(root / "generated" / "model_b.py.mlspec-old")]
    assert sorted(p.name for p in (root / "generated").iterdir()) == ["argo", "elsewhere", "link.py.mlspec-new",
                                                                      "notes.txt.bak"]
    assert (shared / "workflows" / "mlspec-x.yml.mlspec-old").exists()
    assert victim.read_text(encoding="utf-8") == "keep me\n"


@linux_only
def test_a_second_compile_waits_for_the_first(template, tmp_path: Path) -> None:
    """While a compile holds the repository's lock, another waits (and says so), then compiles."""
    import subprocess
    import threading

    template_root, _old, new = template
    root = _fresh(template_root, tmp_path, 0)
    with sync.lock(root):
        second = subprocess.Popen([sys.executable, "-m", "mlspec", "-C", str(root), "compile"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        hang_guard = threading.Timer(HANG_GUARD, second.kill)  # not a speed limit: only a hung compile
        hang_guard.start()
        try:
            said = []  # its lines on stderr up to the one that says it waits (all of them if it never does)
            while not (said and "Waiting for another `mlspec compile`" in said[-1]):
                line = second.stderr.readline()
                assert line, f"the second compile ended without waiting for the lock: {''.join(said)}"
                said.append(line)
        finally:
            hang_guard.cancel()
            hang_guard.join()  # no thread left behind for the tests that fork
        assert second.poll() is None, "the second compile did not wait for the lock"
        assert tree_snapshot(root) != new
    _out, err = second.communicate(timeout=HANG_GUARD)
    assert second.returncode == 0, "".join(said) + err
    assert tree_snapshot(root) == new


def test_a_repository_that_cannot_be_locked_still_compiles(template, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """On NFS, flock on a folder fails (EBADF): compile warns and goes on without the lock."""
    import errno
    import fcntl

    template_root, _old, new = template
    root = _fresh(template_root, tmp_path, 0)

    def failing_flock(fd: int, operation: int) -> None:
        raise OSError(errno.EBADF, "Bad file descriptor (injected)")

    monkeypatch.setattr(fcntl, "flock", failing_flock)
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stderr
    assert "cannot lock" in result.stderr
    assert tree_snapshot(root) == new
