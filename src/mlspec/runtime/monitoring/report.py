"""Monitor reports for people: Markdown (job summary, issue body; size-guarded) and self-contained HTML.

The HTML report has no scripts and loads nothing: charts are inline SVG, so it opens offline from a
workflow artifact. Every text that comes from data or specs is escaped.
"""

from __future__ import annotations

import html

from mlspec.mdsafe import code
from mlspec.runtime.markdown import SUMMARY_LIMIT, inert, number

ISSUE_LIMIT = 60_000  # GitHub refuses issue bodies over 65,536 characters
_ICONS = {"ok": "✅", "alert": "🚨", "drift": "🚨", "insufficient_data": "⚠️"}


def marker(monitor: str) -> str:
    """The hidden line that identifies a monitor's issue, so it is updated instead of duplicated."""
    return f"<!-- mlspec-monitor:{monitor} -->"


def drift_share(drift: dict) -> str:
    """How many columns drifted, out of those that had enough data to judge (the share the verdict uses).

    Columns with too little data are counted apart: "100% drifted" of one judged column out of five
    read as if every column had drifted."""
    columns = drift.get("columns", [])
    judged = [c for c in columns if c["verdict"] != "insufficient_data"]
    skipped = len(columns) - len(judged)
    if not judged:
        return f"no column had enough data to judge ({len(columns)} with too little data)"
    drifted = sum(c["verdict"] == "drift" for c in judged)
    text = f"{drifted} of {len(judged)} evaluated columns drifted, {drifted / len(judged):.0%}"
    return text + (f"; {skipped} more had too little data to judge" if skipped else "")


def approximation(drift: dict) -> str | None:
    """What the DuckDB engine's drift statistics approximated, and how closely (None with pandas)."""
    a = drift.get("approximation")
    if not a:
        return None
    scored = f"; the model scored {a['scored_rows']:,} of them" if a.get("scored_rows") else ""
    if a["exact"]:
        return f"Computed with DuckDB over all {a['rows']:,} rows, exactly{scored}."
    return (f"Computed with DuckDB over {a['rows']:,} rows: counts, null rates and bins exactly; quantile edges and "
            f"the values ks and wasserstein compare from a seeded sample of {a['sample_rows']:,} rows (ks within "
            f"{a['ks_bound']:.4f} of its value over all rows with probability {a['confidence']:.1%}){scored}.")


def markdown(report: dict, limit: int = SUMMARY_LIMIT) -> str:
    """The report as Markdown, cut to `limit` characters on a line boundary with a note."""
    icon = _ICONS.get(report["verdict"], "")
    lines = [f"## {icon} Monitor {code(report['monitor'])}: {inert(report['verdict'])}", "",
             f"Model {code(report['model'])} v{report['version']} on source {code(report['source'])} "
             f"({report['rows']} rows, sha256 {code(report['data_fingerprint'][:12])}).", ""]
    lines += [f"- {inert(str(reason)[:500])}" for reason in report["reasons"]] or ["- no alert"]
    if report.get("drift"):
        d = report["drift"]
        lines += ["", f"### Drift: {d['verdict']} ({drift_share(d)})", "",
                  "| column | method | score | threshold | verdict | note |", "|---|---|---|---|---|---|"]
        for c in d["columns"]:
            note = c["note"] or (("new categories: " + ", ".join(c["new_categories"])) if c["new_categories"] else "")
            lines.append(f"| {inert(c['column'])} | {c['method']} | {number(c['score'])} | {number(c['threshold'])} | "
                         f"{_ICONS.get(c['verdict'], '')} {c['verdict']} | {inert(note)} |")
        if d.get("prediction"):
            p = d["prediction"]
            lines.append(f"| *predictions* | {p['method']} | {number(p['score'])} | {number(p['threshold'])} | "
                         f"{p['verdict']} | {inert(p.get('note', ''))} |")
        if note := approximation(d):
            lines += ["", note]
    if report.get("quality"):
        q = report["quality"]
        lines += ["", f"### Quality: {q['verdict']}", ""]
        if q["checks"]:
            lines += ["| column | check | rows | samples |", "|---|---|---|---|"]
            lines += [f"| {inert(c['column'])} | {inert(c['check'])} | {c['rows']} | "
                      f"{inert(', '.join(c['samples']))} |" for c in q["checks"]]
        else:
            lines.append("Every row meets the data contract.")
    elif report.get("contract") and report["contract"]["checks"]:  # no quality section: the contract's breaks
        lines += ["", "### Data contract: broken", "", "| column | check | rows | samples |", "|---|---|---|---|"]
        lines += [f"| {inert(c['column'])} | {inert(c['check'])} | {c['rows']} | {inert(', '.join(c['samples']))} |"
                  for c in report["contract"]["checks"]]
    if report.get("performance"):
        perf = report["performance"]
        lines += ["", f"### Performance: {perf['verdict']} ({perf['rows']} labelled rows)", ""]
        if perf.get("metrics"):
            lines += ["| metric | at training | live | drop | |", "|---|---|---|---|---|"]
            lines += [f"| {m['metric']} | {number(m['training'])} | {number(m['live'])} | {number(m['drop'])} | "
                      f"{'🚨' if m['alert'] else '✅'} |" for m in perf["metrics"]]
    if report.get("shadow"):
        s = report["shadow"]
        lines += ["", f"### Shadow: challenger v{s['challenger_version']}", "",
                  f"Agreement with the champion: {s['agreement']:.3f} ({s['agreement_kind']})."]
        if s.get("from") == "prediction log":
            lines.append(f"Compared on {s['rows']} served rows where both answers were logged.")
        if s.get("challenger_metrics"):
            lines.append("Challenger on this batch: " + ", ".join(
                f"{k} {number(v)}" for k, v in s["challenger_metrics"].items()))
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > limit:  # GitHub's limits count bytes
        cut = text.encode()[: limit - 200].decode("utf-8", "ignore")
        text = cut.rsplit("\n", 1)[0] + "\n\n_(report truncated; the full report is in the workflow artifact)_\n"
    return text


def _bars(reference: list[float], live: list[float], labels: list[str]) -> str:
    width, height, gap = 560, 160, 4
    count = max(len(reference), 1)
    slot = width / count
    top = max([*reference, *live, 1e-9])
    parts = [f'<svg viewBox="0 0 {width} {height + 40}" width="{width}" height="{height + 40}" role="img">']
    for i, (ref, cur) in enumerate(zip(reference, live, strict=False)):
        x = i * slot
        for j, (value, color) in enumerate(((ref, "#8da0cb"), (cur, "#fc8d62"))):
            bar = value / top * height
            parts.append(f'<rect x="{x + gap + j * (slot - 2 * gap) / 2:.1f}" y="{height - bar:.1f}" '
                         f'width="{(slot - 2 * gap) / 2:.1f}" height="{bar:.1f}" fill="{color}"/>')
        if i < len(labels):
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{height + 14}" font-size="9" text-anchor="middle">'
                         f"{html.escape(labels[i][:12])}</text>")
    parts.append('<text x="0" y="195" font-size="11" fill="#8da0cb">■ reference</text>'
                 '<text x="90" y="195" font-size="11" fill="#fc8d62">■ live</text></svg>')
    return "".join(parts)


def _labels(column: dict) -> list[str]:
    ref = column.get("reference", {})
    if "categories" in ref:
        return [str(c) for c in ref["categories"]]
    edges = ref.get("edges", [])
    return [f"<{edges[0]:.3g}" if edges else "all"] + [f"≥{e:.3g}" for e in edges]


def html_report(report: dict) -> str:
    """A self-contained HTML page: verdict, ranked drift scores, and distributions of drifted columns."""
    esc = html.escape
    rows = []
    for c in (report.get("drift") or {}).get("columns", []):
        score = c["score"] or 0.0
        bar = min(score / max(c["threshold"], 1e-9), 3.0) / 3.0 * 200
        rows.append(f"<tr><td>{esc(c['column'])}</td><td>{esc(c['method'])}</td><td>{number(c['score'])}</td>"
                    f"<td>{number(c['threshold'])}</td><td>{esc(c['verdict'])}</td><td><svg width='210' "
                    f"height='12'><rect width='{bar:.0f}' height='12' fill='"
                    f"{'#d73027' if c['verdict'] == 'drift' else '#4575b4'}'/></svg></td></tr>")
    charts = []
    for c in (report.get("drift") or {}).get("columns", []):
        if c["verdict"] == "drift" and c.get("reference"):
            charts.append(f"<h3>{esc(c['column'])}</h3>" + _bars(c["reference"]["proportions"],
                                                                c["live"]["proportions"], _labels(c)))
    reasons = "".join(f"<li>{esc(r)}</li>" for r in report["reasons"]) or "<li>no alert</li>"
    share = f"<p>{esc(drift_share(report['drift']))}.</p>" if report.get("drift") else ""
    if report.get("drift") and (note := approximation(report["drift"])):
        share += f"<p>{esc(note)}</p>"
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>mlspec monitor {esc(report['monitor'])}</title><style>body{{font-family:sans-serif;"
            "max-width:960px;margin:2em auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;"
            "padding:4px 8px}}</style></head><body>"
            f"<h1>Monitor {esc(report['monitor'])}: {esc(report['verdict'])}</h1>"
            f"<p>Model {esc(report['model'])} v{report['version']} on {esc(report['source'])}, "
            f"{report['rows']} rows.</p><ul>{reasons}</ul>"
            f"<h2>Drift scores, ranked</h2>{share}<table><tr><th>column</th><th>method</th><th>score</th>"
            f"<th>threshold</th><th>verdict</th><th>score / threshold</th></tr>{''.join(rows)}</table>"
            f"<h2>Distributions of drifted columns</h2>{''.join(charts) or '<p>none</p>'}</body></html>\n")
