"""The fast YAML layout writes exactly what PyYAML writes, and reads back as the same data.

`yamlout.dump` lays out block mappings and sequences itself and lets PyYAML render each distinct
scalar (cached). Generated documents with hostile strings (YAML 1.1 words, indicators, quotes,
newlines, control and non-ASCII characters) must give byte-identical output to a whole-document
PyYAML dump, whichever path `dump` took.
"""

from __future__ import annotations

import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec.emit import yamlout
from mlspec.emit.pins import PINS

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


def _comments_line_by_line(text: str) -> str:
    """The comment rules as they were first written, one line at a time (the reference for `dump`)."""
    uses_rule = re.compile(r"^(\s*(?:- )?uses: )([\w.-]+/[\w.-]+)@([0-9a-f]{40})$")
    write_rule = re.compile(r"^(\s*)(issues|actions|pull-requests): (write|read)$")
    lines = []
    for line in text.splitlines():
        uses = uses_rule.match(line)
        if uses and PINS.get(uses.group(2), ("",))[0] == uses.group(3):
            line = f"{line}  # {PINS[uses.group(2)][1]}"
        write = write_rule.match(line)
        if write:
            line = f"{line}  # {yamlout.PERMISSION_REASONS[(write.group(2), write.group(3))]}"
        if line == "  workflow_run:":
            lines.append("  # Safe use of workflow_run: the job only downloads the report artifact as data; it never")
            lines.append("  # checks out or runs the pull request's code (see mlspec pr-comment).")
            line += "  # zizmor: ignore[dangerous-triggers]"
        lines.append(line)
    return "\n".join(lines) + "\n"


_ACTION, (_SHA, _VERSION) = next(iter(PINS.items()))
_LINE_PARTS = ["", " ", "  ", "    ", "- ", "x", "\t", ":", "uses: ", f"{_ACTION}@{_SHA}", f"{_ACTION}@{_SHA}0",
               f"o/n@{_SHA}", "issues: write", "actions: read", "pull-requests: write", "contents: read",
               "  workflow_run:", "workflow_run:", "issues: ", "write", " # c"]
comment_texts = st.lists(st.lists(st.sampled_from(_LINE_PARTS), max_size=4).map("".join), max_size=8).map(
    lambda lines: "\n".join(lines) + "\n")


@settings(max_examples=2000, deadline=None)
@given(comment_texts)
def test_comments_go_on_exactly_the_lines_the_line_by_line_rules_chose(text: str) -> None:
    expected = _comments_line_by_line(text)
    assert yamlout.dump({}, "h").decode("ascii") == "# h\n{}\n"  # the header and the empty document
    got = yamlout._comment(text)
    assert got == expected


def test_comment_rules_on_a_workflow() -> None:
    text = (f"on:\n  workflow_run:\njobs:\n  a:\n    permissions:\n      issues: write\n      actions: read\n"
            f"    steps:\n      - uses: {_ACTION}@{_SHA}\n      - name: x\n        uses: {_ACTION}@{_SHA}\n"
            f"        with:\n          note: 'uses: {_ACTION}@{_SHA}'\n")
    assert yamlout._comment(text) == _comments_line_by_line(text)
    assert yamlout._comment(text).count(f"  # {_VERSION}") == 2


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(keys, st.recursive(leaves, _containers, max_leaves=6), max_size=3),
                min_size=1, max_size=3),
       st.lists(st.tuples(st.sampled_from(["steps", "jobs", "a"]), st.integers(0, 3)), min_size=1, max_size=4))
def test_shared_blocks_give_the_bytes_of_the_same_data_written_out(blocks: list[dict], places) -> None:
    """Shared mappings (laid out and commented once, reused) at several depths and list positions: the
    same bytes as plain dicts, on the fast path and on PyYAML's; a block with a pinned `uses:` line is
    commented everywhere it appears."""
    shared = [yamlout.Shared(block) for block in blocks]
    shared.append(yamlout.Shared({"name": "Check out", "uses": f"{_ACTION}@{_SHA}"}))
    document: dict = {}
    for depth, (key, nest) in enumerate(places):
        inner: dict = document
        for level in range(nest):
            inner = inner.setdefault(f"{key}{level}", {})
        inner[f"{key}_{depth}"] = [*shared, "x", *reversed(shared)]
    expected = yamlout.dump(_plain(document), "h")
    assert yamlout.dump(document, "h") == expected  # with the layouts made on the way
    assert yamlout.dump(document, "h") == expected  # with the layouts reused
    assert expected.count(f"@{_SHA}  # {_VERSION}".encode()) == 2 * len(places)
    for block in shared:
        block.layouts.clear()
    assert yamlout._pyyaml(document) == yamlout._pyyaml(_plain(document))


_ANALYSIS_ALPHABET = " \n:#-?,[]{}&*!|>'\"%@`.ab\t\x7f\u00e9"


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(alphabet=_ANALYSIS_ALPHABET, min_size=1, max_size=12),
                 st.sampled_from(["---", "...", "--- a", "...a", "a:", ":", "-", "?", "#", "a #b", "a#b", "a\n#b",
                                  "a:\nb", "a :b", " ", "\n", "a \nb", "a\n b", "a\n"])))
def test_analysis_is_pyyaml_s(value: str) -> None:
    """The string-method analysis of printable ASCII text gives every flag PyYAML's own loop gives."""
    assert vars(yamlout._analysis(value)) == vars(yaml.emitter.Emitter.analyze_scalar(yamlout._ANALYZER, value))


def test_analysis_is_pyyaml_s_on_every_short_string() -> None:
    alphabet = " \n:#-?,[a.'"
    values = [a + b + c for a in alphabet for b in ["", *alphabet] for c in ["", *alphabet]]
    for value in values:
        expected = vars(yaml.emitter.Emitter.analyze_scalar(yamlout._ANALYZER, value))
        assert vars(yamlout._analysis(value)) == expected, repr(value)
