"""Make text inert in GitHub Markdown: no mentions, links, images, HTML, or broken tables.

Shared by everything that writes Markdown for GitHub (plans, gate reports, monitor reports), because
spec names, descriptions and data values all end up there and specs come from pull requests.
"""

from __future__ import annotations

import re

# Characters with meaning in GitHub Markdown tables and inline syntax.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~@:&])")


def inert(text: object) -> str:
    """`text` on one line with every Markdown-significant character escaped."""
    flat = " ".join(str(text).split())
    escaped = _SPECIAL.sub(r"\\\1", flat)
    return re.sub(r"(?i)\bwww\.", lambda m: m.group()[:-1] + "\\.", escaped)  # no bare-domain autolinks


def code(text: object) -> str:
    """`text` as inline code, safe for any content (backticks cannot close it)."""
    flat = " ".join(str(text).split()).replace("`", "'")
    return f"`{flat}`" if flat else "``"
