"""A read-only project folder and a full disk: a message, not a crash, and nothing lost.

Each command that meets such a refusal of the operating system must exit as README's table says (1),
print one line `mlspec: <what is wrong, naming the file>` and a `help:` line, show no traceback,
save no crash report, and leave the registry, the artifacts and the generated files byte for byte as
they were (no temporary file left behind either).

Read-only: root ignores file permissions, so when the tests run as root (as CI does) the commands
run as the unprivileged user `nobody` (setpriv) on a world-readable copy of the project owned by
root; otherwise the copy is made read-only with chmod. A full disk: a file size limit
(RLIMIT_FSIZE, with SIGXFSZ ignored) makes every write past it fail with EFBIG, which any user can
set; where a tmpfs can be mounted (root), a small one gives a real ENOSPC too.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import tree_snapshot
from tests.e2e.test_exit_codes import Result, crash_reports, expected, frame, mlspec, write_project

REFUSED = "the project folder is read-only, the disk is full"
NOBODY = 65534


def assert_refused(result: Result, tmp: Path, *names: str) -> None:
    """README's code; a line naming one of `names` (a file or folder) and a help line; no traceback or crash report."""
    assert result.code == expected(REFUSED), f"exit {result.code}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert not crash_reports(tmp), result.stderr
    lines = result.stderr.splitlines()
    said = [line for line in lines if line.startswith("mlspec: ") or " ERROR  monitor " in line]
    assert any(name in line for line in said for name in names), result.stderr
    assert any(line.strip().startswith("help: ") for line in lines), result.stderr


def state(root: Path) -> dict[str, bytes]:
    """What must survive: the registry, the artifacts, the generated files (and no temporary files anywhere)."""
    kept = {path: data for path, data in tree_snapshot(root).items()
            if path.startswith((".mlspec/registry", ".mlspec/artifacts/", "generated/", ".github/"))}
    leftovers = [p for p in tree_snapshot(root) if p.endswith((".tmp", ".mlspec-new", ".mlspec-old", "-journal"))]
    assert not leftovers, leftovers
    return kept


def change_training_data(root: Path) -> None:
    """New training data, so that `run` trains, stores an artifact and registers."""
    data = pd.read_csv(root / "data" / "rows.csv")
    data["amount"] = (data["amount"] * 0.97).round(3)
    data.to_csv(root / "data" / "rows.csv", index=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("faults") / "project")
    tmp = root.parent / "tmp"
    for args in (("run",), ("compile",)):
        result = mlspec(root, *args, tmp=tmp)
        assert result.code == 0, result.stderr
    return root


# ------------------------------------------------------------------------------------------------
# a read-only project folder
# ------------------------------------------------------------------------------------------------


def _unprivileged() -> tuple[str, ...]:
    """The command prefix that runs as a user who cannot write the copy (none when not root)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    prefix = (setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
    probe = subprocess.run([*prefix, sys.executable, "-c", "import mlspec.cli.main, pandas, sklearn"],
                           capture_output=True, text=True, check=False, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"this interpreter cannot run as an unprivileged user: {probe.stderr.strip()[-200:]}")
    return prefix


@pytest.fixture
def read_only(trained: Path) -> Iterator[tuple[Path, Path, tuple[str, ...]]]:
    """(a read-only copy of the trained project, a TMPDIR its user can write, the command prefix)."""
    prefix = _unprivileged()
    base = Path(tempfile.mkdtemp(prefix="mlspec-read-only-"))
    try:
        parents = [base, *base.parents]
        if prefix and not all(p.stat().st_mode & stat.S_IXOTH for p in parents[1:]):
            pytest.skip(f"{base.parent} cannot be entered by other users")
        root, tmp = base / "project", base / "tmp"
        shutil.copytree(trained, root)
        tmp.mkdir()
        tmp.chmod(0o1777)
        base.chmod(0o755)
        for path in [root, *root.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755 if prefix else 0o555)
            else:
                path.chmod(0o644 if prefix else 0o444)
        yield root, tmp, prefix
    finally:
        for path in [base, *base.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(base)


@pytest.mark.parametrize("args", [("run",), ("run", "--force"), ("monitor",), ("score", "m", "--source", "live"),
                                  ("registry", "ls"), ("registry", "verify"), ("schema",)])
def test_a_read_only_project_folder(read_only, args: tuple[str, ...]) -> None:
    root, tmp, prefix = read_only
    before = tree_snapshot(root)
    result = mlspec(root, *args, tmp=tmp, prefix=prefix)
    assert_refused(result, tmp, ".mlspec", "registry", "schema")
    assert tree_snapshot(root) == before


def test_a_read_only_compile_keeps_the_previous_files(read_only) -> None:
    root, tmp, prefix = read_only
    spec = root / "specs" / "p.yaml"
    spec.chmod(0o644)
    spec.write_text(spec.read_text(encoding="utf-8").replace("max_iter: 500", "max_iter: 600"), encoding="utf-8")
    spec.chmod(0o644 if prefix else 0o444)
    before = tree_snapshot(root)
    result = mlspec(root, "compile", tmp=tmp, prefix=prefix)
    assert_refused(result, tmp, "generated", ".github")
    assert "compile failed, the previous files were kept" in result.stderr
    assert tree_snapshot(root) == before


# ------------------------------------------------------------------------------------------------
# a full disk
# ------------------------------------------------------------------------------------------------


def _limited(size: int):
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(trained, root)
    return root


def test_a_full_disk_while_training_loses_nothing(project: Path, tmp_path: Path) -> None:
    change_training_data(project)
    before, results = state(project), (project / ".mlspec" / "run_results.json").read_bytes()
    result = mlspec(project, "run", tmp=tmp_path / "tmp", preexec=_limited(4096))
    assert_refused(result, tmp_path / "tmp", ".skops")
    assert "ulimit -f" in result.stderr
    assert state(project) == before
    assert (project / ".mlspec" / "run_results.json").read_bytes() == results
    assert mlspec(project, "registry", "verify", tmp=tmp_path / "tmp").code == 0
    again = mlspec(project, "run", tmp=tmp_path / "tmp")  # with room again, the run completes
    assert again.code == 0, again.stderr
    assert "registered m v2 as champion" in again.stderr


def test_a_full_disk_while_registering_loses_nothing(project: Path, tmp_path: Path) -> None:
    change_training_data(project)
    [artifact] = (project / ".mlspec" / "artifacts").rglob("*.skops")
    registry = project / ".mlspec" / "registry.db"
    limit = artifact.stat().st_size + 16_384  # room for the new artifact, not for the registry's transaction
    assert limit < registry.stat().st_size
    before = state(project)
    result = mlspec(project, "run", tmp=tmp_path / "tmp", preexec=_limited(limit))
    assert result.code == expected(REFUSED), result.stderr
    assert "Traceback" not in result.stderr and not crash_reports(tmp_path / "tmp")
    assert "could not write the registry .mlspec/registry.db" in result.stderr
    after = state(project)
    new = set(after) - set(before)  # the candidate's artifact, stored before its gate; nothing else
    assert {path: data for path, data in after.items() if path not in new} == before
    assert len(new) == 1 and next(iter(new)).endswith(".skops")
    listed = mlspec(project, "registry", "ls", tmp=tmp_path / "tmp")
    assert listed.code == 0 and len([line for line in listed.stdout.splitlines() if line.startswith("m ")]) == 1


def test_a_full_disk_while_compiling_keeps_the_previous_files(project: Path, tmp_path: Path) -> None:
    spec = project / "specs" / "p.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("max_iter: 500", "max_iter: 600"), encoding="utf-8")
    before = state(project)
    result = mlspec(project, "compile", tmp=tmp_path / "tmp", preexec=_limited(1024))
    assert_refused(result, tmp_path / "tmp", "generated", ".github")
    assert "compile failed, the previous files were kept" in result.stderr
    assert state(project) == before


def test_a_full_disk_while_monitoring_loses_nothing(project: Path, tmp_path: Path) -> None:
    """SQLite cannot even read here (its shared-memory index needs 32 KiB): the monitor says so and stops."""
    frame(300, 6, shift=60.0).to_csv(project / "data" / "live.csv", index=False)  # would alert
    before = tree_snapshot(project)
    result = mlspec(project, "monitor", tmp=tmp_path / "tmp", preexec=_limited(2048))
    assert_refused(result, tmp_path / "tmp", ".mlspec/registry.db")
    after = tree_snapshot(project)
    assert {path: data for path, data in after.items() if path in before} == before
    new = {path: data for path, data in after.items() if path not in before}
    assert set(new) <= {".mlspec/registry.db-wal", ".mlspec/registry.db-shm"}  # SQLite's own, empty log
    assert new.get(".mlspec/registry.db-wal", b"") == b""
    listed = mlspec(project, "registry", "ls", tmp=tmp_path / "tmp")
    assert listed.code == 0 and "champion" in listed.stdout


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (root only; skipped where mounting is not allowed, as in most containers)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                          text=True, check=False) if os.geteuid() == 0 and shutil.which("mount") else None
    if done is None or done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_no_space_left_on_the_device(trained: Path, small_disk: Path, tmp_path: Path) -> None:
    root = small_disk / "project"
    shutil.copytree(trained, root, ignore=shutil.ignore_patterns("generated", ".github"))
    change_training_data(root)
    room = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * max(0, room - 16_384))  # leave 16 KiB: less than an artifact
    before = state(root)
    result = mlspec(root, "run", tmp=tmp_path / "tmp")
    assert_refused(result, tmp_path / "tmp", ".mlspec")
    assert "no space left on the device" in result.stderr
    assert state(root) == before
