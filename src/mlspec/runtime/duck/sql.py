"""Compile the expression language's JSON trees (from the manifest) to DuckDB SQL.

Spec text never becomes SQL text: a column is referred to by the name the caller maps it to (an
internal alias, quoted), and every literal (number, string, boolean) is a bound parameter. The SQL
keeps the semantics of `runtime.exprs`, which evaluates the same trees with numpy, so a row rule finds
the same rows with either engine:

- missing values are NULL (NaN never reaches a rule: the typed view turns it into NULL, and every
  arithmetic result that is NaN becomes NULL); comparisons with a missing value are false, never NULL;
- `and`, `or`, `not` and `where` read a number as true when it is non-zero and present, and a missing
  value as false, so `not (x > 3)` holds where x is missing, as numpy's `~` gives;
- only numbers and two datetimes can be ordered; arithmetic needs numbers (booleans count as 0/1);
  anything else raises `ExpressionRuntimeError`, as numpy evaluation does;
- `round` rounds half to even (numpy's rule); `log`, `sqrt` of negatives and `0/0` are missing values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlspec.lang.expressions import round_digits
from mlspec.runtime.exprs import ExpressionRuntimeError

NUM, BOOL, TEXT, TIME = "num", "bool", "text", "time"
_ORDER = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%"}
# numpy's results outside each function's domain: -inf at the pole, a missing value (NaN there) below it
_UNARY = {
    "abs": "abs({x})",
    "log": "(CASE WHEN {x} > 0 THEN ln({x}) WHEN {x} = 0 THEN CAST('-inf' AS DOUBLE) END)",
    "log1p": "(CASE WHEN {x} > -1 THEN ln(1 + {x}) WHEN {x} = -1 THEN CAST('-inf' AS DOUBLE) END)",
    "sqrt": "(CASE WHEN {x} >= 0 THEN sqrt({x}) END)",
    "exp": "exp({x})",
}


def quote(name: str) -> str:
    """A SQL identifier for any name: double quotes, inner double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Typed:
    """A compiled expression: its SQL (with numbered placeholders) and its kind (num, bool, text or time)."""

    sql: str
    kind: str


@dataclass
class Compiler:
    """Compiles trees whose columns are `columns` (name -> (SQL that reads it, kind)); collects parameters.

    Parameters are numbered (`$1`, `$2`...) in `params`, which the statement shares: its own values are
    bound with `bind` too, so a fragment may appear twice in the SQL and still read the same value."""

    columns: Mapping[str, tuple[str, str]]
    params: list = field(default_factory=list)

    def value(self, tree: Mapping) -> Typed:
        """Any expression, as SQL of its own kind."""
        if "col" in tree:
            sql, kind = self.columns[tree["col"]]
            return Typed(sql, kind)
        if "num" in tree:
            return self._param(float(tree["num"]), "DOUBLE", NUM)
        if "bool" in tree:
            return self._param(bool(tree["bool"]), "BOOLEAN", BOOL)
        if "str" in tree:
            return self._param(str(tree["str"]), "VARCHAR", TEXT)
        op = tree.get("op")
        args = tree.get("args", ())
        if op in _ARITH:
            left, right = self.number(args[0]), self.number(args[1])
            return Typed(_missing_nan(f"({left} {_ARITH[op]} {right})"), NUM)
        if op in _ORDER:
            return Typed(self._order(op, args[0], args[1]), BOOL)
        if op in ("eq", "ne"):
            return Typed(self._equality(op, args[0], args[1]), BOOL)
        if op in ("and", "or"):
            return Typed(f"({self.truth(args[0])} {op.upper()} {self.truth(args[1])})", BOOL)
        if op == "not":
            return Typed(f"(NOT {self.truth(args[0])})", BOOL)
        if op == "neg":
            return Typed(f"(-{self.number(args[0])})", NUM)
        if op == "call":
            return self._call(tree["fn"], args)
        raise ExpressionRuntimeError(f"unknown expression node {op!r}")

    def truth(self, tree: Mapping) -> str:
        """SQL that is never NULL: true where the expression holds (a number: present and non-zero)."""
        value = self.value(tree)
        if value.kind == BOOL:
            return f"coalesce({value.sql}, false)"
        return f"coalesce({self._as_number(value)} <> 0, false)"

    def number(self, tree: Mapping) -> str:
        """The expression as DOUBLE (a boolean as 1.0/0.0); text raises, as numpy arithmetic does."""
        return self._as_number(self.value(tree))

    def _as_number(self, value: Typed) -> str:
        if value.kind == NUM:
            return value.sql
        if value.kind == BOOL:
            return f"CAST({value.sql} AS DOUBLE)"
        raise ExpressionRuntimeError("arithmetic needs numbers, but a text column was used")

    def bind(self, value) -> str:
        """A placeholder for `value`, bound when the statement runs with `params`."""
        self.params.append(value)
        return f"${len(self.params)}"

    def _param(self, value, sql_type: str, kind: str) -> Typed:
        return Typed(f"CAST({self.bind(value)} AS {sql_type})", kind)

    def _order(self, op: str, left_tree: Mapping, right_tree: Mapping) -> str:
        left, right = self.value(left_tree), self.value(right_tree)
        if left.kind == right.kind == TIME:
            return f"coalesce({left.sql} {_ORDER[op]} {right.sql}, false)"
        if TEXT in (left.kind, right.kind):
            raise ExpressionRuntimeError("only numbers can be ordered with < <= > >=")
        return f"coalesce({self._as_number(left)} {_ORDER[op]} {self._as_number(right)}, false)"

    def _equality(self, op: str, left_tree: Mapping, right_tree: Mapping) -> str:
        left, right = self.value(left_tree), self.value(right_tree)
        numeric = {NUM, BOOL}
        if left.kind in numeric and right.kind in numeric:
            left_sql, right_sql = self._as_number(left), self._as_number(right)
        elif left.kind == right.kind:
            left_sql, right_sql = left.sql, right.sql
        else:  # text against a number or a time: never equal (numpy compares them element by element: False)
            present = f"({left.sql} IS NOT NULL AND {right.sql} IS NOT NULL)"
            return "false" if op == "eq" else present
        symbol = "=" if op == "eq" else "<>"
        return f"coalesce({left_sql} {symbol} {right_sql}, false)"

    def _call(self, fn: str, args) -> Typed:
        if fn == "is_null":
            return Typed(f"({self.value(args[0]).sql} IS NULL)", BOOL)
        if fn == "where":
            test, yes, no = self.truth(args[0]), self.number(args[1]), self.number(args[2])
            return Typed(f"(CASE WHEN {test} THEN {yes} ELSE {no} END)", NUM)
        if fn == "round":  # its digits are written as an integer, not bound: only the value is compiled
            digits = self._digits(args[1]) if len(args) > 1 else 0
            return Typed(f"round_even({self.number(args[0])}, {digits})", NUM)
        numbers = [self.number(arg) for arg in args]
        x = numbers[0]
        if fn in _UNARY:
            return Typed(_UNARY[fn].format(x=x), NUM)
        if fn == "clip":
            low, high = numbers[1], numbers[2]
            return Typed(f"(CASE WHEN {x} IS NULL OR {low} IS NULL OR {high} IS NULL THEN NULL "
                         f"ELSE least(greatest({x}, {low}), {high}) END)", NUM)
        if fn in ("min", "max"):  # numpy's fmin/fmax: a missing value loses to a present one
            return Typed(f"{'least' if fn == 'min' else 'greatest'}({x}, {numbers[1]})", NUM)
        raise ExpressionRuntimeError(f"unknown function {fn!r}")

    @staticmethod
    def _digits(tree: Mapping) -> int:
        """round's digits: a whole number in the tree (`2`, or `-3` for thousands, which parses as a negation),
        written into the SQL as an integer (never text)."""
        digits = round_digits(dict(tree))
        if digits is None:
            raise ExpressionRuntimeError("round's digits must be a whole number")
        return digits


def _missing_nan(sql: str) -> str:
    """An arithmetic result with NaN (0/0, inf - inf) as NULL, the typed view's missing value (DuckDB holds
    NaN equal to NaN, so nullif finds it)."""
    return f"nullif({sql}, CAST('nan' AS DOUBLE))"
