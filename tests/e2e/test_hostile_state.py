"""State a pull request cannot redirect: planted symbolic links, SQLite paths that leave the project, and SQL
sources that try to write.

A spec (and everything else in the repository) arrives in pull requests, also from forks, and the
generated jobs run it on a runner with secrets. Each class here has several cases of its own making;
every one must end in a clear refusal, with nothing written outside the project.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_run import make_project, mlspec, spec_doc, write_spec


def _outside(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("planted", [".mlspec", ".mlspec/artifacts", "store"])
def test_state_folders_planted_as_links_to_elsewhere_are_refused(tmp_path: Path, planted: str) -> None:
    doc = spec_doc()
    if planted == "store":
        doc["project"]["artifacts"] = {"uri": "store/artifacts"}
    root = make_project(tmp_path / "project", doc)
    outside = _outside(tmp_path)
    link = root / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 1, result.stderr
    assert "leads outside the project" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(outside.rglob("*")) == []  # nothing was written through the link


@pytest.mark.parametrize("uri", ["sqlite:///../registry.db", "sqlite+pysqlite:///../registry.db",
                                 "sqlite+pysqlite:///state/registry.db"])
def test_sqlite_registries_that_lead_outside_the_project_are_refused(tmp_path: Path, uri: str) -> None:
    doc = spec_doc()
    doc["project"]["registry"] = {"uri": uri}
    root = make_project(tmp_path / "project", doc)
    outside = _outside(tmp_path)
    (root / "state").symlink_to(outside, target_is_directory=True)  # used by the last case
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 1, result.stdout + result.stderr
    assert re.search("outside the project|leaves the project", result.stdout + result.stderr)
    assert not (tmp_path / "registry.db").exists()
    assert list(outside.rglob("*")) == []


@pytest.mark.parametrize("query", [
    "SELECT * INTO stolen FROM events",
    "WITH x AS (SELECT 1) INSERT INTO events SELECT * FROM events",
    "SELECT * FROM events; DROP TABLE events",
])
def test_sql_sources_cannot_write(tmp_path: Path, query: str) -> None:
    root = make_project(tmp_path / "project")
    database = root / "data" / "events.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE events (x INTEGER)")
        conn.execute("INSERT INTO events VALUES (1)")
    doc = spec_doc()
    source = doc["sources"]["events"]
    for key in ("path", "delimiter"):
        source.pop(key, None)
    source.update({"format": "sql", "uri": "sqlite:///data/events.db", "query": query})
    write_spec(root, doc)
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 1
    with sqlite3.connect(database) as conn:
        tables = sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        assert tables == ["events"]
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (1,)
