"""Data contracts end to end: every way data can break its contract stops `mlspec run` before training.

Each test writes a small project (spec + data) to tmp_path and runs the real CLI. A broken contract
must exit 1, name the column, the check, how many rows fail, up to five sample values and the spec
line of the column's contract, and leave nothing behind: no candidate, no artifact, no registry entry.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli

SPEC = """\
apiVersion: mlspec/v1
project: {{name: contracts, python: "3.11", seed: 5}}
sources:
  rows:
{source}
    schema:
      id: {{type: int, unique: true}}
      when: {{type: datetime}}
      amount: {{type: float, min: 0, max: 100{amount_extra}}}
      count: {{type: int, min: 0, max: 10}}
      kind: {{type: category, values: [{kind_values}]}}
      label: {{type: int, values: [0, 1]}}
    checks:
      min_rows: {min_rows}
      rows:
        - {{name: busy_means_cheap, expr: "count < 9 or amount < 50"}}
features:
  f_amount: {{source: rows, column: amount, transform: standardize{impute}}}
  f_count: {{source: rows, column: count}}
  f_kind: {{source: rows, column: kind, transform: one_hot}}
models:
  m:
    task: classification
    source: rows
    label: label
    features: [f_amount, f_count, f_kind]
    estimator: logistic_regression
    params: {{max_iter: 500}}
    split: {{method: stratified, test_fraction: 0.25}}
    metrics: [roc_auc]
gates:
  g:
    model: m
    require: ["roc_auc >= 0.6"]
"""

CSV_SOURCE = "    format: csv\n    path: data/rows.csv"
DETAIL = re.compile(r"^\s+- (?P<what>column '(?P<column>[^']+)'|dataset): check '(?P<check>[^']+)' failed for "
                    r"(?P<count>\d+) row\(s\)(?:; e\.g\. (?P<samples>.*?))?  \((?P<where>[^)]+)\)$")


def good_frame(rows: int = 400, seed: int = 1) -> pd.DataFrame:
    """Clean data that meets the contract, with a learnable label, every value as text."""
    rng = np.random.default_rng(seed)
    amount = rng.uniform(0, 100, rows)
    kind = rng.choice(["a", "b", "c"], rows)
    label = ((amount / 25 + (kind == "a") + rng.normal(0, 0.7, rows)) > 2.3).astype(int)
    frame = pd.DataFrame({
        "id": np.arange(1, rows + 1),
        "when": pd.date_range("2024-01-01", periods=rows, freq="h").strftime("%Y-%m-%dT%H:%M:%S"),
        "amount": amount.round(3),
        "count": rng.integers(0, 9, rows),
        "kind": kind,
        "label": label,
    })
    return frame.astype(str)


def write_project(root: Path, frame: pd.DataFrame | None, *, source: str = CSV_SOURCE, min_rows: int = 5,
                  amount_extra: str = "", kind_values: str = "a, b, c", impute: str = "") -> str:
    """Write specs/p.yaml (and data/rows.csv from `frame`, unless None); return the spec text."""
    (root / "specs").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    text = SPEC.format(source=source, min_rows=min_rows, amount_extra=amount_extra, kind_values=kind_values,
                       impute=impute)
    (root / "specs" / "p.yaml").write_text(text, encoding="utf-8")
    if frame is not None:
        frame.to_csv(root / "data" / "rows.csv", index=False)
    return text


def spec_line(text: str, key: str, indent: int = 6) -> str:
    """`specs/p.yaml:N` of the first line declaring `key` at `indent` spaces."""
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^ {{{indent}}}{re.escape(key)}:", line):
            return f"specs/p.yaml:{number}"
    raise AssertionError(f"{key} not in spec")


def with_values(frame: pd.DataFrame, column: str, values: dict[int, str]) -> pd.DataFrame:
    """A copy of `frame` with some cells of `column` replaced (row index -> raw text)."""
    out = frame.copy()
    for row, value in values.items():
        out.loc[row, column] = value
    return out


def failures(stderr: str) -> list[dict]:
    """Parsed failure detail lines of a broken contract."""
    found = []
    for line in stderr.splitlines():
        match = DETAIL.match(line)
        if match:
            item = match.groupdict()
            item["count"] = int(item["count"])
            item["samples"] = re.findall(r"'((?:[^'\\]|\\.)*)'", item["samples"] or "")
            found.append(item)
    return found


def the_failure(stderr: str, column: str | None, check: str) -> dict:
    """The one failure of `column` (None: dataset-level) and `check`."""
    hits = [f for f in failures(stderr) if f["column"] == column and f["check"] == check]
    assert len(hits) == 1, f"expected one failure {column}/{check}, got {failures(stderr)}\n{stderr}"
    return hits[0]


def assert_stopped_before_training(root: Path, result) -> None:
    """Exit 1, the source is the error, the model and gate never ran, nothing was stored."""
    assert result.code == 1, result.stderr
    assert re.search(r"ERROR  check source\.rows \.+ \[ERROR in", result.stderr), result.stderr
    assert "upstream source.rows failed" in result.stderr
    assert "Done. PASS=0 SKIP=2 FAIL=0 ERROR=1 TOTAL=3" in result.stderr
    state = root / ".mlspec"
    assert not (state / "candidates").exists()
    assert not (state / "artifacts").exists()
    assert not (state / "cache" / "model.m.json").exists()
    results = json.loads((state / "run_results.json").read_text(encoding="utf-8"))
    by_id = {r["node_id"]: r for r in results["results"]}
    assert by_id["source.rows"]["status"] == "error"
    assert by_id["model.m"]["status"] == "skipped"
    assert by_id["gate.g"]["status"] == "skipped"
    listing = run_cli("-C", str(root), "registry", "ls")
    assert listing.code == 0
    assert "No registered versions yet" in listing.stdout


def run(root: Path):
    return run_cli("-C", str(root), "run")


# ------------------------------------------------------------------------------------------------
# the happy path, so the failure tests below are known to fail for the reason they state
# ------------------------------------------------------------------------------------------------


def test_clean_csv_passes_trains_and_registers(tmp_path: Path) -> None:
    write_project(tmp_path, good_frame())
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "400 rows, contract passed" in result.stderr
    assert "registered m v1 as champion" in result.stderr
    assert (tmp_path / ".mlspec" / "candidates" / "m.json").is_file()


# ------------------------------------------------------------------------------------------------
# file-level failures
# ------------------------------------------------------------------------------------------------


def test_header_only_csv_fails_min_rows(tmp_path: Path) -> None:
    text = write_project(tmp_path, good_frame().iloc[:0], min_rows=50)
    assert (tmp_path / "data" / "rows.csv").read_text(encoding="utf-8").strip() == "id,when,amount,count,kind,label"
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, None, "at least 50 rows")
    assert failure["count"] == 0
    assert failure["samples"] == ["0 rows"]
    assert failure["where"] == spec_line(text, "rows", indent=2)


def test_too_few_rows_names_the_actual_count(tmp_path: Path) -> None:
    write_project(tmp_path, good_frame(rows=12), min_rows=50)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert the_failure(result.stderr, None, "at least 50 rows")["samples"] == ["12 rows"]


def test_empty_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    write_project(tmp_path, None)
    (tmp_path / "data" / "rows.csv").write_bytes(b"")
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert "source 'rows': file data/rows.csv is empty (not even a header line)" in result.stderr


def test_missing_file_is_an_error_with_a_hint(tmp_path: Path) -> None:
    write_project(tmp_path, None)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert "source 'rows': file data/rows.csv not found" in result.stderr
    assert "help: check the path (relative to the project root) or create the file" in result.stderr


@pytest.mark.parametrize("problem", ["missing", "empty"])
def test_missing_or_empty_file_names_the_spec_line(tmp_path: Path, problem: str) -> None:
    write_project(tmp_path, None)
    if problem == "empty":
        (tmp_path / "data" / "rows.csv").write_bytes(b"")
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert "    spec: specs/p.yaml" in result.stderr.splitlines(), result.stderr
    details = json.loads((tmp_path / ".mlspec" / "run_results.json").read_text(encoding="utf-8"))
    source = next(r for r in details["results"] if r["node_id"] == "source.rows")
    assert source["where"] == "specs/p.yaml"


# ------------------------------------------------------------------------------------------------
# column-level failures
# ------------------------------------------------------------------------------------------------


def test_text_in_a_numeric_column(tmp_path: Path) -> None:
    text = write_project(tmp_path, with_values(good_frame(), "amount", {2: "?", 7: "twelve", 11: "1,5"}))
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "amount", "not a number")
    assert failure["count"] == 3
    assert failure["samples"] == ["?", "twelve", "1,5"]
    assert failure["where"] == spec_line(text, "amount")


def test_samples_are_capped_at_five(tmp_path: Path) -> None:
    bad = {row: f"x{row}" for row in range(0, 70, 10)}  # 7 bad values
    write_project(tmp_path, with_values(good_frame(), "count", bad))
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "count", "not a number")
    assert failure["count"] == 7
    assert failure["samples"] == ["x0", "x10", "x20", "x30", "x40"]


def test_na_token_in_non_nullable_numeric_column_stops_the_run(tmp_path: Path) -> None:
    text = write_project(tmp_path, with_values(good_frame(), "amount", {5: "N/A"}))
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    amount = [f for f in failures(result.stderr) if f["column"] == "amount"]
    assert len(amount) == 1 and amount[0]["count"] == 1
    assert amount[0]["where"] == spec_line(text, "amount")


@pytest.mark.parametrize("nullable", [False, True])
def test_na_token_in_numeric_column_is_reported_as_text(tmp_path: Path, nullable: bool) -> None:
    """Only an empty field is missing: pandas' NA words are text, and text is not a number, nullable or not."""
    frame = with_values(good_frame(), "amount", {5: "N/A", 9: "NULL"})
    text = write_project(tmp_path, frame, amount_extra=", nullable: true" if nullable else "",
                         impute=", impute: median" if nullable else "")
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "amount", "not a number")
    assert failure["count"] == 2
    assert failure["samples"] == ["N/A", "NULL"]
    assert failure["where"] == spec_line(text, "amount")
    assert [f for f in failures(result.stderr) if f["column"] == "amount"] == [failure]  # not "not null"


def test_category_value_that_looks_like_na_is_a_value(tmp_path: Path) -> None:
    frame = with_values(good_frame(), "kind", {0: "NA", 7: "NA", 8: "NA"})
    write_project(tmp_path, frame, kind_values='a, b, c, "NA"')
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "400 rows, contract passed" in result.stderr
    assert "registered m v1 as champion" in result.stderr


def test_infinity_in_a_float_column(tmp_path: Path) -> None:
    text = write_project(tmp_path, with_values(good_frame(), "amount", {3: "inf"}))  # also breaks "<= 100"
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "amount", "finite (not inf)")
    assert failure["count"] == 1
    assert failure["samples"] == ["inf"]
    assert failure["where"] == spec_line(text, "amount")


def test_missing_value_in_non_nullable_column(tmp_path: Path) -> None:
    text = write_project(tmp_path, with_values(good_frame(), "count", {3: "", 8: ""}))
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "count", "not null")
    assert failure["count"] == 2
    assert failure["where"] == spec_line(text, "count")


def test_missing_value_in_nullable_column_passes_the_contract(tmp_path: Path) -> None:
    write_project(tmp_path, with_values(good_frame(), "amount", {4: ""}), amount_extra=", nullable: true",
                  impute=", impute: median")
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "400 rows, contract passed" in result.stderr


def test_values_below_min_and_above_max(tmp_path: Path) -> None:
    frame = with_values(good_frame(), "amount", {0: "-0.5", 1: "-3"})
    frame = with_values(frame, "count", {2: "11", 3: "99", 4: "12"})
    text = write_project(tmp_path, frame)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    low = the_failure(result.stderr, "amount", ">= 0")
    assert low["count"] == 2 and low["samples"] == ["-0.5", "-3.0"]
    assert low["where"] == spec_line(text, "amount")
    high = the_failure(result.stderr, "count", "<= 10")
    assert high["count"] == 3 and high["samples"] == ["11", "99", "12"]
    assert high["where"] == spec_line(text, "count")


def test_unseen_category(tmp_path: Path) -> None:
    text = write_project(tmp_path, with_values(good_frame(), "kind", {3: "d", 4: "A", 5: "a "}))
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "kind", "allowed values")
    assert failure["count"] == 3
    assert failure["samples"] == ["d", "A", "a "]
    assert failure["where"] == spec_line(text, "kind")


def test_whole_number_column_with_a_fraction(tmp_path: Path) -> None:
    write_project(tmp_path, with_values(good_frame(), "count", {6: "2.5"}))
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert the_failure(result.stderr, "count", "not a whole number")["samples"] == ["2.5"]


def test_duplicate_in_unique_column(tmp_path: Path) -> None:
    text = write_project(tmp_path, with_values(good_frame(), "id", {10: "3"}))
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "id", "unique")
    assert failure["count"] == 2  # both rows holding the duplicated value
    assert failure["samples"] == ["3", "3"]
    assert failure["where"] == spec_line(text, "id")


def test_missing_column(tmp_path: Path) -> None:
    text = write_project(tmp_path, good_frame().drop(columns=["kind"]))
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "kind", "column missing from the data")
    assert failure["count"] == 400
    assert failure["where"] == spec_line(text, "kind")


def test_bad_datetime(tmp_path: Path) -> None:
    frame = with_values(good_frame(), "when", {0: "2024-13-45", 1: "yesterday", 2: "2024-02-30T10:00:00"})
    text = write_project(tmp_path, frame)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "when", "not an ISO-8601 date/time")
    assert failure["count"] == 3
    assert failure["samples"] == ["2024-13-45", "yesterday", "2024-02-30T10:00:00"]
    assert failure["where"] == spec_line(text, "when")


def test_failing_row_check(tmp_path: Path) -> None:
    frame = with_values(good_frame(), "count", {20: "9", 30: "10", 40: "9"})
    frame = with_values(frame, "amount", {20: "60", 30: "75.5", 40: "10"})  # row 40 is busy but cheap: passes
    text = write_project(tmp_path, frame)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, None, "row check busy_means_cheap")
    assert failure["count"] == 2
    # the file's own line numbers (header on line 1: frame row 20 is line 22), and the rule's own spec line
    assert failure["samples"] == ["line 22", "line 32"]
    lines = (tmp_path / "data" / "rows.csv").read_text(encoding="utf-8").splitlines()
    assert [lines[21].split(",")[2:4], lines[31].split(",")[2:4]] == [["60", "9"], ["75.5", "10"]]
    rule_line = next(n for n, line in enumerate(text.splitlines(), start=1) if "name: busy_means_cheap" in line)
    assert failure["where"] == f"specs/p.yaml:{rule_line}"


def test_failing_row_check_in_parquet_counts_rows_from_one(tmp_path: Path) -> None:
    frame = with_values(good_frame(), "count", {0: "9", 7: "10"})
    frame = with_values(frame, "amount", {0: "60", 7: "75.5"})
    write_project(tmp_path, None, source="    format: parquet\n    path: data/rows.parquet")
    typed = frame.astype({"id": int, "amount": float, "count": int, "label": int})
    typed.to_parquet(tmp_path / "data" / "rows.parquet", index=False)
    result = run(tmp_path)
    assert result.code == 1, result.stderr
    assert the_failure(result.stderr, None, "row check busy_means_cheap")["samples"] == ["row 1", "row 8"]


@pytest.mark.parametrize("broken", ["missing column", "bad number"])
def test_row_check_on_a_broken_column_is_not_a_phantom_row(tmp_path: Path, broken: str) -> None:
    """busy_means_cheap reads count: when count is missing or fails its type, only that failure is reported."""
    frame = good_frame()
    if broken == "missing column":
        frame, check = frame.drop(columns=["count"]), "column missing from the data"
    else:
        frame, check = with_values(frame, "count", {12: "many"}), "not a number"
    text = write_project(tmp_path, frame)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert [(f["column"], f["check"]) for f in failures(result.stderr)] == [("count", check)], result.stderr
    assert the_failure(result.stderr, "count", check)["where"] == spec_line(text, "count")
    assert "row check" not in result.stderr
    assert "row None" not in result.stderr
    assert "source 'rows' breaks its data contract (1 failed check(s))" in result.stderr


def test_every_failure_is_reported_at_once(tmp_path: Path) -> None:
    frame = with_values(good_frame(), "kind", {3: "z"})
    frame = with_values(frame, "id", {4: "1"})
    frame = with_values(frame, "when", {5: "soon"})
    write_project(tmp_path, frame)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert "source 'rows' breaks its data contract (3 failed check(s))" in result.stderr
    assert {(f["column"], f["check"]) for f in failures(result.stderr)} == {
        ("kind", "allowed values"), ("id", "unique"), ("when", "not an ISO-8601 date/time")}
    details = json.loads((tmp_path / ".mlspec" / "run_results.json").read_text(encoding="utf-8"))
    source = next(r for r in details["results"] if r["node_id"] == "source.rows")
    assert len(source["details"]) == 3
    assert source["hint"] == "fix the data, or change the contract in the spec if the data is right"


def test_failed_contract_on_changed_data_keeps_the_old_candidate_and_is_not_cached(tmp_path: Path) -> None:
    write_project(tmp_path, good_frame())
    assert run(tmp_path).code == 0
    candidate = (tmp_path / ".mlspec" / "candidates" / "m.json").read_bytes()
    with_values(good_frame(), "kind", {0: "zzz"}).to_csv(tmp_path / "data" / "rows.csv", index=False)
    result = run(tmp_path)
    assert result.code == 1
    assert the_failure(result.stderr, "kind", "allowed values")["samples"] == ["zzz"]
    assert (tmp_path / ".mlspec" / "candidates" / "m.json").read_bytes() == candidate
    listing = run_cli("-C", str(tmp_path), "registry", "ls").stdout
    assert len([line for line in listing.splitlines() if line.startswith("m ")]) == 1
    # the failure is not cached: the same broken data fails again rather than being skipped
    again = run(tmp_path)
    assert again.code == 1
    assert "breaks its data contract" in again.stderr


# ------------------------------------------------------------------------------------------------
# other formats
# ------------------------------------------------------------------------------------------------


def typed_frame(rows: int = 400) -> pd.DataFrame:
    frame = good_frame(rows)
    return pd.DataFrame({
        "id": frame["id"].astype("int64"), "when": pd.to_datetime(frame["when"]),
        "amount": frame["amount"].astype(float), "count": frame["count"].astype("int64"),
        "kind": frame["kind"].astype(str), "label": frame["label"].astype("int64")})


def test_parquet_source_passes_and_trains(tmp_path: Path) -> None:
    write_project(tmp_path, None, source="    format: parquet\n    path: data/rows.parquet")
    typed_frame().to_parquet(tmp_path / "data" / "rows.parquet", engine="pyarrow", index=False)
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "400 rows, contract passed" in result.stderr
    assert "registered m v1 as champion" in result.stderr


def test_parquet_source_breaking_its_contract(tmp_path: Path) -> None:
    text = write_project(tmp_path, None, source="    format: parquet\n    path: data/rows.parquet")
    frame = typed_frame()
    frame.loc[7, "amount"] = 250.0
    frame.loc[8, "amount"] = np.nan
    frame.to_parquet(tmp_path / "data" / "rows.parquet", engine="pyarrow", index=False)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert the_failure(result.stderr, "amount", "<= 100")["samples"] == ["250.0"]
    assert the_failure(result.stderr, "amount", "not null")["count"] == 1
    assert the_failure(result.stderr, "amount", "<= 100")["where"] == spec_line(text, "amount")


def write_sqlite(path: Path, frame: pd.DataFrame) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER, event_when TEXT, amount REAL, count INTEGER, kind TEXT, "
                     "label INTEGER, extra TEXT)")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, 'x')",
                         frame[["id", "when", "amount", "count", "kind", "label"]].itertuples(index=False))
    conn.close()


SQL_SOURCE = ('    format: sql\n    uri: "sqlite:///data/warehouse.db"\n'
              '    query: "SELECT id, event_when AS \\"when\\", amount, count, kind, label FROM events '
              'WHERE amount >= {low}"')


def sql_frame() -> pd.DataFrame:
    frame = typed_frame()
    frame["when"] = frame["when"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return frame


def test_sql_source_passes_and_trains(tmp_path: Path) -> None:
    write_project(tmp_path, None, source=SQL_SOURCE.format(low=-1))
    write_sqlite(tmp_path / "data" / "warehouse.db", sql_frame())
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "400 rows, contract passed" in result.stderr
    assert "registered m v1 as champion" in result.stderr
    rerun = run(tmp_path)  # a SQL source cannot be fingerprinted without reading it: it is checked again
    assert rerun.code == 0
    assert "400 rows, contract passed" in rerun.stderr
    assert re.search(r"SKIP   train model\.m \.+ \[SKIP in", rerun.stderr), rerun.stderr


def test_sql_source_lineage_records_the_data_fingerprint(tmp_path: Path) -> None:
    """Regression: a model trained in-process from a SQL source once recorded data_fingerprint = null."""
    write_project(tmp_path, None, source=SQL_SOURCE.format(low=-1))
    write_sqlite(tmp_path / "data" / "warehouse.db", sql_frame())
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    shown = json.loads(run_cli("-C", str(tmp_path), "registry", "show", "m").stdout)
    assert re.fullmatch(r"[0-9a-f]{64}", shown["lineage"]["data_fingerprint"] or "")


def test_sql_source_breaking_its_contract(tmp_path: Path) -> None:
    text = write_project(tmp_path, None, source=SQL_SOURCE.format(low=-1))
    frame = sql_frame()
    frame.loc[[3, 4], "kind"] = "unknown"
    frame.loc[5, "amount"] = -0.5  # kept by the query's WHERE amount >= -1, refused by the contract
    write_sqlite(tmp_path / "data" / "warehouse.db", frame)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    kind = the_failure(result.stderr, "kind", "allowed values")
    assert kind["count"] == 2 and kind["samples"] == ["unknown", "unknown"]
    assert kind["where"] == spec_line(text, "kind")
    assert the_failure(result.stderr, "amount", ">= 0")["samples"] == ["-0.5"]


def test_sql_query_filter_is_applied(tmp_path: Path) -> None:
    """The query is what is read: filtering out the bad rows in SQL makes the contract pass."""
    write_project(tmp_path, None, source=SQL_SOURCE.format(low=0))
    frame = sql_frame()
    frame.loc[5, "amount"] = -2.0
    write_sqlite(tmp_path / "data" / "warehouse.db", frame)
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "399 rows, contract passed" in result.stderr


@pytest.mark.parametrize("query", [
    "DELETE FROM events",
    "SELECT * FROM events; DROP TABLE events",
    "UPDATE events SET label = 1",
])
def test_sql_query_that_is_not_a_select_is_refused_at_validation(tmp_path: Path, query: str) -> None:
    source = f'    format: sql\n    uri: "sqlite:///data/warehouse.db"\n    query: "{query}"'
    write_project(tmp_path, None, source=source)
    write_sqlite(tmp_path / "data" / "warehouse.db", sql_frame())
    before = (tmp_path / "data" / "warehouse.db").read_bytes()
    checked = run_cli("-C", str(tmp_path), "validate")
    assert checked.code == 1
    assert "MLS209" in checked.stdout
    result = run(tmp_path)
    assert result.code == 1
    assert "MLS209" in result.stderr
    assert not (tmp_path / ".mlspec").exists()
    assert (tmp_path / "data" / "warehouse.db").read_bytes() == before
