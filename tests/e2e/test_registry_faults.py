"""A broken registry ends every command that touches it in one clear message, and changes nothing.

Faults: a SQLite file with a garbage header or a garbage page, a directory where the file should be, a row
whose JSON is unreadable, a registry URI pointing at a CSV file, a dropped table, an artifact copy stored
with the wrong column type. Commands: run (its gates), registry ls / show / verify / promote, score. Each
must exit 1 with `mlspec: ...` naming the registry and a `help:` line, show no traceback, and leave the
registry's bytes as they were. `registry verify` reports damage it can read past, each with its own
message, and never repairs (a dropped table is not silently recreated).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_run import make_project, mlspec, spec_doc, write_spec

COMMANDS = {
    "run": ("run", "-j", "1"),
    "registry ls": ("registry", "ls"),
    "registry show": ("registry", "show", "risk_lr"),
    "registry verify": ("registry", "verify"),
    "registry promote": ("registry", "promote", "risk_lr", "--version", "1", "--reason", "test"),
    "score": ("score", "risk_lr", "--source", "events", "-o", "scores.csv"),
}


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose two models are registered (v1 champions), made once."""
    root = make_project(tmp_path_factory.mktemp("registered") / "project")
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 0, result.stderr
    return root


def _copy(registered: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(registered, root, symlinks=True)
    return root


def _snapshot(path: Path) -> dict[str, bytes] | str:
    if path.is_dir():
        return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    return path.read_bytes().hex() if path.exists() else "absent"


def _garbage_header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[:16] = b"not a database!!"
    db.write_bytes(bytes(data))


def _garbage_page(db: Path) -> None:
    data = bytearray(db.read_bytes())
    page = 4096
    data[page: page * 3] = bytes(range(256)) * (page * 2 // 256)
    db.write_bytes(bytes(data))


def _directory(db: Path) -> None:
    db.unlink()
    db.mkdir()


def _sql(statement: str):
    def damage(db: Path) -> None:
        with sqlite3.connect(db) as conn:
            conn.execute(statement)
        conn.close()
    return damage


FAULTS = {
    "garbage header": _garbage_header,
    "garbage page": _garbage_page,
    "a directory": _directory,
    "non-JSON row": _sql("UPDATE mlspec_versions SET metrics = '{not json' WHERE model = 'risk_lr'"),
    "dropped table": _sql("DROP TABLE mlspec_alias_history"),
}


def _checkpoint(db: Path) -> None:
    """Fold SQLite's write-ahead log into the file (the registry stays in WAL mode, as mlspec keeps it), so
    the file holds the whole registry and any damage done to it."""
    if db.is_file():
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_broken_registry_is_one_clear_message_and_nothing_changes(registered: Path, tmp_path: Path, fault: str,
                                                                     command: str) -> None:
    root = _copy(registered, tmp_path)
    db = root / ".mlspec" / "registry.db"
    _checkpoint(db)
    FAULTS[fault](db)
    if fault in ("non-JSON row", "dropped table"):
        _checkpoint(db)
    before = _snapshot(db), _snapshot(root / ".mlspec" / "artifacts")
    result = mlspec(root, *COMMANDS[command])
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.code == 1, output
    if command == "registry verify" and fault in ("non-JSON row", "dropped table"):
        # verify reads past what it can and names the damage
        expected = {"non-JSON row": "risk_lr v1 has unreadable data", "dropped table": "mlspec_alias_history"}
        assert expected[fault] in output, output
    elif command == "run":  # the run log names the failed gates, each with the message and help
        assert "the registry .mlspec/registry.db" in result.stderr and "help: " in result.stderr, output
    else:
        lines = [line for line in result.stderr.splitlines() if line.startswith("mlspec: ")]
        assert len(lines) == 1 and ".mlspec/registry.db" in lines[0], output
        assert "help: " in result.stderr, output
    assert (_snapshot(db), _snapshot(root / ".mlspec" / "artifacts")) == before


def test_a_registry_uri_pointing_at_a_csv_file_is_refused(registered: Path, tmp_path: Path) -> None:
    root = _copy(registered, tmp_path)
    doc = spec_doc()
    doc["project"]["registry"] = {"uri": "sqlite:///data/events.csv"}
    write_spec(root, doc)
    before = _snapshot(root / "data" / "events.csv")
    for command in ("registry ls", "registry verify", "run"):
        result = mlspec(root, *COMMANDS[command])
        assert result.code == 1, result.stdout + result.stderr
        assert "data/events.csv is not a SQLite database" in result.stderr
    assert _snapshot(root / "data" / "events.csv") == before


def test_verify_reports_each_kind_of_damage_and_repairs_nothing(registered: Path, tmp_path: Path) -> None:
    root = _copy(registered, tmp_path)
    db = root / ".mlspec" / "registry.db"
    _checkpoint(db)
    with sqlite3.connect(db) as conn:
        sha = conn.execute("SELECT artifact_sha256 FROM mlspec_versions WHERE model = 'risk_gbm'").fetchone()[0]
        conn.execute("UPDATE mlspec_artifacts SET data = X'00' WHERE sha256 = ?", (sha,))  # a corrupted copy
        conn.execute("DELETE FROM mlspec_alias_history WHERE model = 'risk_lr'")  # a missing row
    conn.close()
    _checkpoint(db)
    before = _snapshot(db)
    result = mlspec(root, "registry", "verify")
    assert result.code == 1
    problems = sorted(line for line in result.stdout.splitlines() if line.startswith("problem: "))
    assert problems == [
        f"problem: risk_gbm v1: the database's copy of artifact {sha[:12]} has been modified",
        "problem: risk_lr: alias champion points to v1, but its history does not record that move",
    ]
    assert _snapshot(db) == before

    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE mlspec_aliases")
    conn.close()
    _checkpoint(db)
    dropped = mlspec(root, "registry", "verify")
    assert dropped.code == 1
    assert "table mlspec_aliases is missing" in dropped.stdout + dropped.stderr
    with sqlite3.connect(db) as conn:  # and it is still missing: verify never recreates a table
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "mlspec_aliases" not in tables


def test_an_artifact_copy_with_the_wrong_column_type_is_refused(registered: Path, tmp_path: Path) -> None:
    root = _copy(registered, tmp_path)
    db = root / ".mlspec" / "registry.db"
    _checkpoint(db)
    with sqlite3.connect(db) as conn:
        sha = conn.execute("SELECT artifact_sha256 FROM mlspec_versions WHERE model = 'risk_lr'").fetchone()[0]
        conn.execute("UPDATE mlspec_artifacts SET data = 'text, not bytes' WHERE sha256 = ?", (sha,))
    conn.close()
    shutil.rmtree(root / ".mlspec" / "artifacts")  # a fresh runner: only the database's copy is left
    result = mlspec(root, "score", "risk_lr", "--source", "events", "-o", "scores.csv")
    assert result.code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"artifact {sha[:12]}" in result.stderr
    verify = mlspec(root, "registry", "verify")
    assert verify.code == 1 and f"the database's copy of artifact {sha[:12]}" in verify.stdout


def test_reading_the_registry_does_not_wait_for_a_writer(registered: Path, tmp_path: Path) -> None:
    import threading

    from mlspec.runtime.registry import Registry

    root = _copy(registered, tmp_path)
    db = root / ".mlspec" / "registry.db"
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is in the middle of a registration
    registry = Registry("sqlite:///.mlspec/registry.db", root / ".mlspec" / "artifacts", root)
    seen: list = []
    reader = threading.Thread(target=lambda: seen.append(registry.versions("risk_lr")))
    reader.start()
    reader.join(60)  # a hang guard only: with the write lock taken for reads, this waited for the writer
    try:
        assert not reader.is_alive() and [v.version for v in seen[0]] == [1]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        reader.join()
        registry.close()
