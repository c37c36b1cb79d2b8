"""The parts of `mlspec serve` without a server: contract-built validation, the V2 decoding, the
prediction log writer (one complete file per flush, nothing lost when the store refuses) and reader
(windows, an empty log), and the CLI loading none of the serving stack until `serve` runs."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlspec.manifest import ColumnContract
from mlspec.runtime.errors import DataError, RunError
from mlspec.runtime.monitoring import predictions
from mlspec.serve import protocol
from mlspec.serve.predlog import Entry, PredictionLog
from mlspec.serve.validation import RequestInvalidError, RowValidator
from mlspec.state.stores import LocalStore
from tests.conftest import REPO

CONTRACTS = {
    "amount": ColumnContract(type="float", min=0),
    "hour": ColumnContract(type="int", min=0, max=23),
    "channel": ColumnContract(type="category", values=["web", "app"]),
    "age": ColumnContract(type="int", nullable=True),
    "vip": ColumnContract(type="bool"),
    "seen": ColumnContract(type="datetime", nullable=True),
}
ROW = {"amount": 3, "hour": 4, "channel": "web", "age": None, "vip": True, "seen": "2024-01-02T03:04:05"}


def rules(rows) -> set[tuple[str, str]]:
    with pytest.raises(RequestInvalidError) as caught:
        RowValidator(list(CONTRACTS), CONTRACTS).check(rows)
    return {(v.field, v.rule) for v in caught.value.violations}


def test_each_contract_rule_is_named() -> None:
    validator = RowValidator(list(CONTRACTS), CONTRACTS)
    assert validator.check([ROW]) == [ROW]
    assert rules([{**ROW, "amount": -1}]) == {("amount", "min")}
    assert rules([{**ROW, "amount": float("inf")}]) == {("amount", "finite")}
    assert rules([{**ROW, "hour": 24}]) == {("hour", "max")}
    assert rules([{**ROW, "hour": "4"}]) == {("hour", "type")}  # never a string silently made a number
    assert rules([{**ROW, "hour": True}]) == {("hour", "type")}
    assert rules([{**ROW, "channel": "tv"}]) == {("channel", "values")}
    assert rules([{**ROW, "vip": None}]) == {("vip", "nullable")}
    assert rules([{**ROW, "vip": "yes"}]) == {("vip", "type")}
    assert rules([{**ROW, "seen": "yesterday"}]) == {("seen", "type")}
    assert rules([{k: v for k, v in ROW.items() if k != "hour"}]) == {("hour", "required")}
    assert rules([{**ROW, "label": 1}]) == {("label", "unknown_field")}
    assert rules([ROW, 7]) == {("instances[1]", "row")}
    assert rules({"amount": 1}) == {("instances", "instances")}


def test_validated_rows_are_typed_like_a_file() -> None:
    frame = RowValidator(list(CONTRACTS), CONTRACTS).frame([ROW, {**ROW, "age": 40, "seen": None}])
    assert str(frame["amount"].dtype) == "float64" and str(frame["hour"].dtype) == "int64"
    assert frame["age"].isna().tolist() == [True, False]  # a missing int reads as a float with NaN, as in a CSV
    assert frame["channel"].tolist() == ["web", "web"]
    assert pd.api.types.is_datetime64_any_dtype(frame["seen"])


def v2(**overrides) -> dict:
    tensors = {"amount": ("FP64", [1.5, 2.0]), "hour": ("INT64", [1, 2]), "channel": ("BYTES", ["web", "app"]),
               "vip": ("BOOL", [True, False])}
    tensors.update(overrides)
    return {"inputs": [{"name": n, "datatype": d, "shape": [len(v)], "data": v} for n, (d, v) in tensors.items()]}


def v2_rules(body, max_batch: int = 10) -> set[tuple[str, str]]:
    with pytest.raises(RequestInvalidError) as caught:
        protocol.v2_rows(body, list(CONTRACTS), CONTRACTS, max_batch)
    return {(v.field, v.rule) for v in caught.value.violations}


def test_v2_inputs_become_rows_and_every_protocol_mistake_is_named() -> None:
    rows, request_id = protocol.v2_rows({**v2(), "id": "r"}, list(CONTRACTS), CONTRACTS, 10)
    assert request_id == "r" and rows[1] == {"amount": 2.0, "hour": 2, "channel": "app", "vip": False}
    nested = v2(hour=("INT64", [[1], [2]]))
    nested["inputs"][1]["shape"] = [2, 1]
    assert protocol.v2_rows(nested, list(CONTRACTS), CONTRACTS, 10)[0][0]["hour"] == 1
    assert v2_rules(v2(channel=("FP32", [1.0, 2.0]))) == {("channel", "datatype")}
    assert v2_rules(v2(hour=("INT64", [1]))) == {("inputs", "shape")}
    bad_shape = v2()
    bad_shape["inputs"][0]["shape"] = [3]
    assert v2_rules(bad_shape) == {("amount", "shape")}
    assert v2_rules({"inputs": v2()["inputs"][1:]}) == {("amount", "required")}
    assert v2_rules({**v2(), "extra": 1}) == {("extra", "unknown_field")}
    assert v2_rules({"inputs": [*v2()["inputs"], v2()["inputs"][0]]}) == {("amount", "duplicate")}
    assert v2_rules({"nothing": 1}) >= {("inputs", "required")}
    assert v2_rules(v2(), max_batch=1) == {("inputs", "max_batch")}
    with pytest.raises(RequestInvalidError):
        protocol.v1_rows({"instances": [{}] * 3}, 2)


def entry(model: str = "m", rows: int = 2, at: datetime | None = None, challenger: bool = False) -> Entry:
    made = Entry(model, at or datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), f"r{rows}",
                 [{"amount": 1.0 + i, "hour": i, "channel": "web"} for i in range(rows)], 3, "ab" * 32,
                 [0] * rows, [0.25] * rows)
    if challenger:
        made.challenger_version, made.challenger_labels, made.challenger_scores = 4, [1] * rows, [0.75] * rows
    return made


def test_one_complete_parquet_file_per_flush_partitioned_by_date(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    log = PredictionLog(store, {"m": CONTRACTS}, flush_rows=1000, flush_seconds=3600)
    log.append(entry(rows=2))
    log.append(entry(rows=3, challenger=True, at=datetime(2026, 1, 3, tzinfo=UTC)))
    assert log.flush() == 5 and log.flush() == 0
    log.append(entry(rows=1))
    assert log.flush() == 1
    keys = store.list("predictions/m/")
    assert len(keys) == 3 and {k.split("/")[2] for k in keys} == {"date=2026-01-02", "date=2026-01-03"}
    frames = [pq.read_table(io.BytesIO(store.get(k).data)).to_pandas() for k in keys]
    both = pd.concat(frames, ignore_index=True)
    assert len(both) == 6 and both["challenger_version"].dropna().tolist() == [4, 4, 4]
    assert sorted(map(len, frames)) == [1, 2, 3]  # one file per flush and date, each request's rows in order
    assert all(f["row"].tolist() == list(range(len(f))) for f in frames)
    assert not list(tmp_path.rglob(".*"))  # no temporary file left behind


class RefusingStore(LocalStore):
    """A store that refuses writes until told otherwise."""

    refuse = True

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if self.refuse:
            raise RunError("the store is unreachable")
        return super().put_if_absent(key, data)


def test_a_refused_flush_keeps_its_rows_for_the_next(tmp_path: Path) -> None:
    store = RefusingStore(tmp_path)
    log = PredictionLog(store, {"m": CONTRACTS}, flush_rows=1000, flush_seconds=3600)
    log.append(entry(rows=4))
    assert log.flush() == 0 and log.stats.failed_flushes == 1
    store.refuse = False
    log.append(entry(rows=1))
    assert log.flush() == 5 and log.stats.rows_written == 5
    assert len(store.list("predictions/m/")) == 1


def test_a_full_buffer_drops_and_counts(tmp_path: Path) -> None:
    log = PredictionLog(LocalStore(tmp_path), {"m": CONTRACTS}, flush_rows=1000, flush_seconds=3600,
                        max_buffered_rows=3)
    log.append(entry(rows=2))
    log.append(entry(rows=2))
    assert log.stats.rows_dropped == 2 and log.flush() == 2


def test_log_names_and_windows() -> None:
    assert predictions.is_log("predictions:churn") and not predictions.is_log("events")
    assert predictions.parse("predictions:churn@7d") == ("churn", timedelta(days=7))
    assert predictions.parse("predictions:churn") == ("churn", None)
    assert predictions.parse_window("30m") == timedelta(minutes=30)
    for bad in ("predictions:", "predictions:churn@7", "predictions:churn@0d", "predictions:churn@1y"):
        with pytest.raises(DataError):
            predictions.parse(bad)


def test_logged_shadow_compares_the_latest_challenger() -> None:
    frame = pd.DataFrame({"prediction": [1, 0, 1, 1], "version": [3, 3, 3, 3],
                          "challenger_version": pd.array([None, 4, 5, 5], dtype="Int64"),
                          "challenger_prediction": [None, 1, 1, 0]})
    found = predictions.logged_shadow(frame, "classification")
    assert found["challenger_version"] == 5 and found["rows"] == 2 and found["agreement"] == 0.5
    assert predictions.logged_shadow(frame.assign(challenger_version=pd.NA), "classification") is None


def test_the_cli_loads_no_serving_stack_until_serve_runs() -> None:
    code = ("import sys; from mlspec.cli.main import main; sys.argv = ['mlspec', '--help'];\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "loaded = sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'pandas', 'sklearn') if m in sys.modules)\n"
            "print('LOADED=' + ','.join(loaded))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.splitlines()[-1] == "LOADED="
    assert "serve" in result.stdout


def test_ints_beyond_64_bits_are_a_type_violation_not_a_crash() -> None:
    assert rules([{**ROW, "age": 2**70}]) == {("age", "type")}
    assert rules([{**ROW, "hour": 2**70}]) == {("hour", "max")}  # the contract's own bound is named


def test_rows_parquet_cannot_hold_are_dropped_and_counted_not_retried(tmp_path: Path) -> None:
    log = PredictionLog(LocalStore(tmp_path), {"m": CONTRACTS}, flush_rows=1000, flush_seconds=3600)
    bad = entry(rows=1)
    bad.rows = [{"amount": 1.0, "hour": 2**70, "channel": "web"}]
    log.append(bad)
    log.append(entry(rows=2, at=datetime(2026, 2, 1, tzinfo=UTC)))
    assert log.flush() == 2 and log.stats.rows_dropped == 1 and log.flush() == 0


def test_a_bad_entry_is_dropped_alone_when_converted_with_others(tmp_path: Path) -> None:
    log = PredictionLog(LocalStore(tmp_path), {"m": CONTRACTS}, flush_rows=1000, flush_seconds=3600)
    bad = entry(rows=1)
    bad.rows = [{"amount": 1.0, "hour": 2**70, "channel": "web"}]
    log.append(entry(rows=2))
    log.append(bad)
    log.append(entry(rows=3))  # same model and day: converted in one chunk with the bad one
    assert log.flush() == 5 and log.stats.rows_dropped == 1 and log.stats.files_written == 1


def test_parts_converted_apart_share_one_file_with_canonical_columns(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    log = PredictionLog(store, {"m": CONTRACTS}, flush_rows=1000, flush_seconds=3600, convert_rows=2)
    log.append(entry(rows=2))  # converted on its own: no challenger, so its challenger columns are all null
    other = entry(rows=3, challenger=True)
    other.version, other.rows = 4, [{"amount": 2.0, "hour": 1}] * 3  # a version whose rows lack `channel`
    log.append(other)
    assert log.flush() == 5
    (key,) = store.list("predictions/m/")
    table = pq.read_table(io.BytesIO(store.get(key).data))
    assert table.column_names == ["ts", "request_id", "row", "model", "version", "sha256", "amount", "channel",
                                  "hour", "prediction", "score", "challenger_version", "challenger_prediction",
                                  "challenger_score"]
    frame = table.to_pandas()
    assert frame["version"].tolist() == [3, 3, 4, 4, 4] and frame["row"].tolist() == [0, 1, 0, 1, 2]
    assert table.column("channel").to_pylist() == ["web", "web", None, None, None]
    assert frame["challenger_prediction"].tolist()[2:] == [1, 1, 1] and frame["challenger_score"].isna().sum() == 2
    assert "20260102T030405" in key  # the file is named by its first row's time
