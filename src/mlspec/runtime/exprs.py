"""Evaluate expression trees (from the manifest) over a table, vectorised with numpy.

The compiler parsed the user's text into a JSON tree of a handful of node types; this module maps
each node type to a numpy operation. Nothing is ever passed to `eval`: an unknown node type is an
error, so a tampered manifest cannot make this run anything else.

Semantics: missing values are NaN (NaT for datetimes); comparisons with them are false; two datetimes
order in time (the only operation on datetimes besides == and !=); `and`/`or`/`not` treat NaN as
false; results of arithmetic that are infinite become NaN (so imputers can handle them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from mlspec.errors import MlspecError

_BINARY: dict[str, Callable] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "mod": np.fmod,
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
}
_UNARY_FN: dict[str, Callable] = {
    "abs": np.abs, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt, "exp": np.exp,
}


class ExpressionRuntimeError(MlspecError, ValueError):
    """The tree names something this runtime does not know (a corrupt or newer manifest)."""


def _numeric(value: np.ndarray) -> np.ndarray:
    if value.dtype.kind in "fiub":
        return value.astype(float, copy=False)
    raise ExpressionRuntimeError("arithmetic needs numbers, but a text column was used")


def truth(value: np.ndarray) -> np.ndarray:
    if value.dtype.kind == "b":
        return value
    number = _numeric(value)
    return np.nan_to_num(number, nan=0.0) != 0


def _is_null(value: np.ndarray) -> np.ndarray:
    if value.dtype.kind == "f":
        return np.isnan(value)
    if value.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in value], dtype=bool)
    return np.zeros(value.shape, dtype=bool)


def _equal(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    if left.dtype.kind in "fiub" and right.dtype.kind in "fiub":
        return np.equal(left.astype(float), right.astype(float))
    return np.asarray(left == right, dtype=bool) & ~_is_null(left) & ~_is_null(right)


def column_values(series) -> np.ndarray:
    """A table column (a pandas Series) as the array expressions read.

    A column of a nullable pandas type (`boolean`, `Int64`, `Float64`) with a missing value would become
    an array of Python objects holding `pd.NA`, which neither arithmetic nor `is_null` understands: it
    becomes floats with NaN for missing instead (a bool as 1.0/0.0), so `flag or x > 3` treats a missing
    flag as false and `is_null(flag)` finds it. Without missing values the numpy type is kept."""
    dtype = series.dtype
    if not isinstance(dtype, np.dtype) and getattr(dtype, "kind", "O") in "biuf":
        if bool(series.isna().any()):
            return series.to_numpy(dtype=float, na_value=np.nan)
        return series.to_numpy(dtype=dtype.numpy_dtype)
    return series.to_numpy()


def evaluate(tree: Mapping, columns: Mapping[str, np.ndarray], rows: int) -> np.ndarray:
    """Evaluate `tree` with `columns` (name -> 1-D array of length `rows`); returns an array."""
    if "col" in tree:
        return np.asarray(columns[tree["col"]])
    if "num" in tree:
        return np.full(rows, float(tree["num"]))
    if "bool" in tree:
        return np.full(rows, bool(tree["bool"]))
    if "str" in tree:
        return np.full(rows, tree["str"], dtype=object)
    op = tree.get("op")
    args = [evaluate(arg, columns, rows) for arg in tree.get("args", ())]
    with np.errstate(all="ignore"):
        if op in _BINARY:
            if op in ("lt", "le", "gt", "ge") and args[0].dtype.kind == args[1].dtype.kind == "M":
                return _BINARY[op](args[0], args[1])  # two datetimes order in time; NaT compares false
            if op in ("lt", "le", "gt", "ge") and (args[0].dtype.kind == "O" or args[1].dtype.kind == "O"):
                raise ExpressionRuntimeError("only numbers can be ordered with < <= > >=")
            return _BINARY[op](_numeric(args[0]), _numeric(args[1]))
        if op == "eq":
            return _equal(args[0], args[1])
        if op == "ne":
            return ~_equal(args[0], args[1]) & ~_is_null(args[0]) & ~_is_null(args[1])
        if op == "and":
            return truth(args[0]) & truth(args[1])
        if op == "or":
            return truth(args[0]) | truth(args[1])
        if op == "not":
            return ~truth(args[0])
        if op == "neg":
            return -_numeric(args[0])
        if op == "call":
            return _call(tree["fn"], args)
    raise ExpressionRuntimeError(f"unknown expression node {op!r}")


def _call(fn: str, args: list[np.ndarray]) -> np.ndarray:
    if fn in _UNARY_FN:
        return _UNARY_FN[fn](_numeric(args[0]))
    if fn == "is_null":
        return _is_null(args[0])
    if fn == "clip":
        return np.clip(_numeric(args[0]), _numeric(args[1]), _numeric(args[2]))
    if fn == "where":
        return np.where(truth(args[0]), _numeric(args[1]), _numeric(args[2]))
    if fn == "min":
        return np.fmin(_numeric(args[0]), _numeric(args[1]))
    if fn == "max":
        return np.fmax(_numeric(args[0]), _numeric(args[1]))
    if fn == "round":
        digits = int(args[1][0]) if len(args) > 1 and len(args[1]) else 0
        return np.round(_numeric(args[0]), digits)
    raise ExpressionRuntimeError(f"unknown function {fn!r}")


def as_feature(values: np.ndarray) -> np.ndarray:
    """A derived feature's values as floats, with infinities turned into missing values."""
    result = values.astype(float) if values.dtype.kind in "biuf" else _numeric(values)
    result = np.array(result, dtype=float, copy=True)
    result[~np.isfinite(result)] = np.nan
    return result
