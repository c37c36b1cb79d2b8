"""Model artifacts on a store: content-addressed by sha256, verified on every read.

The key of an artifact is its digest (`sha256/ab/abcd….skops`), so writers never conflict and a
stored object never changes meaning. Every read hashes the bytes and refuses a mismatch before
anything else sees them; a remote store keeps a verified local copy (`cache`) so a model is
downloaded once per machine.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from mlspec.state.files import write_atomic
from mlspec.state.stores import LocalStore, Store, StoreError


def digest(data: bytes) -> str:
    """sha256 hex digest."""
    return hashlib.sha256(data).hexdigest()


def key_for(sha256: str) -> str:
    """Where the artifact with this digest lives in a store."""
    return f"sha256/{sha256[:2]}/{sha256}.skops"


def _modified(sha256: str) -> StoreError:
    return StoreError(f"artifact {sha256[:12]} has been modified (its sha256 no longer matches the registry)",
                      hint="refusing to load a tampered model; restore it from a backup or retrain")


class ArtifactStore:
    """Content-addressed artifacts on a store, with an optional local cache for remote stores."""

    def __init__(self, store: Store, cache: Path | None = None) -> None:
        self.store = store
        self.cache = None if isinstance(store, LocalStore) else cache

    @property
    def url(self) -> str:
        """Where the artifacts live (for messages)."""
        return self.store.url

    def put(self, data: bytes) -> str:
        """Store the bytes under their digest (idempotent) and return it."""
        sha = digest(data)
        existing = self.store.get(key_for(sha))
        if existing is None or digest(existing.data) != sha:
            self.store.put(key_for(sha), data)
        self._fill_cache(sha, data)
        return sha

    def get(self, sha256: str, *, cached: bool = True) -> bytes:
        """The artifact's bytes after checking their digest; StoreError when missing or modified.

        `cached=False` reads the store itself even when a verified local copy exists (for `verify`)."""
        local = self._cached(sha256) if cached else None
        if local is not None:
            return local
        blob = self.store.get(key_for(sha256))
        if blob is None:
            raise StoreError(f"artifact {sha256[:12]} is missing from {self.url}",
                             hint="restore the artifact store, or retrain")
        if digest(blob.data) != sha256:
            raise _modified(sha256)
        self._fill_cache(sha256, blob.data)
        return blob.data

    def exists(self, sha256: str) -> bool:
        """Whether the store holds an object under this digest (not verified)."""
        return self.store.get(key_for(sha256)) is not None

    def digests(self) -> list[str]:
        """Digests of every stored artifact."""
        names = (key.rsplit("/", 1)[-1] for key in self.store.list("sha256/"))
        return sorted(name[: -len(".skops")] for name in names if name.endswith(".skops"))

    def interrupted(self) -> list[str]:
        """Temporary files of writes killed before their rename (local folders only)."""
        if not isinstance(self.store, LocalStore):
            return []
        folder = self.store.root / "sha256"
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.store.root).as_posix() for p in folder.glob("*/.*.tmp"))

    def _cached(self, sha256: str) -> bytes | None:
        if self.cache is None:
            return None
        path = self.cache / key_for(sha256)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if digest(data) != sha256:  # a damaged cache copy is dropped; the store has the real one
            path.unlink(missing_ok=True)
            return None
        return data

    def _fill_cache(self, sha256: str, data: bytes) -> None:
        if self.cache is None:
            return
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs a download next time
            write_atomic(self.cache / key_for(sha256), data)
