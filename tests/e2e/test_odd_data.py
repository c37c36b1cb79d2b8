"""Odd but real data that used to crash a run instead of passing or breaking the contract.

Found by running `mlspec run`, `score` and `monitor` over a corpus of hostile files (time zones that
change within a column, ...). Each test writes generated data and specs to tmp_path and runs the real CLI.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_contracts import (
    assert_stopped_before_training,
    good_frame,
    run,
    spec_line,
    the_failure,
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

