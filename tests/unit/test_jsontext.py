"""`jsontext.dumps` writes exactly what `json.dumps(..., sort_keys=True, indent=2, ensure_ascii=True)` writes.

The fast path takes orjson's text only when it matches the standard library's compact text token for
token; everything else goes to the standard library. Generated data mixes both: floats with and without
exponents, DEL and lone surrogates, non-ASCII and control characters, empty and nested containers,
non-string keys, tuples and subclasses; the text (or the exception) must be the standard library's.
"""

from __future__ import annotations

import collections
import datetime
import enum
import functools
import json
import uuid
from pathlib import Path
from typing import Annotated, Any
from unittest import mock

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec.manifest import Manifest, canonical_json, jsontext
from tests.conftest import REPO


def _reference(value: object) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True, separators=(",", ": "), allow_nan=False)


class _Color(enum.Enum):
    RED = "red"


class _Text(str):
    """A str subclass (json.dumps writes it as a string; the fast path leaves it to json.dumps)."""


texts = st.one_of(st.text(max_size=12), st.sampled_from(["", "\x7f", "\ud800", "é", "\u2028", "\x00", "a\nb",
                                                         '"', "\\", "/", "\U0001f600"]))
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.1, 1e-05, 1e-7, 1e16, 1e15, 123456.789, -0.0, 5e-324, 0.5]))
leaves = st.one_of(texts, floats, st.integers(), st.integers(-3, 3), st.booleans(), st.none(),
                   st.just({}), st.just([]), texts.map(_Text))
keys = st.one_of(texts, st.integers(-3, 3))


def _containers(children):
    return st.one_of(st.dictionaries(texts, children, max_size=4), st.lists(children, max_size=4),
                     st.dictionaries(keys, children, max_size=3), st.lists(children, max_size=3).map(tuple),
                     st.dictionaries(texts, children, max_size=3).map(collections.OrderedDict))


values = st.recursive(leaves, _containers, max_leaves=30)


def _outcome(function, value: object) -> tuple[str, str]:
    try:
        return "text", function(value)
    except (ValueError, TypeError) as exc:
        return type(exc).__name__, ""


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_same_text_or_same_error_as_the_standard_library(value: object) -> None:
    assert _outcome(jsontext.dumps, value) == _outcome(_reference, value)


_ASCII = st.text(st.characters(min_codepoint=0, max_codepoint=126), max_size=8)  # no DEL, no non-ASCII


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_ASCII, st.recursive(
    st.one_of(_ASCII, st.integers(-(2**63), 2**63 - 1), st.booleans(), st.none(),
              st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: "e" not in repr(f))),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_ASCII, children, max_size=4)),
    max_leaves=30), max_size=5))
def test_plain_data_takes_the_fast_path(value: dict) -> None:
    """Data of the kinds a manifest holds (ASCII text, 64-bit integers, floats Python writes without an
    exponent) is laid out by orjson, never by the standard library's indenting encoder, and still byte
    for byte like it."""
    with mock.patch.object(jsontext.json, "dumps", wraps=json.dumps) as spy:
        text = jsontext.dumps(value)
    assert text == _reference(value)
    assert all("indent" not in call.kwargs for call in spy.call_args_list), spy.call_args_list


def test_deep_nesting_is_the_standard_library_s_problem() -> None:
    value: object = 1.5
    for _ in range(5000):
        value = [value]
    with pytest.raises(RecursionError):
        _reference(value)
    with pytest.raises(RecursionError):
        jsontext.dumps(value)


def test_the_golden_manifests_are_rewritten_unchanged() -> None:
    for path in sorted((REPO / "tests" / "golden").glob("*/expected/generated/manifest.json")):
        text = path.read_text(encoding="ascii")
        assert Manifest.model_validate_json(text).to_json() == text, path
        assert canonical_json(json.loads(text)) + "\n" == text


# ------------------------------------------------------------------------------------------------
# dumps_models: pydantic models written from their fields
# ------------------------------------------------------------------------------------------------

class _Inner(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    values: list[int | float] | None = None


class _Plain(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    text: str
    number: float
    either: int | float | None = None
    data: dict[str, Any] = {}
    inner: _Inner
    inners: dict[str, _Inner] = {}


finite = st.floats(allow_nan=False, allow_infinity=False)
any_values = st.recursive(
    st.one_of(texts, finite, st.floats(), st.integers(), st.booleans(), st.none(),
              st.sampled_from([(1, 2), frozenset({1}), b"x", datetime.date(2026, 1, 1), uuid.UUID(int=7),
                               _Color.RED])),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(texts, children, max_size=3)),
    max_leaves=12)
inners = st.builds(_Inner, name=texts, values=st.none() | st.lists(st.integers() | finite, max_size=4))
models = st.builds(_Plain, text=texts, number=finite, either=st.none() | st.integers() | finite,
                   data=st.dictionaries(texts, any_values, max_size=4), inner=inners,
                   inners=st.dictionaries(texts, inners, max_size=3))


def _model_reference(model: pydantic.BaseModel) -> str | None:
    try:
        return _reference(model.model_dump(mode="json"))
    except (ValueError, TypeError):
        return None


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models)
def test_a_model_s_fields_give_its_json_dump_s_text_or_nothing(model: _Plain) -> None:
    """Floats with and without exponents, non-ASCII and DEL, sets, bytes, dates, enums, UUIDs and tuples
    inside `Any`: the fast text is the standard library's text of the JSON-mode dump, or None."""
    text = jsontext.dumps_models(model)
    if text is not None:
        assert text == _model_reference(model)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.builds(_Plain, text=_ASCII, number=st.integers(-10**6, 10**6).map(float),
                 inner=st.builds(_Inner, name=_ASCII),
                 data=st.dictionaries(_ASCII, st.one_of(_ASCII, st.integers(-(2**63), 2**63 - 1)), max_size=4)))
def test_plain_model_data_takes_the_fast_path(model: _Plain) -> None:
    assert jsontext.dumps_models(model) == _model_reference(model)


class _Named(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    name: str


class _Aliased(_Named):
    other: str = pydantic.Field("x", serialization_alias="Other")


class _Serialized(_Named):
    @pydantic.field_serializer("name")
    def _upper(self, value: str) -> str:
        return value.upper()


class _Computed(_Named):
    @pydantic.computed_field
    @property
    def size(self) -> int:
        return len(self.name)


class _Extra(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow", allow_inf_nan=False)
    name: str


class _AllowsNaN(pydantic.BaseModel):
    number: float


_STRICT = pydantic.ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class _Rounded(pydantic.BaseModel):
    model_config = _STRICT
    number: Annotated[float, pydantic.PlainSerializer(lambda v: round(v, 1))]


class _ExcludedIfZero(pydantic.BaseModel):
    model_config = _STRICT
    number: int = pydantic.Field(0, exclude_if=lambda v: v == 0)


class _Base(pydantic.BaseModel):
    model_config = _STRICT
    name: str


class _Sub(_Base):
    more: int = 1


class _Holder(pydantic.BaseModel):
    model_config = _STRICT
    item: _Base


class _Cached(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str

    @functools.cached_property
    def shout(self) -> str:
        return self.name.upper()


class _NaNAsStrings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", allow_inf_nan=False, ser_json_inf_nan="strings")
    data: dict[str, Any]


def _accessed(model: _Cached) -> _Cached:
    assert model.shout == "A"  # now in the instance's __dict__, where orjson would find it
    return model


@pytest.mark.parametrize("model", [
    _Aliased(name="a"), _Serialized(name="a"), _Computed(name="a"), _Extra(name="a", more=1),
    _AllowsNaN(number=float("nan")), {"wrapped": _AllowsNaN(number=1.0)}, _Rounded(number=1.234),
    _ExcludedIfZero(), _Holder(item=_Sub(name="a")), _Holder(item=_Base(name="a")), _accessed(_Cached(name="a")),
    _NaNAsStrings(data={"x": float("nan")})], ids=lambda model: type(model).__name__)
def test_models_whose_fields_are_not_their_dump_are_left_to_the_caller(model) -> None:
    assert jsontext.dumps_models(model) is None


def test_every_manifest_model_takes_the_fast_path() -> None:
    """The manifest's own classes are plain: none of them drops it to the slow path by its shape."""
    import mlspec.manifest as manifest_module

    classes = [c for c in vars(manifest_module).values() if isinstance(c, type)
               and issubclass(c, pydantic.BaseModel) and c.__module__ == manifest_module.__name__
               and not c.__subclasses__()]  # the bases (NodeBase) are never instantiated
    assert len(classes) > 10 and manifest_module.Manifest in classes
    assert [c.__name__ for c in classes if not jsontext._plain(c)] == []


def test_a_generated_project_s_manifest_is_written_by_the_fast_path_exactly(tmp_path: Path) -> None:
    from mlspec import api
    from tests.spec_factory import generate_project

    root = tmp_path
    for path, text in generate_project(5, 60).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    manifest = api.load(root).manifest
    fast = jsontext.dumps_models(manifest)
    assert fast is not None
    assert fast == canonical_json(manifest.model_dump(mode="json"))


class _FieldAllowsNaN(pydantic.BaseModel):
    model_config = _STRICT
    number: float = pydantic.Field(allow_inf_nan=True)


class _TypeAllowsNaN(pydantic.BaseModel):
    model_config = _STRICT
    number: Annotated[float, pydantic.AllowInfNan(True)]


@pytest.mark.parametrize("model", [_FieldAllowsNaN(number=float("nan")), _TypeAllowsNaN(number=float("inf"))],
                         ids=lambda model: type(model).__name__)
def test_nan_allowed_on_one_field_is_left_to_the_caller(model) -> None:
    with pytest.raises(ValueError):
        _reference(model.model_dump(mode="json"))
    assert jsontext.dumps_models(model) is None


def test_a_subclass_defined_after_the_first_dump_is_noticed() -> None:
    class Base(pydantic.BaseModel):
        model_config = _STRICT
        name: str

    class Holder(pydantic.BaseModel):
        model_config = _STRICT
        item: Base

    assert jsontext.dumps_models(Holder(item=Base(name="a"))) == _model_reference(Holder(item=Base(name="a")))

    class Sub(Base):
        secret: str = "s3cr3t"

    assert jsontext.dumps_models(Holder(item=Sub(name="a"))) is None
