"""What every spec model shares: the strict base class, the common free-text and tag fields, metric names."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from mlspec.lang.metrics import METRICS

Scalar = bool | int | float | str | None


class Strict(BaseModel):
    """Base of every spec model: strict types, no unknown keys, no NaN/inf, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False,
                              populate_by_name=False, hide_input_in_errors=True)


Description = Annotated[str | None, Field(None, max_length=2000, description="Free text for people; never executed.")]
Tags = Annotated[list[str], Field(default_factory=list, max_length=32,
                                  description="Labels used by selectors (`tag:fraud`). Lowercase names.")]


# A metric's name: any text to the validator (which says MLS203 with a "did you mean"), the catalogue with
# each metric's definition to editors (the YAML language server shows a `const`'s description when completing).
MetricName = Annotated[str, WithJsonSchema({
    "type": "string",
    "anyOf": [{"const": m.name, "description": f"({m.task}) {m.description}"} for m in METRICS.values()]})]
