"""Validation of cron expressions for GitHub Actions' ``on.schedule``.

GitHub accepts only classic five-field cron: minute, hour, day-of-month, month and day-of-week, each
made of ``*``, numbers, ranges, steps and comma lists, with month and weekday names. Extensions that
other cron implementations accept (macros such as ``@daily``, a seconds field, ``?``, ``L``, ``W``,
``#``) are rejected here, with a message naming the field, instead of failing later on GitHub.
GitHub also never runs a schedule more often than every five minutes, so faster schedules are
rejected too.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from mlspec.errors import MlspecError

MAX_CRON_CHARS = 200
MIN_GITHUB_INTERVAL_MINUTES = 5
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

_FIVE_FIELDS = "minute hour day-of-month month day-of-week"
_EXAMPLE_HINT = "write five fields, e.g. '0 0 * * *' (minute hour day-of-month month day-of-week)"
_FIELD_SEPARATOR_RE = re.compile(r"[ \t]+")
_NUMBER_RE = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() would also accept e.g. '²' or Arabic digits
_LAST_OR_WEEKDAY_RE = re.compile(r"[0-9]*[LW]|LW", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for the value low + i

    def describe_values(self) -> str:
        described = f"a number {self.low}-{self.high}"
        return f"{described} or a name {self.names[0]}-{self.names[-1]}" if self.names else described


_FIELDS = (
    _FieldSpec("minute", 0, 59),
    _FieldSpec("hour", 0, 23),
    _FieldSpec("day-of-month", 1, 31),
    _FieldSpec("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                                "DEC")),
    _FieldSpec("day-of-week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
_DAY_OF_MONTH, _DAY_OF_WEEK = 2, 4


class CronError(MlspecError):
    """An invalid or unsupported cron expression. `field_index` is the 0-based index of the culprit
    field (0 minute ... 4 day-of-week), or None when the problem concerns the whole expression."""

    def __init__(self, message: str, field_index: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.field_index = field_index
        self.args = (message, field_index, hint)  # every field, so the error pickles across processes


def _split_fields(expr: str) -> list[str]:
    if not isinstance(expr, str):
        raise TypeError(f"cron expression must be a string, not {type(expr).__name__}")
    if len(expr) > MAX_CRON_CHARS:
        raise CronError(f"cron expression is longer than {MAX_CRON_CHARS} characters", hint=_EXAMPLE_HINT)
    stripped = expr.strip(" \t\r\n")
    if not stripped:
        raise CronError("cron expression is empty", hint=_EXAMPLE_HINT)
    if stripped.startswith("@"):
        raise CronError(f"cron macro '{stripped.split()[0]}' is not supported",
                        hint="GitHub supports only 5-field cron; use e.g. '0 0 * * *'")
    fields = _FIELD_SEPARATOR_RE.split(stripped)
    if len(fields) != len(_FIELDS):
        if len(fields) in (6, 7):
            hint = "GitHub's cron has no seconds or year field; drop the extra field"
        else:
            hint = _EXAMPLE_HINT
        raise CronError(f"cron expression has {len(fields)} fields, but GitHub expects exactly 5 "
                        f"({_FIVE_FIELDS})", hint=hint)
    return fields


def _parse_value(text: str, item: str, index: int) -> int:
    spec = _FIELDS[index]
    if _NUMBER_RE.fullmatch(text):
        value = int(text)
        if not spec.low <= value <= spec.high:
            hint = "use 0 or SUN for Sunday" if index == _DAY_OF_WEEK and value == 7 else None
            raise CronError(f"{spec.name} field '{text}' is out of range {spec.low}-{spec.high}", index, hint)
        return value
    # The ASCII check matters: 'ſun'.upper() == 'SUN'.
    if text.isascii() and text.upper() in spec.names:
        return spec.low + spec.names.index(text.upper())
    if _LAST_OR_WEEKDAY_RE.fullmatch(text):
        raise CronError(f"{spec.name} field '{item}' uses L/W syntax, which GitHub's cron does not support",
                        index, "GitHub's cron has no 'L' (last) or 'W' (nearest weekday)")
    hint = f"expected {spec.describe_values()}"
    if not text:
        raise CronError(f"{spec.name} field '{item}' is missing a value", index, hint)
    where = f" in '{item}'" if text != item else ""
    raise CronError(f"{spec.name} field '{text}'{where} is not a valid value", index, hint)


def _parse_item(item: str, index: int) -> range:
    """Parse one comma-separated item: '*', 'N', 'N-M', '*/S', 'N-M/S' or 'N/S'."""
    spec = _FIELDS[index]
    span, has_step, step_text = item.partition("/")
    if span == "*":
        start, end = spec.low, spec.high
    else:
        first, has_dash, last = span.partition("-")
        start = _parse_value(first, item, index)
        # 'N/S' means from N to the top of the field, as in other crons.
        end = _parse_value(last, item, index) if has_dash else (spec.high if has_step else start)
        if start > end:
            raise CronError(f"{spec.name} field range '{span}' runs backwards", index,
                            "write the smaller value first; ranges do not wrap around")
    step = 1
    if has_step:
        if not _NUMBER_RE.fullmatch(step_text):
            raise CronError(f"{spec.name} field step '{step_text}' in '{item}' is not a number", index)
        step = int(step_text)
        if not 1 <= step <= spec.high:
            raise CronError(f"{spec.name} field step '{step_text}' is out of range 1-{spec.high}", index)
    return range(start, end + 1, step)


def _parse_field(text: str, index: int) -> frozenset[int]:
    spec = _FIELDS[index]
    for symbol, meaning in (("?", "'?' (any value)"), ("#", "'#' (nth weekday of the month)")):
        if symbol in text:
            message = f"{spec.name} field '{text}' uses {meaning}, which GitHub's cron does not support"
            raise CronError(message, index, "use '*' instead of '?'" if symbol == "?" else None)
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            message = f"{spec.name} field '{text}' has an empty list item"
            raise CronError(message, index, "remove the extra ','")
        values.update(_parse_item(item, index))
    return frozenset(values)


def _parse(expr: str) -> tuple[list[str], list[frozenset[int]]]:
    fields = _split_fields(expr)
    return fields, [_parse_field(text, index) for index, text in enumerate(fields)]


def _min_interval(fields: list[str], values: list[frozenset[int]]) -> int:
    minutes, hours, _, _, weekdays = values
    # Classic cron fires when day-of-month OR day-of-week matches once both are restricted. Treating
    # every weekday as a firing day whenever day-of-month is restricted gives a superset of the real
    # firing days, so the gap found is never larger than the real one: safe for a lower limit.
    if fields[_DAY_OF_MONTH] != "*":
        weekdays = frozenset(range(7))
    firings = sorted(
        day * MINUTES_PER_DAY + hour * 60 + minute for day in weekdays for hour in hours for minute in minutes
    )
    if len(firings) == 1:
        return MINUTES_PER_WEEK
    # The week repeats, so the last firing of one week is followed by the first of the next.
    wrap_around = firings[0] + MINUTES_PER_WEEK - firings[-1]
    return min(wrap_around, *(later - earlier for earlier, later in itertools.pairwise(firings)))


# The most days each month has (February's 29th in leap years).
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _check_some_day(fields: list[str], values: list[frozenset[int]]) -> None:
    """Refuse days of the month that no chosen month has (`0 0 31 2 *`): GitHub accepts such a schedule, and
    its workflow never runs. Only with day-of-week `*`: once both day fields are restricted, either one
    matching fires the schedule, so the weekdays still fire."""
    _, _, days, months, _ = values
    if fields[_DAY_OF_WEEK] != "*" or any(day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months):
        return
    raise CronError(f"day-of-month field '{fields[_DAY_OF_MONTH]}' names no day of month '{fields[3]}', so the "
                    "schedule never runs", _DAY_OF_MONTH,
                    "February has 29 days (in leap years), April, June, September and November 30")


def check_cron(expr: str) -> None:
    """Raise CronError unless `expr` is a five-field cron expression that GitHub Actions accepts, that
    fires at all, and at most every five minutes."""
    fields, values = _parse(expr)
    _check_some_day(fields, values)
    interval = _min_interval(fields, values)
    if interval < MIN_GITHUB_INTERVAL_MINUTES:
        unit = "minute" if interval == 1 else "minutes"
        message = f"minute field '{fields[0]}' fires {interval} {unit} apart, more often than GitHub allows"
        hint = f"GitHub runs scheduled workflows at most every {MIN_GITHUB_INTERVAL_MINUTES} minutes"
        raise CronError(message, 0, hint)
