"""A real `mlspec serve` in a subprocess on 127.0.0.1, for the serving tests and the benchmark.

The server binds port 0 (the kernel picks a free port, so parallel runs never collide) and the port
is read from uvicorn's "running on" line. Every wait polls with a generous deadline that only guards
against a hang; no test asserts how long anything took.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
DEADLINE = 120.0  # seconds: a failure guard, never a performance claim


class Server:
    """`mlspec -C ROOT serve ARGS` with its log collected line by line."""

    def __init__(self, root: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-c", "from mlspec.cli.entry import main; main()", "-C", str(root), "serve",
                   "--host", "127.0.0.1", "--port", "0", *args]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        port = self.wait_for_log(RUNNING)
        self.url = f"http://127.0.0.1:{port.group(1)}"
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        """Everything the server said so far."""
        return "\n".join(self.lines)

    def wait_for_log(self, pattern: re.Pattern | str) -> re.Match:
        """The first log line matching `pattern`, waiting for it."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = regex.search(line)
                if found:
                    return found
            if self.process.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"the server exited ({self.process.returncode}):\n{self.log}")
            time.sleep(0.05)
        raise AssertionError(f"no log line matched {regex.pattern!r}:\n{self.log}")

    def wait_until(self, check, what: str):
        """Poll `check()` until it returns something truthy; return it."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited while waiting for {what}:\n{self.log}")
            time.sleep(0.05)
        raise AssertionError(f"gave up waiting for {what}:\n{self.log}")

    def wait_ready(self) -> None:
        """Until /v2/health/ready says 200."""
        self.wait_until(lambda: self.client.get("/v2/health/ready").status_code == 200, "readiness")

    def stop(self) -> int:
        """SIGTERM (graceful: in-flight requests finish, the log is flushed); the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=10)
        self.client.close()
        return self.process.returncode

    def stop_gracefully(self) -> None:
        """Stop, and check the shutdown was the graceful one: uvicorn drained in-flight requests and the
        app's shutdown (queued shadow scores, the last log flush) completed. uvicorn re-raises SIGTERM once
        it is done, so the exit status is the signal's."""
        code = self.stop()
        assert code in (0, -signal.SIGTERM), f"exit {code}:\n{self.log}"
        assert "Application shutdown complete" in self.log, self.log
        assert "Traceback" not in self.log, self.log

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def v2_request(frame, columns: list[str], request_id: str | None = None) -> dict:
    """A V2 infer body: one tensor per column, JSON null for a missing value."""
    import pandas as pd

    types = {"int": "INT64", "float": "FP64", "str": "BYTES", "bool": "BOOL"}
    inputs = []
    for column in columns:
        values = [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in frame[column].tolist()]
        present = [v for v in values if v is not None]
        kind = type(present[0]).__name__ if present else "float"
        inputs.append({"name": column, "shape": [len(values)], "datatype": types[kind], "data": values})
    body = {"inputs": inputs}
    if request_id is not None:
        body["id"] = request_id
    return body
