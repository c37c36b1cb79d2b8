"""Data sources on object storage: `path: s3://bucket/key.csv`, or Parquet parts `s3://bucket/day=*/*.parquet`.

Objects are read whole through obstore with the environment's credentials and parsed exactly like a
local file, so the same contract checks apply. Their fingerprint comes from the store's own metadata
(key, size and ETag of every object read), so deciding that a remote source is unchanged costs one
HEAD (one LIST for a glob) and no download; the objects read and the fingerprint recorded come from the same listing.
"""

from __future__ import annotations

import fnmatch
import hashlib

from mlspec.manifest import SourceNode
from mlspec.runtime.errors import DataError
from mlspec.state.stores import ObjectStore

_WILDCARDS = "*?["


def _split(url: str) -> tuple[str, str]:
    """`s3://bucket/a/b*.parquet` -> (`s3://bucket`, `a/b*.parquet`)."""
    scheme, rest = url.split("://", 1)
    bucket, _, key = rest.partition("/")
    return f"{scheme}://{bucket}", key


def _listing(node: SourceNode) -> tuple[ObjectStore, list[tuple[str, int, str]]]:
    bucket_url, pattern = _split(node.data_path)
    store = ObjectStore(bucket_url)
    cut = min((pattern.index(c) for c in _WILDCARDS if c in pattern), default=len(pattern))
    if cut == len(pattern):  # one object
        found = store.head(pattern)
        chosen = [found] if found is not None else []
    else:  # object stores list by folder-like prefix: list the folder above the first wildcard
        prefix = pattern[:cut].rsplit("/", 1)[0] + "/" if "/" in pattern[:cut] else ""
        chosen = [entry for entry in store.stat(prefix) if fnmatch.fnmatchcase(entry[0], pattern)]
    if not chosen:
        raise DataError(f"source '{node.name}': nothing found at {node.data_path}", where=node.file,
                        hint="check the URL, and that the credentials can list the bucket")
    return store, chosen


def fingerprint(entries: list[tuple[str, int, str]]) -> str:
    """sha256 of the objects' keys, sizes and ETags."""
    text = "\n".join(f"{key}\t{size}\t{etag}" for key, size, etag in entries)
    return hashlib.sha256(text.encode()).hexdigest()


def source_fingerprint(node: SourceNode) -> str:
    """The fingerprint of what `read` would read now, from one HEAD (or one LIST for a glob)."""
    return fingerprint(_listing(node)[1])


def read(node: SourceNode) -> tuple[list[bytes], str]:
    """The bytes of every object the source names (in key order) and their fingerprint.

    An object that changes between the listing and its download makes the read fail, rather than
    record a fingerprint for bytes that were not the ones read."""
    store, entries = _listing(node)
    parts = []
    for key, _size, etag in entries:
        blob = store.get(key)
        if blob is None or (etag and blob.etag != etag):
            raise DataError(f"source '{node.name}': {key} changed while it was being read", where=node.file,
                            hint="run again once nothing is writing the data")
        parts.append(blob.data)
    return parts, fingerprint(entries)
