"""Tests for mlspec.lang.cron: GitHub Actions' five-field cron subset and its five-minute floor."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.lang.cron import CronError, check_cron
from tests.steps import lines_executed

VALID = [
    "0 0 * * *",
    "*/5 * * * *",
    "0-55/5 * * * *",
    "5/10 * * * *",
    "0,30 * * * *",
    "0,5,10 * * * *",
    "*/15 9-17 * * MON-FRI",
    "0 12 * * sun",
    "0 0 * * 0",
    "0 0 * * 1,3",
    "0 0 * * */2",  # SUN TUE THU SAT: Saturday to Sunday is one day
    "0 6 1 jan *",  # day-of-month is treated as a wildcard for the gap
    "30 4 1,15 * 5",
    "0 0 1 1 *",
    "59 23 31 DEC SAT",  # a restricted day-of-month counts every weekday as a possible day
    "05 04 * * *",  # leading zeros are ordinary cron
    "0  0\t*  *  *",  # runs of spaces or tabs separate fields
    "  0 0 * * *\n",
    "0 */6 * Jan-Mar,oct *",
    "0 0 * * MON/2",  # MON WED FRI
    "0 0 29 2 *",  # every leap year
    "0 0 30 1-2 *",  # January has a 30th
    "0 0 31 2 MON",  # a restricted day-of-week fires on its own (either field may match)
]


@pytest.mark.parametrize("expr", VALID)
def test_valid_schedules(expr):
    check_cron(expr)


TOO_FREQUENT = [
    ("* * * * *", 1),
    ("*/4 * * * *", 4),
    ("0,59 * * * *", 1),  # 00:59 is followed by 01:00
    ("0-4 12 * * *", 1),
    ("0,3 * * * 1", 3),
]


@pytest.mark.parametrize(("expr", "interval"), TOO_FREQUENT)
def test_schedules_faster_than_five_minutes_are_rejected(expr, interval):
    with pytest.raises(CronError) as caught:
        check_cron(expr)
    error = caught.value
    unit = "minute" if interval == 1 else "minutes"
    field = expr.split()[0]
    assert error.message == f"minute field '{field}' fires {interval} {unit} apart, more often than GitHub allows"
    assert error.field_index == 0
    assert error.hint == "GitHub runs scheduled workflows at most every 5 minutes"


_NO_DAY = "February has 29 days (in leap years), April, June, September and November 30"
# (expr, field_index, message, hint); hint None means "not checked".
INVALID = [
    ("61 * * * *", 0, "minute field '61' is out of range 0-59", None),
    ("0 24 * * *", 1, "hour field '24' is out of range 0-23", None),
    ("0 0 0 * *", 2, "day-of-month field '0' is out of range 1-31", None),
    ("0 0 32 * *", 2, "day-of-month field '32' is out of range 1-31", None),
    ("0 0 * 13 *", 3, "month field '13' is out of range 1-12", None),
    ("0 0 * * 7", 4, "day-of-week field '7' is out of range 0-6", "use 0 or SUN for Sunday"),
    ("0 0-99 * * *", 1, "hour field '99' is out of range 0-23", None),
    ("0 0 * * 99999999999999999999", 4, "day-of-week field '99999999999999999999' is out of range 0-6", None),
    ("@daily", None, "cron macro '@daily' is not supported",
     "GitHub supports only 5-field cron; use e.g. '0 0 * * *'"),
    ("@every 5m", None, "cron macro '@every' is not supported", None),
    ("0 0 0 * * *", None,
     "cron expression has 6 fields, but GitHub expects exactly 5 (minute hour day-of-month month day-of-week)",
     "GitHub's cron has no seconds or year field; drop the extra field"),
    ("0 0 * *", None,
     "cron expression has 4 fields, but GitHub expects exactly 5 (minute hour day-of-month month day-of-week)",
     None),
    ("", None, "cron expression is empty", None),
    ("   ", None, "cron expression is empty", None),
    ("0 0 ? * *", 2, "day-of-month field '?' uses '?' (any value), which GitHub's cron does not support",
     "use '*' instead of '?'"),
    ("0 0 * * 1#2", 4,
     "day-of-week field '1#2' uses '#' (nth weekday of the month), which GitHub's cron does not support", None),
    ("0 0 L * *", 2, "day-of-month field 'L' uses L/W syntax, which GitHub's cron does not support", None),
    ("0 0 15W * *", 2, "day-of-month field '15W' uses L/W syntax, which GitHub's cron does not support", None),
    ("0 0 LW * *", 2, "day-of-month field 'LW' uses L/W syntax, which GitHub's cron does not support", None),
    ("0 0 * * 5l", 4, "day-of-week field '5l' uses L/W syntax, which GitHub's cron does not support", None),
    ("*/0 * * * *", 0, "minute field step '0' is out of range 1-59", None),
    ("*/60 * * * *", 0, "minute field step '60' is out of range 1-59", None),
    ("0 0 * * */7", 4, "day-of-week field step '7' is out of range 1-6", None),
    ("*/x * * * *", 0, "minute field step 'x' in '*/x' is not a number", None),
    ("*/ * * * *", 0, "minute field step '' in '*/' is not a number", None),
    ("*/5/2 * * * *", 0, "minute field step '5/2' in '*/5/2' is not a number", None),
    ("5-2 * * * *", 0, "minute field range '5-2' runs backwards",
     "write the smaller value first; ranges do not wrap around"),
    ("0 0 * * FRI-MON", 4, "day-of-week field range 'FRI-MON' runs backwards", None),
    ("1,,2 * * * *", 0, "minute field '1,,2' has an empty list item", "remove the extra ','"),
    ("0, * * * *", 0, "minute field '0,' has an empty list item", None),
    ("5- * * * *", 0, "minute field '5-' is missing a value", "expected a number 0-59"),
    ("-5 * * * *", 0, "minute field '-5' is missing a value", None),
    ("0 0 * FOO *", 3, "month field 'FOO' is not a valid value", "expected a number 1-12 or a name JAN-DEC"),
    ("0 0 * * MONDAY", 4, "day-of-week field 'MONDAY' is not a valid value",
     "expected a number 0-6 or a name SUN-SAT"),
    ("0 0 * * ſun", 4, "day-of-week field 'ſun' is not a valid value", None),  # 'ſun'.upper() == 'SUN'
    ("0 0 JAN * *", 2, "day-of-month field 'JAN' is not a valid value", "expected a number 1-31"),
    ("0 ٣ * * *", 1, "hour field '٣' is not a valid value", None),  # not an ASCII digit
    ("*-5 * * * *", 0, "minute field '*' in '*-5' is not a valid value", None),
    ("1.5 * * * *", 0, "minute field '1.5' is not a valid value", None),
    ("0 0 * * 1-2-3", 4, "day-of-week field '2-3' in '1-2-3' is not a valid value", None),
    ("0 0 * * *" + " " * 200, None, "cron expression is longer than 200 characters", None),
    # valid fields whose days never meet: GitHub accepts them, and the workflow never runs
    ("0 0 31 2 *", 2, "day-of-month field '31' names no day of month '2', so the schedule never runs", _NO_DAY),
    ("0 0 30,31 FEB *", 2, "day-of-month field '30,31' names no day of month 'FEB', so the schedule never runs",
     _NO_DAY),
    ("0 0 31 4,6,9,11 *", 2,
     "day-of-month field '31' names no day of month '4,6,9,11', so the schedule never runs", _NO_DAY),
]


@pytest.mark.parametrize(("expr", "field_index", "message", "hint"), INVALID)
def test_invalid_expressions_name_the_field(expr, field_index, message, hint):
    with pytest.raises(CronError) as caught:
        check_cron(expr)
    error = caught.value
    assert (error.field_index, error.message) == (field_index, message)
    assert str(error) == message
    if hint is not None:
        assert error.hint == hint


def test_non_string_is_a_type_error():
    with pytest.raises(TypeError):
        check_cron(5)


def test_errors_are_picklable():
    error = pickle.loads(pickle.dumps(CronError("boom", 3, "hint")))
    assert (error.message, error.field_index, error.hint) == ("boom", 3, "hint")


# An untrusted expression costs bounded work: firings are enumerated over one week (10,080 minutes), so
# "* * * * *" is the worst case, about 41,000 lines of Python. Enumerating a month or a year instead, or
# anything that grows with the text beyond linearly, passes this bound.
MAX_LINES = 10 * 10080
MAX_LINES_PER_CHAR = 50


def check_quietly(expr: str) -> CronError | None:
    """check_cron's verdict as a value: None when accepted, the CronError when refused."""
    try:
        check_cron(expr)
    except CronError as error:
        return error
    return None


def run_untrusted(expr):
    outcome: list[CronError | None] = []
    work = lines_executed(lambda: outcome.append(check_quietly(expr)))
    assert work <= MAX_LINES + MAX_LINES_PER_CHAR * len(expr), f"{work} lines of Python for {expr!r}"
    error = outcome[0]
    if error is not None:
        assert error.field_index in (None, 0, 1, 2, 3, 4)
        assert error.message


def test_the_work_bound_holds_for_the_busiest_schedules():
    for expr in ("* * * * *", "0-59 0-23 1-31 1-12 0-6", "*/1,*/1 */1 * * *"):
        work = lines_executed(lambda expr=expr: check_quietly(expr))
        assert MAX_LINES / 10 < work <= MAX_LINES  # the week is enumerated, and that is within the bound


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_random_text_only_ever_raises_cron_error(expr):
    run_untrusted(expr)


cron_field = st.lists(
    st.sampled_from(["*", "0", "1", "5", "7", "12", "23", "31", "59", "60", "-", "/", ",", "MON", "jan", "L", "W",
                     "?", "#", "x", "@"]),
    min_size=1, max_size=6,
).map("".join)


@settings(max_examples=600, deadline=None)
@given(st.lists(cron_field, min_size=0, max_size=7).map(" ".join))
def test_cron_token_soup_only_ever_raises_cron_error(expr):
    run_untrusted(expr)
