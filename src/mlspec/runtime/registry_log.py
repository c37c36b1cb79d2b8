"""The model registry as an append-only log on a store (s3://, gs://, az://, file://): no database, no lock.

Layout under the registry URL:

    models/<model>/versions/000000001.json   one immutable record per version, created only if absent
    models/<model>/aliases.json              {"aliases": {...}, "history": [...]}, replaced by compare-and-swap

A version number is claimed by creating its record with create-if-absent: a writer that loses the
race reads the winner's record (the same artifact means the same version: done) and tries the next
number, so versions stay contiguous and an artifact is registered once. Alias moves read the alias
document, change it and write it back only if its ETag is unchanged (else read again), so a move and
its history entry land together or not at all. A writer killed between creating a version and moving
its alias leaves a complete version that is not yet pointed to; registering the same artifact again
finishes the move. Reference profiles travel inside the version records.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from mlspec.runtime.errors import RegistryError
from mlspec.runtime.registry_base import ANY, RegistryBase, Version, _Any, actor, changed_since, check_alias, now
from mlspec.state.artifacts import ArtifactStore
from mlspec.state.stores import Store, probe

_VERSION_KEY = re.compile(r"^models/([a-z][a-z0-9_]*)/versions/(\d{9})\.json$")
_ALIASES_KEY = re.compile(r"^models/([a-z][a-z0-9_]*)/aliases\.json$")
_ATTEMPTS = 200


def _encode(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


class LogRegistry(RegistryBase):
    """A registry kept as immutable version records and one alias document per model on a store."""

    def __init__(self, store: Store, artifacts: ArtifactStore) -> None:
        # the conditional-write probe writes, so it waits for the first write: a job holding a read-only
        # credential (a pull request's) must be able to open the registry and read the champion
        self.store = store
        self.artifacts = artifacts
        self.location = store.url

    @staticmethod
    def _version_key(model: str, number: int) -> str:
        return f"models/{model}/versions/{number:09d}.json"

    @staticmethod
    def _aliases_key(model: str) -> str:
        return f"models/{model}/aliases.json"

    def _damaged(self, key: str) -> RegistryError:
        return RegistryError(f"the registry {self.location} is damaged: {key} is unreadable",
                             hint="restore that object from a backup (object versioning keeps old copies)")

    def _record(self, key: str, data: bytes) -> Version:
        match = _VERSION_KEY.match(key)
        try:
            doc = json.loads(data)
            version = Version(**doc)
        except (TypeError, ValueError) as exc:
            raise self._damaged(key) from exc
        if match is None or version.model != match.group(1) or version.version != int(match.group(2)):
            raise self._damaged(key)
        return version

    def _read_version(self, model: str, number: int) -> Version | None:
        key = self._version_key(model, number)
        blob = self.store.get(key)
        return None if blob is None else self._record(key, blob.data)

    def _alias_doc(self, model: str) -> tuple[dict, str | None]:
        key = self._aliases_key(model)
        blob = self.store.get(key)
        if blob is None:
            return {"aliases": {}, "history": []}, None
        try:
            doc = json.loads(blob.data)
            if not isinstance(doc.get("aliases"), dict) or not isinstance(doc.get("history"), list):
                raise ValueError("not an alias document")
        except (ValueError, AttributeError) as exc:
            raise self._damaged(key) from exc
        return doc, blob.etag

    # -- reads ------------------------------------------------------------------------------

    def _models(self) -> list[str]:
        names = set()
        for key in self.store.list("models/"):
            match = _VERSION_KEY.match(key) or _ALIASES_KEY.match(key)
            if match:
                names.add(match.group(1))
        return sorted(names)

    def versions(self, model: str | None = None) -> list[Version]:
        """All versions (of one model), oldest first."""
        keys = [key for name in ([model] if model is not None else self._models())
                for key in self.store.list(f"models/{name}/versions/") if _VERSION_KEY.match(key)]
        # one GET per record: in parallel, since on an object store each is a round trip
        with ThreadPoolExecutor(max_workers=8) as pool:
            blobs = list(pool.map(self.store.get, keys))
        out = [self._record(key, blob.data) for key, blob in zip(keys, blobs, strict=True) if blob is not None]
        return sorted(out, key=lambda v: (v.model, v.version))

    def get(self, model: str, version: int) -> Version:
        """One version; RegistryError when it does not exist."""
        found = self._read_version(model, version) if version >= 1 else None
        if found is None:
            raise RegistryError(f"model '{model}' has no version {version}",
                                hint="see `mlspec registry ls` for registered versions")
        return found

    def aliases(self) -> dict[str, dict[str, int]]:
        """model -> alias -> version."""
        out = {}
        for model in self._models():
            table = self._alias_doc(model)[0]["aliases"]
            if table:
                out[model] = dict(sorted(table.items()))
        return out

    def history(self, model: str) -> list[dict]:
        """Every alias move of a model, oldest first."""
        return [{"id": i, "model": model, **move} for i, move in enumerate(self._alias_doc(model)[0]["history"], 1)]

    # -- writes -----------------------------------------------------------------------------

    def register_once(self, model: str, artifact: bytes, *, metrics: dict, params: dict, lineage: dict,
                      profile: dict, alias: str | None, reason: str, who: str | None = None) -> tuple[int, bool]:
        """Claim the next version number with create-if-absent, unless a version already holds the artifact."""
        if alias is not None:
            check_alias(alias)
        who = who or actor()
        probe(self.store)
        sha = self.artifacts.put(artifact)
        known = self.versions(model)
        same = [v.version for v in known if v.artifact_sha256 == sha]
        number, created = (same[0], False) if same else (known[-1].version + 1 if known else 1, True)
        while created:
            record = Version(model=model, version=number, artifact_sha256=sha, created_at=now(), created_by=who,
                             metrics=metrics, params=params, lineage=lineage, profile=profile)
            if self.store.put_if_absent(self._version_key(model, number), _encode(record.__dict__)):
                break
            winner = self._read_version(model, number)
            if winner is not None and winner.artifact_sha256 == sha:
                created = False  # a concurrent registration of the same artifact won this number
            else:
                number += 1
        if alias is not None and (created or not self._ever_pointed(model, alias, number)):
            self._change_aliases(model, lambda doc: self._move(doc, model, alias, number, who, reason, ANY))
        return number, created

    def _ever_pointed(self, model: str, alias: str, number: int) -> bool:
        return any(m["alias"] == alias and m["to_version"] == number for m in self.history(model))

    def set_alias(self, model: str, alias: str, version: int, reason: str, who: str | None = None,
                  expected: int | _Any | None = ANY) -> None:
        """Point `alias` at `version` (artifact verified first), by compare-and-swap on the alias document."""
        check_alias(alias)
        target = self.get(model, version)
        self.artifact(target.artifact_sha256)
        self._change_aliases(model, lambda doc: self._move(doc, model, alias, version, who or actor(), reason,
                                                           expected, force=True))

    @staticmethod
    def _move(doc: dict, model: str, alias: str, version: int, who: str, reason: str,
              expected: int | _Any | None, force: bool = False) -> bool:
        """Apply one alias move to the document; False when there is nothing to write."""
        table, history = doc["aliases"], doc["history"]
        current = table.get(alias)
        if not isinstance(expected, _Any) and current != expected:
            raise changed_since(model, alias, expected, current)
        if current == version and not force:
            return False  # a concurrent writer already made this move
        table[alias] = version
        history.append({"alias": alias, "from_version": current, "to_version": version, "actor": who,
                        "reason": reason, "at": now()})
        if alias == "champion" and table.get("challenger") == version:
            del table["challenger"]
            history.append({"alias": "challenger", "from_version": version, "to_version": None, "actor": who,
                            "reason": f"promoted: {reason}", "at": now()})
        return True

    def _change_aliases(self, model: str, change: Callable[[dict], bool]) -> None:
        """Read, change and write back the alias document while nobody else did; else read again."""
        key = self._aliases_key(model)
        probe(self.store)
        for attempt in range(_ATTEMPTS):
            doc, etag = self._alias_doc(model)
            if not change(doc):
                return
            if self.store.compare_and_swap(key, _encode(doc), etag):
                return
            time.sleep(random.uniform(0, 0.01 * min(attempt + 1, 20)))  # noqa: S311 (jitter, not security)
        raise RegistryError(f"could not move an alias of '{model}' in {self.location}: too many concurrent writers",
                            hint="try again")

    # -- run records ---------------------------------------------------------------------------

    @staticmethod
    def _run_key(branch: str) -> str:
        # branch names may hold '/', and a store key's parts may not be '.' or '..': hex keeps it one part
        return f"runs/{branch.encode().hex()}.json"

    def last_run(self, branch: str) -> dict | None:
        """The branch's last-run record, or None."""
        blob = self.store.get(self._run_key(branch))
        if blob is None:
            return None
        try:
            return json.loads(blob.data)
        except ValueError:
            raise self._damaged(self._run_key(branch)) from None

    def record_run(self, branch: str, record: dict) -> None:
        """Replace the branch's last-run record (one whole object: readers see the old or the new one)."""
        probe(self.store)
        self.store.put(self._run_key(branch), _encode(record))

    # -- integrity --------------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Unreadable records, then everything the shared checks find. Never repairs anything."""
        problems = []
        for key in self.store.list("models/"):
            if not (_VERSION_KEY.match(key) or _ALIASES_KEY.match(key)):
                continue
            blob = self.store.get(key)
            try:
                if blob is not None and _VERSION_KEY.match(key):
                    self._record(key, blob.data)
                elif blob is not None and (alias := _ALIASES_KEY.match(key)):
                    self._alias_doc(alias.group(1))
            except RegistryError as exc:
                problems.append(exc.message)
        return problems or super().verify()
