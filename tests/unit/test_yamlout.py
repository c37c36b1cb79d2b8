"""`yamlout.dump` reads back as the data it was given, by a YAML 1.1 and a YAML 1.2 reader.

Generated documents carry hostile strings (YAML 1.1 words, numbers and dates, indicators, quotes,
line breaks PyYAML alone treats as such, bidi and zero-width characters, control characters) in keys,
values and notes; each must come back unchanged through PyYAML's pure-Python and C loaders and
through ruamel.yaml (YAML 1.2), as ASCII text whose comments do not change the data.
About 3,000 examples (`HYPOTHESIS_PROFILE=quick`: a tenth, `thorough`: ten times as many).
"""

from __future__ import annotations

import io
import os
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mlspec.emit.yamlout import Commented, dump

_SCALE = {"quick": 0.1, "thorough": 10.0}.get(os.environ.get("HYPOTHESIS_PROFILE", "default"), 1.0)

HOSTILE = ["on", "Off", "YES", "no", "y", "N", "null", "Null", "~", "true", "FALSE", "0777", "0o17", "0x1F", "3.10",
           "1e3", "1_000", "1:20", "-1", "+1", ".5", ".inf", "-.Inf", ".NaN", "2024-01-01", "2001-12-14 21:59:43.10 -5",
           "<<", "=", "- x", "-", "?", ":", "? x", "key: value", "a:", "a #b", "#c", "&a", "*a", "!tag", "|", ">",
           "%YAML", "@x", "`x", "'quoted'", '"q"', "it's", "---", "...", "--- x", "", " ", " x", "x ", "a\n", "a\n\n",
           "a\n\n\n", "\na", " a\nb", "a \nb", "a\n b", "a\n\nb", "a\n \nb", "a\r\nb", "a\tb", "\t", "\x85", "\u2028",
           "\u2029", "\ufeff", "\u202e", "\u200b", "\x7f", "\x00", "\x1b[31m", "é", "\U0001f600",
           "${{ github.token }}", "${{ secrets['A'] }}", "run: |", "x: |\n  y", "[a, b]", "{a: b}", "a, b", "\\n",
           "a\\"]
text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30),
                 st.text(alphabet=" :#-'\"\n\r\t{}[]|>!&*%@`,?\\/$.~=<+0123456789abcyYnN\x85\u2028", max_size=30),
                 st.lists(st.sampled_from(HOSTILE), max_size=4).map("".join))
keys = st.one_of(text, st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True)).filter(lambda k: len(k) <= 40)
notes = st.lists(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=30),
                 min_size=1, max_size=3).map("\n".join)
leaves = st.one_of(text, st.integers(), st.booleans(), st.none(), st.just({}), st.just([]))


def _containers(children):
    return st.one_of(st.dictionaries(keys, children, max_size=4), st.lists(children, max_size=4))


values = st.recursive(leaves, _containers, max_leaves=30)
commented = st.recursive(leaves, lambda children: st.one_of(
    _containers(children), st.builds(Commented, children.filter(lambda v: not isinstance(v, Commented)), notes)),
    max_leaves=30)


def _plain_data(value: object) -> object:
    """`value` without its notes: what a reader gives back."""
    if isinstance(value, Commented):
        return _plain_data(value.value)
    if isinstance(value, dict):
        return {k: _plain_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_data(v) for v in value]
    return value


def _readers(text: str) -> list[object]:
    yaml12 = YAML(typ="safe", pure=True)
    return [yaml.load(text, Loader=yaml.SafeLoader), yaml.load(text, Loader=yaml.CSafeLoader),
            yaml12.load(io.StringIO(text))]


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # the hostile table, in the strategy's repr
@settings(max_examples=int(3000 * _SCALE), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.dictionaries(keys, commented, max_size=5), st.one_of(st.just(""), notes))
def test_every_reader_reads_back_the_data(document: dict, header: str) -> None:
    out = dump(Commented(document, header) if header else document)
    text = out.decode("ascii")  # ASCII: no line break or invisible character can hide in it
    expected = _plain_data(document)
    for read in _readers(text):
        assert read == expected, text
    assert not re.search(r"[ \t]$", text, re.MULTILINE), "no trailing whitespace (yamllint)"
    if header:
        assert text.startswith("".join(f"# {line}".rstrip() + "\n" for line in header.split("\n")))


@settings(max_examples=int(500 * _SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_any_value_reads_back_under_a_key_and_in_a_list(value: object) -> None:
    for document in ({"k": value}, {"k": [value, value]}, {"k": [[value]]}):
        for read in _readers(dump(document).decode("ascii")):
            assert read == document


@pytest.mark.parametrize(("value", "written"), [
    ("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
     "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"),
    ("${{ github.token }}", "${{ github.token }}"),
    ('python -m pip install "$MLSPEC_PACKAGE"', 'python -m pip install "$MLSPEC_PACKAGE"'),
    (".mlspec/reports/", ".mlspec/reports/"),
    (".", "."),
    ("on", "'on'"), ("No", "'No'"), (".inf", "'.inf'"), ("3.12", "'3.12'"), ("30 5 * * *", "'30 5 * * *'"),
    ("mlspec: main", "'mlspec: main'"), ("it's", "it's"), ("'x'", "'''x'''"), ("a #b", "'a #b'"),
    ("", "''"), (" x", "' x'"), ("a\tb", '"a\\tb"'), ("a\x85b", '"a\\x85b"'), ("a\u2028b", '"a\\u2028b"'),
    ('"\\', '\'"\\\''), ("x\n\n", '"x\\n\\n"'), ("a \nb", '"a \\nb"'),
])
def test_strings_are_plain_only_when_no_reader_can_mistake_them(value: str, written: str) -> None:
    assert dump({"k": value}).decode("ascii") == f"k: {written}\n"


def test_scripts_are_literal_blocks_and_notes_are_comments() -> None:
    document = {
        "on": Commented({"workflow_run": {"types": ["completed"]}}, "why this is safe\nzizmor: ignore[x]"),
        "jobs": {"a": {"permissions": {"issues": Commented("write", "open the issue")},
                       "steps": [{"uses": Commented("o/n@abc", "v1.2.3"), "with": {"k": 1}},
                                 {"run": "set -e\n\necho hi \\\n  there\n"}, {"run": "one\ntwo"}, ["x", True, None]]}}}
    assert dump(Commented(document, "DO NOT EDIT.\n\nmore")).decode("ascii") == """\
# DO NOT EDIT.
#
# more
# why this is safe
'on':  # zizmor: ignore[x]
  workflow_run:
    types:
      - completed
jobs:
  a:
    permissions:
      issues: write  # open the issue
    steps:
      - uses: o/n@abc  # v1.2.3
        with:
          k: 1
      - run: |
          set -e

          echo hi \\
            there
      - run: |-
          one
          two
      -
        - x
        - true
        - null
"""


def test_empty_documents_and_containers() -> None:
    assert dump({}) == b"{}\n"
    assert dump(Commented({}, "h")) == b"# h\n{}\n"
    assert dump({"a": {}, "b": []}) == b"a: {}\nb: []\n"


@pytest.mark.parametrize("document", [{"k": 1.5}, {"k": (1, 2)}, {1: "x"}, {"x" * 300: 1}, ["not a mapping"],
                                      {"k": Commented(1, "a\x85b")}, Commented({}, "\u2028"), {"k": "\ud800"}])
def test_what_a_workflow_never_holds_is_refused(document: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        dump(document)
