"""Diagnostics: what went wrong, exactly where, and how to fix it.

A `Diagnostic` is plain data. Every phase returns diagnostics instead of raising, so the CLI can
report all problems at once. Renderers turn a list of diagnostics into text for people
(`full`, `concise`), for machines (`json`) or for GitHub annotations (`github`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

KeyPath = tuple[str | int, ...]
# Separates the lines of a hint that shows lines to write into a spec. A control character, so no spec
# text can contain it (the loader refuses them): text quoted from a spec never breaks a hint's line.
HINT_BREAK = "\x1e"


class Severity(StrEnum):
    """How bad a finding is: errors stop compilation, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a file: 1-based line and column, and an optional end column on the same line."""

    file: str
    line: int
    col: int
    end_col: int | None = None


@dataclass(frozen=True, slots=True)
class Pointer:
    """A place in a spec named by its key path, placed on a line later by the source map.

    `part` says whether the key itself or its value is meant; `offset` and `length` select
    characters inside a single-line string value (used for expression errors).
    """

    file: str
    path: KeyPath
    part: str = "value"
    offset: int | None = None
    length: int | None = None


Where = Span | Pointer | None


@dataclass(frozen=True, slots=True)
class Related:
    """A second place that explains a diagnostic, such as the first definition of a duplicate."""

    where: Where
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: a stable code, a message, where it is, and a hint that says how to fix it."""

    code: str
    message: str
    where: Where = None
    hint: str | None = None
    severity: Severity = Severity.ERROR
    related: tuple[Related, ...] = field(default=())

    @property
    def span(self) -> Span | None:
        """The resolved position, if this diagnostic has been placed."""
        return self.where if isinstance(self.where, Span) else None


def sort_key(diag: Diagnostic) -> tuple:
    """Order diagnostics by file, line, column, then code, so output is stable."""
    span = diag.span
    if span is None:
        return ("", 0, 0, diag.code, diag.message)
    return (span.file, span.line, span.col, diag.code, diag.message)


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    """True when at least one diagnostic is an error."""
    return any(d.severity is Severity.ERROR for d in diags)


# ---------------------------------------------------------------------------------------------
# Renderers
# ---------------------------------------------------------------------------------------------

SourceLines = Mapping[str, Sequence[str]]


def _location(span: Span | None) -> str:
    if span is None:
        return "mlspec"
    return f"{span.file}:{span.line}:{span.col}"


def _safe_text(text: str) -> str:
    """Keep control characters out of terminal output: a hostile spec must not drive the terminal."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\t":
            out.append(" ")
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif 0x2028 <= code <= 0x202E or 0x2066 <= code <= 0x2069 or 0x200B <= code <= 0x200F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _snippet(span: Span, sources: SourceLines) -> list[str]:
    lines = sources.get(span.file)
    if not lines or span.line < 1 or span.line > len(lines):
        return []
    raw = lines[span.line - 1]
    if len(raw) > 200:
        start = max(0, span.col - 80)
        raw = raw[start : start + 200]
        col = span.col - start
    else:
        col = span.col
    text = _safe_text(raw)
    width = max(1, (span.end_col - span.col) if span.end_col and span.end_col > span.col else 1)
    width = min(width, max(1, len(text) - col + 1))
    gutter = str(span.line)
    pad = " " * len(gutter)
    return [
        f"{pad} |",
        f"{gutter} | {text}",
        f"{pad} | {' ' * (col - 1)}{'^' * width}",
    ]


def render_full(diags: Sequence[Diagnostic], sources: SourceLines) -> str:
    """Human output: header line, the source line with a caret under the culprit, then help."""
    blocks = []
    for d in diags:
        lines = [f"{_location(d.span)}: {d.code} {_safe_text(d.message)}"]
        if d.span is not None:
            lines.extend(_snippet(d.span, sources))
        for rel in d.related:
            rel_span = rel.where if isinstance(rel.where, Span) else None
            lines.append(f"  = note: {_safe_text(rel.message)} at {_location(rel_span)}")
        if d.hint:  # a hint of several lines (lines to add to a spec) keeps them, aligned under the first
            first, *rest = d.hint.split(HINT_BREAK)
            lines.append(f"  = help: {_safe_text(first)}")
            lines.extend(f"          {_safe_text(line)}".rstrip() for line in rest)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def render_concise(diags: Sequence[Diagnostic], sources: SourceLines | None = None) -> str:
    """One line per diagnostic, like a compiler in an editor's problem matcher."""
    return "".join(f"{_location(d.span)}: {d.code} {_safe_text(d.message)}\n" for d in diags)


def render_json(diags: Sequence[Diagnostic], sources: SourceLines | None = None) -> str:
    """A JSON document with every diagnostic, for tools."""

    def place(where: Where) -> dict:
        if isinstance(where, Span):
            return {"file": where.file, "line": where.line, "col": where.col, "end_col": where.end_col}
        return {"file": None, "line": None, "col": None, "end_col": None}

    items = []
    for d in diags:
        item: dict[str, Any] = {"code": d.code, "severity": str(d.severity), "message": d.message,
                "hint": d.hint.replace(HINT_BREAK, "\n") if d.hint else d.hint}
        item.update(place(d.where))
        item["related"] = [{"message": r.message, **place(r.where)} for r in d.related]
        items.append(item)
    doc = {"diagnostics": items, "errors": sum(d.severity is Severity.ERROR for d in diags),
           "warnings": sum(d.severity is Severity.WARNING for d in diags)}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


GITHUB_ANNOTATION_LIMIT = 10


def render_github(diags: Sequence[Diagnostic], sources: SourceLines | None = None) -> str:
    """GitHub workflow commands: at most 10 annotations per severity, then one notice with the rest.

    GitHub shows only 10 annotations of each severity per step; the rest would be silently lost,
    so they are counted in a final notice instead.
    """
    out = []
    shown = {Severity.ERROR: 0, Severity.WARNING: 0}
    hidden = 0
    for d in diags:
        if shown[d.severity] >= GITHUB_ANNOTATION_LIMIT:
            hidden += 1
            continue
        shown[d.severity] += 1
        props = []
        span = d.span
        if span is not None:
            props.append(f"file={_gh_property(span.file)}")
            props.append(f"line={span.line}")
            props.append(f"col={span.col}")
        props.append(f"title={_gh_property(d.code)}")
        body = d.message + (f"\nhelp: {d.hint.replace(HINT_BREAK, chr(10))}" if d.hint else "")
        out.append(f"::{'error' if d.severity is Severity.ERROR else 'warning'} {','.join(props)}::{_gh_data(body)}")
    if hidden:
        out.append(
            f"::notice title=mlspec::{hidden} more finding(s) not shown as annotations; "
            "run 'mlspec validate' locally to see them all"
        )
    return "".join(line + "\n" for line in out)


RENDERERS = {"full": render_full, "concise": render_concise, "json": render_json, "github": render_github}


def summary_line(diags: Sequence[Diagnostic]) -> str:
    """`Found 2 errors and 1 warning.` — the last line of human output."""
    errors = sum(d.severity is Severity.ERROR for d in diags)
    warnings = len(diags) - errors

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"Found {plural(errors, 'error')} and {plural(warnings, 'warning')}."
