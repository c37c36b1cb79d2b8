"""The runtime's expression evaluator (`mlspec.runtime.exprs`) against hand-computed values.

Trees come from the compiler's parser (what a manifest holds) and, for the error cases, are written
by hand. Semantics under test: missing values are NaN; comparisons with NaN are false; and/or/not
treat NaN as false; infinities in derived features become NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlspec.lang.expressions import parse_expression
from mlspec.runtime.exprs import ExpressionRuntimeError, as_feature, evaluate, truth

NAN = math.nan


def ev(text: str, **columns) -> np.ndarray:
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    rows = len(next(iter(arrays.values()))) if arrays else 1
    return evaluate(parse_expression(text), arrays, rows)


def same(actual: np.ndarray, expected: list) -> None:
    """Equal element by element, NaN equal to NaN, and the same length."""
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=1e-12,
                               atol=0, equal_nan=True)


def bools(actual: np.ndarray, expected: list[bool]) -> None:
    assert actual.dtype == bool, actual.dtype
    assert actual.tolist() == expected


A = np.array([1.0, -2.0, 0.0, NAN, 4.5])
B = np.array([2.0, 4.0, 0.0, 1.0, NAN])


# ------------------------------------------------------------------------------------------------
# leaves and arithmetic
# ------------------------------------------------------------------------------------------------


def test_literals_broadcast_to_rows() -> None:
    same(ev("3", a=[0, 0, 0]), [3, 3, 3])
    bools(ev("true", a=[0, 0]), [True, True])
    assert ev("'x'", a=[0, 0]).tolist() == ["x", "x"]


def test_column_is_passed_through() -> None:
    same(ev("a", a=A), A.tolist())


def test_arithmetic() -> None:
    same(ev("a + b", a=A, b=B), [3.0, 2.0, 0.0, NAN, NAN])
    same(ev("a - b", a=A, b=B), [-1.0, -6.0, 0.0, NAN, NAN])
    same(ev("a * b", a=A, b=B), [2.0, -8.0, 0.0, NAN, NAN])
    same(ev("a / b", a=A, b=B), [0.5, -0.5, NAN, NAN, NAN])  # 0/0 is NaN
    same(ev("-a", a=A), [-1.0, 2.0, -0.0, NAN, -4.5])
    same(ev("a * 2 + 1", a=A), [3.0, -3.0, 1.0, NAN, 10.0])
    same(ev("(a + 1) * 2", a=A), [4.0, -2.0, 2.0, NAN, 11.0])
    same(ev("10 - 4 - 3", a=[0]), [3.0])  # left associative
    same(ev("24 / 4 / 2", a=[0]), [3.0])


def test_modulo_is_fmod() -> None:
    """`%` keeps the sign of the dividend (C fmod), unlike Python's % (-7 % 3 == 2)."""
    same(ev("a % 3", a=[7, -7, 6, 7.5]), [1.0, -1.0, 0.0, 1.5])
    same(ev("a % 0", a=[7.0]), [NAN])


def test_integer_columns_become_floats() -> None:
    out = ev("a / 2", a=np.array([1, 2, 3], dtype=np.int64))
    assert out.dtype == float
    same(out, [0.5, 1.0, 1.5])


def test_booleans_take_part_in_arithmetic() -> None:
    same(ev("a + 1", a=np.array([True, False])), [2.0, 1.0])


def test_division_by_zero_is_infinite_until_made_a_feature() -> None:
    raw = ev("a / b", a=[1.0, -1.0, 0.0, 3.0], b=[0.0, 0.0, 0.0, 2.0])
    assert np.isposinf(raw[0]) and np.isneginf(raw[1]) and np.isnan(raw[2])
    same(as_feature(raw), [NAN, NAN, NAN, 1.5])


def test_as_feature_turns_infinities_into_nan_and_copies() -> None:
    values = np.array([1.0, np.inf, -np.inf, NAN])
    out = as_feature(values)
    same(out, [1.0, NAN, NAN, NAN])
    assert np.isinf(values[1])  # the input is untouched
    same(as_feature(np.array([True, False])), [1.0, 0.0])
    same(as_feature(np.array([3, 4], dtype=np.int32)), [3.0, 4.0])
    assert as_feature(np.array([3, 4], dtype=np.int32)).dtype == float


def test_arithmetic_on_text_is_an_error() -> None:
    with pytest.raises(ExpressionRuntimeError, match="arithmetic needs numbers"):
        ev("a + 1", a=np.array(["x", "y"], dtype=object))


# ------------------------------------------------------------------------------------------------
# comparisons and logic with NaN
# ------------------------------------------------------------------------------------------------


def test_comparisons_with_nan_are_false() -> None:
    bools(ev("a < b", a=A, b=B), [True, True, False, False, False])
    bools(ev("a <= b", a=A, b=B), [True, True, True, False, False])
    bools(ev("a > b", a=A, b=B), [False, False, False, False, False])
    bools(ev("a >= b", a=A, b=B), [False, False, True, False, False])
    bools(ev("a == b", a=A, b=B), [False, False, True, False, False])
    bools(ev("a != b", a=A, b=B), [True, True, False, False, False])  # NaN != x is false too


def test_nan_is_not_equal_to_itself() -> None:
    bools(ev("a == a", a=[NAN, 1.0]), [False, True])
    bools(ev("a != a", a=[NAN, 1.0]), [False, False])


def test_and_or_not_treat_nan_as_false() -> None:
    x = np.array([1.0, 1.0, 0.0, NAN, NAN, 0.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, NAN, NAN])
    bools(ev("x and y", x=x, y=y), [True, False, False, False, False, False])
    bools(ev("x or y", x=x, y=y), [True, True, False, True, False, False])
    bools(ev("not x", x=x), [False, False, True, True, True, True])


def test_logic_on_comparisons_with_nan() -> None:
    hour = np.array([2.0, 12.0, 23.0, NAN])
    bools(ev("hour < 6 or hour >= 23", hour=hour), [True, False, True, False])
    bools(ev("not (hour < 6)", hour=hour), [False, True, True, True])
    bools(ev("hour > 1 and hour < 20", hour=hour), [True, True, False, False])


def test_non_zero_numbers_are_true() -> None:
    bools(truth(np.array([2.0, -0.5, 0.0, NAN])), [True, True, False, False])
    bools(ev("x and true", x=[3, 0]), [True, False])


def test_string_equality() -> None:
    kind = np.array(["online", "grocery", None, "Online"], dtype=object)
    bools(ev("kind == 'online'", kind=kind), [True, False, False, False])
    bools(ev("kind != 'online'", kind=kind), [False, True, False, True])  # null is neither
    bools(ev('kind != "online" or card == 0', kind=kind, card=[1, 1, 0, 1]), [False, True, True, True])


def test_string_equality_with_nan_in_text_column() -> None:
    kind = np.array(["a", NAN, "b"], dtype=object)
    bools(ev("kind == 'a'", kind=kind), [True, False, False])
    bools(ev("kind != 'a'", kind=kind), [False, False, True])


def test_text_against_number_is_never_equal() -> None:
    bools(ev("kind == 1", kind=np.array(["1", "2"], dtype=object)), [False, False])


def test_ordering_text_is_an_error() -> None:
    with pytest.raises(ExpressionRuntimeError, match="only numbers can be ordered"):
        ev("kind < 'b'", kind=np.array(["a", "c"], dtype=object))


# ------------------------------------------------------------------------------------------------
# functions
# ------------------------------------------------------------------------------------------------


def test_abs() -> None:
    same(ev("abs(a)", a=A), [1.0, 2.0, 0.0, NAN, 4.5])


def test_log() -> None:
    raw = ev("log(a)", a=[1.0, math.e, 0.0, -1.0, NAN])
    same(raw[[0, 1, 3, 4]], [0.0, 1.0, NAN, NAN])
    assert np.isneginf(raw[2])
    same(as_feature(raw), [0.0, 1.0, NAN, NAN, NAN])


def test_log1p() -> None:
    same(ev("log1p(a)", a=[0.0, math.e - 1, 9.0, NAN]), [0.0, 1.0, math.log(10.0), NAN])
    assert np.isneginf(ev("log1p(a)", a=[-1.0])[0])
    same(ev("log1p(a)", a=[-2.0]), [NAN])


def test_sqrt() -> None:
    same(ev("sqrt(a)", a=[0.0, 4.0, 2.25, -1.0, NAN]), [0.0, 2.0, 1.5, NAN, NAN])


def test_exp() -> None:
    same(ev("exp(a)", a=[0.0, 1.0, -1.0, NAN]), [1.0, math.e, 1 / math.e, NAN])
    assert np.isposinf(ev("exp(a)", a=[1000.0])[0])
    same(as_feature(ev("exp(a)", a=[1000.0])), [NAN])


def test_clip() -> None:
    same(ev("clip(a, 0, 3)", a=[-1.0, 0.5, 3.0, 7.0, NAN]), [0.0, 0.5, 3.0, 3.0, NAN])
    same(ev("clip(a, lo, hi)", a=[5.0, 5.0], lo=[0.0, 6.0], hi=[4.0, 9.0]), [4.0, 6.0])


def test_where() -> None:
    same(ev("where(a > 0, a, 0)", a=A), [1.0, 0.0, 0.0, 0.0, 4.5])  # NaN condition takes the else branch
    same(ev("where(flag, 10, 20)", flag=[1.0, 0.0, NAN]), [10.0, 20.0, 20.0])
    same(ev("where(a > 0, 1, b)", a=[1.0, -1.0], b=[NAN, NAN]), [1.0, NAN])


def test_is_null() -> None:
    bools(ev("is_null(a)", a=A), [False, False, False, True, False])
    bools(ev("is_null(a)", a=np.array(["x", None, NAN], dtype=object)), [False, True, True])
    bools(ev("is_null(a)", a=np.array([1, 2], dtype=np.int64)), [False, False])
    bools(ev("amount >= 0 or is_null(amount)", amount=[1.0, -1.0, NAN]), [True, False, True])
    bools(ev("not is_null(a)", a=A), [True, True, True, False, True])


def test_min_max_ignore_a_missing_side() -> None:
    same(ev("min(a, b)", a=A, b=B), [1.0, -2.0, 0.0, 1.0, 4.5])
    same(ev("max(a, b)", a=A, b=B), [2.0, 4.0, 0.0, 1.0, 4.5])
    same(ev("min(a, a)", a=[NAN]), [NAN])
    same(ev("max(a, 3)", a=[1.0, 5.0]), [3.0, 5.0])


def test_round() -> None:
    same(ev("round(a)", a=[1.4, 1.6, -1.6, NAN]), [1.0, 2.0, -2.0, NAN])
    same(ev("round(a, 2)", a=[3.14159, 2.71828]), [3.14, 2.72])
    same(ev("round(a, 0)", a=[7.7]), [8.0])
    same(ev("round(a)", a=[0.5, 1.5, 2.5]), [0.0, 2.0, 2.0])  # half to even, like Python's round


@pytest.mark.parametrize(("text", "expected"), [
    ("round(a, -2)", [1200.0, -3500.0]), ("round(a, -1e0)", [1230.0, -3460.0]), ("round(a, 1)", [1234.6, -3456.4]),
])
def test_round_digits_are_the_same_with_either_engine(text: str, expected: list) -> None:
    """Negative digits round to tens, hundreds...; the DuckDB engine compiles the same digits as numpy reads."""
    duckdb = pytest.importorskip("duckdb")
    from mlspec.runtime.duck.sql import Compiler

    a = [1234.56, -3456.44]
    same(ev(text, a=a), expected)
    compiler = Compiler({"a": ('"a"', "num")})
    sql = compiler.number(parse_expression(text))
    rows = duckdb.execute(f'SELECT {sql} FROM (SELECT unnest($a) AS "a")'.replace("$a", f"${len(compiler.params) + 1}"),
                          [*compiler.params, a]).fetchall()
    same([row[0] for row in rows], expected)


def test_nested_functions() -> None:
    same(ev("sqrt(abs(a)) + log1p(max(b, 0))", a=[-4.0, 9.0], b=[-1.0, math.e - 1]), [2.0, 4.0])


def test_zero_rows() -> None:
    out = ev("a * 2 + 1", a=np.array([], dtype=float))
    assert out.shape == (0,)
    assert ev("round(a, 2)", a=np.array([], dtype=float)).shape == (0,)


# ------------------------------------------------------------------------------------------------
# trees the runtime does not know
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", [
    {"op": "pow", "args": [{"num": 2}, {"num": 3}]},
    {"op": "__import__", "args": []},
    {"op": None},
    {},
    {"lit": 3},
])
def test_unknown_node_raises(tree: dict) -> None:
    with pytest.raises(ExpressionRuntimeError, match="unknown expression node"):
        evaluate(tree, {"a": np.array([1.0])}, 1)


def test_unknown_function_raises() -> None:
    with pytest.raises(ExpressionRuntimeError, match="unknown function 'eval'"):
        evaluate({"op": "call", "fn": "eval", "args": [{"num": 1}]}, {}, 1)


def test_unknown_node_nested_inside_a_known_one_raises() -> None:
    tree = {"op": "add", "args": [{"col": "a"}, {"op": "system", "args": [{"str": "rm -rf /"}]}]}
    with pytest.raises(ExpressionRuntimeError):
        evaluate(tree, {"a": np.array([1.0])}, 1)


def test_unknown_column_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        evaluate({"col": "nope"}, {"a": np.array([1.0])}, 1)
