"""The prediction log writer: served rows buffered in memory, flushed in batches to Parquet on the store.

Requests hand over an `Entry` (what was asked, what the champion and, later, the challenger said) and return at
once. Every `convert_rows` rows the appending thread turns what waits into Arrow columns (a small, steady cost), so
the cost of building the log is spread evenly over requests; a background thread flushes every `flush_seconds`, or
sooner when `flush_rows` rows wait, and at shutdown. A flush only concatenates Arrow tables and writes Parquet,
which runs without the interpreter lock: building thousands of rows' columns at flush time held it long enough to
put one 100-row request in a hundred behind it (the p99 of `benchmarks/bench_serve.py`; benchmarks/README.md §
Figures behind code comments).

Each flush writes one complete Parquet file per model and UTC date and creates its key only if absent
(`put_if_absent`: a link of a fully written file on a local folder, a conditional put on object
storage), so a committed batch is never lost, rewritten or half-visible. A flush the store refuses
keeps its rows for the next try (and says why in the log); the buffer is bounded, and rows beyond it
are dropped and counted rather than exhausting memory, as are rows Parquet cannot hold.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlspec.runtime.errors import RunError
from mlspec.runtime.monitoring import predictions
from mlspec.state.stores import Store

log = logging.getLogger("mlspec.serve")


@dataclass
class Entry:
    """One request's rows, as logged: inputs (validated), the champion's answer, and the challenger's."""

    model: str
    at: datetime
    request_id: str
    rows: list[dict]
    version: int
    sha256: str
    labels: list
    scores: list[float] | None
    inputs: list[str] = field(default_factory=list)  # every input column of the version, logged even when null
    challenger_version: int | None = None
    challenger_labels: list | None = None
    challenger_scores: list[float] | None = None


@dataclass
class LogStats:
    """Counters for /metrics."""

    rows_written: int = 0
    files_written: int = 0
    rows_dropped: int = 0
    failed_flushes: int = 0


# Columns every file starts and ends with; the model's input columns, sorted, go between them.
_HEAD = ("ts", "request_id", "row", "model", "version", "sha256")
_TAIL = ("prediction", "score", "challenger_version", "challenger_prediction", "challenger_score")


@dataclass
class PredictionLog:
    """Buffers entries and flushes them to `store` under `predictions/<model>/date=.../`."""

    store: Store
    contracts: dict[str, dict]  # model -> column -> ColumnContract (how inputs are typed in the file)
    flush_rows: int = 10_000
    flush_seconds: float = 10.0
    max_buffered_rows: int = 100_000
    convert_rows: int = 256
    stats: LogStats = field(default_factory=LogStats)

    def __post_init__(self) -> None:
        self._waiting: list[Entry] = []  # appended, not yet converted
        self._waiting_rows = 0
        self._tables: list[tuple[tuple[str, str], datetime, Any]] = []  # ((model, day), first at, pyarrow.Table)
        self._rows = 0  # every buffered row, waiting or converted
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._writer = f"p{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._sequence = 0
        self._thread = threading.Thread(target=self._loop, name="mlspec-prediction-log", daemon=True)

    def start(self) -> None:
        """Start the flushing thread."""
        self._thread.start()

    def append(self, entry: Entry) -> None:
        """Buffer one request's rows (never blocks on the store)."""
        with self._lock:
            if self._rows + len(entry.rows) > self.max_buffered_rows:
                self.stats.rows_dropped += len(entry.rows)
                return
            self._waiting.append(entry)
            self._waiting_rows += len(entry.rows)
            self._rows += len(entry.rows)
            if self._waiting_rows >= self.convert_rows:
                self._convert_waiting()
            full = self._rows >= self.flush_rows
        if full:
            self._wake.set()

    def close(self) -> None:
        """Stop the thread and flush what is buffered."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write everything buffered; return the rows written. Rows of a failed write stay buffered."""
        with self._flush_lock:
            with self._lock:
                self._convert_waiting()
                tables, self._tables = self._tables, []
                self._rows -= sum(table.num_rows for _, _, table in tables)
            groups: dict[tuple[str, str], list] = {}
            for group, first, table in tables:
                groups.setdefault(group, []).append((first, table))
            written, kept = 0, []
            for (model, day), parts in sorted(groups.items()):
                try:
                    written += self._write(model, parts)
                except (RunError, OSError) as exc:
                    kept += [((model, day), first, table) for first, table in parts]
                    self.stats.failed_flushes += 1
                    log.error("prediction log: could not write %d rows of %s (kept for the next flush): %s",
                              sum(table.num_rows for _, table in parts), model, getattr(exc, "message", exc))
            if kept:
                with self._lock:
                    self._tables[:0] = kept
                    self._rows += sum(table.num_rows for _, _, table in kept)
            return written

    def _convert_waiting(self) -> None:
        """Turn the waiting entries into one Arrow table per model and date (the caller holds the lock)."""
        groups: dict[tuple[str, str], list[Entry]] = {}
        for entry in self._waiting:
            groups.setdefault((entry.model, f"{entry.at:%Y-%m-%d}"), []).append(entry)
        self._waiting, self._waiting_rows = [], 0
        for (model, day), group in groups.items():
            try:
                self._tables.append(((model, day), group[0].at, self._table(model, group)))
            except (ValueError, TypeError, OverflowError):  # one entry Parquet cannot hold: find it, keep the rest
                for entry in group:
                    try:
                        self._tables.append(((model, day), entry.at, self._table(model, [entry])))
                    except (ValueError, TypeError, OverflowError) as exc:
                        self._rows -= len(entry.rows)
                        self.stats.rows_dropped += len(entry.rows)
                        log.error("prediction log: dropped %d rows of %s that cannot be written as Parquet: %s",
                                  len(entry.rows), model, exc)

    def _write(self, model: str, parts: list) -> int:
        """One Parquet file of a model's converted rows of one day ((first time, table) parts, in order),
        created only if its key is absent; the key carries the first row's time."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Parts may differ in columns (versions with other inputs) or have all-null columns: unify them.
        table = pa.concat_tables([part for _, part in parts], promote_options="default")
        inputs = sorted(set(table.column_names) - set(_HEAD) - set(_TAIL))
        buffer = io.BytesIO()
        pq.write_table(table.select([*_HEAD, *inputs, *_TAIL]), buffer)
        data = buffer.getvalue()
        while True:
            self._sequence += 1
            if self.store.put_if_absent(predictions.key(model, parts[0][0], self._writer, self._sequence), data):
                break
        self.stats.rows_written += table.num_rows
        self.stats.files_written += 1
        return table.num_rows

    def _table(self, model: str, group: list[Entry]):
        """A group's rows as an Arrow table, straight from the entries (no pandas)."""
        import pyarrow as pa

        contracts = self.contracts[model]
        records = [row for entry in group for row in entry.rows]
        inputs = sorted(({name for row in records for name in row} | {c for e in group for c in e.inputs})
                        & set(contracts))

        def per_row(value_of) -> list:  # one value per entry, repeated for each of its rows
            return [value for entry in group for value in [value_of(entry)] * len(entry.rows)]

        def listed(values_of) -> list:  # a list per entry (or None for all its rows), concatenated
            return [v for entry in group for v in (values_of(entry) or [None] * len(entry.rows))]

        columns = {
            "ts": pa.array(per_row(lambda e: e.at), type=pa.timestamp("us", tz="UTC")),
            "request_id": pa.array(per_row(lambda e: e.request_id), type=pa.string()),
            "row": pa.array([i for e in group for i in range(len(e.rows))], type=pa.int64()),
            "model": pa.array([model] * len(records), type=pa.string()),
            "version": pa.array(per_row(lambda e: e.version), type=pa.int64()),
            "sha256": pa.array(per_row(lambda e: e.sha256), type=pa.string()),
        }
        for name in inputs:
            columns[name] = _input_column([row.get(name) for row in records], contracts[name].type)
        columns["prediction"] = pa.array(listed(lambda e: e.labels))
        columns["score"] = pa.array(listed(lambda e: e.scores), type=pa.float64())
        columns["challenger_version"] = pa.array(per_row(lambda e: e.challenger_version), type=pa.int64())
        columns["challenger_prediction"] = pa.array(listed(lambda e: e.challenger_labels))
        columns["challenger_score"] = pa.array(listed(lambda e: e.challenger_scores), type=pa.float64())
        return pa.table(columns)


def _input_column(values: list, kind: str):
    """An input column as Arrow data of its contract type (a missing value is null; the reader types the
    column again through the contract, as for any source)."""
    import pyarrow as pa

    if kind == "float":
        return pa.array(values, type=pa.float64())
    if kind == "int":
        return pa.array(values, type=pa.int64())
    if kind == "bool":
        return pa.array(values, type=pa.bool_())
    if kind == "datetime":
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())  # ISO 8601, as sent
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def now() -> datetime:
    """The time a request is logged at (UTC)."""
    return datetime.now(UTC)
