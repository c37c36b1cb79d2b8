"""Prometheus text exposition of the server's counters, without a client library.

Requests and predicted rows per model version and status, validation failures, shadow scores and
drops, prediction-log writes, and a request latency histogram per endpoint.
"""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    def escaped(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escaped(str(v))}"' for k, v in pairs) + "}" if pairs else ""


class Metrics:
    """Thread-safe counters and histograms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, dict[tuple, float]] = defaultdict(lambda: defaultdict(float))
        self.histograms: dict[tuple, list[float]] = {}

    def count(self, name: str, value: float = 1, **labels: object) -> None:
        """Add `value` to counter `name` with `labels`."""
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        with self._lock:
            self.counters[name][key] += value

    def observe(self, seconds: float, **labels: object) -> None:
        """Record one request's latency."""
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        with self._lock:
            counts = self.histograms.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-2] += 1
            counts[-1] += seconds

    def render(self, gauges: dict[str, list[tuple[dict, float]]]) -> str:
        """The exposition text; `gauges` are current values computed by the caller (name -> [(labels, value)])."""
        lines = []
        with self._lock:
            for name in sorted(self.counters):
                lines.append(f"# TYPE {name} counter")
                for key, value in sorted(self.counters[name].items()):
                    lines.append(f"{name}{_labels(key)} {value:g}")
            if self.histograms:
                name = "mlspec_request_duration_seconds"
                lines.append(f"# TYPE {name} histogram")
                for key, counts in sorted(self.histograms.items()):
                    for i, bound in enumerate(BUCKETS):
                        lines.append(f"{name}_bucket{_labels((*key, ('le', f'{bound:g}')))} {counts[i]:g}")
                    lines.append(f"{name}_bucket{_labels((*key, ('le', '+Inf')))} {counts[-2]:g}")
                    lines.append(f"{name}_count{_labels(key)} {counts[-2]:g}")
                    lines.append(f"{name}_sum{_labels(key)} {counts[-1]:.6f}")
        for name in sorted(gauges):
            lines.append(f"# TYPE {name} gauge")
            for labels, value in gauges[name]:
                lines.append(f"{name}{_labels(tuple(sorted(labels.items())))} {value:g}")
        return "\n".join(lines) + "\n"
