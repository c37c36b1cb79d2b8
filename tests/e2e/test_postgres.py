"""mlspec against a real PostgreSQL server: the fraud example with a PostgreSQL registry, a
`format: sql` source, and concurrent registry writers.

Needs MLSPEC_TEST_PG_URL, e.g. postgresql://mlspec:${env:TEST_PG_PASSWORD}@127.0.0.1:54329/mlspec_test
(password via the environment, as specs must write it). CI starts a throwaway server and sets both
variables with `eval "$(bash scripts/ci_postgres.sh)"`. Every test works in its own schema, dropped
afterwards, so reruns and parallel runs start clean.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from mlspec import api
from mlspec.runtime import artifacts, data
from mlspec.runtime import registry as registry_module
from mlspec.runtime.data import expand_env
from mlspec.runtime.registry import Registry
from tests.conftest import REPO, run_cli
from tests.e2e.test_registry_robustness import run_concurrent_writers

PG_URL = os.environ.get("MLSPEC_TEST_PG_URL", "")
pytestmark = pytest.mark.skipif(
    not PG_URL, reason="MLSPEC_TEST_PG_URL is not set, so there is no PostgreSQL to test against "
    "(CI sets it; locally run: eval \"$(bash scripts/ci_postgres.sh)\")")

SQLITE_REGISTRY = 'registry: {uri: "sqlite:///.mlspec/registry.db"}'
CSV_SOURCE = "    format: csv\n    path: data/transactions.csv\n"


def _with_driver(url: str) -> str:
    """The URL with a driver that is installed: plain postgresql:// means psycopg 3 to SQLAlchemy 2.1,
    while mlspec's extras install psycopg2 (see test_documented_postgresql_url_works)."""
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


URL = _with_driver(PG_URL)


def in_schema(url: str, schema: str) -> str:
    """`url` with the schema first on the search path (the registry's tables go there)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="module")
def pg():
    """An engine for looking at the database directly."""
    engine = sa.create_engine(expand_env(URL, "MLSPEC_TEST_PG_URL"))
    yield engine
    engine.dispose()


@pytest.fixture
def schema(pg):
    """A fresh schema, dropped after the test."""
    name = f"mlspec_t_{uuid.uuid4().hex[:12]}"
    with pg.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    yield name
    with pg.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))


def fraud_project(tmp_path: Path) -> Path:
    root = tmp_path / "fraud"
    root.mkdir()
    shutil.copytree(REPO / "specs", root / "specs")
    shutil.copytree(REPO / "data", root / "data")
    return root


def use_registry(root: Path, uri: str) -> None:
    project = root / "specs" / "project.yaml"
    text = project.read_text(encoding="utf-8")
    if SQLITE_REGISTRY in text:
        text = text.replace(SQLITE_REGISTRY, f'registry: {{uri: "{uri}"}}')
    else:
        text = "\n".join(f'  registry: {{uri: "{uri}"}}' if line.startswith("  registry:") else line
                         for line in text.splitlines()) + "\n"
    project.write_text(text, encoding="utf-8")
    assert f'"{uri}"' in project.read_text(encoding="utf-8")


def results(root: Path) -> dict[str, tuple[str, str]]:
    """node id -> (status, message) of the last run."""
    doc = json.loads((root / ".mlspec" / "run_results.json").read_text(encoding="utf-8"))
    return {r["node_id"]: (r["status"], r["message"]) for r in doc["results"]}


def registry_tables(pg, schema: str) -> dict[str, list[tuple]]:
    with pg.connect() as conn:
        return {
            "versions": conn.execute(sa.text(
                f'SELECT model, version, artifact_sha256, metrics, lineage FROM "{schema}".mlspec_versions '
                "ORDER BY model, version")).all(),
            "aliases": conn.execute(sa.text(
                f'SELECT model, alias, version FROM "{schema}".mlspec_aliases ORDER BY model, alias')).all(),
            "history": conn.execute(sa.text(
                f'SELECT model, alias, from_version, to_version FROM "{schema}".mlspec_alias_history '
                "ORDER BY id")).all(),
        }


# ------------------------------------------------------------------------------------------------
# (a) the fraud example with its registry in PostgreSQL
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_fraud_example_with_a_postgresql_registry(tmp_path: Path, pg, schema: str) -> None:
    root = fraud_project(tmp_path)
    use_registry(root, in_schema(URL, schema))
    assert "${env:TEST_PG_PASSWORD}" in (root / "specs" / "project.yaml").read_text(encoding="utf-8")

    first = run_cli("-C", str(root), "run", "--approve")
    assert first.code == 0, first.stderr
    assert "Done. PASS=5 SKIP=2 FAIL=0 ERROR=0 TOTAL=7" in first.stderr  # the monitor's batches are skipped
    assert results(root)["gate.fraud_gbm_release"] == ("success", "passed; registered fraud_gbm v1 as champion")

    # the registry is in PostgreSQL (and nowhere else), and points at the artifacts on disk
    assert not (root / ".mlspec" / "registry.db").exists()
    tables = registry_tables(pg, schema)
    assert tables["aliases"] == [("fraud_gbm", "champion", 1), ("fraud_logreg", "champion", 1)]
    assert tables["history"] == [("fraud_gbm", "champion", None, 1), ("fraud_logreg", "champion", None, 1)]
    assert [(m, v) for m, v, *_ in tables["versions"]] == [("fraud_gbm", 1), ("fraud_logreg", 1)]
    for model, _, sha, metrics, lineage in tables["versions"]:
        candidate = json.loads((root / ".mlspec" / "candidates" / f"{model}.json").read_text(encoding="utf-8"))
        assert sha == candidate["sha256"]
        assert json.loads(metrics) == candidate["metrics"]
        assert json.loads(lineage)["gate"] == f"{model}_release"
        artifacts.read_verified(root / ".mlspec" / "artifacts", sha)
    assert json.loads(tables["versions"][0][3])["roc_auc"] >= 0.88

    # the second run changes nothing
    second = run_cli("-C", str(root), "run", "--approve")
    assert second.code == 0, second.stderr
    assert "Done. PASS=0 SKIP=7 FAIL=0 ERROR=0 TOTAL=7" in second.stderr
    assert registry_tables(pg, schema) == tables

    # the registry commands work against PostgreSQL
    listing = run_cli("-C", str(root), "registry", "ls")
    assert listing.code == 0 and listing.stdout.count("champion") == 2, listing.stdout
    verify = run_cli("-C", str(root), "registry", "verify")
    assert verify.code == 0 and "Registry OK." in verify.stdout

    # the password never leaves the environment: not in output, run state, reports or the registry
    password = os.environ["TEST_PG_PASSWORD"]
    for out in (first, second, listing, verify):
        assert password not in out.stdout + out.stderr
    for path in (p for p in root.rglob("*") if p.is_file()):
        assert password.encode() not in path.read_bytes(), path
    assert password not in repr(registry_tables(pg, schema))


# ------------------------------------------------------------------------------------------------
# (b) a `format: sql` source reading a PostgreSQL table
# ------------------------------------------------------------------------------------------------


TRANSACTIONS_DDL = """CREATE TABLE "{schema}".transactions (
    transaction_id bigint PRIMARY KEY,
    event_time timestamp NOT NULL,
    amount numeric(12, 2) NOT NULL,
    merchant_category text NOT NULL,
    hour smallint NOT NULL,
    customer_age integer,
    account_age_days integer NOT NULL,
    num_tx_last_24h integer NOT NULL,
    distance_from_home_km double precision NOT NULL,
    is_foreign smallint NOT NULL,
    card_present smallint NOT NULL,
    is_fraud smallint NOT NULL
)"""


def load_transactions(pg, schema: str) -> None:
    """data/transactions.csv into a table with the types a warehouse would use."""
    with pg.begin() as conn:
        conn.execute(sa.text(TRANSACTIONS_DDL.format(schema=schema)))
    raw = pg.raw_connection()
    try:
        data = (REPO / "data" / "transactions.csv").read_text(encoding="utf-8")
        statement = f'COPY "{schema}".transactions FROM STDIN WITH (FORMAT csv, HEADER true)'
        with raw.cursor() as cursor:
            if hasattr(cursor, "copy"):  # psycopg 3
                with cursor.copy(statement) as copy:
                    copy.write(data)
            else:  # psycopg2
                cursor.copy_expert(statement, io.StringIO(data))
        raw.commit()
    finally:
        raw.close()


def sql_project(tmp_path: Path, schema: str) -> Path:
    """The fraud example reading its training data from PostgreSQL (the CSV is removed)."""
    root = fraud_project(tmp_path)
    sources = root / "specs" / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    assert text.count(CSV_SOURCE) == 1
    sources.write_text(text.replace(CSV_SOURCE, f'    format: sql\n    uri: "{URL}"\n'
                                                f"    table: {schema}.transactions\n"), encoding="utf-8")
    (root / "data" / "transactions.csv").unlink()
    return root


@pytest.mark.slow
def test_sql_source_in_postgresql(tmp_path: Path, pg, schema: str) -> None:
    load_transactions(pg, schema)
    root = sql_project(tmp_path, schema)
    project = api.load(root)
    assert project.ok, project.diagnostics

    # typed exactly like the CSV it was loaded from (numeric -> float, timestamp -> datetime, NULL ages)
    from_pg = data.load(project.manifest.nodes["source.transactions"], root)
    from_csv = data.load(api.load(REPO).manifest.nodes["source.transactions"], REPO)
    assert from_pg.failures == []
    pd.testing.assert_frame_equal(from_pg.frame, from_csv.frame)

    logreg = ("-s", "+gate:fraud_logreg_release", "-j", "1")
    first = run_cli("-C", str(root), "run", "--approve", *logreg)
    assert first.code == 0, first.stderr
    assert results(root) == {
        "source.transactions": ("success", "20000 rows, contract passed"),
        "model.fraud_logreg": ("success", results(root)["model.fraud_logreg"][1]),
        "gate.fraud_logreg_release": ("success", "passed; registered fraud_logreg v1 as champion"),
    }
    registry = Registry("sqlite:///.mlspec/registry.db", root / ".mlspec" / "artifacts", root)
    try:
        champion = registry.champion("fraud_logreg")
        assert champion is not None and champion.version == 1
        assert champion.lineage["source"] == "transactions"  # data_fingerprint: see test_sql_lineage_names_its_rows
        assert champion.metrics["roc_auc"] >= 0.80
    finally:
        registry.close()

    # a table has no file to hash: the rows are read again, but unchanged rows retrain nothing
    again = run_cli("-C", str(root), "run", "--approve", *logreg)
    assert again.code == 0, again.stderr
    assert {n: s for n, (s, _) in results(root).items()} == {
        "source.transactions": "success", "model.fraud_logreg": "skipped", "gate.fraud_logreg_release": "skipped"}

    # the contract is enforced on the table's rows
    with pg.begin() as conn:
        conn.execute(sa.text(f'UPDATE "{schema}".transactions SET amount = -5 WHERE transaction_id <= 3'))
        conn.execute(sa.text(f"UPDATE \"{schema}\".transactions SET merchant_category = 'casino' "
                             "WHERE transaction_id = 10"))
    broken = run_cli("-C", str(root), "run", "--approve", *logreg)
    assert broken.code != 0
    outcome = results(root)
    assert outcome["source.transactions"][0] in ("fail", "error")
    assert "amount" in broken.stderr and "merchant_category" in broken.stderr, broken.stderr
    assert outcome["model.fraud_logreg"][0] == "skipped" and "upstream" in outcome["model.fraud_logreg"][1]
    assert outcome["gate.fraud_logreg_release"][0] == "skipped"


# ------------------------------------------------------------------------------------------------
# (c) concurrent writers
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_writers_postgresql(tmp_path: Path, schema: str) -> None:
    uri = in_schema(URL, schema)
    # the tables exist before the writers start: racing to create them is a known bug, see
    # test_registry_opens_while_another_process_creates_its_tables
    Registry(uri, tmp_path / "artifacts", tmp_path).close()
    summary = run_concurrent_writers(uri, tmp_path / "artifacts", tmp_path)
    print(f"\n4 writers x 25 versions (PostgreSQL) in {summary['elapsed']:.1f}s, "
          f"{summary['switches']} writer switches")


# ------------------------------------------------------------------------------------------------
# bugs
# ------------------------------------------------------------------------------------------------


def test_registry_opens_while_another_process_creates_its_tables(tmp_path: Path, pg, schema: str) -> None:
    # the other process is half-way through creating the registry (under the registry's write lock, as a
    # fixed Registry would): its tables exist but are not committed yet
    other = pg.connect()
    transaction = other.begin()
    other.execute(sa.text(f'SET LOCAL search_path TO "{schema}"'))
    other.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": registry_module._LOCK_KEY})
    registry_module.metadata.create_all(other)
    outcome: dict[str, object] = {}
    app = f"mlspec_open_{schema}"

    def open_registry() -> None:
        try:
            registry = Registry(in_schema(URL, schema) + f"&application_name={app}", tmp_path / "a", tmp_path)
            registry.register_once("m", b"artifact", metrics={}, params={}, lineage={}, profile={}, alias=None,
                                   reason="first write creates the tables")
            registry.close()
            outcome["ok"] = True
        except Exception as exc:
            outcome["error"] = exc

    opener = threading.Thread(target=open_registry)
    opener.start()
    try:
        hang_guard = time.monotonic() + 300  # not a speed limit: only an opener stuck elsewhere reaches it
        waiting = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app "
                          "AND wait_event_type = 'Lock'")
        with pg.connect() as conn:  # wait until the opener is blocked behind the other transaction
            while True:
                blocked = conn.execute(waiting, {"app": app}).scalar()
                conn.rollback()  # pg_stat_activity is a snapshot per transaction
                if blocked:
                    break
                if not opener.is_alive():
                    pytest.fail(f"the opener never waited for the other transaction: {outcome!r}")
                assert time.monotonic() < hang_guard, "the opener neither waited nor finished"
                time.sleep(0.01)
    finally:
        transaction.commit()
        other.close()
        opener.join(300)
    assert outcome == {"ok": True}, repr(outcome.get("error"))


def test_documented_postgresql_url_works(tmp_path: Path, schema: str) -> None:
    plain = "postgresql://" + PG_URL.split("://", 1)[1]
    registry = Registry(in_schema(plain, schema), tmp_path / "artifacts", tmp_path)
    assert registry.register_once("m", b"artifact", metrics={}, params={}, lineage={}, profile={}, alias="champion",
                                  reason="documented URL")[0] == 1
    assert registry.alias("m", "champion") == 1
    registry.close()


@pytest.mark.slow
def test_moving_to_a_postgresql_registry_registers_the_champions(tmp_path: Path, pg, schema: str) -> None:
    root = fraud_project(tmp_path)
    logreg = ("-s", "+gate:fraud_logreg_release", "-j", "1")
    assert run_cli("-C", str(root), "run", "--approve", *logreg).code == 0  # the local SQLite registry
    use_registry(root, in_schema(URL, schema))
    moved = run_cli("-C", str(root), "run", "--approve", *logreg)
    assert moved.code == 0, moved.stderr
    assert results(root)["gate.fraud_logreg_release"][0] == "success", results(root)
    assert registry_tables(pg, schema)["aliases"] == [("fraud_logreg", "champion", 1)]


@pytest.mark.slow
def test_sql_lineage_names_its_rows(tmp_path: Path, pg, schema: str) -> None:
    load_transactions(pg, schema)
    root = sql_project(tmp_path, schema)
    rows = data.load(api.load(root).manifest.nodes["source.transactions"], root)
    result = run_cli("-C", str(root), "run", "--approve", "-s", "+gate:fraud_logreg_release", "-j", "1")
    assert result.code == 0, result.stderr
    shown = run_cli("-C", str(root), "registry", "show", "fraud_logreg")
    assert json.loads(shown.stdout)["lineage"]["data_fingerprint"] == rows.fingerprint


def test_a_read_only_credential_reads_the_champion_and_cannot_write(tmp_path: Path, pg, schema: str,
                                                                     monkeypatch) -> None:
    """Pull requests get a read-only credential: it reads the champion and the last run, and every write
    is refused with one clear error that says which credential writing jobs take; nothing changes."""
    from mlspec.runtime.errors import RegistryError

    writer = Registry(in_schema(URL, schema), tmp_path / "artifacts", tmp_path)
    version = writer.register_once("churn", b"model-1", metrics={"roc_auc": 0.8}, params={}, lineage={}, profile={},
                                   alias="champion", reason="first")[0]
    writer.record_run("main", {"commit": "a" * 40, "manifest": {}})
    writer.close()

    role, password = f"mlspec_reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with pg.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        conn.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
        conn.execute(sa.text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}'))
    try:
        monkeypatch.setenv("READER_PASSWORD", password)
        user_part = URL.split("://", 1)[1].split("@", 1)[0]
        reader_url = URL.replace(user_part, f"{role}:${{env:READER_PASSWORD}}", 1)
        reader = Registry(in_schema(reader_url, schema), tmp_path / "artifacts", tmp_path)
        assert reader.champion("churn").version == version
        assert reader.last_run("main")["commit"] == "a" * 40
        for write in (lambda: reader.register_once("churn", b"model-2", metrics={}, params={}, lineage={}, profile={},
                                                   alias=None, reason="pr")[0],
                      lambda: reader.set_alias("churn", "champion", version, "pr", expected=version),
                      lambda: reader.record_run("main", {"commit": "b" * 40})):
            with pytest.raises(RegistryError) as refused:
                write()
            assert "permission denied" in refused.value.message, refused.value.message
            assert "read-write credential" in refused.value.hint and "state_environment" in refused.value.hint
        reader.close()
    finally:
        with pg.begin() as conn:
            conn.execute(sa.text(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {role}'))
            conn.execute(sa.text(f'REVOKE USAGE ON SCHEMA "{schema}" FROM {role}'))
            conn.execute(sa.text(f"DROP ROLE {role}"))
    tables = registry_tables(pg, schema)
    assert [row[:2] for row in tables["versions"]] == [("churn", 1)]
