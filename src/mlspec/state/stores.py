"""Byte stores with conditional writes: a local folder, or an object store (s3://, gs://, az://).

Every store speaks one small protocol (`get`, `put_if_absent`, `compare_and_swap`, `put`, `list`,
`delete`); keys are relative, `/`-separated paths. `put_if_absent` fails when the key exists, and
`compare_and_swap` replaces a value only while it still has the version tag (`etag`) the caller
read, so a registry on any store needs no lock server. Object stores are reached through obstore,
imported only when such a URL is used, with credentials from the environment only (AWS_*, GOOGLE_*,
AZURE_* variables, or ambient credentials); a store that ignores conditional requests is refused
once per process (`probe`), because it would silently break contiguous versions.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from mlspec.runtime.errors import RegistryError
from mlspec.state.files import fsync_dir, stage, write_atomic
from mlspec.stateurls import is_object

_OBJECT_URL = re.compile(r"^(s3|gs|az)://([a-z0-9][a-z0-9.\-_]{1,254})(/[A-Za-z0-9._\-/]*)?$")
_KEY = re.compile(r"^[A-Za-z0-9._\-=+,@~%]+(/[A-Za-z0-9._\-=+,@~%]+)*$")  # '=' for partitions (day=1)
_CREDENTIALS = {"s3": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION, AWS_ENDPOINT_URL for "
                      "S3-compatible stores)",
                "gs": "GOOGLE_SERVICE_ACCOUNT (a key file) or ambient Google credentials",
                "az": "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY"}


class StoreError(RegistryError):
    """A store could not be read or written (unreachable, no such bucket, no permission...)."""


@dataclass(frozen=True)
class Blob:
    """A value read from a store, with the version tag a compare-and-swap must match."""

    data: bytes
    etag: str


class Store(Protocol):
    """What a registry needs from wherever it keeps its records."""

    url: str

    def get(self, key: str) -> Blob | None:
        """The value and its version tag, or None when the key does not exist."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create the key with `data`; False (and nothing written) when it already exists."""

    def compare_and_swap(self, key: str, data: bytes, etag: str | None) -> bool:
        """Write `data` only while the key still has `etag` (None: only while it does not exist)."""

    def put(self, key: str, data: bytes) -> None:
        """Write unconditionally (content-addressed values only, where every writer writes the same bytes)."""

    def list(self, prefix: str) -> list[str]:
        """Every key under `prefix` (a folder-like prefix ending in '/'), sorted."""

    def delete(self, key: str) -> None:
        """Remove a key (missing is fine)."""


def _check_key(key: str) -> str:
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid store key {key!r}")
    return key


# ------------------------------------------------------------------------------------------------
# a local folder
# ------------------------------------------------------------------------------------------------


class LocalStore:
    """A folder on this machine. Creation is atomic through link(2) of a fully written temporary file
    (EEXIST when another writer won); compare-and-swap holds an flock while it compares and renames."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def get(self, key: str) -> Blob | None:
        """The file's bytes; its etag is their sha256."""
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        return Blob(data, hashlib.sha256(data).hexdigest())

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create the file unless it exists (atomic: link of a complete temporary file)."""
        target = self._path(key)
        tmp = stage(target, data)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)
        fsync_dir(target.parent)
        return True

    def compare_and_swap(self, key: str, data: bytes, etag: str | None) -> bool:
        """Replace the file while its sha256 is still `etag` (None: create it only if absent)."""
        if etag is None:
            return self.put_if_absent(key, data)
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with (target.parent / f".{target.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self.get(key)
            if current is None or current.etag != etag:
                return False
            tmp = stage(target, data)
            Path(tmp).replace(target)
            fsync_dir(target.parent)
        return True

    def put(self, key: str, data: bytes) -> None:
        """Write through a temporary file and a rename: readers see the old bytes or the new."""
        write_atomic(self._path(key), data)

    def list(self, prefix: str) -> list[str]:
        """Keys of the regular files under `prefix` (temporary and lock files left out)."""
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        keys = []
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                keys.append(path.relative_to(self.root).as_posix())
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Remove the file."""
        self._path(key).unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------
# an object store, through obstore
# ------------------------------------------------------------------------------------------------


class ObjectStore:
    """A bucket (and prefix) on S3, GCS or Azure, with native conditional writes."""

    def __init__(self, url: str) -> None:
        match = _OBJECT_URL.match(url.rstrip("/"))
        if match is None:
            raise StoreError(f"'{url}' is not a valid object-store URL",
                             hint="write s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX")
        self.url = url.rstrip("/")
        self.scheme = match.group(1)
        try:
            import obstore
            from obstore.store import from_url
        except ImportError as exc:
            raise StoreError(f"{self.url} needs the object-store support, which is not installed",
                             hint="pip install 'mlspec-gitops[objectstore]'") from exc
        self._obstore = obstore
        options: Any = {"timeout": "60s", "connect_timeout": "10s"}
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
        if self.scheme == "s3" and endpoint.startswith("http://"):
            options["allow_http"] = True  # an S3-compatible server on a private network or this machine
        # a few quick retries: an unreachable store should say so in seconds, not after obstore's 3 minutes
        retry: Any = {"max_retries": 4, "retry_timeout": timedelta(seconds=30),
                 "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=5),
                             "base": 2}}
        try:
            self._store = from_url(self.url, client_options=options, retry_config=retry)
        except Exception as exc:  # obstore raises its own configuration errors
            raise self._error("open", "", exc) from exc

    def _error(self, action: str, key: str, exc: BaseException) -> StoreError:
        where = f"{self.url}/{key}" if key else self.url
        text = str(exc).split("\n", 1)[0]
        kind = type(exc).__name__
        if "NoSuchBucket" in str(exc) or "bucket does not exist" in str(exc).lower():
            return StoreError(f"could not {action} {where}: the bucket does not exist",
                              hint=f"create the bucket, or fix the URL {self.url}")
        if kind in ("PermissionDeniedError", "UnauthenticatedError") or " 403 " in text or " 401 " in text:
            hint = f"set credentials with permission on it: {_CREDENTIALS[self.scheme]}"
            if action in ("write", "create", "replace", "delete"):
                hint += ("; in GitHub Actions, jobs that write state take the read-write credential from the "
                         "environment named by project.state_environment (pull requests get a read-only one)")
            return StoreError(f"could not {action} {where}: access denied", hint=hint)
        return StoreError(f"could not {action} {where}: {text[:300]}",
                          hint=f"check that the store is reachable and the credentials are set: "
                               f"{_CREDENTIALS[self.scheme]}")

    def get(self, key: str) -> Blob | None:
        """The object's bytes and ETag, or None when it does not exist."""
        try:
            result = self._obstore.get(self._store, _check_key(key))
            data = bytes(result.bytes())
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error("read", key, exc) from exc
        return Blob(data, result.meta["e_tag"] or "")

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """PUT with If-None-Match: *."""
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            self._obstore.put(self._store, _check_key(key), data, mode="create")
        except (AlreadyExistsError, PreconditionError):
            return False
        except Exception as exc:
            raise self._error("write", key, exc) from exc
        return True

    def compare_and_swap(self, key: str, data: bytes, etag: str | None) -> bool:
        """PUT with If-Match: ETAG (or If-None-Match: * when there is no value yet)."""
        if etag is None:
            return self.put_if_absent(key, data)
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            self._obstore.put(self._store, _check_key(key), data, mode={"e_tag": etag})
        except (PreconditionError, AlreadyExistsError, FileNotFoundError):
            return False
        except Exception as exc:
            raise self._error("write", key, exc) from exc
        return True

    def put(self, key: str, data: bytes) -> None:
        """An unconditional PUT (object stores make a single PUT atomic)."""
        try:
            self._obstore.put(self._store, _check_key(key), data)
        except Exception as exc:
            raise self._error("write", key, exc) from exc

    def list(self, prefix: str) -> list[str]:
        """Every key under the prefix."""
        try:
            pages = self._obstore.list(self._store, prefix=prefix or None).collect()
        except Exception as exc:
            raise self._error("list", prefix, exc) from exc
        return sorted(str(meta["path"]) for meta in pages)

    def stat(self, prefix: str) -> builtins.list[tuple[str, int, str]]:  # `list` is the method here
        """(key, size, ETag) of every object under the prefix, sorted by key: what changed, without reading."""
        try:
            pages = self._obstore.list(self._store, prefix=prefix or None).collect()
        except Exception as exc:
            raise self._error("list", prefix, exc) from exc
        return sorted((str(m["path"]), int(m["size"]), str(m["e_tag"] or "")) for m in pages)

    def head(self, key: str) -> tuple[str, int, str] | None:
        """(key, size, ETag) of one object, or None when it does not exist."""
        try:
            meta = self._obstore.head(self._store, _check_key(key))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error("read", key, exc) from exc
        return str(meta["path"]), int(meta["size"]), str(meta["e_tag"] or "")

    def delete(self, key: str) -> None:
        """Remove the object."""
        try:
            self._obstore.delete(self._store, _check_key(key))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._error("delete", key, exc) from exc


_PROBED: set[str] = set()


def probe(store: Store) -> None:
    """Refuse a store that ignores conditional writes (some S3-compatible servers do), once per process.

    Without them two writers could both create version 7, or both move the champion."""
    if store.url in _PROBED or isinstance(store, LocalStore):
        return
    key = f"_mlspec/probe/{uuid.uuid4().hex}"
    try:
        first = store.put_if_absent(key, b"1")
        second = store.put_if_absent(key, b"2")
        swapped = store.compare_and_swap(key, b"3", '"not-the-etag"')
        kept = store.get(key)
    finally:
        with contextlib.suppress(StoreError):
            store.delete(key)
    if not first or second or swapped or kept is None or kept.data != b"1":
        raise StoreError(f"{store.url} does not enforce conditional writes (If-None-Match / If-Match)",
                         hint="mlspec's registry needs them to keep versions contiguous without a lock server; "
                              "use AWS S3, Google Cloud Storage, Azure Blob Storage or a server that supports them")
    _PROBED.add(store.url)


def open_store(uri: str, root: Path) -> Store:
    """The store a URI names: s3://, gs://, az://, file:///ABS, or a folder relative to the project root."""
    if is_object(uri):
        return ObjectStore(uri)
    if uri.startswith("file://"):
        path = uri[len("file://"):]
        if not path.startswith("/"):
            raise StoreError(f"'{uri}' is not an absolute file URL", hint="write file:///absolute/path")
        return LocalStore(Path(path))
    return LocalStore((root / uri).resolve())
