"""Turn pydantic validation errors into mlspec diagnostics that point at the exact key or value.

pydantic reports locations as model paths, which include union member names and discriminator
tags (`sources.tx.csv.schema.amount.min.int`). Walking the user's data along that path recovers
the key path in the file, and walking the model classes alongside gives the valid field names
for "did you mean" hints.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from mlspec.diagnostics import Diagnostic, KeyPath, Pointer
from mlspec.spec.names import hint_for
from mlspec.spec.v1.features import TRANSFORMS

_TYPE_WORDS = {
    "string_type": "text", "int_type": "an integer", "float_type": "a number", "bool_type": "true or false",
    "dict_type": "a mapping", "list_type": "a list", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "int_from_float": "an integer", "none_required": "null", "literal_error": "one of the allowed values",
}


def describe(value: object) -> str:
    """How a value reads in an error message: `the number 3.1`, `a list`, `the text 'x'`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text '{shown}'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def data_path(data: object, loc: Sequence[str | int]) -> KeyPath:
    """Follow pydantic's `loc` through the user's data; union member names and tags add nothing."""
    path: list[str | int] = []
    node: Any = data
    for part in loc:
        in_mapping = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            path.append(part)
            node = node[part]
    return tuple(path)


def _unwrap(annotation: object) -> list[object]:
    """Flatten Optional/Union/Annotated to the concrete types they allow."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def model_at(root: type[BaseModel], data: object, path: KeyPath) -> type[BaseModel] | None:
    """The pydantic model class that validates the mapping at `path` in `data`, if any."""
    candidates: list[object] = [root]
    node: Any = data
    for part in path:
        nxt: list[object] = []
        for cand in candidates:
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                field = _field_by_alias(cand, part)
                if field is not None:
                    nxt.extend(_unwrap(field.annotation))
            else:
                origin = typing.get_origin(cand)
                if origin is dict:
                    nxt.extend(_unwrap(typing.get_args(cand)[1]))
                elif origin is list:
                    nxt.extend(_unwrap(typing.get_args(cand)[0]))
        # the path came from `data_path`, so each part indexes its node
        node = node[part] if isinstance(node, dict | list) else None  # type: ignore[index]
        candidates = _pick_member(nxt, node)
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    return models[0] if models else None


def _field_by_alias(model: type[BaseModel], key: object):
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None


def _pick_member(candidates: list[object], node: object) -> list[object]:
    """Among union members, keep the one whose tag (format/transform) matches the data."""
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    if len(models) <= 1 or not isinstance(node, dict):
        return candidates
    for tag_key, default in (("format", None), ("transform", "passthrough")):
        tag = node.get(tag_key, default)
        for model in models:
            field = model.model_fields.get(tag_key)
            if field is not None and typing.get_args(field.annotation) == (tag,):
                return [model]
    return candidates


def field_names(model: type[BaseModel]) -> list[str]:
    """The keys a user may write in a mapping validated by `model`."""
    return [field.alias or name for name, field in model.model_fields.items()]


_PATTERN_HINTS = {
    "python": "mlspec runs on Python 3.11 or later: write a quoted version such as \"3.12\"",
    "runner": "runner labels use letters, digits, '.', '_' and '-' (for example ubuntu-24.04)",
    "environment": "environment names use letters, digits, '.', '_' and '-' (for example production)",
    "name": "project names use lowercase letters, digits, '-' and '_', starting with a letter",
    "table": "a table name is an identifier, optionally schema-qualified (sales.orders)",
}
_FIELD_WORDS = {"python": "Python version", "runner": "runner label", "environment": "environment name",
                "table": "table name"}
_TAG_ERRORS = ("union_tag_invalid", "invalid_transform", "union_tag_not_found")


def label(path: KeyPath) -> str:
    """How a place reads in a message: `task`, `values[1]`, `spec`."""
    if not path:
        return "spec"
    if isinstance(path[-1], int):
        return f"{label(path[:-1])}[{path[-1]}]"
    return str(path[-1])


def translate(error: ValidationError, file: str, data: object, root: type[BaseModel],
              raw_text: Callable[[KeyPath], str | None]) -> list[Diagnostic]:
    """Map every pydantic error to one diagnostic; union alternatives of one value become one."""
    diags: list[Diagnostic] = []
    type_errors: dict[KeyPath, list[str]] = {}
    for err in error.errors(include_url=False, include_input=True):
        kind = err["type"]
        loc = err["loc"]
        path = data_path(data, loc)
        ctx = err.get("ctx") or {}
        value = _value_at(data, path)
        noun = _noun(path)
        if kind in _TAG_ERRORS and not isinstance(value, dict):
            kind = "model_type"  # a scalar where a mapping belongs: say that, not "unknown transform"
        if kind == "missing":
            missing = loc[-1]
            diags.append(Diagnostic("MLS102", f"missing required field '{missing}'{noun}",
                                    Pointer(file, path, "key"), _missing_hint(str(missing), value)))
        elif kind == "extra_forbidden":
            key = loc[-1]
            parent = model_at(root, data, path[:-1])
            allowed = field_names(parent) if parent else []
            diags.append(Diagnostic("MLS101", f"unknown field '{key}'{_noun(path[:-1])}",
                                    Pointer(file, path, "key"), hint_for(str(key), allowed, "field")))
        elif kind in ("union_tag_invalid", "invalid_transform"):
            tag_key = str(ctx.get("discriminator", "")).strip("'") or "transform"
            tag_value = value.get(tag_key) if isinstance(value, dict) else None
            expected = _expected(ctx, tag_key)
            shown = f"'{tag_value}'" if isinstance(tag_value, str) else describe(tag_value)
            diags.append(Diagnostic("MLS104", f"unknown {tag_key} {shown}{noun}", Pointer(file, (*path, tag_key)),
                                    hint_for(str(tag_value), expected, tag_key) + _choices(expected)))
        elif kind == "union_tag_not_found":
            tag_key = str(ctx.get("discriminator", "")).strip("'")
            diags.append(Diagnostic("MLS102", f"missing required field '{tag_key}'{noun}",
                                    Pointer(file, path, "key"),
                                    _missing_hint(tag_key, value) + _choices(_expected(ctx, tag_key))))
        elif kind == "literal_error":
            expected = [e.strip().strip("'") for e in str(ctx.get("expected", "")).replace(" or ", ",").split(",")]
            expected = [e for e in expected if e]
            shown = f"'{value}'" if isinstance(value, str) else describe(value)
            diags.append(Diagnostic("MLS104", f"invalid {label(path)} {shown}{noun}", Pointer(file, path),
                                    hint_for(str(value), expected, "value") + _choices(expected)))
        elif kind in _TYPE_WORDS or kind.endswith("_type"):
            # a union of scalar types reports each alternative: gather them into one message
            words = type_errors.get(path)
            word = _expected_word(kind, loc, value)
            if words is not None:
                if word not in words:
                    words.append(word)
                continue
            type_errors[path] = [word]
            diags.append(Diagnostic("MLS103", "", Pointer(file, path), _type_hint(kind, value, raw_text(path))))
        elif kind.startswith("mls_"):
            # a check inside a model: MLS107 at a key unless it names its own code, place and part
            where = (*path, ctx["field"]) if "field" in ctx else path
            # (a check with its own code names its field itself)
            diags.append(Diagnostic(ctx.get("code", "MLS107"), err["msg"] + ("" if "code" in ctx else noun),
                                    Pointer(file, where, ctx.get("part", "key")), ctx.get("hint")))
        elif kind == "string_pattern_mismatch":
            field = label(path)
            hint = _PATTERN_HINTS.get(str(path[-1]) if path else "") or _pattern_hint(root, data, path)
            field = _FIELD_WORDS.get(field, field)
            diags.append(Diagnostic("MLS108", f"{describe(value)} is not a valid {field}{noun}",
                                    Pointer(file, path), hint))
        else:
            diags.append(Diagnostic("MLS105", f"'{label(path)}' {_range_message(dict(err))}{noun}",
                                    Pointer(file, path), _range_hint(kind, ctx, value)))
    return [_finish_type_error(d, data, type_errors) if d.code == "MLS103" and not d.message else d for d in diags]


def _finish_type_error(diag: Diagnostic, data: object, type_errors: dict[KeyPath, list[str]]) -> Diagnostic:
    assert isinstance(diag.where, Pointer)  # as `translate` made it
    path = diag.where.path
    value = _value_at(data, path)
    words = list(dict.fromkeys(type_errors[path]))
    if "a number" in words and "an integer" in words:
        words.remove("an integer")
    expected = " or ".join(words)
    if len(path) == 2 and path[0] in _SECTION_KINDS:
        message = f"{_SECTION_KINDS[path[0]]} '{path[1]}' must be {expected}, not {describe(value)}"
    else:
        message = f"'{label(path)}' must be {expected}, not {describe(value)}{_noun(path)}"
    hint = diag.hint if len(set(words)) == 1 else None  # "quote it" is wrong when a number would also do
    return Diagnostic(diag.code, message, diag.where, hint)


def _expected(ctx: dict, tag_key: str) -> list[str]:
    if "expected_tags" in ctx:
        return [t.strip().strip("'") for t in str(ctx["expected_tags"]).split(",")]
    return list(TRANSFORMS) if tag_key == "transform" else ["csv", "parquet", "sql"] if tag_key == "format" else []


def _choices(expected: list[str]) -> str:
    return f" (choices: {', '.join(expected)})" if 1 < len(expected) <= 12 else ""


def _missing_hint(missing: str, parent: object) -> str:
    """`add 'x: ...'`, or, when a key close to it is present, the likely misspelling."""
    if isinstance(parent, dict):
        close = hint_for(missing, [k for k in parent if isinstance(k, str)], "key")
        if close.startswith("did you mean"):
            written = close.split("'")[1]
            return f"'{written}' looks like a misspelling of '{missing}'"
    return f"add '{missing}: ...' here"


def _value_at(data: object, path: KeyPath) -> object:
    node: Any = data
    for part in path:
        node = node[part]
    return node


_SECTION_KINDS = {"sources": "source", "features": "feature", "models": "model", "gates": "gate",
                  "monitors": "monitor"}


def _noun(path: KeyPath) -> str:
    """Where in the spec a path is, for messages: ` in column 'amount' of source 'tx'`."""
    if len(path) >= 2 and path[0] in _SECTION_KINDS:
        owner = f"{_SECTION_KINDS[path[0]]} '{path[1]}'"
        if len(path) >= 4 and path[0] == "sources" and path[2] == "schema":
            return f" in column '{path[3]}' of {owner}"
        if len(path) >= 4 and isinstance(path[2], str) and path[2] in ("split", "search", "cv", "drift", "quality",
                                                                     "performance", "approval", "checks"):
            return f" in the {path[2]} of {owner}"
        return f" in {owner}"
    if path and path[0] == "project":
        return " in project"
    return ""


def _expected_word(kind: str, loc, value) -> str:
    return _TYPE_WORDS.get(kind, kind.removesuffix("_type").replace("_", " "))


def _type_hint(kind: str, value: object, raw: str | None) -> str | None:
    if kind in ("int_type", "float_type") and isinstance(value, str) and value.strip().lower().lstrip("+-") in (
            "nan", "inf", "infinity", ".nan", ".inf"):
        return "NaN and infinity are not allowed; write a finite number"
    if kind == "string_type" and raw is not None and not isinstance(value, dict | list):
        return f"quote it: \"{raw}\" (unquoted, YAML reads it as {describe(value)})"
    if kind in ("int_type", "float_type") and isinstance(value, str):
        return "write the number without quotes"
    if kind == "bool_type" and isinstance(value, str):
        return "write true or false without quotes"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "write a mapping of keys and values here (key: value on indented lines)"
    if kind == "list_type":
        return "write a list here: [a, b] or one '- item' per line"
    return None


def _range_message(err: dict) -> str:
    ctx = err.get("ctx") or {}
    kind = err["type"]
    words = {"greater_than": "must be greater than {gt}", "greater_than_equal": "must be at least {ge}",
             "less_than": "must be less than {lt}", "less_than_equal": "must be at most {le}",
             "too_short": "needs at least {min_length} item(s)",
             "too_long": "has too many items (at most {max_length})",
             "string_too_short": "must not be empty",
             "string_too_long": "is too long (at most {max_length} characters)",
             "finite_number": "must be a finite number"}
    template = words.get(kind)
    if template is None:
        return err["msg"][0].lower() + err["msg"][1:]
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return err["msg"]


def _range_hint(kind: str, ctx: dict, value: object = None) -> str | None:
    if kind == "too_short":
        return "add at least one item"
    if kind.startswith("string_too_long"):
        return "shorten the text"
    return None


def _pattern_hint(root, data, path: KeyPath) -> str | None:
    holder = model_at(root, data, path[:-1])
    field = _field_by_alias(holder, path[-1]) if holder and path else None
    if field is not None and field.description:
        return field.description
    return None
