"""A row rule that raises while pandera evaluates it (instead of judging rows) is a contract failure that names
the error, never a crash: pandera reports such a check with no row index, which once reached `place(None)`."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from mlspec.runtime import contract


class _CsvSource:
    format = "csv"


def test_a_row_rule_that_raises_is_a_failure_with_its_error_not_a_crash() -> None:
    def raising(_frame):
        raise ValueError("boom")

    schema = pa.DataFrameSchema({"a": pa.Column(None)},
                                checks=[pa.Check(raising, name="row check r", error="row check r")])
    try:
        schema.validate(pd.DataFrame({"a": [1, 2]}), lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = contract._group(exc.failure_cases, _CsvSource())
    else:
        raise AssertionError("pandera accepted a check that raised")
    assert [(f.column, f.check, f.note) for f in failures] == [
        ("*", "row check r", 'could not be evaluated: ValueError("boom")')]
    assert "rewrite the rule" in failures[0].hint
