"""What every registry backend shares: the version record, aliases, and the behaviour built on them.

A backend (SQL database, or an append-only log on a store) implements the primitive reads and
writes; this base adds champion lookup, rollback, verified model loading and the integrity checks
common to all. Registering is idempotent per artifact: registering bytes that a version already
holds returns that version, decided under the backend's own write discipline (a lock, or a
create-if-absent), so concurrent gates on one candidate agree on one number.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from mlspec.runtime.errors import RegistryError
from mlspec.state.artifacts import ArtifactStore

ALIASES = ("champion", "challenger")


class _Any:
    """Marker: an alias move that does not check where the alias points first."""


ANY = _Any()


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


def now() -> str:
    """The current UTC time as recorded in the registry."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor() -> str:
    """Who is acting: the CI actor when in GitHub Actions, else the local user."""
    if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("GITHUB_ACTOR"):
        return f"github:{os.environ['GITHUB_ACTOR']}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def check_alias(alias: str) -> None:
    """Refuse an alias mlspec does not manage."""
    if alias not in ALIASES:
        raise RegistryError(f"unknown alias '{alias}'", hint="aliases are champion and challenger")


def changed_since(model: str, alias: str, expected: int | None, current: int | None) -> RegistryError:
    """The refusal of a compare-and-set promotion whose alias moved after the gate looked."""
    seen = "no version" if expected is None else f"v{expected}"
    now_at = "no version" if current is None else f"v{current}"
    return RegistryError(f"{model}: {alias} changed since the gate ran (it compared against {seen}, "
                         f"now {now_at}); nothing was moved",
                         hint="re-run the gate so it compares against the current champion")


class RegistryBase:
    """The behaviour every backend shares; subclasses provide the primitives below."""

    artifacts: ArtifactStore
    location: str

    # -- primitives (per backend) --------------------------------------------------------------

    def versions(self, model: str | None = None) -> list[Version]:
        """All versions (of one model), oldest first."""
        raise NotImplementedError

    def get(self, model: str, version: int) -> Version:
        """One version; RegistryError when it does not exist."""
        raise NotImplementedError

    def aliases(self) -> dict[str, dict[str, int]]:
        """model -> alias -> version."""
        raise NotImplementedError

    def history(self, model: str) -> list[dict]:
        """Every alias move of a model, oldest first."""
        raise NotImplementedError

    def register_once(self, model: str, artifact: bytes, *, metrics: dict, params: dict, lineage: dict,
                      profile: dict, alias: str | None, reason: str, who: str | None = None) -> tuple[int, bool]:
        """Register the artifact as the next version unless a version already holds it.

        Returns (version, created). With `alias`, a new version is pointed to by it atomically with
        its creation (or, on a store, right after: an interrupted move is completed by the next call)."""
        raise NotImplementedError

    def set_alias(self, model: str, alias: str, version: int, reason: str, who: str | None = None,
                  expected: int | _Any | None = ANY) -> None:
        """Point `alias` at `version` after verifying its artifact; the move is recorded.

        With `expected`, the move happens only while the alias still points there (compare-and-set)."""
        raise NotImplementedError

    def last_run(self, branch: str) -> dict | None:
        """The record of the last successful run of the generated workflow on `branch` (see `record_run`),
        or None when none was recorded."""
        raise NotImplementedError

    def record_run(self, branch: str, record: dict) -> None:
        """Replace `branch`'s last-run record (JSON data: the commit, the manifest it ran, when)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    def orphans(self) -> list[str]:
        """Keys of stored artifacts no version references, and of interrupted artifact writes (both left
        by a crash between storing and registering; harmless)."""
        from mlspec.state.artifacts import key_for

        referenced = {v.artifact_sha256 for v in self.versions()}
        unreferenced = [key_for(sha) for sha in self.artifacts.digests() if sha not in referenced]
        return sorted(unreferenced + self.artifacts.interrupted())

    # -- shared behaviour --------------------------------------------------------------------

    def alias(self, model: str, alias: str) -> int | None:
        """The version an alias points to, or None."""
        return self.aliases().get(model, {}).get(alias)

    def champion(self, model: str) -> Version | None:
        """The champion version, if any."""
        number = self.alias(model, "champion")
        return None if number is None else self.get(model, number)

    def artifact(self, sha256: str) -> bytes:
        """A registered artifact's bytes, verified."""
        return self.artifacts.get(sha256)

    def load_model(self, sha256: str):
        """The model pipeline of a registered artifact (hash verified before skops reads it)."""
        from mlspec.runtime.artifacts import loads_verified

        return loads_verified(self.artifact(sha256), sha256)

    def rollback(self, model: str, reason: str, who: str | None = None) -> int:
        """Move `champion` back to the version it pointed to before its last move."""
        moves = [h for h in self.history(model) if h["alias"] == "champion"]
        if not moves or moves[-1]["from_version"] is None:
            raise RegistryError(f"model '{model}' has no earlier champion to roll back to")
        previous = moves[-1]["from_version"]
        self.set_alias(model, "champion", previous, reason, who, expected=moves[-1]["to_version"])
        return previous

    def verify(self) -> list[str]:
        """Problems found: gaps in versions, missing or modified artifacts, dangling aliases.

        Never repairs anything. Unreferenced artifacts are not problems (see `orphans`)."""
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
                    self.artifacts.get(v.artifact_sha256, cached=False)
                except RegistryError as exc:
                    problems.append(f"{model} v{v.version}: {exc.message}")
        for model, table in self.aliases().items():
            moves = self.history(model)
            for alias, number in table.items():
                if number not in {v.version for v in by_model.get(model, [])}:
                    problems.append(f"{model}: alias {alias} points to missing version {number}")
                last = [m["to_version"] for m in moves if m["alias"] == alias][-1:]
                if last != [number]:
                    problems.append(f"{model}: alias {alias} points to v{number}, but its history does not "
                                    f"record that move")
        return problems
