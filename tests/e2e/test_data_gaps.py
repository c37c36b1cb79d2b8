"""Bad data that used to pass the contract and fail later (or never): repeated columns, empty features.

A CSV whose header names a declared column twice was read with the first column winning (pandas
renames the second `x.1`); a feature whose column is empty in every row failed inside
scikit-learn with an array message and a hint about imputing. Both are now contract findings at
the source check, naming the column, the file and (for empty columns) the features, before
anything trains. Each test writes generated data and specs to tmp_path and runs the real CLI.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.test_contracts import (
    SQL_SOURCE,
    assert_stopped_before_training,
    good_frame,
    run,
    spec_line,
    sql_frame,
    write_project,
)

NOTE = re.compile(r"^\s+- (?:column '(?P<column>[^']+)'|dataset): check '(?P<check>[^']+)' failed: (?P<note>.*)  "
                  r"\((?P<where>[^)]+)\)$")


def notes(stderr: str) -> list[dict]:
    """Contract findings that are not about some rows (a repeated header, an empty column)."""
    return [m.groupdict() for m in map(NOTE.match, stderr.splitlines()) if m]


def help_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip().startswith("help: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def write_csv_with_header(root: Path, frame: pd.DataFrame, header: list[str]) -> None:
    """data/rows.csv with `frame`'s values under a header written as given (names may repeat)."""
    body = frame.to_csv(index=False, header=False)
    (root / "data" / "rows.csv").write_text(",".join(header) + "\n" + body, encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# a header naming a declared column twice
# ------------------------------------------------------------------------------------------------


def test_a_repeated_declared_column_stops_the_run_naming_column_and_file(tmp_path: Path) -> None:
    text = write_project(tmp_path, None)
    frame = good_frame()
    frame["amount_again"] = "-5"  # out of the contract's range: the first column used to win silently
    write_csv_with_header(tmp_path, frame, ["id", "when", "amount", "count", "kind", "label", "amount"])
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    [found] = notes(result.stderr)
    assert found["column"] == "amount" and found["check"] == "one column of this name"
    assert found["note"] == ("data/rows.csv has 2 columns named 'amount' (columns 3 and 7), so the contract "
                             "cannot tell which one it describes")
    assert found["where"] == spec_line(text, "amount")
    assert help_line(result.stderr) == ("help: rename or remove the extra 'amount' column in data/rows.csv "
                                        "(check the export that wrote it)")


def test_three_columns_of_one_name_are_all_listed(tmp_path: Path) -> None:
    write_project(tmp_path, None)
    frame = good_frame()
    frame.insert(2, "x1", "1")
    frame.insert(4, "x2", "2")
    write_csv_with_header(tmp_path, frame, ["id", "when", "kind", "amount", "kind", "count", "kind", "label"])
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    [found] = notes(result.stderr)
    assert found["column"] == "kind"
    assert "has 3 columns named 'kind' (columns 3, 5 and 7)" in found["note"]
    assert "the extra 'kind' columns in data/rows.csv" in help_line(result.stderr)


def test_a_repeated_column_the_contract_does_not_declare_is_ignored_like_any_undeclared_column(
        tmp_path: Path) -> None:
    write_project(tmp_path, None)
    frame = good_frame()
    frame["note_a"], frame["note_b"] = "x", "y"
    write_csv_with_header(tmp_path, frame, ["id", "when", "amount", "count", "kind", "label", "note", "note"])
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "400 rows, contract passed" in result.stderr


def test_a_column_named_like_pandas_renaming_is_not_a_repeat(tmp_path: Path) -> None:
    """`amount.1` beside `amount` is what pandas calls a repeated `amount`; here it is the file's own name."""
    write_project(tmp_path, None)
    frame = good_frame()
    frame["other"] = "7"
    write_csv_with_header(tmp_path, frame, ["id", "when", "amount", "count", "kind", "label", "amount.1"])
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "400 rows, contract passed" in result.stderr


def test_a_sql_result_with_a_repeated_column(tmp_path: Path) -> None:
    source = SQL_SOURCE.format(low=-1).replace("amount, count", "amount, count AS amount, count")
    write_project(tmp_path, None, source=source)
    frame = sql_frame()
    with sqlite3.connect(tmp_path / "data" / "warehouse.db") as conn:
        conn.execute("CREATE TABLE events (id INTEGER, event_when TEXT, amount REAL, count INTEGER, kind TEXT, "
                     "label INTEGER)")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                         frame[["id", "when", "amount", "count", "kind", "label"]].itertuples(index=False))
    conn.close()
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    [found] = notes(result.stderr)
    assert found["column"] == "amount"
    assert found["note"].startswith("the query's result has 2 columns named 'amount' (columns 3 and 4)")


# ------------------------------------------------------------------------------------------------
# a feature whose column is empty in every row
# ------------------------------------------------------------------------------------------------


def empty_amount() -> pd.DataFrame:
    frame = good_frame()
    frame["amount"] = ""
    return frame


@pytest.mark.parametrize("impute", ["", ", impute: median", ", impute: constant, fill_value: 0"])
def test_a_feature_on_an_empty_column_is_a_contract_finding(tmp_path: Path, impute: str) -> None:
    """Without impute scikit-learn said 'Input X contains NaN'; with any imputer, 'Found array with 0 feature(s)'
    (scikit-learn's imputers drop a column with no value, whatever the strategy)."""
    text = write_project(tmp_path, empty_amount(), amount_extra=", nullable: true", impute=impute)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert "Input X contains NaN" not in result.stderr and "0 feature(s)" not in result.stderr
    [found] = notes(result.stderr)
    assert found["column"] == "amount" and found["check"] == "has a value in some row"
    assert found["note"] == "it is empty in all 400 rows of data/rows.csv, and feature 'f_amount' reads it"
    assert found["where"] == spec_line(text, "amount")
    assert help_line(result.stderr) == (
        "help: column 'amount' is entirely empty in this data: check the extract that produced data/rows.csv; "
        "if it is meant to be empty, drop feature 'f_amount' from the models (imputing cannot help: there is "
        "no value to learn from)")


def test_a_derived_feature_on_an_empty_column_is_named_too(tmp_path: Path) -> None:
    write_project(tmp_path, empty_amount(), amount_extra=", nullable: true")
    spec = tmp_path / "specs" / "p.yaml"
    text = spec.read_text(encoding="utf-8")
    text = text.replace("  f_count: {source: rows, column: count}\n",
                        "  f_count: {source: rows, column: count}\n"
                        "  f_ratio: {source: rows, expr: \"amount / (count + 1)\"}\n"
                        "  f_flag: {source: rows, expr: \"amount > 50\"}\n")
    spec.write_text(text.replace("features: [f_amount, f_count, f_kind]",
                                 "features: [f_amount, f_count, f_kind, f_ratio, f_flag]"), encoding="utf-8")
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    [found] = notes(result.stderr)
    # a comparison with a missing value is false, so f_flag has values (all false) and is not named
    assert found["note"] == ("it is empty in all 400 rows of data/rows.csv, and features 'f_amount' and "
                             "'f_ratio' read it")


def test_an_empty_column_no_feature_reads_passes(tmp_path: Path) -> None:
    write_project(tmp_path, empty_amount(), amount_extra=", nullable: true")
    spec = tmp_path / "specs" / "p.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("features: [f_amount, f_count, f_kind]",
                                                             "features: [f_count, f_kind]"), encoding="utf-8")
    result = run(tmp_path)
    assert result.code == 0, result.stderr


def test_an_empty_column_that_may_not_be_null_is_reported_once(tmp_path: Path) -> None:
    write_project(tmp_path, empty_amount())
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert notes(result.stderr) == []
    assert "column 'amount': check 'not null' failed for 400 row(s)" in result.stderr
