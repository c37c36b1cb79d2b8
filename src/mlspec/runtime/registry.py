"""The model registry on a SQL database, and `open_registry`, which picks the backend for a URI.

Any SQLAlchemy URL works: a SQLite file by default, PostgreSQL for teams. Every write is one
transaction that first takes a write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL an advisory lock),
so concurrent writers queue instead of racing and versions stay contiguous; whether an artifact is
already registered is decided inside that lock, so concurrent gates on one candidate register it
once. Artifacts are stored (content-addressed) before the transaction that references them, and a
copy of their bytes lives in the database itself, so a crash at any moment leaves either no new
version or a complete one; at worst an unreferenced artifact, which `verify` reports.

Object-store URLs (s3://, gs://, az://, file://) open the log registry of `registry_log` instead, and
MLflow URLs (mlflow+https://, mlflow+sqlite:///, mlflow+databricks) the registry of `registry_mlflow`.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from mlspec.runtime.data import expand_env, sqlite_relative_to
from mlspec.runtime.errors import RegistryError
from mlspec.runtime.jsonio import dumps
from mlspec.runtime.registry_base import (
    ALIASES,
    ANY,
    RegistryBase,
    Version,
    _Any,
    actor,
    changed_since,
    check_alias,
    now,
)
from mlspec.state.artifacts import ArtifactStore, digest
from mlspec.state.stores import LocalStore, StoreError, open_store
from mlspec.stateurls import is_mlflow, is_store

__all__ = ["ALIASES", "Registry", "Version", "actor", "open_registry"]
_LOCK_KEY = 0x6D6C73706563  # "mlspec": the PostgreSQL advisory lock id for registry writes
_TABLES = ("mlspec_versions", "mlspec_aliases", "mlspec_artifacts", "mlspec_alias_history")

metadata = sa.MetaData()
versions = sa.Table(
    "mlspec_versions", metadata,
    sa.Column("model", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("lineage", sa.Text, nullable=False),
    sa.Column("profile", sa.Text, nullable=False),
)
aliases = sa.Table(
    "mlspec_aliases", metadata,
    sa.Column("model", sa.String(64), primary_key=True),
    sa.Column("alias", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)
artifact_blobs = sa.Table(
    # the artifact bytes themselves: the registry database is the durable store (CI workspaces are
    # thrown away), and the local artifact folder is a verified cache of it
    "mlspec_artifacts", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
alias_history = sa.Table(
    "mlspec_alias_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("alias", sa.String(32), nullable=False),
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", sa.String(32), nullable=False),
)

runs = sa.Table(
    # the last successful run of the generated workflow per branch (what main's next run plans against);
    # optional, unlike the tables above: registries made before it existed get it on first use
    "mlspec_runs", metadata,
    sa.Column("branch", sa.String(255), primary_key=True),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("at", sa.String(32), nullable=False),
)


def _problem(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).split("\n", 1)[0][:300]


class Registry(RegistryBase):
    """A registry database plus its artifact store."""

    def __init__(self, uri: str, artifacts: ArtifactStore | Path, root: Path) -> None:
        self.uri = sqlite_relative_to(expand_env(uri, "the registry"), root)
        self.artifacts = artifacts if isinstance(artifacts, ArtifactStore) else ArtifactStore(LocalStore(artifacts))
        self.location = self._display(uri, root)
        self._sqlite_file = None
        if self.uri.startswith("sqlite:///") and not self.uri.startswith("sqlite:///:memory:"):
            self._sqlite_file = Path(self.uri[len("sqlite:///"):])
            self._check_sqlite_file(self._sqlite_file)
        try:
            self.engine = sa.create_engine(self.uri, **self._engine_options())
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise RegistryError(f"cannot open the registry {self.location}: {_problem(exc)}",
                                hint="check project.registry.uri (a PostgreSQL registry needs "
                                     "pip install 'mlspec-gitops[postgres]')") from exc
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            self._configure_sqlite()
        self._ready = False

    @staticmethod
    def _display(uri: str, root: Path) -> str:
        # never show a password: the spec's own text (with ${env:NAME}) is what the user wrote
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            return uri[len("sqlite:///"):]
        return uri

    def _check_sqlite_file(self, path: Path) -> None:
        if path.exists() and not path.is_file():
            raise RegistryError(f"the registry {self.location} is not a file",
                                hint="point project.registry.uri at a SQLite file, or remove what is there")
        if path.is_file():
            with path.open("rb") as handle:
                header = handle.read(16)
            if header and header != b"SQLite format 3\x00":
                raise RegistryError(f"the registry {self.location} is not a SQLite database",
                                    hint="restore the registry from a backup, or point project.registry.uri "
                                         "at another file")

    def _engine_options(self) -> dict:
        if self.uri.startswith("sqlite"):
            return {"connect_args": {"timeout": 60}}
        return {"pool_pre_ping": True}

    def _configure_sqlite(self) -> None:
        @sa.event.listens_for(self.engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # let us issue BEGIN IMMEDIATE ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=60000")
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @sa.event.listens_for(self.engine, "begin")
        def _begin(conn):
            # only writes take SQLite's write lock up front: reads must not queue behind a writer
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("mlspec_writing") else "BEGIN")

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()

    @contextmanager
    def _guard(self, action: str):
        """Database failures as one clear RegistryError (never a traceback for a broken or absent database)."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            text = _problem(exc)
            hint = "restore the registry from a backup, or point project.registry.uri at another database"
            if "readonly" in text or "read-only" in text or "unable to open" in text:
                hint = "the registry's folder must be writable (SQLite writes a journal beside the file)"
            elif "disk is full" in text or "disk I/O error" in text:
                hint = "free disk space (or raise the file size limit) where the registry is, then run again"
            elif "permission denied" in text.lower() or "read-only transaction" in text:
                hint = ("this job's credential may not write the registry: jobs that write state take the "
                        "read-write credential from the GitHub Environment named by project.state_environment "
                        "(or the gate's approval environment); pull requests get the read-only one")
            elif "connect" in text.lower() or "could not translate host" in text:
                hint = "check that the database server is reachable and the credentials are set"
            raise RegistryError(f"could not {action} the registry {self.location}: {text}", hint=hint) from exc

    def _missing_tables(self, conn) -> list[str]:
        present = set(sa.inspect(conn).get_table_names())
        return [t for t in _TABLES if t not in present]

    def _prepare(self, *, create: bool) -> bool:
        """Check the tables once: a new registry gets them (only when writing); a registry missing some
        is damaged and refused, never silently repaired. Returns whether the tables exist."""
        if self._ready:
            return True
        if self._sqlite_file is not None and not self._sqlite_file.exists():
            if not create:
                return False  # reading a registry nobody has written to: do not create its file
            try:
                self._sqlite_file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RegistryError(f"cannot create the registry {self.location}: {exc.strerror}",
                                    hint="the project folder must be writable, or point project.registry.uri "
                                         "elsewhere") from exc
        with self._guard("read"), self.engine.connect() as conn:
            missing = self._missing_tables(conn)
        if missing and len(missing) < len(_TABLES):
            raise RegistryError(f"the registry {self.location} is damaged: table(s) {', '.join(missing)} "
                                f"are missing", hint="restore the registry from a backup; mlspec never "
                                                     "recreates a dropped table, which would hide the loss")
        if missing and not create:
            return False
        if missing:
            with self._guard("create"), self._writing() as conn:
                # under the write lock, so two processes opening a new registry do not both create the tables
                if self._missing_tables(conn):
                    metadata.create_all(conn)
        self._ready = True
        return True

    @contextmanager
    def _writing(self):
        """A write transaction holding the registry's write lock; committed on success, else rolled back."""
        conn = self.engine.connect()
        conn.info["mlspec_writing"] = True  # the pooled connection's info outlives this use: removed below
        try:
            transaction = conn.begin()
            try:
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                yield conn
                transaction.commit()
            except BaseException:
                transaction.rollback()
                raise
        finally:
            conn.info.pop("mlspec_writing", None)
            conn.close()

    @contextmanager
    def _reading(self):
        with self._guard("read"), self.engine.connect() as conn:
            yield conn

    # -- reads ------------------------------------------------------------------------------

    def versions(self, model: str | None = None) -> list[Version]:
        """All versions (of one model), oldest first."""
        if not self._prepare(create=False):
            return []
        query = sa.select(versions).order_by(versions.c.model, versions.c.version)
        if model is not None:
            query = query.where(versions.c.model == model)
        with self._reading() as conn:
            return [self._version(row) for row in conn.execute(query)]

    def get(self, model: str, version: int) -> Version:
        """One version; RegistryError when it does not exist."""
        row = None
        if self._prepare(create=False):
            with self._reading() as conn:
                row = conn.execute(sa.select(versions).where(versions.c.model == model,
                                                             versions.c.version == version)).first()
        if row is None:
            raise RegistryError(f"model '{model}' has no version {version}",
                                hint="see `mlspec registry ls` for registered versions")
        return self._version(row)

    def aliases(self) -> dict[str, dict[str, int]]:
        """model -> alias -> version."""
        out: dict[str, dict[str, int]] = {}
        if not self._prepare(create=False):
            return out
        with self._reading() as conn:
            for row in conn.execute(sa.select(aliases).order_by(aliases.c.model, aliases.c.alias)):
                out.setdefault(row.model, {})[row.alias] = row.version
        return out

    def history(self, model: str) -> list[dict]:
        """Every alias move of a model, oldest first."""
        if not self._prepare(create=False):
            return []
        with self._reading() as conn:
            rows = conn.execute(sa.select(alias_history).where(alias_history.c.model == model)
                                .order_by(alias_history.c.id))
            return [dict(row._mapping) for row in rows]

    def last_run(self, branch: str) -> dict | None:
        """The branch's last-run record, or None (also for a registry without the runs table yet)."""
        if not self._prepare(create=False):
            return None
        with self._reading() as conn:
            if "mlspec_runs" not in sa.inspect(conn).get_table_names():
                return None
            row = conn.execute(sa.select(runs.c.record).where(runs.c.branch == branch)).first()
        return None if row is None else json.loads(row.record)

    def record_run(self, branch: str, record: dict) -> None:
        """Replace the branch's last-run record."""
        self._prepare(create=True)
        with self._guard("write"), self._writing() as conn:
            runs.create(conn, checkfirst=True)
            conn.execute(runs.delete().where(runs.c.branch == branch))
            conn.execute(runs.insert().values(branch=branch, record=_dumps(record), at=now()))

    def _version(self, row) -> Version:
        try:
            fields = {name: json.loads(getattr(row, name)) for name in ("metrics", "params", "lineage", "profile")}
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"the registry {self.location} is damaged: {row.model} v{row.version} has "
                                f"unreadable data", hint="restore the registry from a backup") from exc
        return Version(model=row.model, version=row.version, artifact_sha256=row.artifact_sha256,
                       created_at=row.created_at, created_by=row.created_by, **fields)

    # -- writes -----------------------------------------------------------------------------

    def register_once(self, model: str, artifact: bytes, *, metrics: dict, params: dict, lineage: dict,
                      profile: dict, alias: str | None, reason: str, who: str | None = None) -> tuple[int, bool]:
        """Register the artifact as the next version unless one already holds it (decided under the lock)."""
        if alias is not None:
            check_alias(alias)
        sha = self.artifacts.put(artifact)
        who = who or actor()
        self._prepare(create=True)
        with self._guard("write"), self._writing() as conn:
            existing = conn.execute(sa.select(versions.c.version).where(
                versions.c.model == model, versions.c.artifact_sha256 == sha).order_by(versions.c.version)).first()
            if existing is not None:
                return existing.version, False
            current = conn.execute(sa.select(sa.func.max(versions.c.version))
                                   .where(versions.c.model == model)).scalar() or 0
            number = current + 1
            stored = conn.execute(sa.select(artifact_blobs.c.sha256).where(artifact_blobs.c.sha256 == sha)).first()
            if stored is None:
                conn.execute(artifact_blobs.insert().values(sha256=sha, data=artifact))
            conn.execute(versions.insert().values(
                model=model, version=number, artifact_sha256=sha, created_at=now(), created_by=who,
                metrics=_dumps(metrics), params=_dumps(params), lineage=_dumps(lineage), profile=_dumps(profile)))
            if alias is not None:
                self._move(conn, model, alias, number, who, reason)
        return number, True

    def artifact(self, sha256: str) -> bytes:
        """A registered artifact's bytes, verified: from the artifact store, or (when it lacks them, as on a
        fresh CI runner with a local store) from the database's copy. A modified stored copy is refused."""
        try:
            return self.artifacts.get(sha256)
        except StoreError as problem:
            if "modified" in problem.message:
                raise  # a modified copy is refused, loudly
            data = self._database_copy(sha256)
            if data is None or digest(data) != sha256:
                raise
            self.artifacts.put(data)  # refill the store for next time
            return data

    def _database_copy(self, sha256: str) -> bytes | None:
        if not self._prepare(create=False):
            return None
        with self._reading() as conn:
            data = conn.execute(sa.select(artifact_blobs.c.data).where(artifact_blobs.c.sha256 == sha256)).scalar()
        return bytes(data) if isinstance(data, bytes | bytearray | memoryview) else None  # text is damage

    def set_alias(self, model: str, alias: str, version: int, reason: str, who: str | None = None,
                  expected: int | _Any | None = ANY) -> None:
        """Point `alias` at `version` after verifying its artifact; the move is recorded. With `expected`,
        only while the alias still points there (checked inside the write lock)."""
        check_alias(alias)
        target = self.get(model, version)
        self.artifact(target.artifact_sha256)
        who = who or actor()
        with self._guard("write"), self._writing() as conn:
            if not isinstance(expected, _Any):
                current = conn.execute(sa.select(aliases.c.version).where(aliases.c.model == model,
                                                                          aliases.c.alias == alias)).scalar()
                if current != expected:
                    raise changed_since(model, alias, expected, current)
            self._move(conn, model, alias, version, who, reason)
            if alias == "champion":
                self._clear_challenger_if(conn, model, version, who, reason)

    @staticmethod
    def _clear_challenger_if(conn, model: str, version: int, who: str, reason: str) -> None:
        """A challenger that became champion is no longer a challenger."""
        where = (aliases.c.model == model) & (aliases.c.alias == "challenger")
        if conn.execute(sa.select(aliases.c.version).where(where)).scalar() == version:
            conn.execute(aliases.delete().where(where))
            conn.execute(alias_history.insert().values(model=model, alias="challenger", from_version=version,
                                                       to_version=None, actor=who, reason=f"promoted: {reason}",
                                                       at=now()))

    @staticmethod
    def _move(conn, model: str, alias: str, version: int, who: str, reason: str) -> None:
        old = conn.execute(sa.select(aliases.c.version).where(aliases.c.model == model,
                                                              aliases.c.alias == alias)).scalar()
        if old is None:
            conn.execute(aliases.insert().values(model=model, alias=alias, version=version))
        else:
            conn.execute(aliases.update().where(aliases.c.model == model, aliases.c.alias == alias)
                         .values(version=version))
        conn.execute(alias_history.insert().values(model=model, alias=alias, from_version=old, to_version=version,
                                                   actor=who, reason=reason, at=now()))

    # -- integrity --------------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Everything the shared checks find, plus the database's own copies of the artifacts and its
        tables. Never repairs anything."""
        if self._sqlite_file is not None and not self._sqlite_file.exists():
            return []
        with self._reading() as conn:
            missing = self._missing_tables(conn)
        if len(missing) == len(_TABLES):
            return []  # a registry nobody has written to yet
        if missing:
            return [f"table {table} is missing" for table in missing]
        problems = super().verify()
        with self._reading() as conn:
            copies = {row.sha256: row.data for row in conn.execute(sa.select(artifact_blobs))}
        for v in self.versions():
            data = copies.get(v.artifact_sha256)
            if data is None:
                problems.append(f"{v.model} v{v.version}: the database has no copy of artifact "
                                f"{v.artifact_sha256[:12]}")
            elif not isinstance(data, bytes | bytearray | memoryview):
                problems.append(f"{v.model} v{v.version}: the database's copy of artifact "
                                f"{v.artifact_sha256[:12]} is not binary data")
            elif digest(bytes(data)) != v.artifact_sha256:
                problems.append(f"{v.model} v{v.version}: the database's copy of artifact "
                                f"{v.artifact_sha256[:12]} has been modified")
        return problems


def _dumps(value: object) -> str:
    return dumps(value, compact=True).decode()


def open_registry(registry_uri: str, artifacts_uri: str, root: Path, cache: Path | None = None, *,
                  project: str | None = None) -> RegistryBase:
    """The registry a project's URIs name: a SQL database (sqlite://, postgresql://...), a log on a store
    (s3://, gs://, az://, file://) with artifacts on the store `artifacts_uri` names (a remote store keeps
    verified copies in `cache`), or MLflow's registry (mlflow+...), which keeps the artifacts itself: the
    project folder (`cache`, else `artifacts_uri`) holds verified copies; its runs go to the experiment of
    `project`."""
    if is_mlflow(registry_uri):
        from mlspec.runtime.registry_mlflow import MlflowRegistry

        local = cache if cache is not None else root / artifacts_uri
        return MlflowRegistry(registry_uri, ArtifactStore(LocalStore(local)), root, project)
    artifact_store = ArtifactStore(open_store(artifacts_uri, root), cache)
    if is_store(registry_uri):
        from mlspec.runtime.registry_log import LogRegistry

        return LogRegistry(open_store(registry_uri, root), artifact_store)
    return Registry(registry_uri, artifact_store, root)


def _use_wal(cursor, deadline: float = 60.0) -> None:
    """Put the database in WAL mode (kept in the file, so usually it is already).

    Switching needs an exclusive lock that SQLite may refuse at once ("database is locked") rather than
    wait for under its busy timeout, when several processes open a new registry together: retried with a
    short backoff for up to `deadline` seconds, as the busy timeout would have waited."""
    import sqlite3
    import time

    waited, attempt = 0.0, 0
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or waited >= deadline:
                raise
            pause = min(0.05 * 2 ** attempt, 1.0)
            time.sleep(pause)
            waited, attempt = waited + pause, attempt + 1
