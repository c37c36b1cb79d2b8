"""Canonical JSON text (sorted keys, two-space indent, ASCII), byte for byte what `json.dumps` writes, fast.

With `indent` set, the standard library's encoder is its pure-Python one: most of the time of writing
the manifest of a large project (10 KB per model). pydantic-core (already installed with pydantic)
writes the same layout in Rust; this module sorts the keys itself (pydantic-core keeps dict order)
and hands it the data only when every value is one it is known to write exactly as `json.dumps` does:

- exact dict, list, str, int, bool and None; str keys only;
- floats that are finite and whose `repr` has no exponent (pydantic-core writes `1e-7` where Python
  writes `1e-07`, and `0.000015` where Python writes `1.5e-05`);
- strings without DEL (Python escapes it as \\u007f, pydantic-core does not) or lone surrogates
  (pydantic-core refuses them).

Anything else, or any error, and the standard library writes the text, so the result (or the error
raised) is always exactly `json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True,
separators=(",", ": "), allow_nan=False)`. tests/unit/test_jsontext.py checks this on generated data.
"""

from __future__ import annotations

import json
import math

try:
    import pydantic_core
except ImportError:  # pragma: no cover - pydantic always brings it
    pydantic_core = None

_NONE = type(None)
_PLAIN = frozenset({str, int, bool, _NONE})  # values the sort pass leaves as they are
_STR = frozenset({str})


class _UnsupportedError(Exception):
    """A value this fast path does not vouch for: the standard library writes the text."""


def dumps(value: object) -> str:
    """`json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True, separators=(",", ": "), allow_nan=False)`."""
    if pydantic_core is not None:
        try:
            text = pydantic_core.to_json(_sorted(value), indent=2, ensure_ascii=True)
            if b"\x7f" not in text:
                return text.decode("ascii")
        except (_UnsupportedError, RecursionError, ValueError, TypeError):
            pass  # pydantic_core.PydanticSerializationError is a ValueError
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True, separators=(",", ": "), allow_nan=False)


def _sorted(value: object) -> object:
    """A copy of `value` with every dict's keys in sorted order; raises _UnsupportedError for other values."""
    kind = type(value)
    if kind is dict:
        keys = sorted(value)  # unique exact str keys: the order json.dumps gives its sorted items
        if not set(map(type, keys)) <= _STR:
            raise _UnsupportedError  # json.dumps turns other keys into strings, after sorting them
        return {key: (item if type(item := value[key]) in _PLAIN else _sorted(item)) for key in keys}
    if kind is list:
        return [(item if type(item) in _PLAIN else _sorted(item)) for item in value]
    if kind is float:
        if not math.isfinite(value) or "e" in repr(value):
            raise _UnsupportedError
        return value
    if kind in _PLAIN:
        return value
    raise _UnsupportedError  # tuples, subclasses, other types: the standard library's rules
