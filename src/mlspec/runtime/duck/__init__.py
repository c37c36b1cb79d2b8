"""The DuckDB engine: a source's contract, profile and drift as SQL aggregates, for data larger than memory.

With `engine: duckdb` (or, without `engine`, files of `AUTO_BYTES` or more when DuckDB is installed)
nothing reads a whole source into pandas: DuckDB scans CSV or Parquet files (local, or on object
storage through a registered fsspec filesystem) under a memory limit, spilling to a folder when an
aggregate outgrows it. The modules, one per phase:

- `scan`: the connection (memory limit, spill folder, threads), the files a source names, and the
  typed view of its columns with the same conversion rules as `runtime.data`;
- `sql`: the expression language's JSON trees compiled to SQL, with bound parameters and quoted names;
- `contract`: the data contract, giving the same findings as `runtime.contract` on the same data;
- `stats`: the reference profile of a source and the live statistics drift compares with it;
- `frames`: what pandas does get: a seeded sample or a window to train on, and record batches to score.

Everything here imports duckdb lazily: the compiler and the CLI never load it.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from mlspec.manifest import SourceNode
from mlspec.runtime.errors import DataError

AUTO_BYTES = 1 << 30  # without `engine:`, files of 1 GiB or more use DuckDB when it is installed


def installed() -> bool:
    """Whether DuckDB can be imported here (the `duckdb` extra)."""
    return importlib.util.find_spec("duckdb") is not None


def chosen(node: SourceNode, root: Path) -> bool:
    """Whether `node` is read with DuckDB: it says `engine: duckdb`, or says nothing and its files hold
    AUTO_BYTES or more while DuckDB is installed. A source that asks for DuckDB where it is not installed
    is an error saying what to install."""
    if node.format == "sql" or node.engine == "pandas":
        return False
    if node.engine == "duckdb":
        if not installed():
            raise DataError(f"source '{node.name}' says engine: duckdb, which is not installed here",
                            where=node.file, hint="pip install 'mlspec-gitops[duckdb]'")
        return True
    return installed() and _size(node, root) >= AUTO_BYTES


def _size(node: SourceNode, root: Path) -> int:
    if "://" in node.data_path:
        from mlspec.runtime import remote

        return sum(size for _key, size, _etag in remote._listing(node)[1])
    path = root / node.data_path
    return path.stat().st_size if path.is_file() else 0


def fingerprint(node: SourceNode, root: Path) -> str:
    """The fingerprint of what a DuckDB source reads: as `runtime.data` takes it for one file or objects in a
    store; for local files matching a pattern, the sha256 of their paths and each file's sha256."""
    from mlspec.runtime.data import file_fingerprint

    if "://" in node.data_path:
        from mlspec.runtime import remote

        return remote.source_fingerprint(node)
    from mlspec.runtime.duck.scan import local_files

    files = local_files(node, root)
    if len(files) == 1 and not any(c in node.data_path for c in "*?["):
        return file_fingerprint(Path(files[0]))
    inside = root.resolve()
    lines = [f"{Path(f).resolve().relative_to(inside).as_posix()}\t{file_fingerprint(Path(f))}" for f in files]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
