"""The one writer of generated YAML: block mappings and sequences from data, no anchors, no templates.

Its invariant is the round trip, `yaml.safe_load(dump(d)) == d`, for documents of string-keyed dicts,
lists, strings, integers, booleans and None; the external validators (actionlint, zizmor,
check-jsonschema, yamllint) check the rest on the golden trees. Spec text can reach values, so
strings are quoted conservatively: plain only when no YAML 1.1 or 1.2 reader could take them for
anything but that string, single quotes for other printable ASCII, double quotes with escapes for
everything else (so the file stays ASCII and on its lines: no NEL or U+2028 line breaks). Multi-line
text is a literal block when it reads back unchanged that way.

Comments are data: a `Commented` value carries its note, written on the value's line (the pinned
action's version, the reason for a permission); a note of several lines goes above it, all but its
last line, and a document's note is its header.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple


class Commented(NamedTuple):
    """`value`, written with `note` as a comment (see the module's docstring for where)."""

    value: object
    note: str


# YAML 1.1 and 1.2 words for booleans, null and floats, in any case: never plain. A string that starts
# with a letter, `_`, `/`, `$` or a dot before a letter or `/` is read as nothing else (numbers, dates,
# `<<`, `=` and `~` start with other characters).
_WORDS = frozenset({"y", "yes", "n", "no", "on", "off", "true", "false", "null", ".inf", ".nan"})
# such a start, then printable ASCII not ending with a space; `: ` and ` #` are checked apart
_PLAIN = re.compile(r"(?:[A-Za-z_/$]|\.(?=[A-Za-z/]|$))(?:[ -~]*[!-~])?")
_SINGLE = re.compile(r"[ -~]*")
_LITERAL = re.compile(r"[!-~](?:[ -~]*[!-~])?(?:\n(?:[ -~]*[!-~])?)*\n?")  # no edge or trailing spaces
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}
_MAX_KEY = 200  # an implicit key must stay well under YAML's 1,024 characters


def _plain(text: str) -> bool:
    return (_PLAIN.fullmatch(text) is not None and ": " not in text and " #" not in text
            and not text.endswith(":") and text.lower() not in _WORDS)


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if " " <= char <= "~":
        return char
    code = ord(char)
    if 0xD800 <= code < 0xE000:
        raise ValueError("a lone surrogate cannot be written in YAML (no reader accepts it)")
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


@functools.lru_cache(maxsize=65_536)  # workflows repeat the same few thousand strings many times
def _quoted(text: str) -> str:
    """`text` as a one-line scalar: plain, single- or double-quoted."""
    if _plain(text):
        return text
    if _SINGLE.fullmatch(text):
        return "'" + text.replace("'", "''") + "'"
    return '"' + "".join(map(_escape, text)) + '"'


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quoted(value)
    raise TypeError(f"cannot write {type(value).__name__} in a generated YAML file")


@functools.lru_cache(maxsize=4096)
def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys must be strings, not {type(key).__name__}")
    text = _quoted(key)
    if len(text) > _MAX_KEY:
        raise ValueError(f"mapping key too long for YAML: {key[:40]!r}...")
    return text


def _comments(note: str) -> list[str]:
    """A note's comment lines (our own text: printable ASCII only, or a ValueError)."""
    if not _SINGLE.fullmatch(note.replace("\n", "")):
        raise ValueError(f"a comment must be printable ASCII: {note[:40]!r}")
    return [("# " + line).rstrip() for line in note.split("\n")]


def _node(value: object, lead: str, indent: int, out: list[str]) -> None:
    """Write `value` after `lead` (its indented `key:` or `-`); its children are indented by `indent`."""
    if type(value) is str and "\n" not in value:  # most values
        out.append(lead + " " + _quoted(value))
        return
    note = ""
    if isinstance(value, Commented):
        *above, last = _comments(value.note)
        out.extend(lead[:len(lead) - len(lead.lstrip())] + line for line in above)
        value, note = value.value, "  " + last
    pad = " " * indent
    if isinstance(value, dict) and value:
        out.append(lead + note)
        for key, item in value.items():
            _node(item, pad + _key(key) + ":", indent + 2, out)
    elif isinstance(value, list) and value:
        out.append(lead + note)
        for item in value:
            _item(item, pad, out)
    elif isinstance(value, str) and "\n" in value and _LITERAL.fullmatch(value) and not value.endswith("\n\n"):
        out.append(lead + (" |" if value.endswith("\n") else " |-") + note)
        out.extend(pad + line if line else "" for line in value.removesuffix("\n").split("\n"))
    else:
        out.append(lead + " " + ("{}" if isinstance(value, dict) else "[]" if isinstance(value, list)
                                 else _scalar(value)) + note)


def _item(item: object, pad: str, out: list[str]) -> None:
    """One sequence entry at `pad`: a mapping starts on the dash's line (`- name: ...`)."""
    if isinstance(item, dict) and item:
        for n, (key, value) in enumerate(item.items()):
            _node(value, pad + ("- " if n == 0 else "  ") + _key(key) + ":", len(pad) + 4, out)
    else:
        _node(item, pad + "-", len(pad) + 2, out)


def dump(document: dict | Commented) -> bytes:
    """ASCII YAML text for `document` (a mapping; a `Commented` one has its note as a header)."""
    header, body = (document.note, document.value) if isinstance(document, Commented) else ("", document)
    if not isinstance(body, dict):
        raise TypeError("a generated YAML document is a mapping")
    out = _comments(header) if header else []
    if body:
        for key, value in body.items():
            _node(value, _key(key) + ":", 2, out)
    else:
        out.append("{}")
    return ("\n".join(out) + "\n").encode("ascii")
