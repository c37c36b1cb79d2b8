"""`jsontext.dumps` writes exactly what `json.dumps(..., sort_keys=True, indent=2, ensure_ascii=True)` writes.

The fast path takes orjson's text only when it matches the standard library's compact text token for
token; everything else goes to the standard library. Generated data mixes both: floats with and without
exponents, DEL and lone surrogates, non-ASCII and control characters, empty and nested containers,
non-string keys, tuples and subclasses; the text (or the exception) must be the standard library's.
"""

from __future__ import annotations

import collections
import json
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec.manifest import Manifest, canonical_json, jsontext
from tests.conftest import REPO


def _reference(value: object) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=True, separators=(",", ": "), allow_nan=False)


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
