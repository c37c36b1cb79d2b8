"""Markdown for job summaries and reports: inert, size-guarded, readable.

Anything that came from a spec or from data is escaped so it cannot become a mention, a link, an
image, HTML or a broken table in GitHub's renderer.
"""

from __future__ import annotations

import math

from mlspec.mdsafe import code, inert
from mlspec.runtime.gates import GateReport

__all__ = ["SUMMARY_LIMIT", "gate_report", "inert", "number"]

SUMMARY_LIMIT = 1_000_000  # GitHub allows 1 MiB per step summary; stay below it


def number(value: object) -> str:
    """A metric value for a table (n/a for missing or NaN)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.4f}"
    return "n/a"


def gate_report(report: GateReport, note: str | None = None) -> str:
    """A Markdown section with the gate's verdict and one row per requirement."""
    icon = "✅" if report.passed else "❌"
    lines = [f"### {icon} Gate {code(report.gate)} on model {code(report.model)}: {inert(report.verdict)}", ""]
    champion = f"champion v{report.champion_version}" if report.champion_version else "no champion yet"
    lines.append(f"Candidate {code(report.candidate_sha256[:12])} against {champion}.")
    if note:
        lines += ["", f"> {inert(note)}"]
    lines += ["", "| | requirement | slice | value | threshold | champion | note |", "|---|---|---|---|---|---|---|"]
    for r in report.requirements:
        mark = {"pass": "✅", "fail": "❌", "skipped": "➖"}[r.status]
        lines.append(f"| {mark} | {inert(r.text)} | {inert(r.slice or 'all')} | {number(r.value)} | "
                     f"{number(r.threshold)} | {number(r.champion_value)} | {inert(r.reason)} |")
    promotion = report.promotion or {}
    if report.passed and promotion.get("policy") == "if_better":  # `always` promotes every pass: nothing to say
        effect = "promotes it" if promotion.get("promote") else "registers it without promoting it"
        lines += ["", f"promote: if_better on {code(str(promotion.get('metric')))}: "
                      f"{inert(str(promotion.get('reason')))}, so passing {effect}."]
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > SUMMARY_LIMIT:  # GitHub's limit counts bytes
        cut = text.encode()[: SUMMARY_LIMIT - 200].decode("utf-8", "ignore")
        text = cut.rsplit("\n", 1)[0] + "\n\n_(truncated to fit GitHub's summary limit)_\n"
    return text
