"""Types in expressions: arithmetic and ordering on text, category or datetime columns are refused at validate.

The runtime evaluates expressions on numbers (`runtime/exprs.py`): `+ - * / %`, unary minus and the
numeric functions need numbers (int, float or bool columns, derived features, numeric literals);
`< <= > >=` order two numbers or two datetimes; `and`, `or`, `not` and `where`'s condition need true or
false (a number counts, 0 being false). Text (category and string columns, quoted literals) may only be
compared with `==`/`!=` or tested with `is_null`. Without this check such an expression failed only
when the model trained; here it is a finding naming the column and its type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NUMBER, TEXT, DATETIME = "number", "text", "datetime"
_ARITHMETIC = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%", "neg": "-"}
_ORDERING = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_LOGIC = {"and": "and", "or": "or", "not": "not"}
_NUMERIC_FUNCTIONS = frozenset({"abs", "clip", "exp", "log", "log1p", "max", "min", "round", "sqrt"})


@dataclass(frozen=True, slots=True)
class TypeProblem:
    """An operand of the wrong type: the message, the column to point at (None: a literal), a hint."""

    message: str
    column: str | None
    hint: str


def column_kind(column_type: str) -> str:
    """The expression type of a contract column type."""
    if column_type in ("category", "string"):
        return TEXT
    return DATETIME if column_type == "datetime" else NUMBER


def check(ast: dict, types: Mapping[str, str]) -> list[TypeProblem]:
    """Every operand of the wrong type in `ast`; `types` maps a name to its contract type (absent: a number)."""
    problems: list[TypeProblem] = []
    _type(ast, types, problems)
    seen, unique = set(), []
    for problem in problems:  # one finding per column and operator, however often it is repeated
        if (problem.message, problem.column) not in seen:
            seen.add((problem.message, problem.column))
            unique.append(problem)
    return unique


def _type(node: dict, types: Mapping[str, str], problems: list[TypeProblem]) -> str:
    if "col" in node:
        return column_kind(types.get(node["col"], "float"))
    if "str" in node:
        return TEXT
    if "num" in node or "bool" in node:
        return NUMBER
    op = node.get("op")
    args = [(arg, _type(arg, types, problems)) for arg in node.get("args", ())]
    before = len(problems)
    _operands(node, op, args, types, problems)
    if any(p.column is not None for p in problems[before:]):  # the column is the culprit, not the literal
        problems[before:] = [p for p in problems[before:] if p.column is not None]
    return NUMBER  # every operator but a column or literal gives a number (or true/false), even after a problem


def _operands(node: dict, op: str | None, args: list, types: Mapping[str, str], problems: list[TypeProblem]) -> None:
    if op in _ARITHMETIC:
        for arg, kind in args:
            _need_number(arg, kind, types, f"arithmetic '{_ARITHMETIC[op]}' needs numbers", problems)
    elif op in _ORDERING:
        kinds = {kind for _arg, kind in args}
        if kinds != {DATETIME}:
            for arg, kind in args:
                _need_number(arg, kind, types, f"'{_ORDERING[op]}' orders numbers (or two datetimes)", problems)
    elif op in _LOGIC:
        for arg, kind in args:
            _need_number(arg, kind, types, f"'{_LOGIC[op]}' needs true or false", problems)
    elif op == "call" and node["fn"] in _NUMERIC_FUNCTIONS:
        for arg, kind in args:
            _need_number(arg, kind, types, f"{node['fn']}() needs numbers", problems)
    elif op == "call" and node["fn"] == "where":
        _need_number(args[0][0], args[0][1], types, "where()'s condition needs true or false", problems)
        for arg, kind in args[1:]:
            _need_number(arg, kind, types, "where() chooses between numbers", problems)


def _need_number(arg: dict, kind: str, types: Mapping[str, str], what: str, problems: list[TypeProblem]) -> None:
    if kind == NUMBER:
        return
    if "col" in arg:
        column = arg["col"]
        declared = types.get(column, kind)
        problems.append(TypeProblem(f"{what}, but '{column}' is a {declared} column", column, _hint(declared, column)))
    else:
        shown = "quoted text" if kind == TEXT else f"a {kind}"
        problems.append(TypeProblem(f"{what}, but this expression uses {shown} there", None,
                                    "text is only compared with == or != (or tested with is_null)"))


def _hint(declared: str, column: str) -> str:
    if declared == "datetime":
        return (f"datetimes are only ordered against each other ({column} >= other_time) or compared with == and "
                "!=; derive a number (an hour, an age in days) in the data")
    return f"a {declared} column is compared with == or != (for example {column} == \"value\") or tested with is_null"
