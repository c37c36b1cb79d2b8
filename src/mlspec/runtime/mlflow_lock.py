"""A write lock on an MLflow registry, made of the one test-and-set MLflow's API has: creating a registered model.

MLflow has no conditional update of an alias or a tag and no lock, but a registered model's name is unique:
of several clients creating the same name, one succeeds and the others are told it exists. So the lock is
a sequence of registered models, `mlspec-lock.000000000001`, `…002`, …, each created once: the newest says
whether the lock is held (and until when, by which writer) or free. Taking the lock creates the next number
as held; releasing it creates the next one as free. Only one writer can create a number, so a change from
the state it read is a compare-and-set. A holder killed before releasing leaves its number held; once its
lease has expired a waiter creates the next number as held itself, so a dead writer blocks others for at
most the lease. A holder checks its lease before each write it makes under the lock and stops rather than
write after it expired (its holder's and the waiters' clocks are assumed to agree within seconds, as NTP
keeps them). A writer releasing the lock deletes the numbers up to the one it held.

A lock renamed between a free and a held name (the first design) is not safe: a writer that found no lock
creates one, and when that creation lands after another writer renamed the first free lock to its held
name, two locks exist and two writers hold one each (found by the contract suite's 32 concurrent gates).

mlspec's writers (registrations, alias moves, their history) take it; people and other tools moving
aliases in MLflow do not, which is the race `registry_mlflow` documents.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
import uuid
from dataclasses import dataclass

from mlspec.runtime.errors import RegistryError
from mlspec.runtime.mlflow_server import Connection

PREFIX = "mlspec-lock."
_NUMBERED = re.compile(r"mlspec-lock\.(\d{12})")
STATE, TOKEN, EXPIRES = "mlspec.lock.state", "mlspec.lock.token", "mlspec.lock.expires_ms"
LEASE_SECONDS = 120.0
WAIT_SECONDS = 300.0
_MARGIN = 10.0  # a holder stops writing this long before its lease ends
DESCRIPTION = ("mlspec's write lock for this registry (not a model): mlspec creates the next one of these each time "
               "it takes or releases the lock. Do not rename or delete them.")


@dataclass(frozen=True)
class LockState:
    """The newest lock model: its number, whether it is held, and until when (epoch seconds)."""

    number: int
    held: bool
    expires: float

    def takeable(self) -> bool:
        """Free, or held by a writer whose lease has ended."""
        return not self.held or self.expires < time.time()


NONE = LockState(0, held=False, expires=0.0)  # no lock model yet: free


class WriteLock:
    """The registry's write lock, as a context manager: `with WriteLock(conn) as lock: ... lock.check()`."""

    def __init__(self, conn: Connection, *, lease: float = LEASE_SECONDS, wait: float = WAIT_SECONDS) -> None:
        self.conn = conn
        self.lease, self.wait = lease, wait
        self.token = uuid.uuid4().hex[:16]
        self.number: int | None = None
        self.expires = 0.0
        self.older: list[str] = []  # lock models before the one taken, deleted on release
        self.waited = 0.0  # seconds spent waiting for the lock (for benchmarks)

    def __enter__(self) -> WriteLock:
        started = time.monotonic()
        attempt = 0
        while True:
            names, current = self._current()
            if current.takeable():
                expires = time.time() + self.lease
                if self._create(current.number + 1, held=True, expires=expires):
                    self.number, self.expires = current.number + 1, expires
                    self.older = [n for n in names if n != _name(self.number)]
                    break
                continue  # another writer created that number first: read the new state at once
            if time.monotonic() - started > self.wait:
                raise RegistryError(f"the MLflow registry {self.conn.where.shown} is busy: another writer has "
                                    f"held its write lock ({_name(current.number)}) for {self.wait:.0f} s",
                                    hint="try again; if no mlspec process is writing, the lock is freed when "
                                         "its lease ends (two minutes after it was taken)")
            attempt += 1
            # back off to about 0.5 s: a busy single-worker server resets connections when waiters poll hard
            time.sleep(random.uniform(0.02, 0.05 * min(2 ** attempt, 10)))  # noqa: S311 (jitter, not security)
        self.waited = time.monotonic() - started
        return self

    def check(self) -> None:
        """Refuse to write once the lease is (nearly) over: another writer may take the lock then."""
        if time.time() > self.expires - _MARGIN:
            raise RegistryError(f"the write lock of {self.conn.where.shown} was held longer than its lease "
                                f"({self.lease:.0f} s); nothing more was written", hint="try again")

    def __exit__(self, *_exc_info) -> None:
        if self.number is None:
            return
        number, self.number = self.number, None
        # refused when a waiter took the lock over after the lease: then there is nothing to release
        self._create(number + 1, held=False, expires=0.0)
        # number + 1 exists now (this release, or a waiter's takeover): this one and older ones are history;
        # deleted to keep the list of lock models short (a failure here loses nothing)
        for name in [*self.older, _name(number)]:
            with contextlib.suppress(RegistryError):
                self.conn.call("unlock", "delete_registered_model", name)

    def _current(self) -> tuple[list[str], LockState]:
        """The lock models' names, and the state of the newest."""
        # newest first: were old ones left behind (their deletion failed), the newest is still on the first page
        found = self.conn.call("lock", "search_registered_models", filter_string=f"name LIKE '{PREFIX}%'",
                               order_by=["name DESC"], max_results=100)
        numbered = sorted(m.name for m in found if _NUMBERED.fullmatch(m.name))
        if not numbered:
            return [], NONE
        newest = next(m for m in found if m.name == numbered[-1])
        tags = newest.tags or {}
        if STATE not in tags:  # a search answer without tags: ask for the model itself
            tags = self.conn.call("lock", "get_registered_model", newest.name).tags
        expires = tags.get(EXPIRES, "0")
        return numbered, LockState(int(numbered[-1][len(PREFIX):]), held=tags.get(STATE) == "held",
                                   expires=int(expires) / 1000 if expires.isdigit() else 0.0)

    def _create(self, number: int, *, held: bool, expires: float) -> bool:
        """Create lock model `number` in the given state; False when another writer created it first."""
        name = _name(number)
        tags = {STATE: "held" if held else "free", TOKEN: self.token, EXPIRES: str(int(expires * 1000))}
        # a creation whose answer was lost may have happened: then the model carries this writer's token
        return self.conn.create("lock", "create_registered_model", name, tags=tags, description=DESCRIPTION,
                                landed=lambda: True if self._token_of(name) == self.token else None)

    def _token_of(self, name: str) -> str | None:
        found = self.conn.find("lock", "get_registered_model", name)
        return None if found is None else found.tags.get(TOKEN)


def _name(number: int) -> str:
    return f"{PREFIX}{number:012d}"
