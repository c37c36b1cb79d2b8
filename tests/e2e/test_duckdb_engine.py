"""The DuckDB engine agrees with the pandas engine on real files (issue #19).

The same CSV and Parquet files, full of hostile names and values (SQL in text, quotes, backslashes,
unicode, NULLs, infinities, columns named like SQL keywords or with quotes in their names, a repeated
column), are checked with either engine: the contract findings are identical, item for item. A monitor
over the same batch gives the same contract result and the same drift scores (exactly when the sample
holds every row, within the report's stated bound when it does not). A model trains on the seeded
sample its source declares, and the CLI refuses `engine: duckdb` where it cannot work.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlspec.api import load
from mlspec.runtime import contract, data
from mlspec.runtime.duck import contract as duck_contract
from mlspec.runtime.duck import frames
from mlspec.runtime.duck.scan import Scan
from tests.conftest import run_cli
from tests.e2e.test_run import make_frame, spec_doc, statuses, write_spec

HOSTILE_TEXT = ["web", "app", "x'); DROP TABLE t; --", 'say "hi"', "back\\slash", "naïve ünïcödé ☃", "", None,
                "$1", "?", "NULL"]


def hostile_frame(rows: int = 400, seed: int = 1) -> pd.DataFrame:
    """Columns named like SQL keywords; text values that would break SQL pasted together; missing values."""
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 30.0, rows).round(3)
    amount[rng.random(rows) < 0.05] = np.nan
    amount[7], amount[11] = -5.0, np.inf  # below the minimum; not finite
    select = rng.integers(0, 30, rows).astype(float)
    select[[3, 9]] = [41.0, 2.5]  # above the maximum; not a whole number (a float column declared int)
    order = rng.choice(HOSTILE_TEXT, rows)
    group = rng.choice(["a", "b", "c"], rows).astype(object)
    group[[5, 6]] = None
    return pd.DataFrame({
        "id": np.arange(rows) % (rows - 3),  # three repeated ids
        "select": select,
        "order": order,
        "group": group,
        "amount": amount,
        "flag": rng.choice([True, False], rows),
        "when": pd.date_range("2024-01-01", periods=rows, freq="h"),
        'we"ird co,l': rng.random(rows),  # undeclared: its name only ever reaches DuckDB quoted
        "ünïcode": rng.random(rows),
    })


def hostile_doc(path: str, fmt: str, engine: str) -> dict:
    return {
        "apiVersion": "mlspec/v1",
        "project": {"name": "hostile", "python": "3.11", "seed": 5},
        "sources": {"events": {
            "format": fmt, "path": path, "engine": engine,
            "schema": {
                "id": {"type": "int", "unique": True},
                "select": {"type": "int", "min": 0, "max": 30},
                "order": {"type": "category", "values": ["web", "app", "x'); DROP TABLE t; --", 'say "hi"'],
                          "nullable": False},
                "group": {"type": "category", "values": ["a", "b"], "nullable": True},
                "amount": {"type": "float", "min": 0, "nullable": False},
                "flag": {"type": "bool"},
                "when": {"type": "datetime"},
            },
            "checks": {"min_rows": 10, "rows": [
                {"name": "quoted", "expr": "order != \"x'); DROP TABLE t; --\" or amount > 20"},
                {"name": "arith", "expr": "log1p(amount) * 2 - round(amount / 1000, 1) < 10 or is_null(amount)"},
                {"name": "cases", "expr": "where(flag, amount, -amount) >= 0 and not (order == \"$1\")"},
            ]},
        }},
    }


def project(root: Path, frame: pd.DataFrame, fmt: str, engine: str) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    path = f"data/events.{fmt}"
    if fmt == "csv":
        frame.to_csv(root / path, index=False)
    else:
        frame.to_parquet(root / path, index=False)
    write_spec(root, hostile_doc(path, fmt, engine))
    return root


def both_engines(root: Path) -> tuple[list, list]:
    manifest = load(root).manifest
    node = manifest.nodes["source.events"]
    by_pandas = contract.check(node, data.load(node, root))
    with Scan(node, root) as scan:
        _rows, by_duckdb = duck_contract.check(node, scan)
    return by_pandas, by_duckdb


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_hostile_files_give_identical_contract_findings(tmp_path, fmt) -> None:
    root = project(tmp_path, hostile_frame(), fmt, "duckdb")
    by_pandas, by_duckdb = both_engines(root)
    checks = {(f.column, f.check) for f in by_pandas}
    # the file breaks every kind of check, so agreement is not agreement on nothing
    assert {("id", "unique"), ("select", "not a whole number"), ("order", "allowed values"), ("order", "not null"),
            ("group", "allowed values"), ("amount", "not null"), ("amount", ">= 0"), ("amount", "finite (not inf)"),
            ("*", "row check quoted"), ("*", "row check arith"), ("*", "row check cases")} <= checks
    assert by_duckdb == by_pandas


def test_a_repeated_and_a_missing_column_are_found_alike(tmp_path) -> None:
    frame = hostile_frame().drop(columns=["flag"])
    root = project(tmp_path, frame, "csv", "duckdb")
    text = (root / "data" / "events.csv").read_text(encoding="utf-8").splitlines()
    text = [f"{line},{line.split(',')[1]}" for line in text]  # `select` twice
    (root / "data" / "events.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    by_pandas, by_duckdb = both_engines(root)
    assert ("flag", data.MISSING_COLUMN) in {(f.column, f.check) for f in by_pandas}
    assert ("select", data.DUPLICATE_COLUMN) in {(f.column, f.check) for f in by_pandas}
    assert by_duckdb == by_pandas


def test_the_cli_reports_a_broken_contract_the_same_way_with_either_engine(tmp_path) -> None:
    outputs = {}
    for engine in ("pandas", "duckdb"):
        root = project(tmp_path / engine, hostile_frame(), "parquet", engine)
        result = run_cli("-C", str(root), "run", "-j", "1", "-s", "source:events")
        assert result.code == 1
        assert "Traceback" not in result.stderr
        outputs[engine] = [line for line in result.stderr.splitlines() if "check '" in line]
    assert outputs["duckdb"] == outputs["pandas"] and len(outputs["pandas"]) >= 10


def monitor_project(root: Path, rows: int, engine: str) -> Path:
    doc = spec_doc()
    doc["sources"]["live"] = {**doc["sources"]["events"], "path": "data/live.parquet", "format": "parquet",
                              "engine": engine}
    doc["models"].pop("risk_gbm")
    doc["gates"].pop("risk_gbm_release")
    doc["monitors"] = {"risk_watch": {"model": "risk_lr", "data": "live", "schedule": "0 6 * * *",
                                      "drift": {"method": "ks", "prediction": True}, "on_alert": ["open_issue"]}}
    write_spec(root, doc)
    (root / "data").mkdir(parents=True, exist_ok=True)
    make_frame(rows=2000).to_csv(root / "data" / "events.csv", index=False)
    live = make_frame(rows=rows, seed=4)
    live["signal"] = live["signal"] + 0.3  # drift in one column
    live.loc[5, "hour"] = 30  # and a contract break
    live.to_parquet(root / "data" / "live.parquet", index=False)
    return root


def monitor_reports(tmp_path: Path, rows: int, monkeypatch, sample_rows: int | None = None) -> dict:
    reports = {}
    for engine in ("pandas", "duckdb"):
        root = monitor_project(tmp_path / engine, rows, engine)
        assert run_cli("-C", str(root), "run", "-j", "1", "--approve").code == 0
        if sample_rows is not None:
            monkeypatch.setenv("MLSPEC_DUCKDB_SAMPLE_ROWS", str(sample_rows))
        result = run_cli("-C", str(root), "monitor")
        monkeypatch.delenv("MLSPEC_DUCKDB_SAMPLE_ROWS", raising=False)
        assert result.code == 1 and "Traceback" not in result.stderr  # an alert: drift and the contract break
        reports[engine] = json.loads((root / ".mlspec/reports/monitor.risk_watch/report.json").read_text())
    return reports


def test_a_monitor_gives_the_same_report_when_the_sample_holds_every_row(tmp_path, monkeypatch) -> None:
    reports = monitor_reports(tmp_path, 3000, monkeypatch)
    pandas_report, duck_report = reports["pandas"], reports["duckdb"]
    assert duck_report["contract"] == pandas_report["contract"] and not pandas_report["contract"]["passed"]
    assert duck_report["rows"] == pandas_report["rows"] == 3000
    assert duck_report["drift"]["approximation"]["exact"] is True
    pandas_columns = {c["column"]: c for c in pandas_report["drift"]["columns"]}
    for column in duck_report["drift"]["columns"]:
        expected = pandas_columns[column["column"]]
        assert column["verdict"] == expected["verdict"]
        assert column["score"] == pytest.approx(expected["score"], abs=1e-12), column["column"]
        assert column["live"].get("proportions") == pytest.approx(expected["live"].get("proportions"))
    assert "signal" in duck_report["drift"]["drifted"]
    assert duck_report["drift"]["prediction"]["score"] == pytest.approx(pandas_report["drift"]["prediction"]["score"])


def test_a_sampled_monitor_stays_within_the_bound_its_report_states(tmp_path, monkeypatch) -> None:
    reports = monitor_reports(tmp_path, 20_000, monkeypatch, sample_rows=4000)
    pandas_report, duck_report = reports["pandas"], reports["duckdb"]
    approximation = duck_report["drift"]["approximation"]
    assert approximation["exact"] is False and approximation["sample_rows"] == 4000
    assert 0.02 < approximation["ks_bound"] < 0.05
    assert duck_report["contract"] == pandas_report["contract"]
    pandas_columns = {c["column"]: c for c in pandas_report["drift"]["columns"]}
    for column in duck_report["drift"]["columns"]:
        expected = pandas_columns[column["column"]]
        if column["kind"] == "numeric" and column["score"] is not None:
            assert abs(column["score"] - expected["score"]) <= approximation["ks_bound"], column["column"]
        assert column["live"].get("proportions") == pytest.approx(expected["live"].get("proportions")), \
            column["column"]  # the bins' counts are exact
    assert duck_report["drift"]["drifted"] == pandas_report["drift"]["drifted"]
    summary = (tmp_path / "duckdb/.mlspec/reports/monitor.risk_watch/summary.md").read_text(encoding="utf-8")
    assert f"seeded sample of 4,000 rows (ks within {approximation['ks_bound']:.4f}" in summary


def test_a_model_trains_on_the_seeded_sample_its_source_declares(tmp_path) -> None:
    doc = spec_doc()
    source = doc["sources"]["events"]
    source.update({"format": "parquet", "path": "data/parts/*.parquet", "engine": "duckdb",
                   "training": {"sample_rows": 900}})
    source.pop("delimiter", None)
    doc["models"].pop("risk_gbm")
    doc["gates"].pop("risk_gbm_release")
    write_spec(tmp_path, doc)
    (tmp_path / "data" / "parts").mkdir(parents=True)
    frame = make_frame(rows=3000)
    for part in range(3):
        frame.iloc[part * 1000:(part + 1) * 1000].to_parquet(tmp_path / f"data/parts/p{part}.parquet", index=False)
    first = run_cli("-C", str(tmp_path), "run", "-j", "1")
    assert first.code == 0, first.stderr
    assert "3000 rows, contract passed" in first.stderr
    candidate = json.loads((tmp_path / ".mlspec/candidates/risk_lr.json").read_text())
    assert candidate["rows_train"] + candidate["rows_test"] == 900
    assert candidate["profile"]["columns"]["signal"]["count"] == 3000  # the reference describes every row
    again = run_cli("-C", str(tmp_path), "run", "-j", "1")
    assert statuses(again.stderr)["model.risk_lr"] == "SKIP"
    manifest = load(tmp_path).manifest
    node = manifest.nodes["source.events"]
    one = frames.read_training(node, tmp_path, manifest.project.seed).frame
    two = frames.read_training(node, tmp_path, manifest.project.seed).frame
    pd.testing.assert_frame_equal(one, two)  # the same rows, in file order, every time
    assert one["event_id"].is_monotonic_increasing and len(one) == 900


@pytest.mark.parametrize(("change", "message"), [
    ({"format": "sql", "uri": "sqlite:///data/x.db", "table": "t", "engine": "duckdb"},
     "engine: duckdb reads CSV and Parquet files, not a SQL source"),
    ({"training": {"sample_rows": 10}}, "training: (a sample or window to train on) needs engine: duckdb"),
    ({"engine": "duckdb", "training": {"window": "30d"}, "timestamp": None},
     "training.window needs the source's timestamp column"),
    ({"engine": "duckdb", "training": {}}, "training: needs sample_rows or window"),
    ({"path": "data/*.csv"}, "is a pattern (*), which only a source with engine: duckdb reads"),
])
def test_the_engine_where_it_cannot_work_is_a_clear_error(tmp_path, change, message) -> None:
    doc = spec_doc()
    source = doc["sources"]["events"]
    for key, value in change.items():
        if value is None:
            source.pop(key, None)
        else:
            source[key] = value
    if source["format"] == "sql":
        source.pop("path")
        source.pop("delimiter", None)
    write_spec(tmp_path, doc)
    result = run_cli("-C", str(tmp_path), "validate")
    assert result.code == 1
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_parquet_parts_on_object_storage_are_read_through_fsspec(tmp_path, s3_server) -> None:
    # in fresh processes: fsspec keeps an event-loop thread for the rest of the process, which later tests that
    # fork would refuse
    env = {**os.environ, **s3_server.env}
    bucket = s3_server.new_bucket()
    frame = hostile_frame(rows=600)
    for part, start in enumerate(range(0, 600, 200)):
        buffer = io.BytesIO()
        frame.iloc[start:start + 200].to_parquet(buffer, index=False)
        s3_server.put(bucket, f"events/day={part}/part-0.parquet", buffer.getvalue())
    s3_server.put(bucket, "events/_SUCCESS", b"")  # not matched by the pattern
    outputs = {}
    for engine in ("pandas", "duckdb"):
        root = tmp_path / engine
        write_spec(root, hostile_doc(f"s3://{bucket}/events/day=*/*.parquet", "parquet", engine))
        result = subprocess.run([sys.executable, "-m", "mlspec", "-C", str(root), "run", "-j", "1", "-s",
                                 "source:events"], capture_output=True, text=True, env=env, check=False, timeout=600)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        outputs[engine] = [line for line in result.stderr.splitlines() if "check '" in line]
    assert outputs["duckdb"] == outputs["pandas"] and len(outputs["pandas"]) >= 10
    assert any("column 'id'" in line and "'unique'" in line for line in outputs["duckdb"])


def test_scoring_streams_batches_and_writes_what_the_pandas_engine_writes(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(frames, "BATCH_ROWS", 700)  # 2,500 rows: four record batches
    outputs = {}
    for engine in ("pandas", "duckdb"):
        root = monitor_project(tmp_path / engine, 2500, engine)
        clean = make_frame(rows=2500, seed=4)
        clean["note"] = np.where(np.arange(2500) % 7 == 0, 'x"; DROP TABLE t; --', "ok")  # undeclared, kept
        clean.to_parquet(root / "data" / "live.parquet", index=False)
        assert run_cli("-C", str(root), "run", "-j", "1", "--approve").code == 0
        result = run_cli("-C", str(root), "score", "risk_lr", "--source", "live", "-o", str(root / "scores.csv"))
        assert result.code == 0, result.stderr
        outputs[engine] = (root / "scores.csv").read_text(encoding="utf-8")
        lineage = json.loads((root / "scores.csv.json").read_text(encoding="utf-8"))
        assert lineage["rows"] == 2500
    assert outputs["duckdb"] == outputs["pandas"]
    assert outputs["duckdb"].count("\n") == 2501 and not list((tmp_path / "duckdb/.mlspec/scores").glob("*.partial"))


def test_a_model_trains_on_the_window_its_source_declares(tmp_path) -> None:
    doc = spec_doc()
    doc["sources"]["events"].update({"engine": "duckdb", "training": {"window": "10d"}})
    doc["models"].pop("risk_gbm")
    doc["gates"].pop("risk_gbm_release")
    write_spec(tmp_path, doc)
    (tmp_path / "data").mkdir()
    frame = make_frame(rows=1500)  # one row every 37 minutes: about 38 days
    frame.to_csv(tmp_path / "data" / "events.csv", index=False)
    result = run_cli("-C", str(tmp_path), "run", "-j", "1")
    assert result.code == 0, result.stderr
    stamps = pd.to_datetime(frame["event_time"])
    expected = int((stamps >= stamps.max() - pd.Timedelta(days=10)).sum())
    candidate = json.loads((tmp_path / ".mlspec/candidates/risk_lr.json").read_text())
    assert candidate["rows_train"] + candidate["rows_test"] == expected < 1500


def test_without_engine_a_source_past_the_size_threshold_is_monitored_with_duckdb(tmp_path, monkeypatch) -> None:
    from mlspec.runtime import duck

    root = monitor_project(tmp_path, 3000, "duckdb")
    spec = (root / "specs" / "risk.yaml").read_text(encoding="utf-8")
    (root / "specs" / "risk.yaml").write_text(spec.replace("engine: duckdb", ""), encoding="utf-8")
    assert run_cli("-C", str(root), "run", "-j", "1", "--approve").code == 0
    run_cli("-C", str(root), "monitor")
    report = json.loads((root / ".mlspec/reports/monitor.risk_watch/report.json").read_text())
    assert "approximation" not in report["drift"]  # 3,000 rows: pandas
    monkeypatch.setattr(duck, "AUTO_BYTES", (root / "data" / "live.parquet").stat().st_size)
    run_cli("-C", str(root), "monitor")
    report = json.loads((root / ".mlspec/reports/monitor.risk_watch/report.json").read_text())
    assert report["drift"]["approximation"]["engine"] == "duckdb"


def test_duckdb_never_spills_through_a_planted_link(tmp_path) -> None:
    root = project(tmp_path / "project", hostile_frame(), "parquet", "duckdb")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / ".mlspec").symlink_to(elsewhere)
    result = run_cli("-C", str(root), "run", "-j", "1", "-s", "source:events")
    assert result.code == 1 and "leads outside the project" in result.stderr
    assert not any(elsewhere.iterdir())
