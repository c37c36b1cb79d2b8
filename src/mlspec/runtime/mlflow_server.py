"""Reaching MLflow: which tracking and registry URIs a spec's URL means, one client, errors as messages.

`mlflow+https://HOST[:PORT][/PATH]` (or http) is a tracking server; `mlflow+sqlite:///relative.db` is
MLflow's own store in a file of the project (no server; MLflow needs `alembic` for it, which the full
`mlflow` package brings); `mlflow+databricks` is Databricks' hosted MLflow with DATABRICKS_HOST and
DATABRICKS_TOKEN from the environment (untested here). Credentials never come from the URL: MLflow reads
MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD) itself.

`mlflow` is imported on the first request, never before: importing it is slow, slower still before pandas
is loaded (it imports pandas; benchmarks/README.md § Figures behind code comments), so commands that never reach the
registry do not pay for it. MLflow's client retries a failed request seven times with exponential backoff
(about four minutes against a server that is down); unless the environment says otherwise, mlspec asks
for three retries one second apart and doubling (about 7 s), so a wrong address is a prompt error.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from mlspec.runtime.errors import RegistryError
from mlspec.stateurls import MLFLOW_PREFIX

_RESENDS = 3  # a request lost in transit
_BUSY_RESENDS = 6  # a request the server was too busy to start: about a minute of backoff in all
_RETRY_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
WRITE_HINT = ("this credential may not write the MLflow registry: jobs that write state take the write token "
              "(MLFLOW_TRACKING_TOKEN) from the GitHub Environment named by project.state_environment, or the "
              "gate's approval environment; pull requests get the repository's read-only one")


@dataclass(frozen=True)
class Target:
    """Where MLflow is: the tracking and registry URIs MLflow's client takes, and how to name it in messages."""

    tracking_uri: str
    registry_uri: str
    shown: str
    databricks: bool = False
    file: Path | None = None  # the SQLite file of a server-less store

    @property
    def artifact_root(self) -> str | None:
        """Where a server-less store's experiments keep their files: beside its database (MLflow's default is
        ./mlruns under whatever folder the process runs in)."""
        return None if self.file is None else (self.file.parent / "mlflow-artifacts").as_uri()

    def absent(self) -> bool:
        """Whether this is a server-less store whose file does not exist yet (reading it must not create it)."""
        return self.file is not None and not self.file.exists()


def target(uri: str, root: Path) -> Target:
    """The MLflow server or store an `mlflow+...` registry URL names (a SQLite file resolved in the project)."""
    rest = uri[len(MLFLOW_PREFIX):]
    if rest.startswith(("http://", "https://")):
        return Target(rest, rest, uri)
    if rest.startswith("sqlite:///"):
        inside = root.resolve()
        path = (root / rest[len("sqlite:///"):]).resolve()
        if not path.is_relative_to(inside):
            raise RegistryError(f"the MLflow store {uri} leads outside the project (to {path})",
                                hint="remove the symbolic link; a SQLite registry lives inside the project")
        if path.exists() and not path.is_file():
            raise RegistryError(f"the MLflow store {uri} is not a file",
                                hint="point project.registry.uri at a SQLite file, or remove what is there")
        return Target(f"sqlite:///{path}", f"sqlite:///{path}", uri, file=path)
    if rest == "databricks":
        return Target("databricks", "databricks", uri, databricks=True)
    raise RegistryError(f"'{uri}' is not an MLflow registry mlspec supports",
                        hint="write mlflow+https://HOST[:PORT], mlflow+sqlite:///relative.db or mlflow+databricks")


def tracking_target(registry_uri: str, root: Path) -> Target | None:
    """Where training runs are mirrored: the registry's MLflow, else the server MLFLOW_TRACKING_URI names, else
    None (nowhere to send them)."""
    if registry_uri.startswith(MLFLOW_PREFIX):
        return target(registry_uri, root)
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        return None
    shown = uri.split("://", 1)[0] + "://" + uri.split("://", 1)[1].rsplit("@", 1)[-1] if "://" in uri else uri
    return Target(uri, uri, shown, databricks=uri.startswith("databricks"))


class Connection:
    """One MLflow client for a target, made on first use; `call` turns MLflow's failures into RegistryError."""

    def __init__(self, where: Target) -> None:
        self.where = where
        self._client = None

    @property
    def client(self):
        """MLflow's client (MlflowClient), importing MLflow the first time."""
        if self._client is None:
            for name, value in _RETRY_DEFAULTS.items():
                os.environ.setdefault(name, value)
            quiet()
            try:
                from mlflow.tracking import MlflowClient
            except ImportError as exc:
                raise RegistryError("an MLflow registry or tracking needs MLflow's client", hint=(
                    "pip install 'mlspec-gitops[mlflow]'")) from exc
            if self.where.file is not None:  # SQLite makes the file, not its folder (reads never get here: `absent`)
                self.where.file.parent.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(tracking_uri=self.where.tracking_uri, registry_uri=self.where.registry_uri)
        return self._client

    def call(self, action: str, method: str, *args, **kwargs):
        """`client.<method>(*args, **kwargs)` for a read or a write that may be repeated (setting a tag, uploading
        the same files), sent again while the server answers that it is too busy; a failure is a RegistryError
        saying what could not be done."""
        return self._send(action, method, args, kwargs, writes=False, landed=None)

    def retry(self, action: str, method: str, *args, landed=None, **kwargs):
        """`client.<method>(*args, **kwargs)` for a write that must not happen twice, sent again when its answer
        was lost (a busy server resets connections; MLflow's client does not resend a POST that may have been
        processed) or the server said it was too busy (it may have done part of the request: MLflow answers that
        when a later step of it, such as looking up webhooks, finds the database pool full). `landed`, when
        given, says whether such a request took effect anyway: it returns the result to use, or None to send
        again."""
        return self._send(action, method, args, kwargs, writes=True, landed=landed)

    def find(self, action: str, method: str, *args, **kwargs):
        """`call` for a read of one thing: None when MLflow answers that it does not exist."""
        try:
            return self.call(action, method, *args, **kwargs)
        except RegistryError as failed:
            if error_code(failed.__cause__ or failed) == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def create(self, action: str, method: str, *args, landed=None, **kwargs) -> bool:
        """`call` for creating a thing by name: False when MLflow answers that it exists already. With `landed`
        (see `retry`), a creation that must be this client's own: sent again only after checking it did not
        land."""
        try:
            if landed is None:
                self.call(action, method, *args, **kwargs)
            else:
                self.retry(action, method, *args, landed=landed, **kwargs)
        except RegistryError as failed:
            if error_code(failed.__cause__ or failed) == "RESOURCE_ALREADY_EXISTS":
                return False
            raise
        return True

    def _send(self, action: str, method: str, args: tuple, kwargs: dict, *, writes: bool, landed):
        lost = busy = 0
        while True:
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except RegistryError:
                raise
            except Exception as exc:  # MLflow raises MlflowException, requests' errors and ImportError alike
                if server_busy(exc) and busy < _BUSY_RESENDS:
                    busy += 1
                    pause = random.uniform(0.5, 1.0) * 2 ** min(busy, 4)  # noqa: S311 (jitter, not security)
                elif writes and transport_error(exc) and lost < _RESENDS:
                    lost += 1
                    pause = 0.1 * 2 ** lost
                else:
                    raise self.error(action, exc) from exc
                if writes and landed is not None and (result := landed()) is not None:
                    return result
                time.sleep(pause)

    def error(self, action: str, exc: BaseException) -> RegistryError:
        """What went wrong, for people: MLflow's error code and first line, and what to do about it."""
        code = error_code(exc)
        text = str(exc).split("\n", 1)[0][:300]
        hint = "check that the MLflow server is reachable and the credentials (MLFLOW_TRACKING_TOKEN) are set"
        if code in ("PERMISSION_DENIED", "UNAUTHENTICATED") or " 403" in text or " 401" in text:
            hint = WRITE_HINT if action.startswith(("write", "register", "move", "record", "lock")) else \
                "set MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD) to a " \
                "credential the server accepts"
        elif isinstance(exc, ImportError) or "alembic" in text:
            hint = ("a server-less MLflow store (mlflow+sqlite) needs MLflow's database migrations: pip install "
                    "alembic (or the full mlflow package)")
        return RegistryError(f"could not {action} the MLflow registry {self.where.shown}: {text}", hint=hint)


def transport_error(exc: BaseException) -> bool:
    """Whether a request failed in transit (connection reset or refused), not with an answer of the server."""
    if type(exc).__name__ in ("ConnectionError", "ChunkedEncodingError", "ProtocolError"):
        return True
    text = str(exc)
    return error_code(exc) in ("", "INTERNAL_ERROR") and "failed with exception" in text and "Connection" in text


def server_busy(exc: BaseException) -> bool:
    """Whether the server answered that it was overloaded: its database connection pool stayed full (MLflow
    answers BAD_REQUEST with SQLAlchemy's message), or it said 429/503."""
    text = str(exc)
    return "QueuePool limit" in text or error_code(exc) in ("TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED") \
        or " 429" in text or " 503" in text


def error_code(exc: BaseException) -> str:
    """MLflow's error code of an exception ('' for other exceptions)."""
    return str(getattr(exc, "error_code", "") or "")


def quiet() -> None:
    """MLflow's INFO lines (waiting for a version, creating tables) are not mlspec's output: warnings only."""
    logging.getLogger("mlflow").setLevel(logging.WARNING)


@contextlib.contextmanager
def no_stdout():
    """MLflow prints run links on standard output when a run ends; standard output is mlspec's data."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def experiment_name(project: str | None, databricks: bool = False) -> str:
    """The experiment of a project's runs: `mlspec/<project>` (Databricks wants a workspace path)."""
    name = f"mlspec/{project}" if project else "mlspec"
    return "/Shared/" + name.replace("/", "-") if databricks else name


def experiment_id(conn: Connection, name: str, *, create: bool) -> str | None:
    """The id of the experiment `name`; with `create`, made when missing (or restored when deleted: a deleted
    experiment keeps its name, so restoring is the only way to use that name again)."""
    found = conn.call("read", "get_experiment_by_name", name)
    if found is not None:
        if found.lifecycle_stage == "deleted" and create:
            try:
                conn.client.restore_experiment(found.experiment_id)
            except Exception as exc:  # restored by a concurrent writer first is fine
                again = conn.call("read", "get_experiment_by_name", name)
                if again is None or again.lifecycle_stage == "deleted":
                    raise conn.error("write", exc) from exc
        return found.experiment_id
    if not create:
        return None
    try:
        return conn.client.create_experiment(name, artifact_location=conn.where.artifact_root,
                                             tags={"mlspec.experiment": "true"})
    except Exception as exc:
        if error_code(exc) != "RESOURCE_ALREADY_EXISTS":  # created by a concurrent writer first is fine
            raise conn.error("write", exc) from exc
        return conn.call("read", "get_experiment_by_name", name).experiment_id
