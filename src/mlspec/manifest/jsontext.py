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

`dumps_models` writes pydantic models (the manifest) the same way straight from their fields, without
first copying them into plain data, and says when it cannot vouch for its text.
"""

from __future__ import annotations

import functools
import json
import re

import pydantic

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


# Python writes a float with an exponent below 1e-4 and from 1e16 (`1e-05`, `1e+16`); orjson then
# writes `0.00001` or `1e16`. In orjson's compact text a number follows `:`, `,` or `[`; a match here
# (or a false one inside a string) sends the data the slow, exact way. (Searched in the compact text:
# in the indented one the engine tries every line's indentation, four times slower.)
_PYTHON_EXPONENT = re.compile(rb"[:,\[]-?(?:0\.0000|[0-9][0-9.]*e)")


def dumps_models(value: object) -> str | None:
    """The canonical JSON of `value` with pydantic models written as their fields, or None when unsure.

    For plain models (below) `model.__dict__` is what `model_dump(mode="json")` gives, so this text is
    `dumps(value.model_dump(mode="json"))` without building that copy of the data (0.16 s for the
    manifest of 1,000 models). orjson writes everything here; the text is returned only when nothing
    in it can differ from the standard library's: ASCII without DEL (strings are escaped alike), no
    float Python would write with an exponent, no NaN or infinity (orjson writes null, Python
    refuses: plain models must forbid them, see `_schema_shape`), and no value orjson would write
    that json.dumps refuses (sets, bytes, dates, dataclasses and subclasses reach the `fields` hook
    and are refused there). None tells the caller to dump the model's data itself.
    """
    if orjson is None:
        return None
    checked: dict[type, bool] = {}  # per call: a subclass defined since the schema was read counts

    def fields(model: object) -> dict:
        """orjson's fallback for types it does not write itself: a plain model's fields, else refuse."""
        cls = type(model)
        plain = checked.get(cls)
        if plain is None:
            plain = checked[cls] = _plain(cls)
        attributes = getattr(model, "__dict__", None)
        # more entries than fields: something else lives there (a cached_property, say)
        if plain and len(attributes) == len(cls.model_fields):
            return attributes
        raise TypeError(f"not written by the fast path: {cls.__name__}")

    try:
        compact = orjson.dumps(value, default=fields, option=_MODEL_OPTIONS)
    except (TypeError, ValueError, RecursionError):  # orjson.JSONEncodeError is a TypeError
        return None
    if not compact.startswith((b"{", b"[")) or not compact.isascii() or b"\x7f" in compact \
            or _PYTHON_EXPONENT.search(compact) is not None:
        return None
    return orjson.dumps(value, default=fields, option=_MODEL_OPTIONS | orjson.OPT_INDENT_2).decode("ascii")


if orjson is not None:
    _MODEL_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
                      | orjson.OPT_PASSTHROUGH_SUBCLASS)


# Core-schema keys that make a dump differ from a model's `__dict__`: custom serializers (on fields, in
# `Annotated` metadata or on the model), aliases, exclusions and computed fields.
_NOT_PLAIN_KEYS = frozenset({"serialization", "serialization_alias", "serialization_exclude",
                             "serialization_exclude_if", "computed_fields"})
# Schemas whose values are not models or JSON data as such (their own configs and rules apply).
_NOT_PLAIN_TYPES = frozenset({"typed-dict", "dataclass", "dataclass-args", "model-fields-extra"})


@functools.cache
def _schema_shape(cls: type) -> tuple[type, ...] | None:
    """The model classes in a plain model's core schema (None when the model is not plain).

    Plain: its `__dict__` is exactly its JSON-mode dump, field for field, as far as the schema says
    (pydantic records there everything that changes a dump): no custom serializer anywhere (field,
    type metadata, model), no alias, exclusion or computed field, no typed dict or dataclass, no extra
    values; NaN and infinity refused everywhere (orjson writes null, `model_dump(mode="json")` keeps
    a float field's NaN, which the standard library refuses). A model class in it must also have no
    subclass (checked per call by the caller: one may be defined later), since a subclass instance in
    a field is dumped as the declared class. Values must have passed validation: an int put into a
    float field by `model_construct` is dumped as a float but written as an int here.
    """
    if not (isinstance(cls, type) and issubclass(cls, pydantic.BaseModel)) or issubclass(cls, pydantic.RootModel):
        return None
    config = cls.model_config
    if config.get("extra") == "allow" or config.get("allow_inf_nan") is not False \
            or config.get("ser_json_inf_nan", "null") != "null":
        return None
    models: list[type] = []
    stack: list[object] = [cls.__pydantic_core_schema__]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            kind = node.get("type") if isinstance(node.get("type"), str) else None
            if any(node[key] for key in _NOT_PLAIN_KEYS.intersection(node)) or node.get("allow_inf_nan") is True \
                    or kind in _NOT_PLAIN_TYPES or node.get("extra_behavior") == "allow":
                return None
            if kind == "model" and isinstance(node.get("cls"), type):
                models.append(node["cls"])
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return tuple(dict.fromkeys(models))


def _plain(cls: type) -> bool:
    """Whether a model's `__dict__` is exactly its JSON-mode dump (see `_schema_shape`)."""
    shape = _schema_shape(cls)
    return shape is not None and not any(c.__subclasses__() for c in shape)
