"""The step cache: skip a node whose inputs have not changed since it last succeeded.

A node's key hashes everything its result depends on: its own settings (the manifest's config
hash), the keys of the nodes it reads, the fingerprints of its data, and the mlspec version. Keys
and small results live in `.mlspec/cache/<node id>.json`; deciding that nothing changed needs only
hashlib and json, so a no-op run imports no heavy library.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mlspec import __version__
from mlspec.runtime.artifacts import write_atomic


def key(*parts: object) -> str:
    """A stable hash of the parts (JSON-serialisable) plus the mlspec version."""
    payload = json.dumps([__version__, *parts], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class Cache:
    """Node results keyed by their inputs, stored as small JSON files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, node_id: str) -> Path:
        return self.directory / f"{node_id}.json"

    def get(self, node_id: str, node_key: str) -> dict | None:
        """The stored result when the node last succeeded with exactly this key, else None."""
        path = self._path(node_id)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record.get("result") if record.get("key") == node_key else None

    def previous_key(self, node_id: str) -> str | None:
        """The key the node last succeeded with (to explain why it runs again)."""
        try:
            return json.loads(self._path(node_id).read_text(encoding="utf-8")).get("key")
        except (OSError, ValueError):
            return None

    def put(self, node_id: str, node_key: str, result: dict) -> None:
        """Record a success (atomically: a crash leaves the old record or the new one)."""
        data = json.dumps({"key": node_key, "result": result}, sort_keys=True, indent=1).encode()
        write_atomic(self._path(node_id), data)

    def forget(self, node_id: str) -> None:
        """Drop a node's record (after a failure), so the next run retries it."""
        self._path(node_id).unlink(missing_ok=True)
