"""The step cache: skip a node whose inputs have not changed since it last succeeded.

A node's key hashes everything its result depends on: its own settings (the manifest's config
hash), the keys of the nodes it reads, the fingerprints of its data, the mlspec version, and the
installed versions of the libraries that compute results (an upgraded scikit-learn retrains: in CI
those are the versions `generated/constraints.txt` pins). Keys and small results live in
`.mlspec/cache/<node id>.json`; deciding that nothing changed needs only hashlib, json and a listing
of the folders on sys.path, so a no-op run imports no heavy library.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from pathlib import Path

from mlspec import __version__
from mlspec.state.files import write_atomic

# the distributions whose version can change a contract check's, a model's or a metric's result
LIBRARIES = ("numpy", "pandas", "pandera", "pyarrow", "scikit-learn", "scipy", "skops")


@functools.cache
def environment() -> str:
    """`name=version` of each library in LIBRARIES installed here ('name=-' when absent), one string.

    Read from the names of the `*.dist-info` folders on sys.path (first match wins, as for imports):
    importlib.metadata costs a large share of a no-op run (its imports and a METADATA parse per library;
    benchmarks/README.md § Figures behind code comments).
    """
    wanted = {name.replace("-", "_"): name for name in LIBRARIES}
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")  # noqa: PTH208 (one system call; names are all that is needed)
        except OSError:
            continue
        for entry in entries:
            stem = entry[: -len(".dist-info")]
            if entry.endswith(".dist-info") and stem.count("-") == 1:
                name, version = stem.split("-")
                library = wanted.get(name.lower().replace(".", "_"))
                if library is not None:
                    found.setdefault(library, version)
    return " ".join(f"{name}={found.get(name, '-')}" for name in LIBRARIES)


def libraries() -> dict[str, str]:
    """The versions of LIBRARIES installed here, by name ('-' when absent): `environment()` as a mapping."""
    return dict(part.split("=", 1) for part in environment().split())


def key(*parts: object) -> str:
    """A stable hash of the parts (JSON-serialisable), the mlspec version and the libraries' versions."""
    payload = json.dumps([__version__, environment(), *parts], sort_keys=True, separators=(",", ":"), default=str)
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

    def put(self, node_id: str, node_key: str, result: dict) -> None:
        """Record a success (atomically: a crash leaves the old record or the new one)."""
        data = json.dumps({"key": node_key, "result": result}, sort_keys=True, indent=1).encode()
        write_atomic(self._path(node_id), data)

    def forget(self, node_id: str) -> None:
        """Drop a node's record (after a failure), so the next run retries it."""
        self._path(node_id).unlink(missing_ok=True)
