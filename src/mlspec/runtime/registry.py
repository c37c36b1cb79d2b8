"""The model registry: immutable, contiguous versions, alias pointers with history, and lineage.

Any SQLAlchemy URL works: a SQLite file by default, PostgreSQL for teams. Every write is one
transaction that first takes a write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL an advisory lock),
so concurrent writers queue instead of racing and versions stay contiguous. Artifacts are stored
(fsynced, content-addressed) before the transaction that references them, so a crash at any moment
leaves either no new version or a complete one; at worst an unreferenced artifact file, which
`verify` reports and which is harmless.
"""

from __future__ import annotations

import getpass
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from mlspec.runtime import artifacts
from mlspec.runtime.data import expand_env, sqlite_relative_to
from mlspec.runtime.errors import RegistryError
from mlspec.runtime.jsonio import dumps

ALIASES = ("champion", "challenger")
_LOCK_KEY = 0x6D6C73706563  # "mlspec": the PostgreSQL advisory lock id for registry writes

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


@dataclass(frozen=True)
class Version:
    """One registered model version."""

    model: str
    version: int
    artifact_sha256: str
    created_at: str
    created_by: str
    metrics: dict
    params: dict
    lineage: dict
    profile: dict


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor() -> str:
    """Who is acting: the CI actor when in GitHub Actions, else the local user."""
    import os

    if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("GITHUB_ACTOR"):
        return f"github:{os.environ['GITHUB_ACTOR']}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _dumps(value: object) -> str:
    return dumps(value, compact=True).decode()


class Registry:
    """A registry database plus its artifact store."""

    def __init__(self, uri: str, artifact_dir: Path, root: Path) -> None:
        self.uri = sqlite_relative_to(expand_env(uri, "the registry"), root)
        self.artifact_dir = artifact_dir
        if self.uri.startswith("sqlite:///") and not self.uri.startswith("sqlite:///:memory:"):
            Path(self.uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(self.uri, **self._engine_options())
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            self._configure_sqlite()
        # under the write lock, so two processes opening a new registry do not both create the tables
        with self._writing() as conn:
            metadata.create_all(conn)

    def _engine_options(self) -> dict:
        if self.uri.startswith("sqlite"):
            return {"connect_args": {"timeout": 60}}
        return {"pool_pre_ping": True}

    def _configure_sqlite(self) -> None:
        @sa.event.listens_for(self.engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # let us issue BEGIN IMMEDIATE ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @sa.event.listens_for(self.engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()

    @contextmanager
    def _writing(self):
        """A write transaction holding the registry's write lock; committed on success, else rolled back."""
        conn = self.engine.connect()
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
            conn.close()

    # -- reads ------------------------------------------------------------------------------

    def versions(self, model: str | None = None) -> list[Version]:
        """All versions (of one model), oldest first."""
        query = sa.select(versions).order_by(versions.c.model, versions.c.version)
        if model is not None:
            query = query.where(versions.c.model == model)
        with self.engine.connect() as conn:
            return [self._version(row) for row in conn.execute(query)]

    def get(self, model: str, version: int) -> Version:
        """One version; RegistryError when it does not exist."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(versions).where(versions.c.model == model,
                                                         versions.c.version == version)).first()
        if row is None:
            raise RegistryError(f"model '{model}' has no version {version}",
                                hint="see `mlspec registry ls` for registered versions")
        return self._version(row)

    def alias(self, model: str, alias: str) -> int | None:
        """The version an alias points to, or None."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(aliases.c.version).where(aliases.c.model == model,
                                                                   aliases.c.alias == alias)).scalar()

    def aliases(self) -> dict[str, dict[str, int]]:
        """model -> alias -> version."""
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(aliases).order_by(aliases.c.model, aliases.c.alias)):
                out.setdefault(row.model, {})[row.alias] = row.version
        return out

    def history(self, model: str) -> list[dict]:
        """Every alias move of a model, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(alias_history).where(alias_history.c.model == model)
                                .order_by(alias_history.c.id))
            return [dict(row._mapping) for row in rows]

    def champion(self, model: str) -> Version | None:
        """The champion version, if any."""
        number = self.alias(model, "champion")
        return None if number is None else self.get(model, number)

    @staticmethod
    def _version(row) -> Version:
        return Version(model=row.model, version=row.version, artifact_sha256=row.artifact_sha256,
                       created_at=row.created_at, created_by=row.created_by, metrics=json.loads(row.metrics),
                       params=json.loads(row.params), lineage=json.loads(row.lineage),
                       profile=json.loads(row.profile))

    # -- writes -----------------------------------------------------------------------------

    def register(self, model: str, artifact: bytes, *, metrics: dict, params: dict, lineage: dict,
                 profile: dict, alias: str | None, reason: str, who: str | None = None) -> int:
        """Store the artifact, then add the next version and (optionally) point an alias at it, atomically."""
        sha = artifacts.store(self.artifact_dir, artifact)
        who = who or actor()
        with self._writing() as conn:
            current = conn.execute(sa.select(sa.func.max(versions.c.version))
                                   .where(versions.c.model == model)).scalar() or 0
            number = current + 1
            stored = conn.execute(sa.select(artifact_blobs.c.sha256).where(artifact_blobs.c.sha256 == sha)).first()
            if stored is None:
                conn.execute(artifact_blobs.insert().values(sha256=sha, data=artifact))
            conn.execute(versions.insert().values(
                model=model, version=number, artifact_sha256=sha, created_at=_now(), created_by=who,
                metrics=_dumps(metrics), params=_dumps(params), lineage=_dumps(lineage), profile=_dumps(profile)))
            if alias is not None:
                self._move(conn, model, alias, number, who, reason)
        return number

    def artifact(self, sha256: str) -> bytes:
        """A registered artifact's bytes, verified: from the local cache, or (when the cache lacks it, as on a
        fresh CI runner) from the database. A local copy that no longer matches its sha256 is refused."""
        if artifacts.path_for(self.artifact_dir, sha256).exists():
            return artifacts.read_verified(self.artifact_dir, sha256)  # a modified local copy is refused, loudly
        try:
            return artifacts.read_verified(self.artifact_dir, sha256)
        except RegistryError as local_problem:
            with self.engine.connect() as conn:
                data = conn.execute(sa.select(artifact_blobs.c.data)
                                    .where(artifact_blobs.c.sha256 == sha256)).scalar()
            if data is None or artifacts.digest(bytes(data)) != sha256:
                raise local_problem
            artifacts.store(self.artifact_dir, bytes(data))  # refill the cache for next time
            return bytes(data)

    def load_model(self, sha256: str):
        """The model pipeline of a registered artifact (hash verified before skops reads it)."""
        return artifacts.loads_verified(self.artifact(sha256), sha256)

    def set_alias(self, model: str, alias: str, version: int, reason: str, who: str | None = None) -> None:
        """Point `alias` at `version` after verifying its artifact; the move is recorded."""
        if alias not in ALIASES:
            raise RegistryError(f"unknown alias '{alias}'", hint="aliases are champion and challenger")
        target = self.get(model, version)
        self.artifact(target.artifact_sha256)
        with self._writing() as conn:
            self._move(conn, model, alias, version, who or actor(), reason)
            if alias == "champion":
                self._clear_challenger_if(conn, model, version, who or actor(), reason)

    def rollback(self, model: str, reason: str, who: str | None = None) -> int:
        """Move `champion` back to the version it pointed to before its last move."""
        moves = [h for h in self.history(model) if h["alias"] == "champion"]
        if not moves or moves[-1]["from_version"] is None:
            raise RegistryError(f"model '{model}' has no earlier champion to roll back to")
        previous = moves[-1]["from_version"]
        self.set_alias(model, "champion", previous, reason, who)
        return previous

    @staticmethod
    def _clear_challenger_if(conn, model: str, version: int, who: str, reason: str) -> None:
        """A challenger that became champion is no longer a challenger."""
        where = (aliases.c.model == model) & (aliases.c.alias == "challenger")
        if conn.execute(sa.select(aliases.c.version).where(where)).scalar() == version:
            conn.execute(aliases.delete().where(where))
            conn.execute(alias_history.insert().values(model=model, alias="challenger", from_version=version,
                                                       to_version=None, actor=who, reason=f"promoted: {reason}",
                                                       at=_now()))

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
                                                   actor=who, reason=reason, at=_now()))

    # -- integrity --------------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Problems found: gaps in versions, missing or modified artifacts, dangling aliases.

        Unreferenced artifact files are not problems (see `orphans`)."""
        problems = []
        by_model: dict[str, list[Version]] = {}
        for v in self.versions():
            by_model.setdefault(v.model, []).append(v)
        for model, rows in by_model.items():
            numbers = [v.version for v in rows]
            if numbers != list(range(1, len(numbers) + 1)):
                problems.append(f"{model}: versions are not contiguous: {numbers}")
            for v in rows:

                try:
                    artifacts.read_verified(self.artifact_dir, v.artifact_sha256)
                except RegistryError as exc:
                    problems.append(f"{model} v{v.version}: {exc.message}")
        for model, table in self.aliases().items():
            for alias, number in table.items():
                if number not in {v.version for v in by_model.get(model, [])}:
                    problems.append(f"{model}: alias {alias} points to missing version {number}")
        return problems

    def orphans(self) -> list[Path]:
        """Artifact files no version references (left by a crash between store and commit)."""
        referenced = {v.artifact_sha256 for v in self.versions()}
        root = self.artifact_dir / "sha256"
        if not root.is_dir():
            return []
        finished = [p for p in root.glob("*/*.skops") if p.stem not in referenced]
        interrupted = list(root.glob("*/.*.tmp"))  # a write killed before its rename
        return sorted(finished + interrupted)
