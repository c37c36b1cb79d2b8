"""Model artifacts: saved with skops (never pickle), byte-stable, content-addressed, verified on load.

skops writes a zip whose entry names are Python object ids and whose timestamps are the current
time, so the same model would hash differently on every save. `dumps` rewrites the archive
canonically (ids renumbered in order of appearance, one per occurrence for immutable JSON values,
fixed timestamps, sorted entries), so identical inputs give an identical sha256. `load` refuses
any file whose sha256 differs from the registry's before skops reads a byte of it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

from mlspec.runtime.errors import RegistryError
from mlspec.state.artifacts import ArtifactStore, digest
from mlspec.state.files import about as _about
from mlspec.state.stores import LocalStore

_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "mlspec.runtime.transformers.", "builtins.", "scipy.sparse.")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _canonical(raw: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(raw))
    schema = json.loads(source.read("schema.json"))
    renumber: dict[str, str] = {}

    def new_id(old: object) -> str:
        key = str(old)
        if key not in renumber:
            renumber[key] = str(len(renumber) + 1)
        return renumber[key]

    def walk(node: object) -> object:
        if isinstance(node, dict):
            out: dict[str, object] = {}
            # a JSON value (str, int, float...) is immutable: whether two equal ones were one object
            # depends on interning and caches, not on the model; each occurrence gets its own id
            fresh = node.get("__loader__") == "JsonNode"
            for key, value in node.items():
                if key == "__id__":
                    out[key] = int(new_id(("occurrence", len(renumber)) if fresh else value))
                elif key == "file" and isinstance(value, str) and value.endswith(".npy"):
                    out[key] = new_id(value[: -len(".npy")]) + ".npy"
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    canonical_schema = walk(schema)
    entries = {"schema.json": json.dumps(canonical_schema, indent=2, sort_keys=True).encode()}
    for name in source.namelist():
        if name.endswith(".npy"):
            stem = name[: -len(".npy")]
            entries[new_id(stem) + ".npy"] = source.read(name)
        elif name != "schema.json":
            entries[name] = source.read(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            target.writestr(info, entries[name])
    return out.getvalue()


def dumps(pipeline) -> bytes:
    """The model as canonical skops bytes."""
    import skops.io as sio

    return _canonical(sio.dumps(pipeline))


def append_whole(path: Path, data: bytes) -> None:
    """Append `data` to a log-like file entirely or not at all (a full disk leaves no partial line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
            try:
                view = memoryview(data)
                while view:  # a write can stop short of a full disk before it fails
                    view = view[os.write(fd, view):]
            except OSError:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
    except OSError as exc:
        raise _about(exc, path) from exc


def store(store_dir: Path, data: bytes) -> str:
    """Save artifact bytes under their sha256 in a local folder (idempotent); return the digest."""
    return ArtifactStore(LocalStore(store_dir)).put(data)


def read_verified(store_dir: Path, sha256: str) -> bytes:
    """The artifact's bytes from a local folder, after checking they hash to `sha256`."""
    return ArtifactStore(LocalStore(store_dir)).get(sha256)


def loads_verified(data: bytes, sha256: str):
    """Load artifact bytes with skops after checking their sha256, trusting only scikit-learn, numpy and
    mlspec's own types."""
    import skops.io as sio

    if digest(data) != sha256:
        raise RegistryError(f"artifact {sha256[:12]} has been modified (its sha256 no longer matches the registry)",
                            hint="refusing to load a tampered model; restore it from a backup or retrain")
    untrusted = sio.get_untrusted_types(data=data)
    refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if refused:
        raise RegistryError(f"artifact {sha256[:12]} contains types mlspec does not trust: {', '.join(refused)}")
    return sio.loads(data, trusted=untrusted)


def load(store_dir: Path, sha256: str):
    """Load a verified artifact from a local store."""
    return loads_verified(read_verified(store_dir, sha256), sha256)
