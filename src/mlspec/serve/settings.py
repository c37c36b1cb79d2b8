"""What `mlspec serve` was asked for, and how a worker process receives it.

With one worker the CLI builds the app in its own process. With `--workers N` uvicorn starts N
processes that each build the app from the environment: the CLI writes the resolved manifest and
these settings to a private temporary file and names it in `MLSPEC_SERVE_CONFIG`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ENV = "MLSPEC_SERVE_CONFIG"


@dataclass(frozen=True)
class Settings:
    """Serving settings (the CLI's options)."""

    models: list[str] = field(default_factory=list)
    poll_seconds: float = 5.0  # how often the registry's aliases are read
    max_body_bytes: int = 1 << 20  # bodies larger than this are refused (413) before parsing
    max_batch: int = 1000  # rows per request
    shadow: bool = True  # score the challenger (when there is one) off the response path
    shadow_queue: int = 1000  # requests waiting for shadow scoring; beyond it, shadow scores are dropped
    log_predictions: bool = True  # append served rows to the prediction log
    flush_rows: int = 10_000  # flush when this many rows wait (one Parquet file per flush, model and day)
    flush_seconds: float = 10.0  # ... or this often
    access_log: bool = True  # one JSON line per request on standard error


def write_config(path: Path, root: Path, manifest_json: str, settings: Settings) -> None:
    """Write what worker processes need (readable by this user only)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"root": str(root), "manifest": json.loads(manifest_json), "settings": asdict(settings)}, handle)


def read_config() -> tuple[Path, dict, Settings]:
    """(project root, manifest data, settings) from the file `MLSPEC_SERVE_CONFIG` names."""
    with Path(os.environ[ENV]).open(encoding="utf-8") as handle:
        data = json.load(handle)
    return Path(data["root"]), data["manifest"], Settings(**data["settings"])


def setup_logging() -> None:
    """Log lines on standard error: time, level, what happened (the access log's lines are JSON)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("mlspec.serve", "uvicorn"):  # uvicorn's own lines (listening on, shutting down) too
        logger = logging.getLogger(name)
        if logger.handlers:
            continue
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
