"""Tests for mlspec.lang.expressions: exact ASTs, exact error positions, canonical rendering, limits, fuzzing."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlspec.lang import expressions
from mlspec.lang.expressions import (
    FUNCTIONS,
    ExprError,
    columns_of,
    functions_of,
    parse_expression,
    render,
)
from mlspec.lang.requirements import Requirement, parse_requirement
from tests.steps import lines_executed


def col(name):
    return {"col": name}


def num(value):
    return {"num": value}


def op(name, *args):
    return {"op": name, "args": list(args)}


def call(fn, *args):
    return {"op": "call", "fn": fn, "args": list(args)}


VALID_EXPRESSIONS = [
    ("hour < 6", op("lt", col("hour"), num(6))),
    ("amount / (num_items + 1)", op("div", col("amount"), op("add", col("num_items"), num(1)))),
    ("log1p(amount) * 2", op("mul", call("log1p", col("amount")), num(2))),
    (
        'merchant == "travel" and is_foreign == 1',
        op("and", op("eq", col("merchant"), {"str": "travel"}), op("eq", col("is_foreign"), num(1))),
    ),
    ("where(amount > 100, 1, 0)", call("where", op("gt", col("amount"), num(100)), num(1), num(0))),
    ("not card_present", op("not", col("card_present"))),
    ("is_null(customer_age)", call("is_null", col("customer_age"))),
    ("clip(amount, 0, 1000)", call("clip", col("amount"), num(0), num(1000))),
    ("amount >= 0 or is_null(amount)", op("or", op("ge", col("amount"), num(0)), call("is_null", col("amount")))),
    ("end_time >= start_time", op("ge", col("end_time"), col("start_time"))),
    ("x", col("x")),
    ("_private1", col("_private1")),
    ("1.5", num(1.5)),
    (".5", num(0.5)),
    ("1e-3", num(0.001)),
    ("2E3", num(2000.0)),
    ("1.", num(1.0)),
    ("0", num(0)),
    ("true", {"bool": True}),
    ("false", {"bool": False}),
    ("'single'", {"str": "single"}),
    (r'"say \"hi\""', {"str": 'say "hi"'}),
    (r"'it\'s'", {"str": "it's"}),
    (r"'back\\slash'", {"str": "back\\slash"}),
    ("''", {"str": ""}),
    ("-x", op("neg", col("x"))),
    ("--x", op("neg", op("neg", col("x")))),
    ("not not x", op("not", op("not", col("x")))),
    ("a - b - c", op("sub", op("sub", col("a"), col("b")), col("c"))),
    ("a - (b - c)", op("sub", col("a"), op("sub", col("b"), col("c")))),
    ("a + b * c", op("add", col("a"), op("mul", col("b"), col("c")))),
    ("a % b / c", op("div", op("mod", col("a"), col("b")), col("c"))),
    ("-a * b", op("mul", op("neg", col("a")), col("b"))),
    ("a * -b", op("mul", col("a"), op("neg", col("b")))),
    ("a or b and c", op("or", col("a"), op("and", col("b"), col("c")))),
    ("not a and b", op("and", op("not", col("a")), col("b"))),
    ("not a == b", op("not", op("eq", col("a"), col("b")))),
    ("a != b", op("ne", col("a"), col("b"))),
    ("a <= b", op("le", col("a"), col("b"))),
    ("(a < b) == c", op("eq", op("lt", col("a"), col("b")), col("c"))),
    ("round(x)", call("round", col("x"))),
    ("round(x, 2)", call("round", col("x"), num(2))),
    ("round(x, -3)", call("round", col("x"), op("neg", num(3)))),
    ("round(x, 15)", call("round", col("x"), num(15))),
    ("round(x, 1e1)", call("round", col("x"), num(10.0))),
    ("min(a, max(b, 0))", call("min", col("a"), call("max", col("b"), num(0)))),
    ("log(x)", call("log", col("x"))),
    ("log", col("log")),  # a column may share a function's name
    ("champion", col("champion")),
    ("\tx\n+\r\n1 ", op("add", col("x"), num(1))),
]


@pytest.mark.parametrize(("text", "expected"), VALID_EXPRESSIONS)
def test_parse_expression_builds_exact_ast(text, expected):
    ast = parse_expression(text)
    assert ast == expected
    assert json.loads(json.dumps(ast)) == ast


def test_integers_stay_integers_and_floats_stay_floats():
    assert type(parse_expression("7")["num"]) is int
    assert type(parse_expression("7.0")["num"]) is float
    assert type(parse_expression("7e0")["num"]) is float


# (text, offset, length, message, hint); hint None means "not checked".
_DIGITS_HINT = "write the digits as a number, e.g. round(x, 2), or round(x, -3) for thousands"
EXPRESSION_ERRORS = [
    ("", 0, 1, "expression is empty", None),
    ("   ", 0, 1, "expression is empty", None),
    ("a.b", 0, 3, "'a.b' uses attribute access",
     "expressions name columns directly; attribute access is not allowed"),
    ("x + champion.roc_auc", 4, 16, "'champion.roc_auc' uses attribute access", None),
    ("__class__", 0, 9, "names starting with '__' are not allowed: '__class__'", None),
    ("a = 1", 2, 1, "'=' is not allowed", "use == to compare"),
    ("a && b", 2, 2, "'&&' is not allowed", "use and"),
    ("a || b", 2, 2, "'||' is not allowed", "use or"),
    ("!a", 0, 1, "'!' is not allowed", "use not"),
    ("x ** 2", 2, 2, "'**' is not allowed", "there is no power operator; multiply instead, e.g. x * x"),
    ("a => b", 2, 2, "'=>' is not allowed", "did you mean '>='?"),
    ("a <> b", 2, 2, "'<>' is not allowed", "did you mean '!='?"),
    ("a[0]", 1, 1, "'[' is not allowed", "indexing is not supported"),
    ("a]", 1, 1, "']' is not allowed", "indexing is not supported"),
    ("{a}", 0, 1, "'{' is not allowed", "braces are not supported"),
    ("a; b", 1, 1, "';' is not allowed", None),
    ("`a`", 0, 1, "'`' is not allowed", None),
    ("a @ b", 2, 1, "unexpected character '@'", None),
    ("$a", 0, 1, "unexpected character '$'", None),
    ("a ≥ b", 2, 1, "'≥' is not allowed", "did you mean '>='?"),
    ("a\u00a0+ b", 1, 1, "unexpected character (U+00A0 NO-BREAK SPACE)", None),
    ("é", 0, 1, "unexpected character 'é' (U+00E9 LATIN SMALL LETTER E WITH ACUTE)", None),
    ("a < b < c", 6, 1, "comparisons cannot be chained", "write a < b and b < c"),
    ("0 < x + 1 <= 10", 10, 2, "comparisons cannot be chained", "write 0 < x + 1 and x + 1 <= 10"),
    ("lgo(x)", 0, 3, "unknown function 'lgo'", "did you mean 'log'?"),
    ("LOG1P(x)", 0, 5, "unknown function 'LOG1P'", "did you mean 'log1p'?"),
    ("a + frobnicate(x)", 4, 10, "unknown function 'frobnicate'",
     "known functions: abs, clip, exp, is_null, log, log1p, max, min, round, sqrt, where"),
    ("where(a, b)", 0, 5, "where() takes 3 arguments, got 2", None),
    ("x + abs(a, b)", 4, 3, "abs() takes 1 argument, got 2", None),
    ("round()", 0, 5, "round() takes 1 to 2 arguments, got 0", None),
    # round's digits are one whole number for every row (a column would be read from its first row only)
    ("round(x, y)", 9, 1, "round()'s digits must be a whole number from -15 to 15, not 'y'", _DIGITS_HINT),
    ("round(x, 2.5)", 9, 3, "round()'s digits must be a whole number from -15 to 15, not '2.5'", None),
    ("round(x, 1e18)", 9, 4, "round()'s digits must be a whole number from -15 to 15, not '1e18'", None),
    ("round(x, -16 )", 9, 3, "round()'s digits must be a whole number from -15 to 15, not '-16'", None),
    ("round(x, 1 + 1)", 9, 5, "round()'s digits must be a whole number from -15 to 15, not '1 + 1'", None),
    ("round(x, true)", 9, 4, "round()'s digits must be a whole number from -15 to 15, not 'true'", None),
    ("abs(a,)", 6, 1, "expected a value after ',', found ')'", None),
    ("abs(a b)", 6, 1, "expected ',' or ')', found 'b'", None),
    ("(a", 0, 1, "'(' is never closed", "add a matching ')'"),
    ("abs(a", 3, 1, "'(' is never closed", None),
    ("(a b)", 3, 1, "expected ')' or an operator, found 'b'", None),
    ("a)", 1, 1, "unmatched ')'", None),
    ("a b", 2, 1, "expected an operator, found 'b'", None),
    ("a AND b", 2, 3, "expected an operator, found 'AND'", "keywords are lowercase: write 'and'"),
    ("a == not b", 5, 3, "expected a value after '==', found 'not'", "put 'not ...' in parentheses"),
    ("a +", 3, 1, "expected a value after '+'", None),
    ("not", 3, 1, "expected a value after 'not'", None),
    ("+a", 0, 1, "expected a value, found '+'", None),
    ("()", 1, 1, "expected a value after '(', found ')'", None),
    ("0x1F", 0, 4, "malformed number '0x1F'", None),
    ("1_000", 0, 5, "malformed number '1_000'", None),
    ("1e", 0, 2, "malformed number '1e'", None),
    ("1.2.3", 0, 5, "malformed number '1.2.3'", None),
    ("2abc", 0, 4, "malformed number '2abc'", None),
    ("007", 0, 3, "leading zeros are not allowed in '007'", None),
    ("1e999", 0, 5, "number '1e999' is too large", None),
    ("1" * 33, 0, 33, "number is longer than 32 characters", None),
    ("a" * 65, 0, 65, "name is longer than 64 characters", None),
    ('x == "abc', 5, 1, "string is never closed", 'add a closing "'),
    ("x == 'ab\ncd'", 5, 1, "string is not closed on its line", None),
    (r'"a\nb"', 2, 2, "unsupported escape sequence in string", None),
    ('"a\\', 2, 1, "unsupported escape sequence in string", None),
    ('"a\u202eb"', 2, 1, "strings cannot contain the invisible character (U+202E RIGHT-TO-LEFT OVERRIDE)", None),
    ('"' + "s" * 257 + '"', 0, 259, "string is longer than 256 characters", None),
]


@pytest.mark.parametrize(("text", "offset", "length", "message", "hint"), EXPRESSION_ERRORS)
def test_parse_expression_reports_exact_error(text, offset, length, message, hint):
    with pytest.raises(ExprError) as caught:
        parse_expression(text)
    error = caught.value
    assert (error.offset, error.length, error.message) == (offset, length, message)
    assert str(error) == message
    if hint is not None:
        assert error.hint == hint


def test_limits_on_text_length_and_token_count():
    assert parse_expression("a" * 64) == col("a" * 64)
    assert parse_expression('"' + "s" * 256 + '"') == {"str": "s" * 256}
    with pytest.raises(ExprError) as too_long:
        parse_expression("x" + " " * 1000)
    assert (too_long.value.offset, too_long.value.length) == (1000, 1)
    assert too_long.value.message == "expression is longer than 1000 characters"
    assert parse_expression(" + ".join(["a"] * 100))["op"] == "add"  # 199 tokens
    with pytest.raises(ExprError) as too_many:
        parse_expression(" + ".join(["a"] * 101))  # 201 tokens
    assert too_many.value.message == "expression has more than 200 tokens"
    assert too_many.value.offset == 400


@pytest.mark.parametrize(
    ("make", "culprit_offset"),
    [
        (lambda n: "(" * n + "a" + ")" * n, 32),
        (lambda n: "-" * n + "a", 32),
        (lambda n: "not " * n + "a", 128),
        (lambda n: "abs(" * n + "a" + ")" * n, 128),
    ],
)
def test_nesting_depth_is_limited_to_32(make, culprit_offset):
    parse_expression(make(32))
    with pytest.raises(ExprError) as caught:
        parse_expression(make(33))
    assert caught.value.offset == culprit_offset
    assert caught.value.message == "expression is nested too deeply (more than 32 levels)"


def test_ten_thousand_nested_parens_raise_expr_error():
    with pytest.raises(ExprError):
        parse_expression("(" * 10_000 + "a" + ")" * 10_000)


def test_depth_limit_does_not_rely_on_other_limits_or_recursion_limit(monkeypatch):
    # Lift the size limits so that only the depth counter stands between the input and a RecursionError.
    monkeypatch.setattr(expressions, "MAX_TEXT_CHARS", 10**6)
    monkeypatch.setattr(expressions, "MAX_TOKENS", 10**6)
    with pytest.raises(ExprError) as caught:
        parse_expression("(" * 10_000 + "a" + ")" * 10_000)
    assert caught.value.offset == 32


def test_errors_are_picklable():
    error = pickle.loads(pickle.dumps(ExprError("boom", 3, 2, "hint")))
    assert (error.message, error.offset, error.length, error.hint) == ("boom", 3, 2, "hint")


RENDERINGS = [
    ("a+b", "a + b"),
    ("  a   +   b ", "a + b"),
    ("(a + b)", "a + b"),
    ("((a)) * (b)", "a * b"),
    ("(a + b) * c", "(a + b) * c"),
    ("a * (b + c)", "a * (b + c)"),
    ("a - (b - c)", "a - (b - c)"),
    ("(a - b) - c", "a - b - c"),
    ("a/(b*c)", "a / (b * c)"),
    ("-(a+b)", "-(a + b)"),
    ("-(-a)", "--a"),
    ("not(a or b)", "not (a or b)"),
    ("not(a<b)", "not a < b"),
    ("(not a)==b", "(not a) == b"),
    ("a==(not b)", "a == (not b)"),
    ("(a<b)<c", "(a < b) < c"),
    ("a<(b<c)", "a < (b < c)"),
    ("a and (b and c)", "a and (b and c)"),
    ("(a or b) and c", "(a or b) and c"),
    ("a or (b and c)", "a or b and c"),
    ("abs( x )", "abs(x)"),
    ("clip(a,0,1)", "clip(a, 0, 1)"),
    ("x=='it\\'s'", 'x == "it\'s"'),
    ("x=='say \"hi\"'", r'x == "say \"hi\""'),
    ("1e3", "1000.0"),
    (".5", "0.5"),
    ("1e20", "1e+20"),
    ("true and false", "true and false"),
]


@pytest.mark.parametrize(("text", "expected"), RENDERINGS)
def test_render_is_canonical(text, expected):
    assert render(parse_expression(text)) == expected


@pytest.mark.parametrize("text", [text for text, _ in VALID_EXPRESSIONS + RENDERINGS])
def test_render_round_trips(text):
    ast = parse_expression(text)
    assert parse_expression(render(ast)) == ast
    assert render(parse_expression(render(ast))) == render(ast)


def test_render_rejects_non_nodes():
    with pytest.raises(ValueError, match="not an expression node"):
        render({"nope": 1})


def test_columns_and_functions_are_sorted_and_unique():
    ast = parse_expression("where(b > 1, log(a), log(b) + abs(a)) and c == 'x'")
    assert columns_of(ast) == ["a", "b", "c"]
    assert functions_of(ast) == ["abs", "log", "where"]
    assert columns_of(parse_expression("1 + 2")) == []
    assert functions_of(parse_expression("x")) == []


def test_functions_table():
    assert FUNCTIONS["round"] == (1, 2)
    assert FUNCTIONS["clip"] == FUNCTIONS["where"] == (3, 3)
    assert set(FUNCTIONS) == {"abs", "log", "log1p", "sqrt", "exp", "clip", "where", "is_null", "min", "max", "round"}


VALID_REQUIREMENTS = [
    ("roc_auc >= 0.90", Requirement("roc_auc", ">=", 0.9, None, None, None, "roc_auc >= 0.9", (0, 7))),
    ("log_loss < 0.3", Requirement("log_loss", "<", 0.3, None, None, None, "log_loss < 0.3", (0, 8))),
    ("  f1>1", Requirement("f1", ">", 1.0, None, None, None, "f1 > 1", (2, 2))),
    ("delta >= -0.5", Requirement("delta", ">=", -0.5, None, None, None, "delta >= -0.5", (0, 5))),
    ("delta <= - 2e-3", Requirement("delta", "<=", -0.002, None, None, None, "delta <= -0.002", (0, 5))),
    (
        "roc_auc >= champion.roc_auc - 0.005",
        Requirement("roc_auc", ">=", None, "roc_auc", "-", 0.005, "roc_auc >= champion.roc_auc - 0.005", (0, 7)),
    ),
    (
        "rmse <= champion.rmse * 1.05",
        Requirement("rmse", "<=", None, "rmse", "*", 1.05, "rmse <= champion.rmse * 1.05", (0, 4)),
    ),
    (
        "recall>champion.precision+1",
        Requirement("recall", ">", None, "precision", "+", 1.0, "recall > champion.precision + 1", (0, 6)),
    ),
    ("auc >= champion.auc", Requirement("auc", ">=", None, "auc", None, None, "auc >= champion.auc", (0, 3))),
]


@pytest.mark.parametrize(("text", "expected"), VALID_REQUIREMENTS)
def test_parse_requirement(text, expected):
    requirement = parse_requirement(text)
    assert requirement == expected
    # The canonical text parses back to the same requirement; only the span moves with the spacing.
    assert parse_requirement(requirement.text) == dataclasses.replace(expected, metric_span=(0, len(expected.metric)))


def test_requirement_to_dict_is_json_of_the_fields_it_sets_in_a_stable_order():
    data = parse_requirement("rmse <= champion.rmse * 1.05").to_dict()
    assert data == {"metric": "rmse", "op": "<=", "champion_metric": "rmse", "margin_op": "*", "margin": 1.05,
                    "text": "rmse <= champion.rmse * 1.05"}
    assert list(data) == ["metric", "op", "champion_metric", "margin_op", "margin", "text"]
    assert json.loads(json.dumps(data)) == data
    # an absolute requirement has a threshold and nothing about the champion; the span is for diagnostics only
    assert parse_requirement("roc_auc >= 0.9").to_dict() == {"metric": "roc_auc", "op": ">=", "threshold": 0.9,
                                                              "text": "roc_auc >= 0.9"}


REQUIREMENT_ERRORS = [
    ("roc_auc => 0.9", 8, 2, "'=>' is not allowed", "did you mean '>='?"),
    ("roc_auc >= ", 11, 1, "expected a number or champion.<metric> after '>='", None),
    ("roc_auc >= 0.9 extra", 15, 5, "unexpected text after the requirement", None),
    ("roc_auc >= 0.9 and f1 >= 0.8", 15, 13, "unexpected text after the requirement",
     "write each requirement as its own list item"),
    ("", 0, 1, "requirement is empty", None),
    (">= 0.9", 0, 2, "expected a metric name, found '>='", None),
    ("roc_auc", 7, 1, "expected >=, <=, > or < after 'roc_auc'", None),
    ("roc_auc == 0.9", 8, 2, "expected >=, <=, > or < after 'roc_auc', found '=='",
     "requirements compare with >=, <=, > or <"),
    ("roc_auc = 0.9", 8, 1, "'=' is not allowed", None),
    ("roc_auc >= f1", 11, 2, "expected a number or champion.<metric> after '>=', found 'f1'", None),
    ("roc_auc >= baseline.roc_auc", 11, 8, "expected a number or champion.<metric> after '>=', found 'baseline'",
     None),
    ("roc_auc >= champion", 19, 1, "expected '.' after 'champion'", None),
    ("roc_auc >= champion.", 20, 1, "expected a metric name after 'champion.'", None),
    ("roc_auc >= champion.roc_auc -", 29, 1, "expected a number after '-'", None),
    ("roc_auc >= champion.roc_auc - -0.1", 30, 1, "expected a number after '-', found '-'", None),
    ("roc_auc >= champion.roc_auc / 2", 28, 3, "unexpected text after the requirement", None),
    ("champion.roc_auc >= 0.9", 0, 8, "the left side must be a metric of the candidate model", None),
    ("roc_auc >= 0.9.1", 11, 5, "malformed number '0.9.1'", None),
]


@pytest.mark.parametrize(("text", "offset", "length", "message", "hint"), REQUIREMENT_ERRORS)
def test_parse_requirement_reports_exact_error(text, offset, length, message, hint):
    with pytest.raises(ExprError) as caught:
        parse_requirement(text)
    error = caught.value
    assert (error.offset, error.length, error.message) == (offset, length, message)
    if hint is not None:
        assert error.hint == hint


def check_error_position(text, error):
    assert 0 <= error.offset <= len(text)
    assert error.length >= 1
    assert error.offset + error.length <= max(len(text), error.offset + 1)
    assert error.message


# Untrusted text costs work at most linear in its length (the hostile inputs of the tests above peak at
# about 35 lines of Python per character, or 4,700 lines). A backtracking parser or an exponential retry
# would pass this bound by orders of magnitude; a quadratic one on 300 characters, by a factor of six.
MAX_LINES = 500
MAX_LINES_PER_CHAR = 50


def run_untrusted(parse, text):
    errors: list[ExprError] = []

    def call() -> None:
        try:
            parse(text)
        except ExprError as error:
            errors.append(error)

    work = lines_executed(call)
    for error in errors:
        check_error_position(text, error)
    assert work <= MAX_LINES + MAX_LINES_PER_CHAR * len(text), f"{work} lines of Python for {len(text)} characters"


def test_the_work_bound_tells_linear_from_quadratic():
    text = "a+" * 150
    linear = lines_executed(lambda: [char for char in text])
    quadratic = lines_executed(lambda: [pair for pair in ((a, b) for a in text for b in text)])
    assert linear <= MAX_LINES + MAX_LINES_PER_CHAR * len(text) < quadratic


GRAMMAR_PIECES = [
    "a", "b", "amount", "champion", "roc_auc", "abs", "where", "round", "log", "nope", "AND", "__x",
    "and", "or", "not", "true", "false", "0", "1", "1.5", ".5", "1e-3", "007", "1e", "0x1", "'s'", '"t"', "'",
    "+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "=", "=>", "!", "&&", "||", "**",
    "(", ")", ",", ".", "[", "]", ";", "@", "\\", " ", "\n", "\u00a0",
]
token_soup = st.lists(st.sampled_from(GRAMMAR_PIECES), max_size=60).flatmap(
    lambda pieces: st.sampled_from(["", " "]).map(lambda separator: separator.join(pieces))
)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_random_text_only_ever_raises_expr_error(text):
    run_untrusted(parse_expression, text)
    run_untrusted(parse_requirement, text)


@settings(max_examples=600, deadline=None)
@given(token_soup)
def test_token_soup_only_ever_raises_expr_error(text):
    run_untrusted(parse_expression, text)
    run_untrusted(parse_requirement, text)


@settings(max_examples=300, deadline=None)
@given(token_soup)
def test_whatever_parses_renders_canonically(text):
    try:
        ast = parse_expression(text)
    except ExprError:
        return
    rendered = render(ast)
    assert parse_expression(rendered) == ast
    assert render(parse_expression(rendered)) == rendered


leaves = st.one_of(
    st.sampled_from(["a", "b", "amount", "x_1"]).map(col),
    st.integers(min_value=0, max_value=2**63 - 1).map(num),  # the manifest holds 64-bit integers
    st.floats(min_value=0, max_value=1e300, allow_nan=False, allow_infinity=False).map(num),
    st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs")), max_size=10).map(lambda s: {"str": s}),
    st.booleans().map(lambda b: {"bool": b}),
)
BINARY_OPS = ["add", "sub", "mul", "div", "mod", "lt", "le", "gt", "ge", "eq", "ne", "and", "or"]


# round()'s digits are a whole number within bounds: the parser refuses anything else there
ROUND_DIGITS = st.integers(min_value=-15, max_value=15).map(lambda d: num(d) if d >= 0 else op("neg", num(-d)))


def _calls(fn, children):
    if fn == "round":
        return st.one_of(children.map(lambda x: call(fn, x)),
                         st.tuples(children, ROUND_DIGITS).map(lambda a: call(fn, *a)))
    return st.lists(children, min_size=FUNCTIONS[fn][0], max_size=FUNCTIONS[fn][1]).map(lambda args: call(fn, *args))


def extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(BINARY_OPS), children, children).map(lambda t: op(t[0], t[1], t[2])),
        st.tuples(st.sampled_from(["neg", "not"]), children).map(lambda t: op(t[0], t[1])),
        st.sampled_from(sorted(FUNCTIONS)).flatmap(lambda fn: _calls(fn, children)),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(leaves, extend, max_leaves=12))
def test_any_ast_survives_render_and_parse(ast):
    rendered = render(ast)
    try:
        reparsed = parse_expression(rendered)
    except ExprError as error:
        # Generated ASTs may exceed the size limits; any other error would be a bug in `render`.
        assume(not error.message.startswith(("expression is longer", "expression has more", "expression is nested")))
        raise
    assert reparsed == ast
