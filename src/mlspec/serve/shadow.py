"""Shadow scoring: the challenger answers the same requests off the response path.

A request whose model has a challenger puts its log entry on a bounded queue and returns; one
background thread scores the queued rows with the challenger, adds its answers to the entry and
hands the entry to the prediction log. When the queue is full the request does not wait: the
shadow score is dropped and counted, and the entry is logged with the champion's answer alone.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field

from mlspec.serve.models import Served, predict

log = logging.getLogger("mlspec.serve")
_STOP = object()


@dataclass
class ShadowStats:
    """Counters for /metrics, per model."""

    scored: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


class Shadow:
    """A bounded queue and one worker thread that scores challengers and forwards entries to `sink`."""

    def __init__(self, capacity: int, sink) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=max(capacity, 1))
        self.sink = sink  # called with each finished entry (the prediction log's append), or None
        self.stats = ShadowStats()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="mlspec-shadow", daemon=True)

    def start(self) -> None:
        """Start the worker."""
        self._thread.start()

    def submit(self, challenger: Served, frame, entry) -> bool:
        """Queue a shadow score; False (counted as dropped) when the queue is full. Never blocks."""
        try:
            self.queue.put_nowait((challenger, frame, entry))
            return True
        except queue.Full:
            self._count(self.stats.dropped, challenger.name)
            return False

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop."""
        if not self._thread.is_alive():
            return
        self.queue.put(_STOP)
        self._thread.join(timeout=timeout)

    def _count(self, table: dict[str, int], name: str) -> None:
        with self._lock:
            table[name] = table.get(name, 0) + 1

    def _run(self) -> None:
        while True:
            job = self.queue.get()
            if job is _STOP:
                return
            challenger, frame, entry = job
            try:
                result = predict(challenger, frame)
                entry.challenger_version = challenger.version
                entry.challenger_labels = result.labels
                entry.challenger_scores = result.scores
                self._count(self.stats.scored, challenger.name)
            except Exception as exc:  # a challenger that fails must never affect serving; say so and go on
                self._count(self.stats.failed, challenger.name)
                log.error("shadow: %s v%s failed to score a request: %s", challenger.name, challenger.version,
                          exc)
            if self.sink is not None:
                self.sink(entry)
