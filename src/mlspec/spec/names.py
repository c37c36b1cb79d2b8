"""Naming rules and "did you mean" suggestions.

Names become file names, job ids and Python identifiers, so one strict rule applies to every
name: lowercase ASCII letters, digits and underscores, starting with a letter, at most 48
characters, not a Python keyword. That single rule removes path traversal, shell and YAML
injection, look-alike characters and case collisions at once.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterable

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,47}")
COLUMN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
NAME_RULE = "lowercase letters, digits and _, starting with a letter, at most 48 characters"
COLUMN_RULE = "ASCII letters, digits and _, not starting with a digit, at most 64 characters"


# Letters from other scripts that look like ASCII ones: mapped for suggestions, named in messages.
_LOOKALIKES = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ѕ": "s", "ј": "j",
    "ԁ": "d", "ɡ": "g", "ο": "o", "α": "a", "ν": "v", "ι": "i", "κ": "k", "τ": "t", "ρ": "p", "ε": "e",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t",
    "Х": "x",
})


def _non_ascii(name: str) -> str | None:
    import unicodedata

    for ch in name:
        if ord(ch) > 127:
            return f"'{ch}' is {unicodedata.name(ch, 'a non-ASCII character')} (U+{ord(ch):04X})"
    return None


def name_problem(name: str) -> str | None:
    """Why `name` is not a valid mlspec name, or None when it is."""
    if not NAME_RE.fullmatch(name):
        foreign = _non_ascii(name)
        if foreign is not None:
            return f"{foreign}, not an ASCII letter; names use {NAME_RULE}"
        return f"names use {NAME_RULE}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "a Python keyword cannot be a name"
    return None


def column_problem(column: str) -> str | None:
    """Why `column` is not a valid column name, or None when it is."""
    if not COLUMN_RE.fullmatch(column):
        foreign = _non_ascii(column)
        if foreign is not None:
            return f"{foreign}, not an ASCII letter; column names use {COLUMN_RULE}"
        return f"column names use {COLUMN_RULE}"
    if column.startswith("__"):
        return "column names cannot start with two underscores"
    return None


def suggest_name(name: str) -> str:
    """A valid name close to `name`, for hints: `Fraud-GBM` -> `fraud_gbm`."""
    ascii_only = name.translate(_LOOKALIKES).encode("ascii", "ignore").decode().lower()
    fixed = re.sub(r"[^a-z0-9_]+", "_", ascii_only).strip("_")
    if not fixed or not fixed[0].isalpha():
        fixed = "n_" + fixed
    fixed = fixed[:48].rstrip("_") or "name"
    if keyword.iskeyword(fixed) or keyword.issoftkeyword(fixed):
        fixed += "_"
    return fixed


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt `word`, or None when nothing is close."""
    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        found = lowered.get(word.lower())
        return found
    return matches[0]


_LIST_ALL = 40  # a hint lists every candidate up to this many
_LIST_FIRST = 20
_SEE_ALL = {"metric": "`mlspec explain MLS203` lists them", "estimator": "`mlspec explain MLS205` lists them",
            "code": "`mlspec explain MLS001` ... `MLS900`; the README lists them", "column": "the source's schema "
            "lists them", "field": "`mlspec schema` writes the reference of every field"}


def hint_for(word: str, candidates: Iterable[str], what: str) -> str:
    """`did you mean 'x'?` when something is close, else every name that exists (or where to see them all)."""
    pool = sorted(set(candidates))
    close = did_you_mean(word, pool)
    if close is not None:
        return f"did you mean '{close}'?"
    if not pool:
        return f"no {what} is defined"
    if len(pool) <= _LIST_ALL:
        return f"known {what}s: {', '.join(pool)}"
    # too many to read in a hint: the first ones, and where every one is listed
    where = _SEE_ALL.get(what, f"`mlspec ls` lists every {what}" if what in ("source", "feature", "model")
                         else f"the spec lists every {what}")
    return f"known {what}s: {', '.join(pool[:_LIST_FIRST])}, ... ({len(pool)} in all; {where})"
