"""Positions of keys and values in a YAML file, by key path (shared by the compiler and the runtime).

Used only when something must be pointed at: a diagnostic at compile time, a data-contract failure
at run time. It scans the file's parse events once and maps every key path to spans.
"""

from __future__ import annotations

from typing import Any

from yaml.events import MappingEndEvent, MappingStartEvent, ScalarEvent, SequenceEndEvent, SequenceStartEvent
from yaml.parser import Parser as _ParserBase
from yaml.reader import Reader as _Reader
from yaml.scanner import Scanner as _Scanner

from mlspec.diagnostics import KeyPath, Span


class PurePythonParser(_Reader, _Scanner, _ParserBase):
    """The pure-Python parser, assembled like PyYAML's own loaders (no libyaml limits, slower)."""

    def __init__(self, stream: str) -> None:
        _Reader.__init__(self, stream)
        _Scanner.__init__(self)
        _ParserBase.__init__(self)


try:  # the C parser when PyYAML has libyaml
    from yaml._yaml import CParser as Parser
except ImportError:  # pragma: no cover
    Parser = PurePythonParser  # type: ignore[misc,assignment]


# key span, value span, scalar style of the value, and the value's start/end character index
Entry = tuple[Span | None, Span, str | None, int, int]


def _span(file: str, start, end) -> Span:
    end_col = end.column + 1 if end.line == start.line and end.column > start.column else None
    return Span(file, start.line + 1, start.column + 1, end_col)


def map_file(file: str, text: str) -> dict[KeyPath, Entry]:
    """Map every key path in a (well-formed) spec file to its key span, value span and style."""
    spans: dict[KeyPath, Entry] = {}
    parser = Parser(text)
    # frame: [path, is_mapping, pending_key, pending_key_span, next_index]
    stack: list[list] = []
    try:
        while parser.check_event():
            event: Any = parser.get_event()  # narrowed by `kind is`, which mypy does not follow
            kind = type(event)
            if kind is ScalarEvent or kind is MappingStartEvent or kind is SequenceStartEvent:
                value_span = _span(file, event.start_mark, event.end_mark)
                style = event.style if kind is ScalarEvent else None
                bounds = (event.start_mark.index, event.end_mark.index)
                path: KeyPath | None
                if not stack:
                    path = ()
                    spans[path] = (None, value_span, style, *bounds)
                else:
                    frame = stack[-1]
                    if frame[1] and frame[2] is None:
                        # a key: remember it until its value arrives
                        frame[2] = event.value if kind is ScalarEvent else "?"
                        frame[3] = value_span
                        path = None
                    elif frame[1]:
                        path = (*frame[0], frame[2])
                        spans.setdefault(path, (frame[3], value_span, style, *bounds))
                        frame[2] = None
                    else:
                        path = (*frame[0], frame[4])
                        frame[4] += 1
                        spans.setdefault(path, (None, value_span, style, *bounds))
                if kind is not ScalarEvent:
                    stack.append([path if path is not None else (), kind is MappingStartEvent, None, None, 0])
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                stack.pop()
    except Exception:  # noqa: S110 - a broken file already has its own diagnostic; map what we saw
        pass
    return spans




def line_of(text: str, path: KeyPath) -> int | None:
    """The 1-based line of the key at `path` (or of the value, for list items), if present."""
    entry = map_file("", text).get(tuple(path))
    if entry is None:
        return None
    key_span, value_span = entry[0], entry[1]
    return (key_span or value_span).line


_ESCAPE_WIDTH = {"x": 4, "u": 6, "U": 10}


def raw_index(raw: str, style: str | None, offset: int) -> int:
    """Where character `offset` of a scalar's value stands in its source text `raw`.

    Undoes what YAML does between the file and the value: quotes, escapes (`\\"`, `''`, `\\x41`),
    line folding, and block-scalar indentation, so a caret lands under the right character even in
    a multi-line or escaped value.
    """
    i, logical = 0, 0
    if style in ('"', "'"):
        i = 1
    elif style in ("|", ">"):
        i = raw.find("\n") + 1 if "\n" in raw else len(raw)
        indent = len(raw[i:]) - len(raw[i:].lstrip(" "))
        i += indent
        while i < len(raw) and logical < offset:
            if raw[i] == "\n":
                i += 1
                i += min(indent, len(raw[i:]) - len(raw[i:].lstrip(" ")))
            else:
                i += 1
            logical += 1
        return i
    while i < len(raw) and logical < offset:
        ch = raw[i]
        if style == '"' and ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt == "\n":  # an escaped line break joins the lines without a character
                i += 2
                while i < len(raw) and raw[i] in " \t":
                    i += 1
                continue
            i += _ESCAPE_WIDTH.get(nxt, 2)
        elif style == "'" and raw.startswith("''", i):
            i += 2
        elif ch == "\n":  # a folded line break: the break and the next line's indentation are one space
            i += 1
            while i < len(raw) and raw[i] in " \t":
                i += 1
        else:
            i += 1
        logical += 1
    return i
