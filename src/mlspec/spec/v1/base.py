"""What every spec model shares: the strict base class and the common free-text and tag fields."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Scalar = bool | int | float | str | None


class Strict(BaseModel):
    """Base of every spec model: strict types, no unknown keys, no NaN/inf, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False,
                              populate_by_name=False, hide_input_in_errors=True)


Description = Annotated[str | None, Field(None, max_length=2000, description="Free text for people; never executed.")]
Tags = Annotated[list[str], Field(default_factory=list, max_length=32,
                                  description="Labels used by selectors (`tag:fraud`). Lowercase names.")]
