"""Odd but real data that used to crash a run instead of passing or breaking the contract.

Found by running `mlspec run`, `score` and `monitor` over a corpus of hostile files (time zones that
change within a column, ...). Each test writes generated data and specs to tmp_path and runs the real CLI.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli
from tests.e2e.test_contracts import (
    CSV_SOURCE,
    assert_stopped_before_training,
    good_frame,
    run,
    spec_line,
    the_failure,
    typed_frame,
    write_project,
)

# ------------------------------------------------------------------------------------------------
# time zones within one datetime column (pandas refuses to mix them: it raised, and the run crashed)
# ------------------------------------------------------------------------------------------------


def test_offsets_that_change_with_daylight_saving_are_one_column_of_instants(tmp_path: Path) -> None:
    # an export in Europe/Paris local time: +01:00 in winter, +02:00 in summer
    frame = good_frame()
    frame["when"] = [f"2024-{3 + i // 200:02d}-{1 + i % 28:02d}T10:00:00{'+01:00' if i < 200 else '+02:00'}"
                     for i in range(len(frame))]
    write_project(tmp_path, frame)
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "400 rows, contract passed" in result.stderr
    assert "internal error" not in result.stderr


def test_dates_with_and_without_a_time_zone_are_a_contract_finding(tmp_path: Path) -> None:
    frame = good_frame()
    frame.loc[[3, 7, 9], "when"] = ["2024-01-01T03:00:00+02:00", "2024-01-01T07:00:00Z", "2024-01-01T09:00:00-0500"]
    text = write_project(tmp_path, frame)
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert "internal error" not in result.stderr
    failure = the_failure(result.stderr, "when", "a time zone on every value or on none")
    assert failure["count"] == 3  # the few with a time zone, among 397 without
    assert failure["samples"] == ["2024-01-01T03:00:00+02:00", "2024-01-01T07:00:00Z", "2024-01-01T09:00:00-0500"]
    assert failure["where"] == spec_line(text, "when")


# ------------------------------------------------------------------------------------------------
# score --file gives back the columns the model does not read as they were written
# ------------------------------------------------------------------------------------------------


def test_scoring_gives_back_ids_and_codes_as_written(tmp_path: Path) -> None:
    # pandas guessed the type of a column the contract does not declare: a code lost its leading zeros,
    # and an id column with one gap became floats ("20003.0"), rounding ids above 2**53
    write_project(tmp_path, good_frame())
    assert run(tmp_path).code == 0
    batch = good_frame(6, seed=3).drop(columns=["label"])
    batch["id"] = ["9007199254740993", "", "20003", "99999999999999999999999", "7", "-0"]
    batch["postcode"] = ["01234", "00000", "", "1e5", "12.50", "NA"]
    batch.to_csv(tmp_path / "batch.csv", index=False)
    result = run_cli("-C", str(tmp_path), "score", "m", "--file", str(tmp_path / "batch.csv"), "-o", "-")
    assert result.code == 0, result.stderr
    scored = pd.read_csv(io.StringIO(result.stdout), dtype=str, keep_default_na=False)
    assert scored["id"].tolist() == batch["id"].tolist()
    assert scored["postcode"].tolist() == batch["postcode"].tolist()
    assert scored["when"].tolist() == batch["when"].tolist()



def test_a_declared_int_column_with_a_gap_is_scored_back_as_whole_numbers(tmp_path: Path) -> None:
    # a gap makes pandas hold the column as floats: the ids came back as "2.0", "3.0"
    text = write_project(tmp_path, good_frame())
    assert run(tmp_path).code == 0
    spec = tmp_path / "specs" / "p.yaml"
    spec.write_text(text.replace("id: {type: int, unique: true}", "id: {type: int, unique: true, nullable: true}"),
                    encoding="utf-8")
    frame = good_frame()
    frame.loc[0, "id"] = ""
    frame.to_csv(tmp_path / "data" / "rows.csv", index=False)
    result = run_cli("-C", str(tmp_path), "score", "m", "--source", "rows", "-o", "-")
    assert result.code == 0, result.stderr
    scored = pd.read_csv(io.StringIO(result.stdout), dtype=str, keep_default_na=False)
    assert scored["id"].tolist() == frame["id"].tolist()
    assert scored["count"].tolist() == frame["count"].tolist()


@pytest.mark.parametrize("kind", ["bool", "uint64"])
def test_an_int_column_stored_as_bool_or_unsigned_in_parquet_is_checked_not_crashed(tmp_path: Path, kind: str) -> None:
    write_project(tmp_path, None, source="    format: parquet\n    path: data/rows.parquet")
    frame = typed_frame()
    frame["count"] = (frame["count"] > 4) if kind == "bool" else frame["count"].astype("uint64")
    frame.to_parquet(tmp_path / "data" / "rows.parquet", index=False)
    result = run(tmp_path)
    assert result.code == 0, result.stderr
    assert "400 rows, contract passed" in result.stderr

# ------------------------------------------------------------------------------------------------
# a data path that is not a file of the project
# ------------------------------------------------------------------------------------------------


def test_a_data_path_linking_outside_the_project_says_what_to_do(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_project(root, None)
    good_frame().to_csv(tmp_path / "elsewhere.csv", index=False)
    (root / "data" / "rows.csv").symlink_to(tmp_path / "elsewhere.csv")
    result = run(root)
    assert_stopped_before_training(root, result)
    assert "source 'rows' path data/rows.csv resolves outside the project" in result.stderr
    assert "    spec: specs/p.yaml" in result.stderr.splitlines(), result.stderr
    assert ("help: keep the data inside the project folder, and remove any symbolic link on the way"
            in result.stderr), result.stderr


def test_a_data_path_that_is_a_folder_is_not_reported_missing(tmp_path: Path) -> None:
    write_project(tmp_path, None)
    (tmp_path / "data" / "rows.csv").mkdir()
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert "source 'rows': data/rows.csv is a folder, not a file" in result.stderr
    assert "not found" not in result.stderr
    assert "help: point the source's path at a file (a folder of Parquet parts is read with engine: duckdb and a " \
           "pattern such as data/rows.csv/*.parquet)" in result.stderr


# ------------------------------------------------------------------------------------------------
# a Parquet file that cannot be read
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "csv", "empty"])
def test_an_unreadable_parquet_file_says_what_to_do(tmp_path: Path, damage: str) -> None:
    write_project(tmp_path, None, source="    format: parquet\n    path: data/rows.parquet")
    path = tmp_path / "data" / "rows.parquet"
    typed_frame().to_parquet(path, index=False)
    whole = path.read_bytes()
    path.write_bytes({"truncated": whole[: len(whole) // 2], "csv": good_frame().to_csv(index=False).encode(),
                      "empty": b""}[damage])
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert "source 'rows': cannot read parquet file data/rows.parquet: " in result.stderr
    assert "    spec: specs/p.yaml" in result.stderr.splitlines(), result.stderr
    assert ("help: the file must be a complete Parquet file: check that it was copied or written in full"
            in result.stderr), result.stderr


def test_a_compressed_csv_file_says_it_is_compressed(tmp_path: Path) -> None:
    """A gzipped export saved as rows.csv reads as bad UTF-8; the hint names what the bytes are."""
    import gzip

    write_project(tmp_path, good_frame())
    path = tmp_path / "data" / "rows.csv"
    path.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    assert "source 'rows': cannot parse data/rows.csv: " in result.stderr, result.stderr
    assert ("help: the file is gzip-compressed: decompress it first (gunzip), the source reads plain UTF-8 CSV"
            in result.stderr), result.stderr


# ------------------------------------------------------------------------------------------------
# whole numbers too large to be held exactly
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_whole_numbers_beyond_64_bits_break_the_contract(tmp_path: Path, engine: str) -> None:
    # pandas held them as floats: two ids became one (1e+23), found as a repeat if at all
    frame = good_frame()
    frame.loc[[4, 5], "id"] = ["99999999999999999999999", "-99999999999999999999998"]
    text = write_project(tmp_path, frame, source=f"{CSV_SOURCE}\n    engine: {engine}")
    result = run(tmp_path)
    assert_stopped_before_training(tmp_path, result)
    failure = the_failure(result.stderr, "id", "within 64 bits (below 2**63 in size)")
    assert failure["count"] == 2
    assert failure["samples"] == ["99999999999999999999999", "-99999999999999999999998"]
    assert failure["where"] == spec_line(text, "id")


def test_large_whole_numbers_within_64_bits_pass(tmp_path: Path) -> None:
    frame = good_frame()
    frame["id"] = [str(2**62 + i) for i in range(len(frame))]  # int64 holds them exactly
    write_project(tmp_path, frame)
    result = run(tmp_path)
    assert result.code == 0, result.stderr
