"""Key path -> file:line:col, so errors from any phase point at the exact key or value.

Loading keeps no positions (that keeps the common, error-free path fast). When a diagnostic needs
a place, the file's events are scanned once more and every key path is mapped to the span of its
key and of its value. Files are mapped lazily and at most once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mlspec.diagnostics import Diagnostic, KeyPath, Related, Span, Where
from mlspec.yamlpos.positions import Entry, map_file, raw_index


class SourceMap:
    """Places `Pointer`s on lines: a lazily built index of every spec file's key paths."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = texts
        self._maps: dict[str, dict[KeyPath, Entry]] = {}

    def _entries(self, file: str) -> dict[KeyPath, Entry]:
        entries = self._maps.get(file)
        if entries is None:
            text = self._texts.get(file)
            entries = map_file(file, text) if text is not None else {}
            self._maps[file] = entries
        return entries

    def style(self, file: str, path: KeyPath) -> str | None:
        """The scalar style at `path` ('' for plain, '"' or "'" for quoted), or None if not a scalar."""
        entry = self._entries(file).get(tuple(path))
        return entry[2] if entry else None

    def place(self, where: Where) -> Span | None:
        """Turn a pointer into a span; the nearest existing parent is used when the path is missing."""
        if where is None or isinstance(where, Span):
            return where
        entries = self._entries(where.file)
        path = tuple(where.path)
        while path not in entries and path:
            path = path[:-1]
        entry = entries.get(path)
        if entry is None:
            return Span(where.file, 1, 1)
        key_span, value_span, style, start, end = entry
        exact = path == tuple(where.path)
        if where.part == "key" and key_span is not None and exact:
            return key_span
        if not exact:
            # the thing is missing: point at the key of the closest parent that exists
            return key_span or value_span
        if where.offset is not None and value_span is not None:
            text = self._texts[where.file]
            index = start + raw_index(text[start:end], style, where.offset)
            line = text.count("\n", 0, index) + 1
            col = index - (text.rfind("\n", 0, index) + 1) + 1
            return Span(where.file, line, col, col + (where.length or 1))
        return value_span

    def locate(self, diags: Iterable[Diagnostic]) -> list[Diagnostic]:
        """Return the diagnostics with every pointer (theirs and their related notes') placed."""
        placed = []
        for d in diags:
            related = tuple(Related(self.place(r.where), r.message) for r in d.related)
            placed.append(Diagnostic(d.code, d.message, self.place(d.where), d.hint, d.severity, related))
        return placed
