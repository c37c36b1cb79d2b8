"""The selector language (dbt's): pick nodes by name, kind, tag or file, with graph operators.

    fraud_gbm            a node named fraud_gbm (any kind); globs such as fraud_* work
    model:fraud_gbm      by kind: source: feature: model: gate: monitor:
    tag:nightly          by tag;  kind:model  every model;  file:specs/fraud.yaml  by spec file
    +model:x             x and everything it depends on (2+x: up to two levels)
    model:x+             x and everything that depends on it (x+1: one level)
    @model:x             x, its descendants, and everything those depend on
    state:modified+      nodes changed against a base (--base REF or --state FILE), and their dependants
    a b                  union (separate words or arguments)
    a,b                  intersection

A selector that matches nothing is an error with a "did you mean" hint, never an empty run.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from mlspec.diagnostics import Diagnostic
from mlspec.errors import MlspecError
from mlspec.manifest import NODE_KINDS, Manifest
from mlspec.spec.names import hint_for

METHODS = (*NODE_KINDS, "tag", "kind", "file", "id", "state")
_ATOM = re.compile(r"^(?P<at>@)?(?:(?P<up>\d*)\+)?(?P<body>[^+@]+?)(?:\+(?P<down>\d*))?$")


@dataclass(frozen=True, slots=True)
class Atom:
    """One selector term with its graph operators."""

    text: str
    method: str | None
    value: str
    ancestors: int | None  # None: no ancestors; -1: all
    descendants: int | None
    at: bool


class SelectorError(MlspecError):
    """A selector that cannot be parsed or matches nothing (a finding); carries its diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(f"{diagnostic.code} {diagnostic.message}", hint=diagnostic.hint)
        self.diagnostic = diagnostic


def parse_atom(text: str) -> Atom:
    """Parse one term such as `2+model:x+` into an Atom, or raise SelectorError."""
    match = _ATOM.match(text)
    if match is None or not match.group("body"):
        raise SelectorError(Diagnostic("MLS302", f"cannot parse selector '{text}'", None,
                                       "examples: model:fraud_gbm+, +gate:release, tag:nightly, fraud_*"))
    body = match.group("body")
    method, _, value = body.partition(":") if ":" in body else (None, "", body)
    if method is not None and method not in METHODS:
        raise SelectorError(Diagnostic("MLS302", f"unknown selector method '{method}:'", None,
                                       hint_for(method, METHODS, "selector method")))
    if not value:
        raise SelectorError(Diagnostic("MLS302", f"selector '{text}' has no value after '{method}:'", None,
                                       f"write {method}:NAME"))
    up = match.group("up")
    down = match.group("down")
    return Atom(text, method, value,
                ancestors=None if up is None else (int(up) if up else -1),
                descendants=None if down is None else (int(down) if down else -1),
                at=bool(match.group("at")))


def _base(atom: Atom, manifest: Manifest, modified: set[str] | None = None) -> set[str]:
    nodes = manifest.nodes.values()
    value = atom.value
    if atom.method == "state":
        if value != "modified":
            raise SelectorError(Diagnostic("MLS302", f"unknown state '{value}'", None, "the state method takes "
                                           "modified: state:modified or state:modified+"))
        if modified is None:
            raise SelectorError(Diagnostic("MLS302", "state:modified needs a base to compare with", None,
                                           "pass --base REF (a git ref such as origin/main) or --state FILE"))
        return set(modified)

    def match(candidate: str) -> bool:
        return fnmatch.fnmatchcase(candidate, value)

    if atom.method is None:
        return {n.id for n in nodes if match(n.name) or match(n.id)}
    if atom.method in NODE_KINDS:
        return {n.id for n in nodes if n.kind == atom.method and match(n.name)}
    if atom.method == "tag":
        return {n.id for n in nodes if any(match(t) for t in n.tags)}
    if atom.method == "kind":
        return {n.id for n in nodes if match(n.kind)}
    if atom.method == "file":
        return {n.id for n in nodes if match(n.file)}
    return {n.id for n in nodes if match(n.id)}


def _limited(graph: nx.DiGraph, start: str, depth: int, up: bool) -> set[str]:
    if depth < 0:
        return set(nx.ancestors(graph, start) if up else nx.descendants(graph, start))
    found: set[str] = set()
    frontier = {start}
    for _ in range(depth):
        frontier = {m for n in frontier for m in (graph.predecessors(n) if up else graph.successors(n))} - found
        found |= frontier
    return found


def _expand(atom: Atom, base: set[str], graph: nx.DiGraph) -> set[str]:
    selected = set(base)
    for node in base:
        if atom.ancestors is not None:
            selected |= _limited(graph, node, atom.ancestors, up=True)
        if atom.descendants is not None or atom.at:
            selected |= _limited(graph, node, -1 if atom.at or atom.descendants is None else atom.descendants, up=False)
    if atom.at:
        for node in list(selected):
            selected |= nx.ancestors(graph, node)
    return selected


def select(manifest: Manifest, graph: nx.DiGraph, selectors: Sequence[str],
           exclude: Sequence[str] = (), modified: set[str] | None = None) -> set[str]:
    """Node ids matched by the union of `selectors` (all nodes when empty), minus `exclude`."""
    chosen = _union(manifest, graph, selectors, modified) if _words(selectors) else set(manifest.nodes)
    if _words(exclude):
        chosen -= _union(manifest, graph, exclude, modified)
    return chosen


def _words(selectors: Iterable[str]) -> list[str]:
    return [w for s in selectors for w in s.split()]


def _union(manifest: Manifest, graph: nx.DiGraph, selectors: Sequence[str],
           modified: set[str] | None = None) -> set[str]:
    chosen: set[str] = set()
    for word in _words(selectors):
        parts = [parse_atom(p) for p in word.split(",")]
        matched: set[str] | None = None
        empty_ok = False
        for atom in parts:
            base = _base(atom, manifest, modified)
            if not base:
                if atom.method == "state":  # nothing modified is a normal answer, not a typo
                    empty_ok, matched = True, set()
                    break
                raise SelectorError(_nothing(atom, manifest))
            hits = _expand(atom, base, graph)
            matched = hits if matched is None else matched & hits
        if not matched and not empty_ok:
            raise SelectorError(Diagnostic("MLS301", f"selector '{word}' matches no node", None,
                                           "the parts of an intersection (a,b) have no node in common"))
        chosen |= matched or set()
    return chosen


def _nothing(atom: Atom, manifest: Manifest) -> Diagnostic:
    nodes = manifest.nodes.values()
    if atom.method == "tag":
        pool = {t for n in nodes for t in n.tags}
    elif atom.method in NODE_KINDS:
        pool = {n.name for n in nodes if n.kind == atom.method}
    elif atom.method == "kind":
        pool = set(NODE_KINDS)
    elif atom.method == "file":
        pool = {n.file for n in nodes}
    else:
        pool = {n.name for n in nodes} | {n.id for n in nodes}
    what = {"tag": "tag", "kind": "kind", "file": "file"}.get(atom.method or "", atom.method or "node")
    return Diagnostic("MLS301", f"selector '{atom.text}' matches no node", None, hint_for(atom.value, pool, what))
