"""Fault injection into `mlspec.sync.apply`: after a failure at any write point the tree is entirely the
old generation (byte for byte, no `*.mlspec-new` / `*.mlspec-old` left); without one, entirely the new.

The old generation is the golden `everything` project compiled; the new one removes a model with its
gate and monitor (deletes), adds a model with a gate (creates) and edits descriptions (updates). The
write points: the `write` callable for each staged file, and every `os.replace` call (swaps into
place, backups, and deletions), failed one at a time: N = 1 .. the number of calls a clean run makes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from mlspec import api, forkjoin, recovery, sync
from mlspec.emit.tree import emit
from mlspec.outputs import NEW_SUFFIX, OLD_SUFFIX
from mlspec.outputs import write_new as _write_file
from mlspec.recovery import recover
from mlspec.sync import Changes, apply, compare
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


linux_only = pytest.mark.skipif(not forkjoin.usable(), reason="fork is used on Linux, single-threaded, only")
pytestmark = pytest.mark.usefixtures("single_threaded")  # fork is used only while no other thread runs


@pytest.fixture
def forked_staging(template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict, Changes]:
    """A fresh copy of the old generation and its plan, with staging shared with a child for any size."""
    root = _fresh(template[0], tmp_path, 0)
    monkeypatch.setattr(sync, "_FORK_FROM_FILES", 0)
    return root, *_plan(root)


@linux_only
def test_staging_shared_with_a_child_gives_the_same_tree(template, forked_staging, tmp_path: Path) -> None:
    """Many staged files are written by two processes: a child writes the workflows (its pid proves it
    ran and was used), this process the rest; the tree is the clean apply's, byte for byte."""
    _template_root, _old, new = template
    root, files, changes = forked_staging
    writers = tmp_path / "writers"

    def write(path: str, content: bytes) -> None:
        with writers.open("a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {Path(path).parent.name}\n")
        _write_file(path, content)

    apply(root, files, changes, write=write)
    assert tree_snapshot(root) == new
    assert _leftovers(root) == []
    by_pid: dict[str, set[str]] = {}
    for line in writers.read_text(encoding="utf-8").splitlines():
        pid, folder = line.split()
        by_pid.setdefault(pid, set()).add(folder)
    assert by_pid.pop(str(os.getpid())) == {"generated"}
    assert list(by_pid.values()) == [{"workflows"}]


@linux_only
def test_a_child_that_fails_to_stage_leaves_its_share_to_this_process(template, forked_staging) -> None:
    """A write that fails only in the child (its disk quota, a signal): the files are written here."""
    _template_root, _old, new = template
    root, files, changes = forked_staging
    parent = os.getpid()

    def write(path: str, content: bytes) -> None:
        if os.getpid() != parent:
            raise InjectedError("injected failure in the staging child")
        _write_file(path, content)

    apply(root, files, changes, write=write)
    assert tree_snapshot(root) == new
    assert _leftovers(root) == []


@linux_only
def test_a_failing_write_here_while_the_child_stages_restores_the_old_tree(template, forked_staging) -> None:
    _template_root, old, _new = template
    root, files, changes = forked_staging
    parent = os.getpid()

    def write(path: str, content: bytes) -> None:
        if os.getpid() == parent and Path(path).parent.name == "generated":
            raise InjectedError("injected failure writing a staged script")
        _write_file(path, content)

    with pytest.raises(InjectedError):
        apply(root, files, changes, write=write)
    assert _leftovers(root) == []  # the child's staged workflows too: it had finished before the cleanup
    assert tree_snapshot(root) == old


REAL_UNLINK = os.unlink


def _dying_at(n: int):
    """os.replace and os.unlink that end the process, as kill -9 would, at their n-th call together."""
    calls = 0

    def wrap(real):
        def call(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == n:
                os._exit(9)
            return real(*args, **kwargs)
        return call

    return wrap(REAL_REPLACE), wrap(REAL_UNLINK)


def _renames_and_removals(template_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    calls = []
    root = _fresh(template_root, tmp_path, 0)
    files, changes = _plan(root)
    monkeypatch.setattr(os, "replace", lambda *a, **k: calls.append(a) or REAL_REPLACE(*a, **k))
    monkeypatch.setattr(os, "unlink", lambda *a, **k: calls.append(a) or REAL_UNLINK(*a, **k))
    apply(root, files, changes)
    monkeypatch.setattr(os, "replace", REAL_REPLACE)
    monkeypatch.setattr(os, "unlink", REAL_UNLINK)
    return len(calls)


@linux_only
def test_a_compile_killed_at_any_rename_or_removal_is_undone_by_the_next(template, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 at every rename and removal of a compile's swap: `recover` (what the next `mlspec compile`
    runs first) leaves the tree entirely old, or entirely new once the swap had finished; then the
    compile completes. No journal, staged file or backup is left."""
    template_root, old, new = template
    total = _renames_and_removals(template_root, tmp_path, monkeypatch)
    assert total > 10
    outcomes = []
    for n in range(1, total + 1):
        root = _fresh(template_root, tmp_path, n)
        files, changes = _plan(root)
        pid = os.fork()
        if pid == 0:  # the compile that dies
            try:
                os.replace, os.unlink = _dying_at(n)
                apply(root, files, changes)
            finally:
                os._exit(0)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 9, f"no kill at call {n} of {total}"
        assert recovery.interrupted(root) or tree_snapshot(root) != old
        recover(root)
        after = tree_snapshot(root)
        assert after in (old, new), f"a mix after a kill at call {n} of {total}"
        assert _leftovers(root) == [] and not recovery.interrupted(root), f"call {n} of {total}"
        outcomes.append("old" if after == old else "new")
        files, changes = _plan(root)
        apply(root, files, changes)
        assert tree_snapshot(root) == new
        shutil.rmtree(root)
    # killed before the journal was removed: old; after (while removing backups): new
    assert outcomes[0] == "old" and outcomes[-1] == "new" and outcomes == sorted(outcomes, reverse=True)


def test_recover_does_nothing_through_a_linked_generated_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".mlspec-journal").write_text('{"swaps": [["generated/a.py", true]], "deleted": []}',
                                               encoding="utf-8")
    (elsewhere / "a.py.mlspec-old").write_text("x", encoding="utf-8")
    root = tmp_path / "project"
    root.mkdir()
    (root / "generated").symlink_to(elsewhere, target_is_directory=True)
    assert recover(root) == []
    assert sorted(p.name for p in elsewhere.iterdir()) == [".mlspec-journal", "a.py.mlspec-old"]


def test_a_compile_after_a_kill_says_it_put_the_old_files_back(template, tmp_path: Path) -> None:
    """Through the CLI: `--check` warns about the interrupted compile, `compile` recovers and finishes."""
    template_root, _old, _new = template
    root = _fresh(template_root, tmp_path, 0)
    files, changes = _plan(root)
    pid = os.fork()
    if pid == 0:
        try:
            os.replace, os.unlink = _dying_at(4)
            apply(root, files, changes)
        finally:
            os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 9
    check = run_cli("-C", str(root), "compile", "--check")
    assert check.code == 1 and "interrupted" in check.stderr
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stderr
    assert "Recovered from an interrupted compile" in result.stderr
    assert _leftovers(root) == [] and not recovery.interrupted(root)
    assert run_cli("-C", str(root), "compile", "--check").code == 0


def _killed_mid_swap(template_root: Path, tmp_path: Path, n: int, at: int = 4) -> Path:
    """A copy of the template whose compile was killed at the `at`-th rename or removal of its swap."""
    root = _fresh(template_root, tmp_path, n)
    files, changes = _plan(root)
    pid = os.fork()
    if pid == 0:
        try:
            os.replace, os.unlink = _dying_at(at)
            apply(root, files, changes)
        finally:
            os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 9
    assert recovery.interrupted(root)
    return root


def _journal(root: Path) -> Path:
    return root / recovery.JOURNAL_PATH


@linux_only
@pytest.mark.parametrize("planted", [
    '{"version": 1, "swaps": [["generated/user_notes.txt", false, "%s"]], "deleted": []}' % ("0" * 64),
    '{"version": 1, "swaps": [[".github/actionlint.yaml", false, "%s"]], "deleted": []}' % ("0" * 64),
])
def test_a_planted_journal_cannot_delete_a_user_s_file(template, tmp_path: Path, planted: str) -> None:
    """A journal committed in a pull request names a user's file as created by the interrupted compile:
    the file holds other bytes than the journal's hash (or is the repository's own lint config), so it
    stays."""
    template_root, _old, _new = template
    root = _fresh(template_root, tmp_path, 0)
    (root / ".github").mkdir(exist_ok=True)
    (root / ".github" / "actionlint.yaml").write_text("self-hosted-runner:\n  labels: [gpu]\n", encoding="utf-8")
    before = tree_snapshot(root)
    _journal(root).write_text(planted, encoding="utf-8")
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stderr
    assert "Recovered" not in result.stderr
    after = tree_snapshot(root)
    assert after["generated/user_notes.txt"] == before["generated/user_notes.txt"]
    assert after[".github/actionlint.yaml"] == before[".github/actionlint.yaml"]
    assert not recovery.interrupted(root)


@linux_only
@pytest.mark.parametrize("journal", ["[" * 100_000, '{"version": 1, "swaps": [["generated/a\\u0000b", true, null]], '
                                     '"deleted": []}', '{"version": 1, "swaps": [["../outside", true, null]], '
                                     '"deleted": []}', "not json", '{"version": 2, "swaps": [], "deleted": []}'])
def test_a_journal_mlspec_did_not_write_stops_compile_and_changes_nothing(template, tmp_path: Path,
                                                                           journal: str) -> None:
    template_root, _old, _new = template
    root = _killed_mid_swap(template_root, tmp_path, 0)
    _journal(root).write_text(journal, encoding="utf-8")
    before = tree_snapshot(root)
    result = run_cli("-C", str(root), "compile")
    assert result.code == 1
    assert "is not a journal of mlspec's" in result.stderr and "git checkout -- generated" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree_snapshot(root) == before  # the backups stay, for the user to decide


@linux_only
def test_an_unreadable_journal_keeps_the_backups(template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template_root, _old, _new = template
    root = _killed_mid_swap(template_root, tmp_path, 0)
    before = tree_snapshot(root)
    real_open = open

    def failing_open(path, *args, **kwargs):
        if str(path).endswith(recovery.JOURNAL_PATH.rsplit("/", 1)[1]):
            raise PermissionError(13, "Permission denied (injected)", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(recovery.RecoveryError):
        recover(root)
    monkeypatch.setattr("builtins.open", real_open)
    assert tree_snapshot(root) == before


@linux_only
def test_recover_clears_leftovers_only_outside_links(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "workflows").mkdir(parents=True)
    (shared / "workflows" / "mlspec-x.yml.mlspec-old").write_text("someone else's\n", encoding="utf-8")
    root = tmp_path / "project"
    (root / "generated").mkdir(parents=True)
    (root / "generated" / "model_a.py.mlspec-new").write_text("left by a kill\n", encoding="utf-8")
    (root / ".github").symlink_to(shared, target_is_directory=True)
    assert recover(root) == []
    assert not (root / "generated" / "model_a.py.mlspec-new").exists()
    assert (shared / "workflows" / "mlspec-x.yml.mlspec-old").exists()


@linux_only
def test_a_second_compile_waits_for_the_first(template, tmp_path: Path) -> None:
    """While a compile holds the repository's lock, another waits (and says so), then compiles."""
    import subprocess
    import sys
    import threading

    template_root, _old, new = template
    root = _fresh(template_root, tmp_path, 0)
    with recovery.lock(root):
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
            hang_guard.join()  # no thread left behind: forkjoin forks only in a single-threaded process
        assert second.poll() is None, "the second compile did not wait for the lock"
        assert tree_snapshot(root) != new
    _out, err = second.communicate(timeout=HANG_GUARD)
    assert second.returncode == 0, "".join(said) + err
    assert tree_snapshot(root) == new


@linux_only
def test_a_staging_child_stops_when_its_compile_is_killed(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 of a compile whose child stages the workflows: the child stops at its next file, so the
    lock is free at once, and the next compile recovers and writes the new tree."""
    import fcntl
    import signal
    import time

    root = tmp_path / "project"  # a first compile: every workflow is created, by the child
    shutil.copytree(GOLDEN_SPECS, root / "specs")
    files, changes = _plan(root)
    assert len([p for p in changes.created if p.startswith(".github/workflows/")]) >= 6
    monkeypatch.setattr(sync, "_FORK_FROM_FILES", 0)
    started = tmp_path / "started"  # a line with its process id per write begun
    release = tmp_path / "release"  # writes wait for this file

    def held_write(path: str, content: bytes) -> None:
        fd = os.open(started, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        while not release.exists():
            time.sleep(0.005)
        _write_file(path, content)

    def writers() -> list[int]:
        return [int(pid) for pid in started.read_text().split()] if started.exists() else []

    pid = os.fork()
    if pid == 0:
        try:
            with recovery.lock(root):
                apply(root, files, changes, write=held_write)
        finally:
            os._exit(0)
    try:
        hang_guard = time.monotonic() + HANG_GUARD  # not a speed limit: only a compile that never writes
        while len(set(writers())) < 2:  # the compile and its staging child are each inside a first write
            assert os.waitpid(pid, os.WNOHANG) == (0, 0), f"the compile ended before it staged: {writers()}"
            assert time.monotonic() < hang_guard, f"no staging child began to write: {writers()}"
            time.sleep(0.01)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    child = (set(writers()) - {pid}).pop()
    release.touch()
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # free once the orphaned child has stopped: it holds the compile's lock
    finally:
        os.close(fd)
    # it finished the file it was writing when its compile died, and began no other
    assert writers().count(child) == 1, f"the child kept writing: {writers()}"
    assert writers().count(pid) == 1
    assert run_cli("-C", str(root), "compile").code == 0
    assert not compare(root, files).stale
    assert _leftovers(root) == []


@linux_only
def test_a_planted_link_restored_by_recover_is_never_followed(tmp_path: Path) -> None:
    """A pull request plants `generated/d.mlspec-old` as a link to a folder outside the repository and a
    journal whose entries would restore it as `generated/d` and then delete `generated/d/HEAD` through
    it: backups that are links are not restored, and every entry is checked afresh."""
    import hashlib

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    root = tmp_path / "project"
    (root / "generated").mkdir(parents=True)
    (root / "generated" / "d.mlspec-old").symlink_to("../../victim")
    digest = hashlib.sha256(b"ref: refs/heads/main\n").hexdigest()
    _journal(root).write_text(json.dumps({"version": 1, "deleted": [], "swaps": [
        ["generated/d/HEAD", False, digest], ["generated/d", True, None], ["generated/d/probe", True, None]]}),
        encoding="utf-8")
    recover(root)
    assert (victim / "HEAD").read_text(encoding="utf-8") == "ref: refs/heads/main\n"
    assert not (root / "generated" / "d").exists()
    assert not recovery.interrupted(root)


@linux_only
@pytest.mark.parametrize("path", ["generated/\\ud800", "generated/" + "x" * 300])
def test_a_journal_naming_an_impossible_path_changes_nothing(template, tmp_path: Path, path: str) -> None:
    template_root, _old, _new = template
    root = _killed_mid_swap(template_root, tmp_path, 0)
    entries = json.loads(_journal(root).read_text(encoding="utf-8"))
    entries["deleted"].insert(0, json.loads(f'"{path}"'))  # undone last: every other entry would go first
    _journal(root).write_text(json.dumps(entries), encoding="utf-8")
    before = tree_snapshot(root)
    result = run_cli("-C", str(root), "compile")
    assert result.code == 1, result.stderr
    assert "is not a journal of mlspec's" in result.stderr and "Traceback" not in result.stderr
    assert tree_snapshot(root) == before


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
