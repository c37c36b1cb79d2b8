"""Canonical JSON text (sorted keys, two-space indent, ASCII), byte for byte what `json.dumps` writes, fast.

With `indent` set, the standard library's encoder is its pure-Python one: most of the time of writing
the manifest of a large project (10 KB per model). orjson lays out sorted, indented JSON in Rust; its
text is taken only after a check against the standard library's: orjson's compact text must equal
the compact text of the standard library's C encoder (the pure-Python one runs only for `indent`),
key for key and character for character. Each encoder writes the same tokens compact or indented, and
two-space indentation is fixed by the tokens, so the indented texts are then equal too. The check
catches everything the two write differently: floats (orjson writes `1e-7` where Python writes
`1e-07`, and NaN as null), non-ASCII and DEL characters (orjson writes them raw), integers beyond 64
bits, and types only orjson accepts (dataclasses, enums, dates).

On any difference or error the standard library writes the text, so the result (or the error
raised) is always exactly `json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True,
separators=(",", ": "), allow_nan=False)`. tests/unit/test_jsontext.py checks this on generated data.
"""

from __future__ import annotations

import json

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency; without it the standard library writes everything
    orjson = None


def dumps(value: object) -> str:
    """`json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True, separators=(",", ": "), allow_nan=False)`."""
    if orjson is not None:
        try:
            same = orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == json.dumps(
                value, sort_keys=True, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")
            if same:
                return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode("ascii")
        except (TypeError, ValueError, RecursionError):  # orjson.JSONEncodeError is a TypeError
            pass  # the standard library gives the text or raises its own error below
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True, separators=(",", ": "), allow_nan=False)
