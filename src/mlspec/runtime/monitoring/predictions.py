"""The prediction log that `mlspec serve` writes, and how monitoring reads it back as live data.

Layout, under the project's artifact store (a local folder or object storage)::

    predictions/<model>/date=YYYY-MM-DD/<UTC time>-<writer>-<sequence>.parquet

One Parquet file per flush, never rewritten: the server writes a complete file and creates its key
only if absent, so a committed batch is never lost or half-written, and readers see whole files.
Each row is one served row: when (`ts`), the request it came in (`request_id`, `row`), the champion
that answered (`version`, `sha256`), the model's input columns, the champion's `prediction` (and
`score`, a classifier's probability of the positive class or of its predicted class), and when a
challenger scored it in shadow, `challenger_version`, `challenger_prediction`, `challenger_score`.

`mlspec monitor --data predictions:MODEL[@WINDOW]` and a monitor whose spec names the log read it
through `read`, which turns the rows into a typed, contract-checked dataset like any source.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

from mlspec.manifest import Manifest, SourceNode
from mlspec.runtime.conversion import convert
from mlspec.runtime.data import Dataset
from mlspec.runtime.errors import DataError

PREFIX = "predictions"
LOG_SCHEME = "predictions:"
# what a log row carries besides the model's inputs (never drift-checked as inputs)
LOG_COLUMNS = ("ts", "request_id", "row", "model", "version", "sha256", "prediction", "score",
               "challenger_version", "challenger_prediction", "challenger_score")
_WINDOW = re.compile(r"^(?P<n>[1-9][0-9]{0,5})(?P<unit>[mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE = re.compile(r"date=(\d{4}-\d{2}-\d{2})/")


def is_log(data: str | None) -> bool:
    """Whether a `--data` value (or a monitor's data) names the prediction log rather than a source."""
    return data is not None and data.startswith(LOG_SCHEME)


def parse(data: str) -> tuple[str, timedelta | None]:
    """`predictions:MODEL[@WINDOW]` -> (MODEL, window); DataError naming what is wrong otherwise."""
    body = data[len(LOG_SCHEME):]
    model, _, window = body.partition("@")
    if not model:
        raise DataError(f"'{data}' names no model", hint="write predictions:MODEL or predictions:MODEL@7d")
    return model, parse_window(window) if window else None


def parse_window(text: str) -> timedelta:
    """`30m`, `24h`, `7d` or `2w` as a timedelta."""
    match = _WINDOW.match(text)
    if match is None:
        raise DataError(f"invalid window '{text}'", hint="a number and a unit: 30m, 24h, 7d or 2w")
    return timedelta(**{_UNITS[match["unit"]]: int(match["n"])})


def folder(model: str) -> str:
    """The store prefix of a model's log."""
    return f"{PREFIX}/{model}/"


def key(model: str, at: datetime, writer: str, sequence: int) -> str:
    """The key of one flushed file: partitioned by UTC date, unique per writer and flush."""
    return f"{folder(model)}date={at:%Y-%m-%d}/{at:%Y%m%dT%H%M%S%fZ}-{writer}-{sequence:06d}.parquet"


def log_source(manifest: Manifest, model_name: str, logged: list[str]) -> SourceNode:
    """The contract log rows are checked against: the model's own source, narrowed to the logged columns.

    Uniqueness and row counts describe a whole training table, not a stream of requests, so they are
    dropped; row checks that read a column the log lacks are skipped by the contract check itself."""
    model = manifest.nodes.get(f"model.{model_name}")
    if model is None or model.kind != "model":
        raise DataError(f"unknown model '{model_name}' in predictions:{model_name}",
                        hint="name a model of the spec: predictions:MODEL")
    source = manifest.source(model.source)
    columns = {name: c.model_copy(update={"unique": False}) for name, c in source.columns.items() if name in logged}
    return source.model_copy(update={"name": f"{LOG_SCHEME}{model_name}", "columns": columns, "min_rows": 1,
                                     "max_rows": None, "path": f"{PREFIX}/{model_name}"})


def read(manifest: Manifest, root, data: str, now: datetime | None = None) -> tuple[SourceNode, Dataset]:
    """The logged rows of `data` (`predictions:MODEL[@WINDOW]`) as a source node and a typed dataset.

    The model's inputs are converted to their contract types (failures recorded as for any source);
    the log's own columns ride along. An empty log (or window) is a DataError saying how to fill it."""
    import hashlib

    import pandas as pd
    import pyarrow.parquet as pq

    from mlspec.state.stores import open_store

    model, window = parse(data)
    log_source(manifest, model, [])  # an unknown model is said as such, before the store is read
    now = now or datetime.now(UTC)
    since = now - window if window is not None else None
    store = open_store(manifest.project.artifacts_uri, root)
    keys = [k for k in store.list(folder(model)) if k.endswith(".parquet")]
    if since is not None:
        first_day = f"{since:%Y-%m-%d}"
        keys = [k for k in keys if (m := _DATE.search(k)) is None or m.group(1) >= first_day]
    frames, digest = [], hashlib.sha256()
    for name in keys:
        blob = store.get(name)
        if blob is None:
            continue
        digest.update(name.encode() + b"\0" + blob.etag.encode() + b"\n")
        frames.append(pq.read_table(io.BytesIO(blob.data)).to_pandas())
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if since is not None and len(frame):
        stamps = pd.to_datetime(frame["ts"], utc=True)
        frame = frame[(stamps >= pd.Timestamp(since)).to_numpy()].reset_index(drop=True)
    where = f"{store.url}/{folder(model)}"
    if frame.empty:
        span = f" in the last {data.partition('@')[2]}" if window is not None else ""
        raise DataError(f"the prediction log of '{model}' has no rows{span} ({where})",
                        hint=f"serve the model (mlspec serve {model}) and send it requests; the log is written "
                             "in batches, so stop the server or wait for its flush interval")
    inputs = [c for c in frame.columns if c not in LOG_COLUMNS]
    source = log_source(manifest, model, inputs)
    failures = []
    typed = {}
    for name in frame.columns:
        contract = source.columns.get(name)
        if contract is None:
            typed[name] = frame[name]
            continue
        values, failure = convert(frame[name], contract.type)
        typed[name] = values
        if failure is not None:
            from mlspec.runtime.data import Failure

            failures.append(Failure(name, failure[0], failure[1], failure[2]))
    dataset = Dataset(pd.DataFrame(typed, index=pd.RangeIndex(len(frame))), digest.hexdigest(), failures)
    return source, dataset


def logged_shadow(frame, task: str) -> dict | None:
    """How the champion's and the challenger's logged predictions compare, on the rows where both were
    logged (the latest challenger version's rows), or None when no challenger was logged."""
    import numpy as np
    import pandas as pd

    if "challenger_version" not in frame.columns:
        return None
    both = frame[frame["challenger_version"].notna().to_numpy()]
    if both.empty:
        return None
    latest = int(pd.to_numeric(both["challenger_version"]).max())
    rows = both[(pd.to_numeric(both["challenger_version"]) == latest).to_numpy()]
    champion, challenger = rows["prediction"].to_numpy(), rows["challenger_prediction"].to_numpy()
    if task == "regression" and len(rows) > 1:
        agreement = float(np.corrcoef(champion.astype(float), challenger.astype(float))[0, 1])
        kind = "correlation"
    else:
        agreement = float(np.mean(_same(rows["prediction"], rows["challenger_prediction"])))
        kind = "share of equal predictions"
    versions = sorted({int(v) for v in pd.to_numeric(rows["version"]).dropna()})
    return {"challenger_version": latest, "agreement": agreement, "agreement_kind": kind, "rows": len(rows),
            "from": "prediction log", "champion_versions": versions}


def _same(left, right):
    """Row-wise equality of two logged label columns: as numbers when both are numbers (Parquet turns an
    integer column with gaps into floats, so 1 and 1.0 are one label), else as text."""
    import pandas as pd

    a, b = pd.to_numeric(left, errors="coerce"), pd.to_numeric(right, errors="coerce")
    if a.notna().all() and b.notna().all():
        return (a.to_numpy(dtype=float) == b.to_numpy(dtype=float))
    return left.astype(str).to_numpy() == right.astype(str).to_numpy()
