"""Request validation built from the data contract: one pydantic row model per served model version.

Each input column the champion was fitted on becomes a field with its contract's type, range,
allowed values and nullability; unknown fields are refused. A violation is a `Violation` naming the
row, the field and the contract rule it broke (`type`, `nullable`, `min`, `max`, `values`,
`required`, `unknown_field`, ...), which the app returns as a 422, never a 500. Rows that pass are
turned into a frame typed exactly as `mlspec score` types a file (`mlspec.runtime.data.convert`),
so a served prediction equals the batch one for the same row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError, create_model

from mlspec.errors import MlspecError
from mlspec.manifest import ColumnContract

_INT64 = (-(2**63), 2**63 - 1)
# pydantic error type -> the contract rule a client broke
_RULES = {"missing": "required", "extra_forbidden": "unknown_field", "literal_error": "values",
          "greater_than_equal": "min", "less_than_equal": "max", "finite_number": "finite",
          "model_type": "row", "dict_type": "row", "list_type": "instances", "too_long": "max_batch"}


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (row and field), which rule, and a sentence saying what was wrong."""

    field: str
    rule: str
    message: str
    row: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready form (the row left out when the problem is not about one row)."""
        out: dict[str, Any] = {"field": self.field, "rule": self.rule, "message": self.message}
        if self.row is not None:
            out["row"] = self.row
        return out


class RequestInvalidError(MlspecError):
    """A request broke the contract or the protocol: every violation found, for one 422 response."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(v.message for v in violations[:3]))
        self.violations = violations


def _annotation(contract: ColumnContract) -> Any:
    """The pydantic type of one column: strict types, so a string never becomes a number silently."""
    bounds: dict[str, Any] = {k: v for k, v in (("ge", contract.min), ("le", contract.max)) if v is not None}
    if contract.type == "int":  # what a model's int64 column holds, whatever the contract allows
        bounds = {"ge": max(bounds.get("ge", _INT64[0]), _INT64[0]), "le": min(bounds.get("le", _INT64[1]), _INT64[1])}
    if contract.values is not None and contract.type in ("int", "category", "string"):
        kind: Any = Literal[tuple(contract.values)]
    elif contract.type == "int":
        kind = Annotated[int, Strict(), Field(**bounds)]
    elif contract.type == "float":
        kind = Annotated[float, Strict(), Field(allow_inf_nan=False, **bounds)]
    elif contract.type == "bool":
        kind = Annotated[bool, Strict()]
    elif contract.type == "datetime":
        kind = datetime  # an ISO-8601 text, as in a CSV file
    else:
        kind = Annotated[str, Strict()]
    return kind


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _sentence(field: str, rule: str, contract: ColumnContract | None, error: dict) -> str:
    got = f" (got {_shown(error.get('input'))})" if "input" in error and rule not in ("required", "row") else ""
    if rule == "required":
        return f"{field}: required by the contract, missing from the row"
    if rule == "unknown_field":
        return f"{field}: not an input of this model"
    if contract is None:
        return f"{field}: {error.get('msg', 'invalid')}{got}"
    if rule == "nullable":
        return f"{field}: may not be null (the contract says nullable: false)"
    if rule == "min":
        return f"{field}: must be >= {contract.min}{got}"
    if rule == "max":
        return f"{field}: must be <= {contract.max}{got}"
    if rule == "values":
        return f"{field}: must be one of {', '.join(map(str, contract.values or []))}{got}"
    if rule == "finite":
        return f"{field}: must be a finite number{got}"
    if contract.type == "int":
        return f"{field}: must be a whole number from -2**63 to 2**63-1{got}"
    return f"{field}: must be of type {contract.type}{got}"


class RowValidator:
    """Validates request rows against the contract of the columns a model version reads."""

    def __init__(self, inputs: list[str], contracts: dict[str, ColumnContract]) -> None:
        self.inputs = list(inputs)
        self.contracts = {c: contracts[c] for c in inputs}
        fields: dict[str, Any] = {}
        for i, column in enumerate(self.inputs):
            contract = self.contracts[column]
            kind = _annotation(contract)
            if contract.nullable:
                fields[f"c{i}"] = (kind | None, Field(None, alias=column))
            else:
                fields[f"c{i}"] = (kind, Field(alias=column))
        row = create_model("Row", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields)
        self._rows = TypeAdapter(list[row])

    def violations(self, error: ValidationError, row_offset: int = 0) -> list[Violation]:
        """The violations of a pydantic error on a list of rows."""
        out = []
        for item in error.errors(include_url=False):
            loc = item["loc"]
            row = loc[0] if loc and isinstance(loc[0], int) else None
            field = str(loc[1]) if len(loc) > 1 else "instances" if row is None else f"instances[{row}]"
            contract = self.contracts.get(field)
            rule = _RULES.get(item["type"], "type")
            if contract is not None and "input" in item and item["input"] is None and rule not in ("required",):
                rule = "nullable"  # null where the contract says nullable: false, whatever the type
            if rule == "values" and contract is None:
                rule = "type"
            if contract is not None and (rule, getattr(contract, rule, 0)) in (("min", None), ("max", None)):
                rule = "type"  # beyond the 64-bit integers, not beyond a bound the contract set
            message = _sentence(field, rule, contract, dict(item))
            if rule == "row":
                message = f"row {row}: must be an object of named inputs (got {_shown(item.get('input'))})"
            out.append(Violation(field, rule, message, None if row is None else row + row_offset))
        return out

    def check(self, rows: object) -> list[dict]:
        """The rows, validated; RequestInvalidError with every violation otherwise."""
        if not isinstance(rows, list):
            raise RequestInvalidError([Violation("instances", "instances", "instances: must be a list of rows")])
        try:
            self._rows.validate_python(rows)
        except ValidationError as exc:
            raise RequestInvalidError(self.violations(exc)) from None
        return rows

    def frame(self, rows: list[dict]):
        """A frame of validated rows, each column typed as `mlspec score` types a file (`data.convert`): float
        columns as float64, int columns as int64 (float64 with NaN when a value is missing), category and
        string columns as text objects, bool as pandas' boolean, datetime parsed from ISO 8601. Built from
        plain arrays: the rows were validated, so nothing can fail to convert."""
        import numpy as np
        import pandas as pd

        from mlspec.runtime.data import convert

        typed: dict[str, Any] = {}
        for column in self.inputs:
            kind = self.contracts[column].type
            values = [row.get(column) for row in rows]
            missing = any(v is None for v in values)
            if kind == "float" or (kind == "int" and missing):
                typed[column] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            elif kind == "int":
                typed[column] = np.array(values, dtype=np.int64)
            elif kind in ("category", "string"):
                typed[column] = np.array([None if v is None else str(v) for v in values], dtype=object)
            elif kind == "bool":  # as pandas reads a CSV: numpy bools, or its nullable boolean with a gap
                typed[column] = pd.array(values, dtype="boolean") if missing else np.array(values, dtype=bool)
            else:
                typed[column] = convert(pd.Series(values, dtype=object), kind)[0]
        return pd.DataFrame(typed, index=pd.RangeIndex(len(rows)))


def check_batch(count: int, limit: int, field: str = "instances") -> None:
    """Refuse a batch larger than the server's cap (RequestInvalidError naming the cap)."""
    if count > limit:
        raise RequestInvalidError([Violation(field, "max_batch", f"{field}: {count} rows is more than the server's "
                                        f"limit of {limit} per request (mlspec serve --max-batch)")])
    if count == 0:
        raise RequestInvalidError([Violation(field, "min_batch", f"{field}: a request needs at least one row")])
