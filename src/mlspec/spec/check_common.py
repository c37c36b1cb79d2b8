"""What semantic checks share: the facts they collect and the helpers that build diagnostics."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlspec.diagnostics import Diagnostic, Pointer
from mlspec.lang.expressions import ExprError
from mlspec.lang.requirements import Requirement
from mlspec.spec.names import hint_for


@dataclass
class Facts:
    """What semantic checks learn and later phases reuse: parsed expressions and feature inputs."""

    expressions: dict[tuple[str, str], dict] = field(default_factory=dict)  # (kind, name) -> AST
    row_checks: dict[tuple[str, int], dict] = field(default_factory=dict)  # (source, index) -> AST
    requirements: dict[tuple[str, str, int], Requirement] = field(default_factory=dict)  # (gate, where, i) -> it
    feature_columns: dict[str, list[str]] = field(default_factory=dict)  # feature -> raw source columns
    feature_deps: dict[str, list[str]] = field(default_factory=dict)  # feature -> derived features it reads
    # source -> column -> where it is written, for sources that reuse another's contract (schema: {like: ...})
    column_origins: dict[str, dict[str, Pointer]] = field(default_factory=dict)


def expr_error(exc: ExprError, where: Pointer, what: str) -> Diagnostic:
    """An MLS204 diagnostic pointing at the exact characters of an expression error."""
    placed = Pointer(where.file, where.path, "value", exc.offset, exc.length)
    return Diagnostic("MLS204", f"invalid {what}: {exc.message}", placed, exc.hint)


def name_in(text: str, name: str) -> tuple[int, int] | None:
    """Offset and length of the first use of identifier `name` in expression text, outside quotes."""
    for match in re.finditer(rf"(?<![A-Za-z0-9_.]){re.escape(name)}(?![A-Za-z0-9_])", text):
        before = text[: match.start()]
        if before.count('"') % 2 == 0 and before.count("'") % 2 == 0:
            return match.start(), len(name)
    return None


def at_name(where: Pointer, text: str, name: str) -> Pointer:
    """A pointer at the first use of `name` inside the expression at `where` (or at the whole value)."""
    found = name_in(text, name)
    return where if found is None else Pointer(where.file, where.path, "value", found[0], found[1])


def ref(diags: list[Diagnostic], where: Pointer, kind: str, name: str, known) -> None:
    """Report an unknown reference with a "did you mean" hint (none for an entry a finding set aside)."""
    if hidden(known, name):
        return
    diags.append(Diagnostic("MLS201", f"unknown {kind} '{name}'", where, hint_for(name, known, kind)))


def hidden(known, name: str) -> bool:
    """True when `known` (a merged section) says `name` may be an entry that a finding set aside."""
    hides = getattr(known, "hides", None)
    return hides is not None and hides(name)
