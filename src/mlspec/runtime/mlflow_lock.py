"""A write lock on an MLflow registry, made of the one test-and-set MLflow's API has: renaming a registered model.

MLflow has no conditional update of an alias or a tag and no lock, but renaming a registered model is
one database update of the row that has the old name: of several clients renaming `mlspec-lock` at once,
one succeeds and the others are refused (the name is gone, or the row they read was updated under them).
So the lock is a registered model, `mlspec-lock` while free and `mlspec-lock.held.<expiry ms>.<token>`
while a writer holds it. Releasing renames it back. A holder killed before releasing leaves the held name;
once its lease has expired a waiter takes it over by renaming that exact name (again only one can), so a
dead writer blocks others for at most the lease. A holder checks its lease before each write it makes
under the lock and stops rather than write after it expired (its holder's and the waiters' clocks are
assumed to agree within seconds, as NTP keeps them).

mlspec's writers (registrations, alias moves, their history) take it; people and other tools moving
aliases in MLflow do not, which is the race `registry_mlflow` documents.
"""

from __future__ import annotations

import random
import time
import uuid

from mlspec.runtime.errors import RegistryError
from mlspec.runtime.mlflow_server import Connection, error_code

FREE = "mlspec-lock"
HELD = FREE + ".held."
LEASE_SECONDS = 120.0
WAIT_SECONDS = 300.0
_MARGIN = 10.0  # a holder stops writing this long before its lease ends
DESCRIPTION = ("mlspec's write lock for this registry (not a model): mlspec renames it while it registers a "
               "version or moves an alias. Do not rename or delete it.")


class WriteLock:
    """The registry's write lock, as a context manager: `with WriteLock(conn) as lock: ... lock.check()`."""

    def __init__(self, conn: Connection, *, lease: float = LEASE_SECONDS, wait: float = WAIT_SECONDS) -> None:
        self.conn = conn
        self.lease, self.wait = lease, wait
        self.token = uuid.uuid4().hex[:16]
        self.name: str | None = None
        self.expires = 0.0
        self.waited = 0.0  # seconds spent waiting for the lock (for benchmarks)

    def __enter__(self) -> WriteLock:
        started = time.monotonic()
        attempt = 0
        while True:
            if self._take(FREE):
                break
            found = self._names()
            if not found:
                self._create()
                continue
            for name in found:
                if _expired(name) and self._take(name):  # a holder that died: take over its exact name
                    break
            else:
                if time.monotonic() - started > self.wait:
                    held = next((n for n in found if n.startswith(HELD)), found[0])
                    raise RegistryError(f"the MLflow registry {self.conn.where.shown} is busy: another writer has "
                                        f"held its write lock ({held}) for {self.wait:.0f} s",
                                        hint="try again; if no mlspec process is writing, the lock is freed when "
                                             "its lease ends (two minutes after it was taken)")
                attempt += 1
                # back off to about 0.5 s: a busy single-worker server resets connections when waiters poll hard
                time.sleep(random.uniform(0.02, 0.05 * min(2 ** attempt, 10)))  # noqa: S311 (jitter, not security)
                continue
            break
        self.waited = time.monotonic() - started
        return self

    def check(self) -> None:
        """Refuse to write once the lease is (nearly) over: another writer may take the lock then."""
        if time.time() > self.expires - _MARGIN:
            raise RegistryError(f"the write lock of {self.conn.where.shown} was held longer than its lease "
                                f"({self.lease:.0f} s); nothing more was written", hint="try again")

    def __exit__(self, *exc_info) -> None:
        if self.name is None:
            return
        name = self.name
        try:
            self.conn.retry("unlock", "rename_registered_model", name, FREE,
                            landed=lambda: True if name not in self._names() else None)
        except RegistryError as failed:
            exc = failed.__cause__ or failed
            if error_code(exc) == "RESOURCE_ALREADY_EXISTS":  # someone made a new free lock meanwhile: drop ours
                self.conn.call("unlock", "delete_registered_model", self.name)
            elif error_code(exc) != "RESOURCE_DOES_NOT_EXIST":  # gone: taken over after the lease, nothing to do
                raise self.conn.error("unlock", exc) from exc
        finally:
            self.name = None

    def _take(self, current: str) -> bool:
        expires = time.time() + self.lease
        name = f"{HELD}{int(expires * 1000)}.{self.token}"
        try:
            # a rename whose answer was lost may have happened: then the lock has this writer's name
            self.conn.retry("lock", "rename_registered_model", current, name,
                            landed=lambda: True if name in self._names() else None)
        except RegistryError as failed:
            exc = failed.__cause__ or failed
            # gone (another writer renamed it first), or the row changed under this update (the same, seen by
            # the database: "expected to update 1 row(s); 0 were matched")
            if error_code(exc) in ("RESOURCE_DOES_NOT_EXIST", "BAD_REQUEST", "INVALID_STATE") or \
                    "0 were matched" in str(exc):
                return False
            raise self.conn.error("lock", exc) from exc
        self.name, self.expires = name, expires
        return True

    def _names(self) -> list[str]:
        found = self.conn.call("lock", "search_registered_models", filter_string=f"name LIKE '{FREE}%'")
        return sorted(m.name for m in found if m.name == FREE or m.name.startswith(HELD))

    def _create(self) -> None:
        try:
            self.conn.client.create_registered_model(FREE, tags={"mlspec.lock": "true"}, description=DESCRIPTION)
        except Exception as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise self.conn.error("lock", exc) from exc


def _expired(name: str) -> bool:
    """Whether a held lock's lease has ended (its name says until when)."""
    if not name.startswith(HELD):
        return False
    stamp = name[len(HELD):].split(".", 1)[0]
    return stamp.isdigit() and int(stamp) / 1000 < time.time()
