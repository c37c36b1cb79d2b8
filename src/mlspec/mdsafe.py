"""Make text inert in GitHub Markdown: no mentions, references, links, images, HTML, or broken tables.

Shared by everything that writes Markdown for GitHub (plans, gate reports, monitor reports), because
spec names, descriptions and data values all end up there and specs come from pull requests.
"""

from __future__ import annotations

import re

# Characters with meaning in GitHub Markdown tables and inline syntax.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~@:&])")
# At the start of a line these open a list, a heading underline or a thematic break.
_LEADING = re.compile(r"^(\d*)([-=.)])")
# GitHub turns `@name` and `#123` into mentions and references after Markdown is rendered, so a
# backslash does not stop them; an invisible word joiner between the sign and the name does.
_WORD_JOINER = "\u2060"
_REFERENCE = re.compile(r"(\\[@#])(?=[A-Za-z0-9_])")


def inert(text: object) -> str:
    """`text` on one line with every Markdown-significant character escaped."""
    flat = " ".join(str(text).split())
    escaped = _REFERENCE.sub(lambda m: m.group(1) + _WORD_JOINER, _SPECIAL.sub(r"\\\1", flat))
    escaped = _LEADING.sub(r"\1\\\2", escaped)
    return re.sub(r"(?i)\bwww\.", lambda m: m.group()[:-1] + "\\.", escaped)  # no bare-domain autolinks


def code(text: object, cell: bool = False) -> str:
    """`text` as inline code, safe for any content (backticks cannot close it).

    In a table `cell`, pipes are escaped too: GitHub splits cells on them even inside code spans, and
    removes the escaping backslash (and only it) before rendering the span.
    """
    flat = " ".join(str(text).split()).replace("`", "'")
    if cell:
        flat = flat.replace("|", "\\|")
    return f"`{flat}`" if flat else "``"
