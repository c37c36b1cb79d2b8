"""What pandas gets from a DuckDB source: the rows a model trains on, a sample to score, batches to stream.

A model trains on what its source's `training:` declares (a window of time before the latest timestamp,
a seeded sample of rows, or both), on all rows otherwise; rows keep their order in the files, so the
same data and seed give the same frame. Each frame is typed by `runtime.data`'s own conversion, so a
model sees the same types with either engine. `batches` streams a source as typed frames of at most
BATCH_ROWS rows, for scoring data larger than memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from mlspec.manifest import FeatureNode, SourceNode
from mlspec.runtime.data import Dataset
from mlspec.runtime.duck.scan import Column, Scan, arrow_batches, arrow_table
from mlspec.runtime.duck.sql import Compiler

BATCH_ROWS = 100_000
_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


def check_and_read(node: SourceNode, root: Path, seed: int, features: Sequence[FeatureNode] = ()) -> Dataset:
    """Check a DuckDB source's contract over all its rows (a DataError listing every failure), then read what
    its models train on."""
    from mlspec.runtime import contract
    from mlspec.runtime.duck import contract as duck_contract
    from mlspec.runtime.duck import fingerprint

    with Scan(node, root) as scan:
        rows, failures = duck_contract.check(node, scan, features)
        contract.raise_on_failures(node, failures, root)
        frame = _frame(scan, *_training_query(node, scan, seed))
    return Dataset(frame, fingerprint(node, root), [], rows)


def read_training(node: SourceNode, root: Path, seed: int) -> Dataset:
    """What models train on from a DuckDB source already checked (in another process of the same run)."""
    from mlspec.runtime.duck import fingerprint

    with Scan(node, root) as scan:
        frame = _frame(scan, *_training_query(node, scan, seed))
    return Dataset(frame, fingerprint(node, root), [], None)


def sample_frame(scan: Scan, rows: int, seed: int):
    """A seeded sample of at most `rows` rows (all of them when there are fewer), typed, in file order."""
    body = scan.typed_sql(row_number=True)
    query = (f"SELECT * EXCLUDE (__row) FROM (SELECT * FROM ({body}) USING SAMPLE reservoir({int(rows)} ROWS) "
             f"REPEATABLE ({int(seed)})) ORDER BY __row")
    return _frame(scan, query, scan.base_params())


def batches(scan: Scan, rows: int | None = None) -> Iterator:
    """Every row in file order, as pandas frames of at most `rows` rows (Arrow record batches), with every column
    of the data in its order, as `runtime.data.load(keep_undeclared=True)` gives them: declared columns typed
    (an int column holds floats in every batch when it has a missing value anywhere, as pandas would hold
    it), undeclared ones as DuckDB reads them (a CSV's as text), a repeated undeclared name once."""
    import pandas as pd
    import pyarrow as pa

    from mlspec.runtime.conversion import convert
    from mlspec.runtime.data import arrow_to_pandas
    from mlspec.runtime.duck.sql import quote

    ints = [c for c in scan.columns if c.contract_type == "int"]
    with_gaps = {c.name for c, n in zip(ints, _null_counts(scan, ints), strict=True) if n}
    parts: list[str] = []
    kept: list[tuple[str, Column | None]] = []  # (name, declared column or None), in the data's order
    for position, name in enumerate(scan.raw_names):
        if name in (k for k, _ in kept) or name in scan.repeated or (name in scan.node.columns and
                                                                       name not in scan.by_name):
            continue
        column = scan.by_name.get(name)
        alias = column.alias if column is not None else f"u{position}"
        parts.append(f"{column.typed if column is not None else quote(scan.duck_names[position])} AS {alias}")
        kept.append((name, column))
    reader = arrow_batches(scan.con, f"SELECT {', '.join(parts)} FROM {scan.from_sql}", scan.base_params(),
                           rows or BATCH_ROWS)
    for batch in reader:
        typed = {}
        for (name, column), array in zip(kept, batch.columns, strict=True):
            values = arrow_to_pandas(pa.chunked_array([array]), name)
            if column is not None:
                values, _ = convert(values, column.contract_type)
                values = values if column.name in with_gaps else _whole(values, column)
            typed[name] = values
        yield pd.DataFrame(typed, index=pd.RangeIndex(batch.num_rows), copy=False)


def _null_counts(scan: Scan, columns: list[Column]) -> list[int]:
    if not columns:
        return []
    counts = ", ".join(f"count(*) - count({c.alias})" for c in columns)
    return list(scan.con.execute(f"SELECT {counts} FROM ({scan.typed_sql(columns)})", scan.base_params()).fetchall()[0])


def _training_query(node: SourceNode, scan: Scan, seed: int) -> tuple[str, list]:
    compiler = Compiler({}, list(scan.base_params()))
    body = scan.typed_sql(row_number=True)
    where = ""
    read = node.training
    if read is not None and read.window is not None and node.timestamp is not None:  # validate requires one
        stamp = scan.by_name[node.timestamp].alias
        hours = int(read.window[:-1]) * _HOURS[read.window[-1]]
        where = (f" WHERE {stamp} >= (SELECT max({stamp}) FROM ({scan.typed_sql([scan.by_name[node.timestamp]])})) "
                 f"- to_hours(CAST({compiler.bind(hours)} AS BIGINT))")
    query = f"SELECT * FROM ({body}){where}"
    if read is not None and read.sample_rows is not None:
        query = f"SELECT * FROM ({query}) USING SAMPLE reservoir({int(read.sample_rows)} ROWS) REPEATABLE ({int(seed)})"
    return f"SELECT * EXCLUDE (__row) FROM ({query}) ORDER BY __row", compiler.params


def _frame(scan: Scan, query: str, params: list):
    table = arrow_table(scan.con, query, params)
    return _typed_frame(scan, table.columns, table.num_rows)


def _typed_frame(scan: Scan, arrays: list, rows: int):
    """Arrow columns of the typed view (in `scan.columns` order) as the frame `runtime.data.load` makes."""
    import pandas as pd
    import pyarrow as pa

    from mlspec.runtime.conversion import convert
    from mlspec.runtime.data import arrow_to_pandas

    typed = {}
    for column, array in zip(scan.columns, arrays, strict=True):
        chunked = array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
        values, _ = convert(arrow_to_pandas(chunked, column.name), column.contract_type)
        typed[column.name] = _whole(values, column)
    return pd.DataFrame(typed, index=pd.RangeIndex(rows), copy=False)


def _whole(values, column: Column):
    """An int column without missing values as integers, as pandas reads one (the typed view holds DOUBLE)."""
    if column.contract_type == "int" and values.dtype.kind == "f" and not values.isna().any():
        return values.astype("int64")
    return values


def monitor_batch(node: SourceNode, root: Path, drift_settings, reference: dict | None, seed: int,
                  sample_rows: int) -> tuple[Dataset, list, list | None, dict]:
    """A monitor's batch read with DuckDB: a Dataset whose frame is a seeded sample of at most `sample_rows`
    rows (what the model scores) and whose `rows` are all of them, the contract's failures over all rows,
    each column's drift (None without `drift_settings`), and what the drift statistics approximated."""
    from mlspec.runtime.duck import contract as duck_contract
    from mlspec.runtime.duck import fingerprint, stats

    with Scan(node, root) as scan:
        rows, failures = duck_contract.check(node, scan)
        columns, approximation = None, stats.approximation(rows, min(rows, stats.sample_rows()))
        if drift_settings is not None and reference is not None:
            columns, approximation = stats.drift(scan, drift_settings, reference, seed)
        frame = sample_frame(scan, sample_rows, seed)
    return Dataset(frame, fingerprint(node, root), [], rows), failures, columns, approximation
