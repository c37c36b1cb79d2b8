"""Validate refuses exactly the expressions the runtime cannot compute (issue #15).

For every column type and every operator and function of the expression language, the type check
(`spec/exprtypes.py`) and the runtime evaluator (`runtime/exprs.py`, on columns as the data loader
types them) must agree: what validate accepts evaluates, and what it refuses fails at run time.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mlspec.lang.expressions import parse_expression
from mlspec.runtime.exprs import ExpressionRuntimeError, evaluate
from mlspec.spec import exprtypes

COLUMNS = {
    "int": pd.Series([1, 2, None], dtype="Int64").astype("float64"),
    "float": pd.Series([1.5, None, 3.0]),
    "bool": pd.Series([True, False, True]),
    "category": pd.Series(["a", None, "b"], dtype=object),
    "string": pd.Series(["x", "y", None], dtype=object),
    "datetime": pd.to_datetime(pd.Series(["2024-01-01", None, "2024-03-01"]), format="ISO8601"),
}
OTHER = {"int": "i2", "float": "f2", "bool": "b2", "category": "c2", "string": "s2", "datetime": "d2"}
FORMS = ["{a} + {b}", "{a} - 1", "-{a}", "{a} * {b}", "{a} / 2", "{a} % 2", "{a} < {b}", "{a} >= {b}", "{a} > 1",
         "{a} == {b}", "{a} != \"a\"", "not {a}", "{a} and true", "{a} or {b}", "is_null({a})", "abs({a})",
         "log1p({a})", "round({a})", "clip({a}, 0, 1)", "min({a}, 1)", "where({a}, 1, 0)", "where(true, {a}, 0)",
         "{a} < \"a\""]


def _columns() -> tuple[dict[str, np.ndarray], dict[str, str]]:
    values = {t: s.to_numpy() for t, s in COLUMNS.items()}
    values |= {OTHER[t]: s.to_numpy() for t, s in COLUMNS.items()}
    types = {t: t for t in COLUMNS} | {OTHER[t]: t for t in COLUMNS}
    return values, types


CASES = [(form, a, b) for form in FORMS for a, b in itertools.product(COLUMNS, COLUMNS)
         if "{b}" in form or a == b]


@pytest.mark.parametrize(("form", "a", "b"), CASES, ids=[f"{f}|{a}|{b}" for f, a, b in CASES])
def test_validate_refuses_exactly_what_the_runtime_cannot_compute(form: str, a: str, b: str) -> None:
    values, types = _columns()
    ast = parse_expression(form.format(a=a, b=OTHER[b]))
    refused = exprtypes.check(ast, types)
    try:
        evaluate(ast, values, 3)
        failed = False
    except ExpressionRuntimeError:
        failed = True
    assert bool(refused) == failed, (refused, failed)
    for problem in refused:
        assert problem.column is None or types[problem.column] in problem.message


def test_two_datetimes_order_in_time_and_a_missing_one_is_false() -> None:
    values, _types = _columns()
    result = evaluate(parse_expression("datetime >= d2"), {"datetime": values["datetime"],
                                                           "d2": values["datetime"][::-1]}, 3)
    assert result.tolist() == [False, False, True]
