"""Strict YAML loading: spec text in, plain Python data out, or diagnostics that say why not.

Specs are untrusted (they arrive in pull requests, also from forks), so this loader accepts a
deliberately small subset of YAML: one document per file, no anchors, aliases, merge keys or
tags, no duplicate keys, string keys only, and no YAML 1.1 implicit types that surprise people
(`no` meaning false, `0777` meaning 511, `2024-01-01` meaning a date). Characters that hide
text from reviewers (NEL, line/paragraph separators, bidi controls, zero-width characters, C1
controls) are refused before parsing.

It builds values straight from libyaml's event stream (the C parser), so depth and node caps are
checked iteratively, before any recursive code could see a bomb. Positions of values are not kept
here: `sourcemap` finds them again when a later phase needs to point at one.
"""

from __future__ import annotations

import math
import re

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from mlspec.diagnostics import Diagnostic, Related, Span
from mlspec.errors import MlspecError
from mlspec.yamlpos.positions import Parser as _Parser
from mlspec.yamlpos.positions import PurePythonParser as _PurePythonParser

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 2_000_000
MAX_SCALAR_CHARS = 64 * 1024
MAX_NUMBER_CHARS = 32

# Characters refused anywhere in a spec: C0 controls except tab/LF/CR, DEL, C1 controls (NEL among
# them), zero-width characters, bidi controls, line/paragraph separators, BOMs past the start.
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ufff9-\ufffb]|\r(?!\n)"
)

_CHAR_NAMES = {
    "\x85": "NEL (next line, U+0085), which YAML reads as a line break",
    "\u2028": "LINE SEPARATOR (U+2028), which YAML reads as a line break",
    "\u2029": "PARAGRAPH SEPARATOR (U+2029), which YAML reads as a line break",
    "\r": "a lone carriage return, which some viewers hide",
    "\ufeff": "a byte-order mark inside the file",
    "\x00": "a NUL byte",
}

# Plain scalars that YAML 1.2 reads one way and YAML 1.1 (PyYAML, many other tools) another way.
_BOOL_11 = re.compile(r"(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)")
_BOOL_CASE = re.compile(r"(?:True|TRUE|False|FALSE)")
_NULL_LIKE = re.compile(r"(?:~|Null|NULL)")
_NOT_FINITE = re.compile(r"[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)")
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NUMBER_LIKE = re.compile(
    r"[-+]?(?:0[0-9]+(?:\.[0-9]*)?|0o[0-7]+|0x[0-9a-fA-F]+|0b[01]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?)"
)
# YAML 1.1's timestamp: a date, optionally with a time (the same rule PyYAML applies)
_DATE_LIKE = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?"
)


class _AbortError(MlspecError):
    """Stops building a file after a fatal finding; the diagnostic is already recorded."""


def _span(path: str, mark, end_mark=None) -> Span:
    end_col = None
    if end_mark is not None and end_mark.line == mark.line and end_mark.column > mark.column:
        end_col = end_mark.column + 1
    return Span(path, mark.line + 1, mark.column + 1, end_col)


def _index_to_span(path: str, text: str, index: int, length: int = 1) -> Span:
    line = text.count("\n", 0, index) + 1
    line_start = text.rfind("\n", 0, index) + 1
    col = index - line_start + 1
    return Span(path, line, col, col + length)


def _char_name(ch: str) -> str:
    import unicodedata

    code = ord(ch[0])
    name = unicodedata.name(ch[0], "")
    if name:
        return f"the invisible character {name} (U+{code:04X})"
    return f"the control character U+{code:04X}"


def decode(path: str, raw: bytes) -> tuple[str | None, list[Diagnostic]]:
    """Turn file bytes into text, refusing oversized, non-UTF-8 and hidden-character input."""
    if len(raw) > MAX_FILE_BYTES:
        return None, [Diagnostic(
            "MLS002", f"spec file is {len(raw):,} bytes, over the limit of {MAX_FILE_BYTES:,}",
            Span(path, 1, 1), "split the spec into several files under specs/")]
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = raw[: exc.start]
        line = prefix.count(b"\n") + 1
        col = len(prefix[prefix.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
        return None, [Diagnostic(
            "MLS003", f"spec file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            Span(path, line, col), "save the file as UTF-8")]
    found = _FORBIDDEN.search(text)
    if found:
        ch = found.group()
        name = _CHAR_NAMES.get(ch) or _char_name(ch)
        return None, [Diagnostic(
            "MLS004", f"spec contains {name}",
            _index_to_span(path, text, found.start()),
            "such characters can make a reviewer see different text than the parser; delete it")]
    return text, []


def _resolve_plain(value: str) -> object:
    """Resolve a plain (unquoted) scalar with YAML 1.2 core rules, refusing YAML 1.1 look-alikes."""
    if value in ("true", "false"):
        return value == "true"
    if value in ("", "null"):
        return None
    first = value[0]
    if not (first.isdigit() or first in "-+.~yYnNoOtTfF"):
        return value
    if _INT.fullmatch(value):
        if len(value) > MAX_NUMBER_CHARS:
            raise _RefusedError("MLS013", f"number {value[:20]}... has {len(value)} characters",
                           "numbers in specs have at most 32 characters; quote it if it is text")
        if not -2**63 <= int(value) < 2**63:  # the manifest's JSON (orjson) and numpy hold 64 bits
            raise _RefusedError("MLS013", f"integer {value} does not fit in 64 bits",
                                "integers in specs lie between -2**63 and 2**63-1; quote it if it is text")
        return int(value)
    if _FLOAT.fullmatch(value):
        if len(value) > MAX_NUMBER_CHARS:
            raise _RefusedError("MLS013", f"number {value[:20]}... has {len(value)} characters",
                           "numbers in specs have at most 32 characters; quote it if it is text")
        number = float(value)
        if not math.isfinite(number):
            raise _RefusedError("MLS013", f"number {value} is too large to be finite",
                           "use a smaller number, or quote it if it is text")
        return number
    if _BOOL_11.fullmatch(value):
        return _refuse_ambiguous(value, "a boolean in YAML 1.1 but text in YAML 1.2",
                                 f"write true or false, or quote it: \"{value}\"")
    if _BOOL_CASE.fullmatch(value):
        return _refuse_ambiguous(value, "a boolean only in some YAML versions; mlspec spells booleans in lowercase",
                                 f"write {value.lower()}, or quote it: \"{value}\"")
    if _NULL_LIKE.fullmatch(value):
        return _refuse_ambiguous(value, "null in some YAML versions; mlspec spells null in lowercase",
                                 f"write null, or quote it: \"{value}\"")
    if _NOT_FINITE.fullmatch(value):
        raise _RefusedError("MLS013", f"number {value} is not finite",
                            "specs take finite numbers only; quote it if it is text")
    if _NUMBER_LIKE.fullmatch(value):
        return _refuse_ambiguous(value, "a number in YAML 1.1 (octal, hex, sexagesimal, or with _)",
                                 f"write a plain decimal number, or quote it: \"{value}\"")
    if _DATE_LIKE.fullmatch(value):
        return _refuse_ambiguous(value, "a date in YAML 1.1", f"quote it: \"{value}\"")
    return value


class _RefusedError(MlspecError):
    """A plain value the strict rules refuse; becomes the diagnostic `code` where it was written."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.code = code


def _refuse_ambiguous(value: str, meaning: str, hint: str):
    raise _RefusedError("MLS011", f"plain value '{value}' is ambiguous: it is {meaning}", hint)


def parse(path: str, text: str) -> tuple[object | None, list[Diagnostic]]:
    """Build Python data from YAML text under the strict rules; never raises for bad input."""
    diags: list[Diagnostic] = []
    try:
        return _build(path, text, diags), diags
    except _AbortError:
        return None, diags
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in str(exc.problem):
            # libyaml (PyYAML >= 6.0.4) refuses deep nesting while scanning ahead, before mlspec's own,
            # lower limit sees the events; the pure-Python parser has no such limit, so it finds the
            # exact place mlspec's limit is passed (MLS014), whatever libyaml version is installed
            diags.clear()
            try:
                return _build(path, text, diags, _PurePythonParser), diags
            except _AbortError:
                return None, diags
            except yaml.MarkedYAMLError as again:
                exc = again
        diags.append(_syntax_error(path, text, exc))
        return None, diags
    except yaml.YAMLError as exc:  # errors without a position (reader errors)
        diags.append(Diagnostic("MLS005", f"YAML syntax error: {exc}", Span(path, 1, 1),
                                "check the file's indentation and quoting"))
        return None, diags


def _syntax_error(path: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    """A YAML syntax error at the problem, with a note at the context (the unclosed quote, bracket...)."""
    problem_mark, context_mark = exc.problem_mark, exc.context_mark
    last_line = text.count("\n") + (0 if text.endswith("\n") else 1)
    problem = exc.problem or exc.context or "invalid YAML"
    primary = problem_mark
    related: tuple[Related, ...] = ()
    if context_mark is not None and exc.context:
        if problem_mark is None or problem_mark.line + 1 > last_line:
            primary = context_mark  # the end of the file says nothing; the opening quote/bracket does
        elif (context_mark.line, context_mark.column) != (problem_mark.line, problem_mark.column):
            related = (Related(_span(path, context_mark), exc.context),)
    quote_line = None
    if problem_mark is not None:
        opened = _unclosed_quote_before(text, problem_mark.line)
        if opened is not None and opened[0] != problem_mark.line + 1:
            quote_line = opened[0]
            related = (Related(Span(path, opened[0], opened[1]), "a quote opened here is not closed on its line"),
                       *related)
    where = _span(path, primary) if primary is not None else Span(path, 1, 1)
    found = text[primary.index] if primary is not None and 0 <= primary.index < len(text) else ""
    message = f"YAML syntax error: {problem}"
    if primary is context_mark and exc.context:
        message += f" ({exc.context})"
    hint = _syntax_hint(f"{problem} {exc.context or ''}", found)
    if quote_line is not None:
        hint = f"close the quote on line {quote_line}"
    return Diagnostic("MLS005", message, where, hint, related=related)


def _unclosed_quote_before(text: str, last_line: int) -> tuple[int, int] | None:
    """The first line (1-based) before `last_line` whose value opens a double quote it never closes."""
    for number, line in enumerate(text.split("\n")[: last_line + 1], start=1):
        body = line.split(" #", 1)[0]
        quotes = [i for i, ch in enumerate(body) if ch == '"' and (i == 0 or body[i - 1] != "\\")]
        if len(quotes) % 2 == 1 and re.search(r'(?:^|[:\-\[,{]\s*)"', body):
            return number, quotes[-1] + 1
    return None


def _syntax_hint(problem: str, found: str) -> str:
    if "tab" in problem:
        return "indent with spaces, not tabs"
    if "alias" in problem or "anchor" in problem or found in ("*", "&"):
        return 'a value starting with * or & must be quoted (for a schedule: "*/15 * * * *")'
    if found in ("@", "`") or "'@'" in problem or "'`'" in problem:
        return "values starting with @ or ` must be quoted"
    if "cannot start any token" in problem:
        return "quote values that start with a special character (@ ` % ! & * | > { } [ ] ,)"
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted"
    if "escape" in problem or "hexdecimal" in problem:
        return ('in double quotes a backslash starts an escape (\\n, \\t, \\uXXXX for a character, not half of a '
                "surrogate pair); write \\\\ for a backslash, or use single quotes, where a backslash is plain text")
    if "quoted scalar" in problem or "end of stream" in problem:
        return "close the quote (a value that starts with a quote must end with the same quote)"
    if "flow sequence" in problem or "flow mapping" in problem or "',' or ']'" in problem or "',' or '}'" in problem:
        return "close the bracket: every [ needs a ] and every { a }"
    return "check the indentation and quoting around this position"


def _raw_token(text: str, mark) -> str | None:
    """The text written at `mark` up to the next space (to show a tag as the user wrote it)."""
    index = getattr(mark, "index", None)
    if index is None or not 0 <= index < len(text):
        return None
    token = text[index:].split(None, 1)
    return token[0] if token else None


def _build(path: str, text: str, diags: list[Diagnostic], parser_class=_Parser) -> object:
    parser = parser_class(text)
    get = parser.get_event
    check = parser.check_event
    # Each frame: [container, is_mapping, pending_key, key_marks]
    stack: list[list] = []
    root: object = None
    documents = 0
    nodes = 0

    def fatal(code: str, message: str, where: Span, hint: str) -> None:
        diags.append(Diagnostic(code, message, where, hint))
        raise _AbortError(message)

    while check():
        event = get()
        kind = type(event)
        if kind is ScalarEvent or kind is MappingStartEvent or kind is SequenceStartEvent:
            nodes += 1
            if nodes > MAX_NODES:
                fatal("MLS015", f"spec has more than {MAX_NODES:,} values", _span(path, event.start_mark),
                      "split the spec into several files")
            if event.anchor is not None:
                fatal("MLS007", f"anchors (&{event.anchor}) are not allowed in specs",
                      _span(path, event.start_mark),
                      "write the value out in full; specs forbid anchors and aliases so every value "
                      "is visible where it is used (a source reuses another's contract with "
                      "schema: {like: SOURCE, drop: [COLUMN]})")
            if event.tag is not None:
                written = _raw_token(text, event.start_mark) or event.tag
                fatal("MLS008", f"tags ({written}) are not allowed in specs", _span(path, event.start_mark),
                      "remove the tag; quote the value if you meant text")
            if kind is ScalarEvent:
                if len(event.value) > MAX_SCALAR_CHARS:
                    fatal("MLS015", f"value has {len(event.value):,} characters, over {MAX_SCALAR_CHARS:,}",
                          _span(path, event.start_mark), "keep spec values short; put data in data files")
                if not event.style:
                    try:
                        value = _resolve_plain(event.value)
                    except _RefusedError as refused:
                        in_key = bool(stack) and stack[-1][1] and stack[-1][2] is _NO_KEY
                        hint = f"quote the key: \"{event.value}\"" if in_key else refused.hint
                        diags.append(Diagnostic(refused.code, refused.message,
                                                _span(path, event.start_mark, event.end_mark), hint))
                        value = event.value
                else:
                    value = event.value
                container: dict | list | None = None
            else:
                if len(stack) >= MAX_DEPTH:
                    fatal("MLS014", f"spec is nested more than {MAX_DEPTH} levels deep",
                          _span(path, event.start_mark), "flatten the structure; specs are never this deep")
                container = {} if kind is MappingStartEvent else []
                value = container
            if stack:
                frame = stack[-1]
                if frame[1]:
                    if frame[2] is _NO_KEY:
                        frame[2] = _key(path, event, value, frame, diags)
                    else:
                        key = frame[2]
                        frame[2] = _NO_KEY
                        if key is not _BAD_KEY:
                            frame[0][key] = value
                else:
                    frame[0].append(value)
            else:
                root = value
            if container is not None:
                stack.append([container, kind is MappingStartEvent, _NO_KEY, {}])
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop()
        elif kind is AliasEvent:
            fatal("MLS007", f"aliases (*{event.anchor}) are not allowed in specs", _span(path, event.start_mark),
                  "write the value out in full; specs forbid anchors and aliases (a source reuses another's "
                  "contract with schema: {like: SOURCE, drop: [COLUMN]})")
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                fatal("MLS006", "a spec file holds exactly one YAML document", _span(path, event.start_mark),
                      "move the second document (after '---') into its own file under specs/")
    return root


_NO_KEY = object()
_BAD_KEY = object()


def _key(path: str, event, value: object, frame: list, diags: list[Diagnostic]) -> object:
    """Check a mapping key: a string, not `<<`, not seen before in this mapping."""
    if type(value) is str and value != "<<":
        seen = frame[3]
        first = seen.get(value)
        if first is None:
            seen[value] = event  # positions are made only if a duplicate needs them
            return value
        diags.append(Diagnostic(
            "MLS010", f"duplicate key '{value}'", _span(path, event.start_mark, event.end_mark),
            "YAML would silently keep only the last value; remove or rename one of them",
            related=(Related(_span(path, first.start_mark, first.end_mark), "first defined here"),)))
        return _BAD_KEY
    where = _span(path, event.start_mark, event.end_mark)
    if type(event) is not ScalarEvent:
        diags.append(Diagnostic("MLS012", "mapping keys must be plain text, not lists or mappings", where,
                                "write the key as a simple name"))
        return _BAD_KEY
    if not isinstance(value, str):
        shown = event.value
        reads = "null" if value is None else "a boolean" if isinstance(value, bool) else "a number"
        diags.append(Diagnostic("MLS012", f"mapping key '{shown}' is read as {reads}, not text",
                                where, f"quote the key: \"{shown}\""))
        return _BAD_KEY
    if not event.style:
        diags.append(Diagnostic("MLS009", "merge keys (<<) are not allowed in specs", where,
                                "write the merged keys out in full"))
        return _BAD_KEY
    return _key_quoted_merge(value, frame, path, event, diags)


def _key_quoted_merge(value: str, frame: list, path: str, event, diags: list[Diagnostic]) -> object:
    """A quoted "<<" is an ordinary key."""
    seen = frame[3]
    first = seen.get(value)
    if first is None:
        seen[value] = event
        return value
    diags.append(Diagnostic("MLS010", f"duplicate key '{value}'", _span(path, event.start_mark, event.end_mark),
                            "YAML would silently keep only the last value; remove or rename one of them",
                            related=(Related(_span(path, first.start_mark, first.end_mark), "first defined here"),)))
    return _BAD_KEY
