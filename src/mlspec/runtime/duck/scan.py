"""What DuckDB reads for a source: the connection, the files, and the typed view of the declared columns.

The connection has a memory limit and a spill folder (`.mlspec/spill`, removed when the scan closes),
so aggregates larger than memory go to disk instead of failing. Files are bound as parameters; the
spec's column names only ever appear quoted, and each declared column is read under an internal alias
(`c0`, `c1`...), so no name from a spec or a file is ever part of SQL text.

The typed view converts each column by the rules of `runtime.data` (numbers, whole numbers,
true/false, ISO-8601 date/times, text) and keeps, beside it, the test that says its raw value did not
convert. NaN in a number column is a missing value (NULL), as pandas reads it.

Object storage is read through fsspec (obstore's implementation, with the environment's credentials)
registered on the connection: DuckDB's own httpfs extension would have to be downloaded at run time.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec.manifest import SourceNode
from mlspec.runtime import machine
from mlspec.runtime.duck.sql import BOOL, NUM, TEXT, TIME, quote
from mlspec.runtime.errors import DataError

WILDCARDS = "*?["
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
_KIND = {"int": NUM, "float": NUM, "bool": BOOL, "category": TEXT, "string": TEXT, "datetime": TIME}
_BOOL_WORDS = "CASE lower(trim(CAST({x} AS VARCHAR))) WHEN 'true' THEN true WHEN '1' THEN true " \
              "WHEN 'false' THEN false WHEN '0' THEN false END"


def memory_limit() -> str:
    """DuckDB's memory limit: MLSPEC_DUCKDB_MEMORY (e.g. 2GB), else 40% of the memory this process may use (the
    machine's, or less under a cgroup limit or an address-space limit), at least 128 MB. The rest is for
    Python, pandas and the model."""
    chosen = os.environ.get("MLSPEC_DUCKDB_MEMORY", "").strip()
    if chosen:
        return chosen
    return f"{max(machine.available_memory() * 2 // 5, 128 << 20) >> 20}MB"


@dataclass(frozen=True)
class Column:
    """A declared column as the typed view reads it: its alias, its kind, the SQL of its raw value and of
    the test that its raw value did not convert (None when every value converts), and the failure's name."""

    name: str
    alias: str
    kind: str
    contract_type: str
    raw: str
    typed: str
    bad: str | None
    bad_check: str | None
    whole_bad: str | None  # an int column: a number that is not whole


class Scan:
    """One source (or a file checked against its contract) opened in DuckDB.

    `raw_names` are the data's column names as written; `columns` the declared columns found once;
    `missing` and `repeated` the declared columns absent or present more than once."""

    def __init__(self, node: SourceNode, root: Path, *, file: Path | None = None) -> None:
        import duckdb

        self.node, self.root = node, root
        if not (root / ".mlspec").resolve().is_relative_to(root.resolve()):
            raise DataError(f".mlspec leads outside the project (to {(root / '.mlspec').resolve()})",
                            hint="remove the symbolic link; DuckDB spills to .mlspec/spill inside the project")
        self.spill = root / ".mlspec" / "spill" / f"duckdb-{os.getpid()}-{id(self)}"
        self.spill.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"memory_limit": memory_limit(), "temp_directory": str(self.spill),
                  "threads": machine.usable_cores(), "autoinstall_known_extensions": False,
                  "autoload_known_extensions": False}
        self.con = duckdb.connect(config=config)
        self.fs: Any = None  # obstore's fsspec filesystem, registered for a source on object storage
        self.files = self._files(file)
        self.from_sql = self._from_sql()
        described = self.con.execute(f"DESCRIBE SELECT * FROM {self.from_sql}", self.base_params()).fetchall()
        duck_names, duck_types = [r[0] for r in described], [str(r[1]) for r in described]
        self.duck_names = duck_names
        self.raw_names = self._written_names(duck_names)
        found: dict[str, list[int]] = {}
        for position, name in enumerate(self.raw_names):
            if name in node.columns:
                found.setdefault(name, []).append(position)
        self.missing = [c for c in node.columns if c not in found]
        self.repeated = {c: [p + 1 for p in ps] for c, ps in found.items() if len(ps) > 1}
        self.columns: list[Column] = []
        for index, (name, contract) in enumerate(node.columns.items()):
            if name in found and name not in self.repeated:
                position = found[name][0]
                self.columns.append(_typed(name, f"c{index}", contract.type, quote(duck_names[position]),
                                           duck_types[position]))
        self.by_name = {c.name: c for c in self.columns}

    # -- the files -------------------------------------------------------------------------------------

    def _files(self, file: Path | None) -> list[str]:
        node = self.node
        if file is not None:
            return [str(file)]
        if "://" in node.data_path:
            from mlspec.runtime import remote

            _store, entries = remote._listing(node)
            self._register(node.data_path.split("://", 1)[0])
            bucket = remote._split(node.data_path)[0]
            return [f"{bucket}/{key}" for key, _size, _etag in entries]
        return local_files(node, self.root)

    def _register(self, scheme: str) -> None:
        """Let DuckDB read `scheme://` URLs through obstore's fsspec filesystem (credentials from the environment)."""
        try:
            from obstore.fsspec import FsspecStore
        except ImportError as exc:
            raise DataError(f"source '{self.node.name}' is on object storage, which needs obstore and fsspec",
                            hint="pip install 'mlspec-gitops[duckdb,objectstore]'") from exc
        options: Any = {"timeout": "60s", "connect_timeout": "10s"}
        if scheme == "s3" and os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://"):
            options["allow_http"] = True  # an S3-compatible server on a private network or this machine
        self.fs = FsspecStore(scheme, client_options=options)  # type: ignore[call-overload]  # scheme: s3, gs, az
        self.con.register_filesystem(self.fs)

    def base_params(self) -> list:
        """The parameters `from_sql` reads: $1 the files, $2 the CSV delimiter."""
        return [self.files, self.node.delimiter or ","] if self.node.format == "csv" else [self.files]

    def _from_sql(self) -> str:
        if self.node.format == "csv":
            # every field as text, converted by the typed view; only an empty field is missing, as pandas reads
            return ("read_csv($1, header = true, all_varchar = true, delim = $2, quote = '\"', escape = '\"', "
                    "nullstr = '', auto_detect = true, normalize_names = false)")
        return "read_parquet($1, union_by_name = true)"

    def _written_names(self, duck_names: list[str]) -> list[str]:
        """The columns' names as the first file writes them (DuckDB renames a repeated one: `x`, `x_1`)."""
        with self._open(self.files[0]) as handle:
            if self.node.format == "parquet":
                import pyarrow.parquet as pq

                schema = pq.read_schema(handle)
                index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
                names = [n for n in schema.names if n not in index]
            else:
                text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
                names = next(csv.reader(text, delimiter=self.node.delimiter or ","), [])
        return names if len(names) == len(duck_names) else duck_names

    def _open(self, path: str):
        return self.fs.open(path, "rb") if "://" in path else Path(path).open("rb")

    # -- queries ---------------------------------------------------------------------------------------

    def typed_sql(self, columns: list[Column] | None = None, *, row_number: bool = False) -> str:
        """A SELECT of the typed columns (each under its alias), optionally with `__row` (0-based, in file order)."""
        chosen = self.columns if columns is None else columns
        parts = [f"{c.typed} AS {c.alias}" for c in chosen]
        if row_number:
            parts.insert(0, "row_number() OVER () - 1 AS __row")
        return f"SELECT {', '.join(parts) or '1 AS __none'} FROM {self.from_sql}"

    def rows(self) -> int:
        """How many rows the data has."""
        return int(self.con.execute(f"SELECT count(*) FROM {self.from_sql}", self.base_params()).fetchall()[0][0])

    def close(self) -> None:
        """Close the connection and remove the spill folder."""
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)

    def __enter__(self) -> Scan:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def arrow_table(con, query: str, params: list):
    """A query's result as an Arrow table, without the extra copy of a DB-API result where DuckDB has `sql`
    with parameters (1.1 and later; DuckDB 2 also renamed fetch_arrow_table)."""
    relation = con.sql(query, params=params)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    return fetch()


def arrow_batches(con, query: str, params: list, rows: int):
    """A query's result as a reader of Arrow record batches of at most `rows` rows."""
    relation = con.sql(query, params=params)
    reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    return reader(rows)


def local_files(node: SourceNode, root: Path) -> list[str]:
    """The local files a source reads: its path, or every file its pattern matches (sorted), inside the project."""
    from mlspec.runtime.data import source_path

    if not any(c in node.data_path for c in WILDCARDS):
        return [str(source_path(node, root))]
    inside = root.resolve()
    try:
        paths = sorted(str(p) for p in inside.glob(node.data_path) if p.is_file())
    except (NotImplementedError, ValueError) as exc:  # an absolute pattern
        raise DataError(f"source '{node.name}': {node.data_path} is not a pattern inside the project",
                        where=node.file, hint="write the path relative to the project root") from exc
    for path in paths:
        if not Path(path).resolve().is_relative_to(inside):
            raise DataError(f"source '{node.name}': {path} resolves outside the project", where=node.file,
                            hint="keep the data inside the project folder, and remove any symbolic link on the way")
    if not paths:
        raise DataError(f"source '{node.name}': no file matches {node.data_path}", where=node.file,
                        hint="check the pattern (relative to the project root)")
    return paths


def _typed(name: str, alias: str, contract_type: str, raw: str, duck_type: str) -> Column:
    """How one column is converted to its contract type, by the rules `runtime.conversion.convert` applies."""
    kind = _KIND[contract_type]
    text = duck_type == "VARCHAR"
    numeric = duck_type.startswith(_NUMERIC_TYPES)
    bad = check = whole = None
    if kind == NUM:
        if text:
            number = f"TRY_CAST({raw} AS DOUBLE)"
            typed = f"nullif({number}, CAST('nan' AS DOUBLE))"
            bad, check = f"({raw} IS NOT NULL AND {number} IS NULL)", "not a number"
        elif numeric or duck_type == "BOOLEAN":
            typed = f"nullif(CAST({raw} AS DOUBLE), CAST('nan' AS DOUBLE))"
        else:
            typed = "CAST(NULL AS DOUBLE)"
            bad, check = f"({raw} IS NOT NULL)", "not a number"
        if contract_type == "int":
            whole = f"({typed} IS NOT NULL AND (isinf({typed}) OR {typed} <> floor({typed})))"
    elif kind == BOOL:
        if duck_type == "BOOLEAN":
            typed = raw
        else:
            typed = _BOOL_WORDS.format(x=raw)
            bad, check = f"({raw} IS NOT NULL AND ({typed}) IS NULL)", "not true/false"
    elif kind == TIME:
        if duck_type.startswith(("TIMESTAMP", "DATE")):
            typed = f"CAST({raw} AS TIMESTAMP)"
        else:
            typed = f"TRY_CAST(CAST({raw} AS VARCHAR) AS TIMESTAMP)"
            bad, check = f"({raw} IS NOT NULL AND {typed} IS NULL)", "not an ISO-8601 date/time"
    else:
        typed = raw if text else f"CAST({raw} AS VARCHAR)"
    return Column(name, alias, kind, contract_type, raw, typed, bad, check, whole)
