"""Diagnostics as SARIF 2.1.0, the format GitHub code scanning reads (`mlspec validate --output-format sarif`).

One run of one tool (mlspec), one result per diagnostic: `ruleId` is the diagnostic's code, `level`
its severity, the message its text and hint, and the location its file, line and column. The rules
are the codes that occur, each with its title and `mlspec explain` text as help. File URIs are
relative to the project folder (`%SRCROOT%`), which is the repository's top folder in the usual layout.
The output is deterministic: no time stamps, no absolute paths.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from mlspec import __version__
from mlspec.diagnostics import HINT_BREAK, Diagnostic, Severity, Span

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
BASE = "%SRCROOT%"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}


def _location(span: Span | None, fallback: str) -> dict:
    """A physical location; a finding without a place (no specs/ folder, say) points at the folder itself."""
    if span is None:
        return {"physicalLocation": {"artifactLocation": {"uri": fallback, "uriBaseId": BASE}}}
    region = {"startLine": span.line, "startColumn": span.col}
    if span.end_col is not None and span.end_col > span.col:
        region["endColumn"] = span.end_col
    return {"physicalLocation": {"artifactLocation": {"uri": span.file, "uriBaseId": BASE}, "region": region}}


def _rule(code: str) -> dict:
    from mlspec.codes import CODES

    title, text = CODES.get(code, (code, ""))
    help_text = f"{text}\n\nRun `mlspec explain {code}` for this text in a terminal."
    return {"id": code, "shortDescription": {"text": title}, "fullDescription": {"text": text or title},
            "help": {"text": help_text, "markdown": f"**{code}: {title}**\n\n{help_text}"}}


def render_sarif(diags: Sequence[Diagnostic], sources=None) -> str:
    """A SARIF 2.1.0 log of `diags` (same signature as the other renderers; `sources` is unused)."""
    codes = sorted({d.code for d in diags})
    index = {code: i for i, code in enumerate(codes)}
    results = []
    for d in diags:
        text = d.message + (f"\nhelp: {d.hint.replace(HINT_BREAK, chr(10))}" if d.hint else "")
        result = {"ruleId": d.code, "ruleIndex": index[d.code], "level": _LEVELS[d.severity],
                  "message": {"text": text}, "locations": [_location(d.span, "specs")]}
        related = [{"id": i, "message": {"text": r.message}, **_location(r.where, "specs")}
                   for i, r in enumerate(d.related) if isinstance(r.where, Span)]
        if related:
            result["relatedLocations"] = related
        results.append(result)
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "mlspec", "version": __version__, "semanticVersion": __version__,
                            "rules": [_rule(code) for code in codes]}},
        "columnKind": "unicodeCodePoints", "results": results}]}
    return json.dumps(log, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
