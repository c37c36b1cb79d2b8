"""Turn pydantic validation errors into mlspec diagnostics that point at the exact key or value.

pydantic reports locations as model paths, which include union member names and discriminator
tags (`sources.tx.csv.schema.amount.min.int`). Walking the user's data along that path recovers
the key path in the file, and walking the model classes alongside gives the valid field names
for "did you mean" hints.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence

from pydantic import BaseModel, ValidationError

from mlspec.diagnostics import Diagnostic, KeyPath, Pointer
from mlspec.spec.names import hint_for
from mlspec.spec.v1.models import TRANSFORMS

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


def data_path(data: object, loc: Sequence[str | int]) -> tuple[KeyPath, bool]:
    """Follow `loc` through the user's data; return the key path and whether it ended on a real key."""
    path: list[str | int] = []
    node = data
    exact = True
    for part in loc:
        in_mapping = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part not in node:
            # a union member name or discriminator tag, or a missing key
            exact = False
        # anything else (union member names on scalars) adds nothing to the data path
    return tuple(path), exact


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
    node = data
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
        node = node[part] if isinstance(node, dict | list) else None
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


def translate(error: ValidationError, file: str, data: object, root: type[BaseModel],
              raw_text: callable) -> list[Diagnostic]:
    """Map every pydantic error to one diagnostic; union alternatives of one value become one."""
    diags: list[Diagnostic] = []
    seen_type_errors: dict[KeyPath, int] = {}
    for err in error.errors(include_url=False, include_input=True):
        kind = err["type"]
        loc = err["loc"]
        path, exact = data_path(data, loc)
        ctx = err.get("ctx") or {}
        value = _value_at(data, path)
        noun = _noun(path)
        if kind == "missing":
            missing = loc[-1]
            diags.append(Diagnostic("MLS102", f"missing required field '{missing}'{noun}",
                                    Pointer(file, path, "key"), f"add '{missing}: ...' here"))
        elif kind == "extra_forbidden":
            key = loc[-1]
            parent = model_at(root, data, path[:-1])
            allowed = field_names(parent) if parent else []
            diags.append(Diagnostic("MLS101", f"unknown field '{key}'{_noun(path[:-1])}",
                                    Pointer(file, path, "key"), hint_for(str(key), allowed, "field")))
        elif kind in ("union_tag_invalid", "invalid_transform"):
            tag_key = str(ctx.get("discriminator", "")).strip("'") or "transform"
            tag_value = value.get(tag_key) if isinstance(value, dict) else None
            if "expected_tags" in ctx:
                expected = [t.strip().strip("'") for t in str(ctx["expected_tags"]).split(",")]
            else:
                expected = list(TRANSFORMS)
            shown = f"'{tag_value}'" if isinstance(tag_value, str) else describe(tag_value)
            diags.append(Diagnostic("MLS104", f"unknown {tag_key} {shown}{noun}", Pointer(file, (*path, tag_key)),
                                    hint_for(str(tag_value), expected, tag_key)))
        elif kind == "union_tag_not_found":
            tag_key = str(ctx.get("discriminator", "")).strip("'")
            diags.append(Diagnostic("MLS102", f"missing required field '{tag_key}'{noun}",
                                    Pointer(file, path, "key"), f"add '{tag_key}: ...'"))
        elif kind == "literal_error":
            expected = [e.strip().strip("'") for e in str(ctx.get("expected", "")).replace(" or ", ",").split(",")]
            diags.append(Diagnostic("MLS104", f"invalid value {describe(value)} for '{path[-1]}'",
                                    Pointer(file, path), hint_for(str(value), [e for e in expected if e], "value")))
        elif kind in _TYPE_WORDS or kind.endswith("_type"):
            # a union of scalar types reports each alternative; keep one error per value
            if path in seen_type_errors and not exact:
                continue
            seen_type_errors[path] = len(diags)
            expected_word = _expected_word(kind, loc, value)
            hint = _type_hint(kind, value, raw_text(path))
            diags.append(Diagnostic("MLS103", f"'{path[-1] if path else 'spec'}' must be {expected_word}, "
                                    f"not {describe(value)}", Pointer(file, path), hint))
        elif kind.startswith("mls_"):
            diags.append(Diagnostic("MLS107", err["msg"] + noun, Pointer(file, path, "key"), ctx.get("hint")))
        elif kind == "string_pattern_mismatch":
            diags.append(Diagnostic("MLS106", f"{describe(value)} is not a valid '{path[-1]}'",
                                    Pointer(file, path), _pattern_hint(root, data, path)))
        else:
            diags.append(Diagnostic("MLS105", f"'{path[-1] if path else 'spec'}': {_range_message(err)}",
                                    Pointer(file, path), _range_hint(kind, ctx)))
    return diags


def _value_at(data: object, path: KeyPath) -> object:
    node = data
    for part in path:
        node = node[part]
    return node


def _noun(path: KeyPath) -> str:
    if len(path) >= 2 and path[0] in ("sources", "features", "models", "gates", "monitors"):
        return f" in {path[0][:-1]} '{path[1]}'"
    if path and path[0] == "project":
        return " in project"
    return ""


def _expected_word(kind: str, loc, value) -> str:
    if loc and loc[-1] in ("int", "float") and kind in ("int_type", "float_type"):
        return "a number"
    return _TYPE_WORDS.get(kind, kind.removesuffix("_type").replace("_", " "))


def _type_hint(kind: str, value: object, raw: str | None) -> str | None:
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


def _range_hint(kind: str, ctx: dict) -> str | None:
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
