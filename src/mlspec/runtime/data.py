"""Load a source (CSV, Parquet, SQL) into a typed table, with a fingerprint of exactly what was read.

Columns are converted to the types their contract declares (`mlspec.runtime.conversion`), and every
value that does not convert (`N/A` in a numeric column, `2024-13-45` in a datetime column) is recorded
as a contract failure instead of silently becoming text or NaN. The fingerprint is the sha256 of the
bytes parsed (files) or of a canonical serialisation of the rows (SQL), so lineage names the data that
trained a model.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlspec.manifest import SourceNode
from mlspec.runtime.conversion import convert
from mlspec.runtime.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

_ENV_REF = re.compile(r"\$\{env:([A-Z_][A-Z0-9_]{0,63})\}")
_MANGLED = re.compile(r"^(?P<name>.+)\.(?P<n>[1-9][0-9]*)$")  # how pandas renames a repeated CSV header

MISSING_COLUMN = "column missing from the data"
DUPLICATE_COLUMN = "one column of this name"


@dataclass
class Failure:
    """One failed check: which column, which check, how many rows, and a few sample values.

    `note` replaces the row count and samples for a failure that is not about some rows (a repeated
    header, an empty column); `hint` is what to do when the contract's general advice does not fit.
    """

    column: str
    check: str
    count: int
    samples: list[str] = field(default_factory=list)
    note: str | None = None
    hint: str | None = None


@dataclass
class Dataset:
    """A loaded, typed table and the fingerprint of its content."""

    frame: pd.DataFrame  # imported for the type checker only, so importing this module stays cheap
    fingerprint: str
    failures: list[Failure] = field(default_factory=list)
    row_count: int | None = None  # the source's rows when `frame` holds part of them (a sample, DuckDB engine)

    @property
    def rows(self) -> int:
        """Number of rows (of the whole source, when the frame is a sample of it)."""
        return len(self.frame) if self.row_count is None else self.row_count


def expand_env(uri: str, what: str) -> str:
    """Replace ${env:VAR} with the variable's value; a missing variable is a clear error."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise DataError(f"{what} needs the environment variable {name}, which is not set",
                            hint=f"export {name}=... (in CI, map a secret to it)")
        from urllib.parse import quote

        return quote(os.environ[name], safe="")

    return _ENV_REF.sub(value, uri)


_SQLITE_URL = re.compile(r"^(?P<prefix>sqlite(?:\+[a-z0-9_]+)?:///)(?P<path>[^?]*)(?P<query>\?.*)?$")


def sqlite_relative_to(uri: str, root: Path) -> str:
    """Make a relative SQLite path (`sqlite:///`, or with a driver: `sqlite+pysqlite:///`) relative to the
    project root instead of the working directory, and refuse one that leads outside the project (an
    absolute path, or a symbolic link such as a planted `.mlspec -> /elsewhere`)."""
    match = _SQLITE_URL.match(uri)
    if match is None or match["path"] in ("", ":memory:"):
        return uri
    inside = root.resolve()
    path = (root / match["path"]).resolve()
    if not path.is_relative_to(inside):
        raise DataError(f"the SQLite database {match['path']} leads outside the project (to {path})",
                        hint="keep SQLite files inside the project, and remove any symbolic link on the way")
    return match["prefix"] + str(path) + (match["query"] or "")


def file_fingerprint(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_path(node: SourceNode, root: Path) -> Path:
    """The file a csv/parquet source reads, checked to stay inside the project."""
    path = (root / node.data_path).resolve()
    if not path.is_relative_to(root.resolve()):
        raise DataError(f"source '{node.name}' path {node.data_path} resolves outside the project", where=node.file,
                        hint="keep the data inside the project folder, and remove any symbolic link on the way")
    if path.is_dir():  # "not found" would send the user looking for a file that is there, as a folder
        raise DataError(f"source '{node.name}': {node.data_path} is a folder, not a file", where=node.file,
                        hint="point the source's path at a file (a folder of Parquet parts is read with engine: "
                             f"duckdb and a pattern such as {node.data_path.rstrip('/')}/*.parquet)")
    if not path.is_file():
        raise DataError(f"source '{node.name}': file {node.data_path} not found", where=node.file,
                        hint="check the path (relative to the project root) or create the file")
    return path


def load(node: SourceNode, root: Path, *, file: Path | None = None, keep_undeclared: bool = False) -> Dataset:
    """Read a source and convert its columns to their declared types, recording what fails.

    `file` is read instead of the source's path in the project (a file named on the command line, which
    may be anywhere; `node.data_path` still names it in messages). With `keep_undeclared`, columns the
    contract does not declare are kept as read, and every column stays in the data's own order (scoring
    writes them back); otherwise the frame holds the declared columns, in the contract's order.

    Each column is held once: a column read is converted and released before the next, undeclared
    columns of a Parquet file are not read at all, and equal texts share one string object.
    """
    import pandas as pd

    header: list[str] | None = None  # a CSV's header as written, when pandas may have renamed a repeated name
    raw: _FrameColumns | _ArrowColumns
    if node.format in ("csv", "parquet") and "://" in node.data_path and file is None:
        from mlspec.runtime import remote

        parts, fingerprint = remote.read(node)
        if node.format == "csv" and len(parts) > 1:
            raise DataError(f"source '{node.name}': {node.data_path} names {len(parts)} CSV files; a CSV source "
                            "reads one",
                            where=node.file, hint="name one file, or use Parquet parts for a dataset in pieces")
        if node.format == "csv":
            raw = _FrameColumns(_read_csv(node, io.BytesIO(parts[0]), empty=not parts[0].strip(),
                                          undeclared_as_text=keep_undeclared))
            header = _csv_header(node, io.BytesIO(parts[0])) if _renamed(node, raw.names) else None
        else:
            raw = _read_parquet(node, [io.BytesIO(part) for part in parts])
        del parts
    elif node.format in ("csv", "parquet"):
        path = file if file is not None else source_path(node, root)
        # hashing and parsing both release the GIL: fingerprint on a second core while the file is parsed
        with ThreadPoolExecutor(max_workers=1) as pool:
            before = _stat(path)
            digest = pool.submit(file_fingerprint, path)
            if node.format == "csv":
                raw = _FrameColumns(_read_csv(node, path, empty=before[0] == 0 or _blank(path),
                                              undeclared_as_text=keep_undeclared))
                header = _csv_header(node, path) if _renamed(node, raw.names) else None
            else:
                raw = _read_parquet(node, [path])
            fingerprint = digest.result()
        if _stat(path) != before:  # the bytes hashed must be the bytes parsed
            raise DataError(f"source '{node.name}': {node.data_path} changed while it was being read", where=node.file,
                            hint="run again once nothing is writing the file")
    else:
        frame = _read_sql(node, root)
        fingerprint = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
        raw = _FrameColumns(frame)
        del frame
    rows = raw.rows
    failures: list[Failure] = []
    missing = [c for c in node.columns if c not in raw.names]
    for column in missing:
        failures.append(Failure(column, MISSING_COLUMN, rows))
    repeated = _repeated_columns(node, header if header is not None else raw.names)
    failures.extend(repeated_failure(node, column, positions, rows) for column, positions in repeated.items())
    order = list(dict.fromkeys(raw.names)) if keep_undeclared else list(node.columns)
    typed = {}
    for name in order:
        if name not in node.columns:
            typed[name] = raw.take(name)  # undeclared, kept as read (the first of a repeated name)
            continue
        if name in missing or name in repeated:
            continue
        values, failure = convert(raw.take(name), node.columns[name].type)
        typed[name] = values
        if failure is not None:
            failures.append(Failure(name, failure[0], failure[1], failure[2]))
    raw.release()
    return Dataset(pd.DataFrame(typed, index=pd.RangeIndex(rows), copy=False), fingerprint, failures)


def repeated_failure(node: SourceNode, column: str, positions: list[int], rows: int) -> Failure:
    """The failure of a declared column that the data has more than once, at 1-based `positions`."""
    where = described(node)
    return Failure(
        column, DUPLICATE_COLUMN, rows,
        note=f"{where} has {len(positions)} columns named '{column}' (columns "
             f"{', '.join(map(str, positions[:-1]))} and {positions[-1]}), so the contract cannot tell "
             "which one it describes",
        hint=f"rename or remove the extra '{column}' column{'s' if len(positions) > 2 else ''} in {where} "
             "(check the export that wrote it)")


class _FrameColumns:
    """The columns of a frame pandas read (CSV, SQL), handed out one at a time."""

    def __init__(self, frame) -> None:
        self.frame = frame
        self.names = [str(c) for c in frame.columns]
        self.rows = len(frame)

    def take(self, name: str):
        """The first column called `name` (a repeated name selects several); a view, not a copy."""
        return self.frame.iloc[:, self.names.index(name)]

    def release(self) -> None:
        """Drop the frame (its columns live on in the typed frame where they were not converted)."""
        self.frame = None


class _ArrowColumns:
    """The columns of Parquet data, each read, turned into a pandas Series and released when it is taken, so
    only one column is ever decoded at a time (reading the whole table first held every column twice)."""

    def __init__(self, files: list, names: list[str], rows: int) -> None:
        self.files, self.names, self.rows = files, names, rows

    def take(self, name: str):
        """The first column called `name` as a pandas Series (from every part, in order)."""
        import pyarrow as pa

        position = self.names.index(name)
        parts = []
        for parquet in self.files:
            names = parquet.schema_arrow.names
            table = parquet.read(columns=[name]) if names.count(name) == 1 and name == names[position] else \
                parquet.read(use_pandas_metadata=False).select([position])
            parts.extend(table.column(0).chunks)
        column = pa.chunked_array(parts, type=parts[0].type if parts else None) if parts else pa.chunked_array(
            [], type=self.files[0].schema_arrow.field(position).type)
        return arrow_to_pandas(column, name)

    def release(self) -> None:
        """Give the Arrow memory pool's unused pages back to the system."""
        import pyarrow as pa

        self.files = []
        pa.default_memory_pool().release_unused()


def arrow_to_pandas(column, name: str):
    """An Arrow column as pandas reads it, except text: Python strings (None where missing) in an object
    column where equal texts share one object, as the contract's text columns hold them (pandas' own
    conversion makes one string object per row: 50 MB per million rows)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind) and _is_text(kind.value_type):
        encoded = column.unify_dictionaries().combine_chunks() if column.num_chunks > 1 else column.combine_chunks()
    elif _is_text(kind):
        encoded = pc.dictionary_encode(column).combine_chunks()
    else:
        return pd.Series(column.to_pandas(), name=name, copy=False)
    texts = np.empty(len(encoded.dictionary) + 1, dtype=object)
    texts[:-1] = encoded.dictionary.to_pylist()
    texts[-1] = None
    codes = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(zero_copy_only=False)
    return pd.Series(texts[codes], name=name, dtype=object, copy=False)  # (pandas would infer its str type)


def _is_text(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _stat(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns, info.st_ino


def _blank(path: Path) -> bool:
    """Whether a file holds nothing but white space (read in pieces: a large file is not blank early on)."""
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            if chunk.strip():
                return False
    return True


def described(node: SourceNode) -> str:
    """How messages name the data a source reads: its file, or its table or query."""
    if node.format != "sql":
        return node.data_path
    return f"table {node.table}" if node.table is not None else "the query's result"


def _renamed(node: SourceNode, names: list[str]) -> bool:
    """Whether pandas may have renamed a repeated CSV header name that the contract declares (`x`, `x.1`)."""
    return any((m := _MANGLED.match(n)) and m["name"] in node.columns for n in names)


def _repeated_columns(node: SourceNode, names: list[str]) -> dict[str, list[int]]:
    """Declared columns that appear more than once in the data -> their 1-based positions.

    pandas keeps repeated names in SQL results and Arrow in Parquet, but pandas renames a repeated CSV
    header (`x`, `x.1`), so the first column would silently win; a CSV's header is read again, as it is,
    only when a name looks renamed (`names` is then that header). Repeated columns the contract does not
    declare are ignored, like any undeclared column.
    """
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(names, start=1):
        if name in node.columns:
            positions.setdefault(name, []).append(index)
    return {name: found for name, found in positions.items() if len(found) > 1}


def _csv_header(node: SourceNode, source) -> list[str]:
    """A CSV file's header names exactly as written (pandas renames repeated ones when it reads a header)."""
    import pandas as pd

    first = pd.read_csv(source, sep=node.delimiter or ",", header=None, nrows=1, dtype="string",
                        keep_default_na=False, encoding="utf-8")
    return [str(v) for v in first.iloc[0].tolist()]


def _read_csv(node: SourceNode, source, *, empty: bool, undeclared_as_text: bool = False):
    """Parse a CSV file (a path or a binary stream). With `undeclared_as_text`, columns the contract does not
    declare are read as the text written (scoring gives them back: pandas' guess of a type would turn a code
    `01234` into 1234, and an id column with a gap into floats, `20003.0`, rounded beyond 2**53)."""
    import pandas as pd

    text_columns = {n: "string" for n, c in node.columns.items() if c.type in ("category", "string", "datetime")}
    if empty:
        raise DataError(f"source '{node.name}': file {node.data_path} is empty (not even a header line)",
                        where=node.file, hint="the file needs a header line and rows")
    try:
        if undeclared_as_text:
            names = _csv_header(node, source)
            if hasattr(source, "seek"):
                source.seek(0)
            text_columns |= {name: "string" for name in names if name not in node.columns}
        # only an empty field is missing: pandas' own NA words (NA, N/A, NULL, nan...) would silently turn
        # a category "NA" or a broken number "N/A" into a missing value, hiding both from the contract
        return pd.read_csv(source, sep=node.delimiter or ",", dtype=text_columns,
                           keep_default_na=False, na_values=[""], encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"source '{node.name}': cannot parse {node.data_path}: {str(exc).splitlines()[0]}",
                        where=node.file, hint=_csv_hint(source)) from exc


def _csv_hint(source) -> str:
    """What to do about a CSV file that does not parse; a compressed one says so (its bytes read as bad UTF-8)."""
    try:
        if hasattr(source, "seek"):
            source.seek(0)
            start = source.read(4)
        else:
            with Path(source).open("rb") as handle:
                start = handle.read(4)
    except OSError:
        start = b""
    for magic, kind, tool in ((b"\x1f\x8b", "gzip", "gunzip"), (b"PK\x03\x04", "zip", "unzip"),
                              (b"(\xb5/\xfd", "zstd", "unzstd"), (b"BZh", "bzip2", "bunzip2")):
        if start.startswith(magic):
            return f"the file is {kind}-compressed: decompress it first ({tool}), the source reads plain UTF-8 CSV"
    return "the file must be UTF-8 CSV with a header line"


def _read_parquet(node: SourceNode, sources: list) -> _ArrowColumns:
    """Parquet files (paths or binary streams), opened to be read a column at a time. The index columns pandas
    stores beside the data are left out, as pandas leaves them out of a frame; text columns are read as
    dictionaries (as Parquet usually stores them), so no column's strings are ever held one per row."""
    import pyarrow.parquet as pq

    try:
        files = []
        for source in sources:
            schema = pq.read_schema(source)
            text = [f.name for f in schema if _is_text(f.type)]
            files.append(pq.ParquetFile(source, read_dictionary=text))
        schema = files[0].schema_arrow
        index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
        names = [n for n in schema.names if n not in index]
        rows = sum(f.metadata.num_rows for f in files)
    except Exception as exc:
        raise DataError(f"source '{node.name}': cannot read parquet file {node.data_path}: {exc}", where=node.file,
                        hint="the file must be a complete Parquet file: check that it was copied or written "
                             "in full") from exc
    return _ArrowColumns(files, names, rows)


def _read_sql(node: SourceNode, root: Path):
    import pandas as pd
    import sqlalchemy as sa

    uri = sqlite_relative_to(expand_env(node.uri or "", f"source '{node.name}'"), root)  # a SQL source has one
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            # a source only reads: make the transaction read-only where the database supports it
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            elif engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = ON")
            if node.table is not None:
                schema, _, table = node.table.rpartition(".")
                statement: sa.Select | sa.TextClause = sa.select(sa.text("*")).select_from(
                    sa.table(table, schema=schema or None))
            else:
                statement = sa.text(node.query or "")  # a SQL source has a table or a query
            frame = pd.read_sql_query(statement, conn)
            conn.rollback()
            return frame
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        # pandas wraps some driver errors in its own DatabaseError; both are a failed (or refused) query
        raise DataError(f"source '{node.name}': query failed: {str(exc).splitlines()[0]}", where=node.file,
                        hint="a SQL source only reads: write a SELECT (it runs in a read-only transaction)") from exc
    finally:
        engine.dispose()
