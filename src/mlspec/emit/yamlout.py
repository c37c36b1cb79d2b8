"""The one serializer for generated YAML: from data, never from templates; no anchors or aliases.

PyYAML quotes every scalar that could be read as something else (`on`, `yes`, `0777`), so spec text
that reaches a workflow as a value stays a plain string. Multi-line strings are written as literal
blocks for readability. Comments cannot be data in YAML, so the few we want (action versions, the
reason for each write permission) are added afterwards to lines whose content mlspec produced itself.

Speed: PyYAML's emitter is pure Python and was most of a large compile. Workflows are block mappings
and sequences of a few thousand distinct strings, so the block structure is laid out here and each
distinct scalar is rendered once, by PyYAML itself, and cached: quoting decisions stay PyYAML's, and
the output is byte-identical to a whole-document PyYAML dump (a test checks this). Any shape this
layout does not cover (a list directly inside a list, a scalar PyYAML would wrap) is dumped whole
by PyYAML.
"""

from __future__ import annotations

import functools
import re

import yaml

from mlspec.emit.pins import PINS

PERMISSION_REASONS = {
    ("issues", "write"): "open or update the monitor's issue",
    ("actions", "write"): "dispatch the retrain workflow",
    ("pull-requests", "write"): "post the report comment",
    ("actions", "read"): "download the report artifact of the pull request's run",
    ("issues", "read"): "find the monitor's issue",
    ("pull-requests", "read"): "read the pull request",
}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        """Never write anchors/aliases: the same object twice is written out twice."""
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        """Indent list items under their key (the style yamllint and most editors expect)."""
        return super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

# The lines that take a comment, each rule a head and a tail: `^(\s*(?:- )?uses: )(owner/name)@(sha)$`
# and `^(\s*)(issues|actions|pull-requests): (write|read)$` and `^  workflow_run:$`. The text is
# searched for the tails (their leading literal lets the regular expression engine skip ahead, in C,
# instead of a Python loop over every line); the callbacks check that the rest of the line is the head.
_USES_TAIL = re.compile(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40})$", re.MULTILINE)
_WRITE_TAIL = re.compile(r"(issues|actions|pull-requests): (write|read)$", re.MULTILINE)
_WORKFLOW_RUN_TAIL = re.compile(r"  workflow_run:$", re.MULTILINE)
_USES_HEAD = re.compile(r"\s*(?:- )?")
_WRITE_HEAD = re.compile(r"\s*")
_WORKFLOW_RUN_COMMENTED = (
    "  # Safe use of workflow_run: the job only downloads the report artifact as data; it never\n"
    "  # checks out or runs the pull request's code (see mlspec pr-comment).\n"
    "  workflow_run:  # zizmor: ignore[dangerous-triggers]")


def _head(match: re.Match) -> str:
    """What precedes `match` on its line."""
    text, start = match.string, match.start()
    return text[text.rfind("\n", 0, start) + 1:start]


def _pin_comment(tail: re.Match) -> str:
    """A `uses:` line pinned to a known SHA, with the version that SHA is."""
    pin = PINS.get(tail.group(1))
    if pin is None or pin[0] != tail.group(2) or not _USES_HEAD.fullmatch(_head(tail)):
        return tail.group(0)
    return f"{tail.group(0)}  # {pin[1]}"


def _reason_comment(tail: re.Match) -> str:
    """A permission line, with the reason the job needs it."""
    if not _WRITE_HEAD.fullmatch(_head(tail)):
        return tail.group(0)
    return f"{tail.group(0)}  # {PERMISSION_REASONS[(tail.group(1), tail.group(2))]}"


def _workflow_run_comment(tail: re.Match) -> str:
    """The `workflow_run:` trigger line, with why it is safe here."""
    return _WORKFLOW_RUN_COMMENTED if _head(tail) == "" else tail.group(0)


def _pyyaml(document: object) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10_000,
                     allow_unicode=False, explicit_start=False)


class _UnsupportedError(Exception):
    """A shape the fast layout does not cover: dump the whole document with PyYAML."""


class Shared(dict):
    """A mapping that appears verbatim in many places (the setup steps of every job), laid out once.

    The layout keeps its lines (comments included) per indentation and list position, so the mapping
    and everything in it must not change once built; workflows build each such block once.
    """

    __slots__ = ("layouts",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.layouts: dict[tuple[int, str | None], list[str]] = {}


_Dumper.add_representer(Shared, yaml.SafeDumper.represent_dict)


# Strings PyYAML always writes plain, unless an implicit resolver reads them as something else (`yes`,
# `null`): letters, digits and a few signs that are never indicators, starting with a letter, `_`, `/` or
# `$`, with no `: `, ` #`, quotes, leading or trailing space (none of those characters are allowed).
_PLAIN = re.compile(r"[A-Za-z_/$][A-Za-z0-9_/.$ ()=+-]*(?<! )")
_RESOLVERS = yaml.SafeDumper.yaml_implicit_resolvers


def _reads_as_other(value: str) -> bool:
    """Whether a YAML reader would resolve plain `value` to a non-string (PyYAML then quotes it)."""
    return any(regexp.match(value) for _tag, regexp in _RESOLVERS.get(value[:1], ()))


# PyYAML's own analysis of a scalar (it reads no emitter state but allow_unicode), to choose the style
# of one-line strings as its emitter would, without running the emitter
_ANALYZER = yaml.emitter.Emitter.__new__(yaml.emitter.Emitter)
_ANALYZER.allow_unicode = False

# Emitter.analyze_scalar is a Python loop over every character, run once per distinct string (thousands
# on large projects, a tenth of the emit time). For printable ASCII text with line breaks, where none of
# its special-character cases apply, _analysis computes the same flags with string methods; a test
# compares the two on generated strings of indicators, spaces and breaks.
_ASCII_TEXT = re.compile(r"[ -~\n]+")
_LEADING_INDICATORS = "#,[]{}&*!|>'\"%@`"
_INNER_BLOCK_INDICATOR = re.compile(r":(?:[ \n]|$)|(?<=[ \n])#")  # searched from the second character
_INNER_FLOW_INDICATOR = re.compile(r"[,?\[\]{}:]|(?<=[ \n])#")


def _analysis(value: str) -> yaml.emitter.ScalarAnalysis:
    """What Emitter.analyze_scalar returns for `value` (with allow_unicode off)."""
    if not _ASCII_TEXT.fullmatch(value):
        return yaml.emitter.Emitter.analyze_scalar(_ANALYZER, value)
    first, last = value[0], value[-1]
    followed_by_space = len(value) == 1 or value[1] in " \n"
    document_marker = value.startswith(("---", "..."))
    block_indicators = (document_marker or first in _LEADING_INDICATORS or (first in "?:-" and followed_by_space)
                        or _INNER_BLOCK_INDICATOR.search(value, 1) is not None)
    flow_indicators = (document_marker or first in _LEADING_INDICATORS or first in "?:"
                       or (first == "-" and followed_by_space) or _INNER_FLOW_INDICATOR.search(value, 1) is not None)
    multiline = "\n" in value
    edge_space = first in " \n" or last in " \n"  # leading or trailing space or break
    break_space, space_break = "\n " in value, " \n" in value
    plain = not (edge_space or break_space or space_break or multiline)
    return yaml.emitter.ScalarAnalysis(
        scalar=value, empty=False, multiline=multiline, allow_flow_plain=plain and not flow_indicators,
        allow_block_plain=plain and not block_indicators, allow_single_quoted=not (break_space or space_break),
        allow_double_quoted=True, allow_block=not (last == " " or space_break))


# multi-line text that PyYAML writes as a literal block with no indentation indicator: printable ASCII,
# not starting with a space or a line break, at most one final line break
_LITERAL_SAFE = re.compile(r"[!-~][ -~]*(?:\n[ -~]*)*\n?")


def _literal(value: str) -> tuple[str, tuple[str, ...]] | None:
    """`|` or `|-` and the block's lines (indented by 2, blank lines empty), as PyYAML writes them."""
    if value.endswith("\n\n"):
        return None  # kept trailing blank lines: `|+`, which PyYAML may follow with a document end marker
    if not _analysis(value).allow_block:
        return None  # e.g. a space before a line break: PyYAML uses double quotes
    body = value[:-1] if value.endswith("\n") else value
    return ("|" if value.endswith("\n") else "|-"), tuple(f"  {line}" if line else "" for line in body.split("\n"))


def _one_line(value: str) -> str | None:
    """Plain or single-quoted form of a one-line string as PyYAML writes it, or None (double quotes)."""
    analysis = _analysis(value)
    if analysis.multiline:
        return None
    if analysis.allow_block_plain and not analysis.empty and not _reads_as_other(value):
        return value
    if analysis.allow_single_quoted:
        return "'" + value.replace("'", "''") + "'"
    return None


@functools.lru_cache(maxsize=65_536, typed=True)  # typed: 0, False and 0.0 are equal keys otherwise
def _scalar(value: object) -> tuple[str, tuple[str, ...]]:
    """PyYAML's rendering of `value` as a mapping value: (text after `key: `, block lines indented by 2)."""
    if value is None:
        return "null", ()
    if isinstance(value, bool):
        return ("true" if value else "false"), ()
    if isinstance(value, int):
        return str(value), ()
    if isinstance(value, str) and _PLAIN.fullmatch(value) and not _reads_as_other(value):
        return value, ()
    if isinstance(value, str) and "\n" not in value and len(value) < 4000:  # PyYAML folds past 10,000 columns
        text = _one_line(value)
        if text is not None:
            return text, ()
    if isinstance(value, str) and _LITERAL_SAFE.fullmatch(value):
        literal = _literal(value)
        if literal is not None:
            return literal
    text = _pyyaml({"k": value})
    if not text.startswith("k: "):
        raise _UnsupportedError
    first, *rest = text[3:-1].split("\n")  # keep trailing empty lines: they belong to a `|+` block
    if rest and not first.startswith("|"):
        raise _UnsupportedError  # a scalar PyYAML wraps over lines (only past 10,000 columns)
    if first.startswith("|") and first.endswith("+"):
        raise _UnsupportedError  # kept trailing blank lines: PyYAML may end the document with `...` after it
    return first, tuple(rest)


_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


@functools.lru_cache(maxsize=4096)
def _key(key: str) -> str:
    # workflow keys are short names; PyYAML writes anything else in its `? key` form
    if not _SIMPLE_KEY.fullmatch(key):
        raise _UnsupportedError
    first, rest = _scalar(key)
    if rest or first not in (key, f"'{key}'"):
        raise _UnsupportedError
    return first


def _leaf_text(value: object) -> tuple[str, tuple[str, ...]]:
    if isinstance(value, dict | list):
        return ("{}" if isinstance(value, dict) else "[]"), ()
    if not isinstance(value, str | int | bool) and value is not None:
        raise _UnsupportedError  # floats and other types: PyYAML's own representers
    return _scalar(value)


# The layout below visits every value of every workflow (a few hundred thousand on large projects), so
# it is written for speed: one function per container, the checks inlined, strings joined with `+`.


def _mapping(mapping: dict, indent: int, out: list[str], first_prefix: str | None = None) -> None:
    """Write `mapping` at column `indent`; the first line may start with `first_prefix` (a list dash)."""
    pad = " " * indent
    start = pad if first_prefix is None else first_prefix
    inner = indent + 2
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise _UnsupportedError
        head = start + _key(key) + ":"
        start = pad
        if type(value) is str:  # most values: checked first
            text, block = _scalar(value)
        elif isinstance(value, dict) and value:
            out.append(head)
            _mapping(value, inner, out)
            continue
        elif isinstance(value, list) and value:
            out.append(head)
            _sequence(value, inner, out)
            continue
        else:
            text, block = _leaf_text(value)
        out.append(head + " " + text)
        if block:
            out.extend([pad + line if line else "" for line in block])


def _sequence(items: list, indent: int, out: list[str]) -> None:
    pad = " " * indent
    dash = pad + "- "
    inner = indent + 2
    for item in items:
        if type(item) is Shared and item:
            lines = item.layouts.get((inner, dash))
            if lines is None:
                block: list[str] = []
                _mapping(item, inner, block, first_prefix=dash)
                # the comment rules read one line at a time, and a line that has its comment no longer
                # matches them: commenting the block now gives the same text as the pass over the whole
                lines = item.layouts[inner, dash] = _comment("\n".join(block))[:-1].split("\n")
            out.extend(lines)
        elif isinstance(item, dict) and item:
            _mapping(item, inner, out, first_prefix=dash)
        elif isinstance(item, list) and item:
            raise _UnsupportedError
        else:
            text, block = _scalar(item) if type(item) is str else _leaf_text(item)
            out.append(dash + text)
            if block:
                out.extend([pad + line if line else "" for line in block])


def _layout(document: dict) -> str:
    """The block YAML of `document`, as PyYAML would write it (raises _UnsupportedError when unsure)."""
    out: list[str] = []
    _mapping(document, 0, out)
    return "\n".join(out) + "\n"


def dump(document: dict, header: str) -> bytes:
    """YAML text for `document`, with `header` as leading comment lines, ending in one newline."""
    try:
        text = _layout(document) if document else _pyyaml(document)
    except _UnsupportedError:
        text = _pyyaml(document)
    comment = "".join(f"# {h}\n" if h else "#\n" for h in header.splitlines())
    return (comment + _comment(text)).encode("ascii")


def _comment(text: str) -> str:
    """`text` with the comments added to the lines that take one; ends in one newline.

    The rules are exclusive (a line takes at most one), so applying them one after the other over the
    whole text adds the same comments as checking each line against all three.
    """
    body = "\n".join(text.splitlines())
    body = _USES_TAIL.sub(_pin_comment, body)
    body = _WRITE_TAIL.sub(_reason_comment, body)
    body = _WORKFLOW_RUN_TAIL.sub(_workflow_run_comment, body)
    return body + "\n"
