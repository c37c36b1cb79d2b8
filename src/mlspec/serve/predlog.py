"""The prediction log writer: served rows buffered in memory, flushed in batches to Parquet on the store.

Requests hand over a `Entry` (what was asked, what the champion and, later, the challenger said)
and return at once; a background thread flushes every `flush_seconds`, or sooner when `flush_rows`
rows wait, and at shutdown. Each flush writes one complete Parquet file per model and UTC date and
creates its key only if absent (`put_if_absent`: a link of a fully written file on a local folder,
a conditional put on object storage), so a committed batch is never lost, rewritten or half-visible.
A flush the store refuses keeps its rows for the next try (and says why in the log); the buffer is
bounded, and rows beyond it are dropped and counted rather than exhausting memory.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mlspec.runtime import predictions
from mlspec.runtime.errors import RunError

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


@dataclass
class PredictionLog:
    """Buffers entries and flushes them to `store` under `predictions/<model>/date=.../`."""

    store: object
    contracts: dict[str, dict]  # model -> column -> ColumnContract (how inputs are typed in the file)
    flush_rows: int = 1000
    flush_seconds: float = 10.0
    max_buffered_rows: int = 100_000
    stats: LogStats = field(default_factory=LogStats)

    def __post_init__(self) -> None:
        self._entries: list[Entry] = []
        self._rows = 0
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
            self._entries.append(entry)
            self._rows += len(entry.rows)
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
                entries, self._entries, self._rows = self._entries, [], 0
            if not entries:
                return 0
            groups: dict[tuple[str, str], list[Entry]] = {}
            for entry in entries:
                groups.setdefault((entry.model, f"{entry.at:%Y-%m-%d}"), []).append(entry)
            written, kept = 0, []
            for (model, _day), group in sorted(groups.items()):
                try:
                    written += self._write(model, group)
                except (RunError, OSError, ValueError) as exc:
                    kept += group
                    self.stats.failed_flushes += 1
                    log.error("prediction log: could not write %d rows of %s (kept for the next flush): %s",
                              sum(len(e.rows) for e in group), model, getattr(exc, "message", exc))
            if kept:
                with self._lock:
                    self._entries[:0] = kept
                    self._rows += sum(len(e.rows) for e in kept)
            return written

    def _write(self, model: str, group: list[Entry]) -> int:
        data = self._parquet(model, group)
        while True:
            self._sequence += 1
            key = predictions.key(model, group[0].at, self._writer, self._sequence)
            if self.store.put_if_absent(key, data):
                break
        count = sum(len(e.rows) for e in group)
        self.stats.rows_written += count
        self.stats.files_written += 1
        return count

    def _parquet(self, model: str, group: list[Entry]) -> bytes:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        from mlspec.runtime.data import convert

        contracts = self.contracts[model]
        records = [row for entry in group for row in entry.rows]
        inputs = sorted(({name for row in records for name in row} | {c for e in group for c in e.inputs})
                        & set(contracts))
        table = pd.DataFrame.from_records(records, columns=inputs)
        columns: dict[str, object] = {}

        def repeat(entry_values) -> list:
            return [value for entry, value in entry_values for _ in entry.rows]

        columns["ts"] = pd.to_datetime(repeat((e, e.at) for e in group), utc=True)
        columns["request_id"] = repeat((e, e.request_id) for e in group)
        columns["row"] = [i for e in group for i in range(len(e.rows))]
        columns["model"] = [model] * len(records)
        columns["version"] = repeat((e, e.version) for e in group)
        columns["sha256"] = repeat((e, e.sha256) for e in group)
        for name in inputs:
            series = table[name].astype(object).where(table[name].notna(), None)
            columns[name] = convert(series, contracts[name].type)[0]
        columns["prediction"] = [v for e in group for v in e.labels]
        columns["score"] = pd.array([v for e in group for v in (e.scores or [None] * len(e.rows))], dtype="Float64")
        columns["challenger_version"] = pd.array(repeat((e, e.challenger_version) for e in group), dtype="Int64")
        columns["challenger_prediction"] = [v for e in group for v in (e.challenger_labels or [None] * len(e.rows))]
        columns["challenger_score"] = pd.array(
            [v for e in group for v in (e.challenger_scores or [None] * len(e.rows))], dtype="Float64")
        frame = pd.DataFrame(columns)
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
        return buffer.getvalue()


def now() -> datetime:
    """The time a request is logged at (UTC)."""
    return datetime.now(UTC)
