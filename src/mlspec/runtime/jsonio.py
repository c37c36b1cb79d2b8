"""JSON for run state and reports: sorted keys, and NaN/infinity written as null (JSON has neither)."""

from __future__ import annotations

import json
import math


def clean(value: object) -> object:
    """A copy of `value` with non-finite floats replaced by None and tuple/keys made JSON-ready."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def dumps(value: object, *, compact: bool = False) -> bytes:
    """Canonical JSON bytes (indented, or compact for database columns)."""
    if compact:
        return json.dumps(clean(value), sort_keys=True, separators=(",", ":")).encode()
    return (json.dumps(clean(value), sort_keys=True, indent=2) + "\n").encode()
