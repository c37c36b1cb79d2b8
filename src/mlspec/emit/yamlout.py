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

_USES = re.compile(r"^(\s*(?:- )?uses: )([\w.-]+/[\w.-]+)@([0-9a-f]{40})$")
_WRITE = re.compile(r"^(\s*)(issues|actions|pull-requests): (write|read)$")


def _pyyaml(document: object) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10_000,
                     allow_unicode=False, explicit_start=False)


class _UnsupportedError(Exception):
    """A shape the fast layout does not cover: dump the whole document with PyYAML."""


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


# multi-line text that PyYAML writes as a literal block with no indentation indicator: printable ASCII,
# not starting with a space or a line break, at most one final line break
_LITERAL_SAFE = re.compile(r"[!-~][ -~]*(?:\n[ -~]*)*\n?")


def _literal(value: str) -> tuple[str, tuple[str, ...]] | None:
    """`|` or `|-` and the block's lines (indented by 2, blank lines empty), as PyYAML writes them."""
    if value.endswith("\n\n"):
        return None  # kept trailing blank lines: `|+`, which PyYAML may follow with a document end marker
    if not yaml.emitter.Emitter.analyze_scalar(_ANALYZER, value).allow_block:
        return None  # e.g. a space before a line break: PyYAML uses double quotes
    body = value[:-1] if value.endswith("\n") else value
    return ("|" if value.endswith("\n") else "|-"), tuple(f"  {line}" if line else "" for line in body.split("\n"))


def _one_line(value: str) -> str | None:
    """Plain or single-quoted form of a one-line string as PyYAML writes it, or None (double quotes)."""
    analysis = yaml.emitter.Emitter.analyze_scalar(_ANALYZER, value)
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


def _leaf(value: object) -> bool:
    return not isinstance(value, dict | list) or not value


def _leaf_text(value: object) -> tuple[str, tuple[str, ...]]:
    if isinstance(value, dict | list):
        return ("{}" if isinstance(value, dict) else "[]"), ()
    if not isinstance(value, str | int | bool) and value is not None:
        raise _UnsupportedError  # floats and other types: PyYAML's own representers
    return _scalar(value)


def _mapping(mapping: dict, indent: int, out: list[str], first_prefix: str | None = None) -> None:
    """Write `mapping` at column `indent`; the first line may start with `first_prefix` (a list dash)."""
    pad = " " * indent
    for i, (key, value) in enumerate(mapping.items()):
        if not isinstance(key, str):
            raise _UnsupportedError
        start = first_prefix if (i == 0 and first_prefix is not None) else pad
        _entry(f"{start}{_key(key)}:", value, indent, out)


def _entry(head: str, value: object, indent: int, out: list[str]) -> None:
    if _leaf(value):
        text, block = _leaf_text(value)
        out.append(f"{head} {text}")
        pad = " " * indent
        out.extend(f"{pad}{line}" if line else "" for line in block)
    elif isinstance(value, dict):
        out.append(head)
        _mapping(value, indent + 2, out)
    else:
        out.append(head)
        _sequence(value, indent + 2, out)


def _sequence(items: list, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, dict) and item:
            _mapping(item, indent + 2, out, first_prefix=f"{pad}- ")
        elif isinstance(item, list) and item:
            raise _UnsupportedError
        else:
            text, block = _leaf_text(item)
            out.append(f"{pad}- {text}")
            out.extend(f"{pad}{line}" if line else "" for line in block)


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
    lines = []
    for line in text.splitlines():
        uses = _USES.match(line)
        if uses and PINS.get(uses.group(2), ("",))[0] == uses.group(3):
            line = f"{line}  # {PINS[uses.group(2)][1]}"
        write = _WRITE.match(line)
        if write:
            line = f"{line}  # {PERMISSION_REASONS[(write.group(2), write.group(3))]}"
        if line == "  workflow_run:":
            lines.append("  # Safe use of workflow_run: the job only downloads the report artifact as data; it never")
            lines.append("  # checks out or runs the pull request's code (see mlspec pr-comment).")
            line += "  # zizmor: ignore[dangerous-triggers]"
        lines.append(line)
    comment = "".join(f"# {h}\n" if h else "#\n" for h in header.splitlines())
    return (comment + "\n".join(lines) + "\n").encode("ascii")
