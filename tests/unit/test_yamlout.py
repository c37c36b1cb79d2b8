"""The fast YAML layout writes exactly what PyYAML writes, and reads back as the same data.

`yamlout.dump` lays out block mappings and sequences itself and lets PyYAML render each distinct
scalar (cached). Generated documents with hostile strings (YAML 1.1 words, indicators, quotes,
newlines, control and non-ASCII characters) must give byte-identical output to a whole-document
PyYAML dump, whichever path `dump` took.
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec.emit import yamlout

WORDS = ["on", "off", "yes", "no", "null", "~", "true", "0777", "3.10", "1e3", "- x", "", " ", "a\n", "a\n\n",
         "a\n\n\n", "a\nb\n\n", "a\n\nb", "a\n \nb",
         "\nx", " x\ny", "x \n y", "${{ github.token }}", "run: |", "# not a comment", "'quoted'", '"q"',
         "key: value", "a\tb", "\u2028", "\x85", "é", "\x00"]
text = st.one_of(st.sampled_from(WORDS), st.text(max_size=20),
                 st.text(alphabet=" :#-'\"\n{}[]|>!&*%@`,?\\/$abc", max_size=20))
keys = st.one_of(st.sampled_from(["on", "jobs", "run", "with", "runs-on", "timeout-minutes", "0", "yes", "x.y"]),
                 st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), text)
leaves = st.one_of(text, st.integers(-10**6, 10**6), st.booleans(), st.none(), st.just({}), st.just([]))


def _containers(children):
    return st.one_of(st.dictionaries(keys, children, min_size=1, max_size=4),
                     st.lists(children, min_size=1, max_size=4))


documents = st.dictionaries(keys, st.recursive(leaves, _containers, max_leaves=25), min_size=1, max_size=5)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_layout_is_byte_identical_to_pyyaml_and_round_trips(document: dict) -> None:
    expected = yamlout._pyyaml(document)
    try:
        laid_out = yamlout._layout(document)
    except yamlout._UnsupportedError:
        laid_out = None  # dump() falls back to PyYAML for the whole document
    if laid_out is not None:
        assert laid_out == expected
    assert yaml.load(expected, Loader=yaml.CSafeLoader) == document


def test_workflow_shapes_take_the_fast_path() -> None:
    document = {"name": "mlspec: main", "on": {"push": {"branches": ["main"]}, "workflow_dispatch": {}},
                "permissions": {}, "jobs": {"train": {"runs-on": "ubuntu-24.04", "timeout-minutes": 30,
                                                      "steps": [{"name": "Run", "run": "set -e\necho hi\n",
                                                                 "env": {"A": "${{ secrets['A'] }}"}}]}}}
    assert yamlout._layout(document) == yamlout._pyyaml(document)
    assert yamlout.dump(document, "header").decode("ascii").startswith("# header\nname: 'mlspec: main'\n'on':\n")


def test_equal_but_differently_typed_values_do_not_share_a_rendering() -> None:
    """0 == False and 1 == True in Python; the scalar cache must still tell them apart."""
    yamlout._scalar.cache_clear()
    document = {"a": False, "b": 0, "c": True, "d": 1, "e": "0", "f": "false"}
    expected = "a: false\nb: 0\nc: true\nd: 1\ne: '0'\nf: 'false'\n"
    assert yamlout._layout(document) == yamlout._pyyaml(document) == expected
