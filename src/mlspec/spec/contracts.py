"""Reused contracts: a source's `schema: {like: OTHER, drop: [...], override: {...}, add: {...}}`.

Before any other check, each such source gets its full list of columns (the other source's, less
the dropped ones, with the overridden ones replaced and the added ones after them), so every later
check, the manifest and the runtime see a plain contract and never the reuse; where each reused column
is written (the other source's schema entry, or this one's override or add entry) is kept in `origins`,
so a data failure on it can cite that line. Reuse may chain
(`a` like `b` like `c`); a circle, an unknown source, and a dropped or overridden column the other
source lacks are findings. A source whose contract cannot be resolved is set aside like an entry
with a schema error, so nothing that reads it reports knock-on findings.
"""

from __future__ import annotations

from mlspec.diagnostics import Diagnostic, Pointer, Related
from mlspec.spec.check_common import hidden, ref
from mlspec.spec.damage import Damage
from mlspec.spec.merge import Entry, Section, SpecSet
from mlspec.spec.names import hint_for
from mlspec.spec.v1.sources import Column, LikeContract


def resolve_contracts(spec: SpecSet, diags: list[Diagnostic],
                      origins: dict[str, dict[str, Pointer]] | None = None) -> None:
    """Replace every reused contract in `spec.sources` by its full columns; drop what cannot be resolved.

    `origins` receives, for every source that reuses a contract, where each of its columns is written."""
    resolved: dict[str, dict[str, Column] | None] = {}
    for name in list(spec.sources):
        _resolve(name, spec, resolved, [], diags)
    if origins is not None:
        for name, columns in resolved.items():
            if columns is not None and isinstance(spec.sources[name].spec.columns, LikeContract):
                origins[name] = {c: _origin(name, c, spec) for c in columns}
    unresolved = [name for name, columns in resolved.items() if columns is None]
    for name, columns in resolved.items():
        entry = spec.sources[name]
        if columns is not None and isinstance(entry.spec.columns, LikeContract):
            spec.sources[name] = Entry(name, entry.file, entry.spec.model_copy(update={"columns": columns}))
    if unresolved:
        _set_aside(spec, unresolved)


def _resolve(name: str, spec: SpecSet, resolved: dict, chain: list[str],
             diags: list[Diagnostic]) -> dict[str, Column] | None:
    """The full columns of source `name` (None when they cannot be known), resolving what it reuses first."""
    if name in resolved:
        return resolved[name]
    entry = spec.sources[name]
    contract = entry.spec.columns
    if not isinstance(contract, LikeContract):
        resolved[name] = contract
        return contract
    if name in chain:  # a circle: report it once, at the source that closes it
        circle = [*chain[chain.index(name):], name]
        others = tuple(Related(spec.sources[n].at("sources", "schema", "like"), f"'{n}' reuses the contract of "
                               f"'{circle[i + 1]}' here") for i, n in enumerate(circle[:-1]) if n != name)
        diags.append(Diagnostic("MLS300", "sources reuse each other's contracts in a circle: "
                                + " -> ".join(circle), entry.at("sources", "schema", "like"),
                                "one source of the circle must write its columns out", related=others))
        for member in circle:
            resolved[member] = None
        return None
    base_name = contract.like
    if base_name not in spec.sources:
        if not hidden(spec.sources, base_name):
            ref(diags, entry.at("sources", "schema", "like"), "source", base_name, spec.sources)
        resolved[name] = None
        return None
    base = _resolve(base_name, spec, resolved, [*chain, name], diags)
    if name in resolved:  # set by a circle found further down
        return resolved[name]
    if base is None:
        resolved[name] = None  # the other source's own finding says why
        return None
    resolved[name] = _apply(entry, contract, base, diags)
    return resolved[name]


def _apply(entry: Entry, contract: LikeContract, base: dict[str, Column],
           diags: list[Diagnostic]) -> dict[str, Column] | None:
    """`base` less `drop`, with `override` replacing and `add` appended; None after a finding."""
    found = len(diags)
    other = contract.like
    seen: set[str] = set()
    for i, column in enumerate(contract.drop):
        where = entry.at("sources", "schema", "drop", i)
        if column in seen:
            diags.append(Diagnostic("MLS200", f"column '{column}' is dropped twice", where, "list it once"))
        elif column not in base:
            diags.append(Diagnostic("MLS201", f"source '{other}' has no column '{column}' to drop", where,
                                    hint_for(column, base, "column")))
        seen.add(column)
    for column in contract.override:
        where = entry.at("sources", "schema", "override", column, part="key")
        if column not in base:
            diags.append(Diagnostic("MLS201", f"source '{other}' has no column '{column}' to override", where,
                                    hint_for(column, base, "column") + " (a new column goes under add:)"))
        elif column in seen:
            diags.append(Diagnostic("MLS107", f"column '{column}' is both dropped and overridden", where,
                                    "keep it in one of drop: or override:"))
    for column in contract.add:
        if column in base and column not in seen:
            diags.append(Diagnostic("MLS200", f"column '{column}' is already in the contract of source '{other}'",
                                    entry.at("sources", "schema", "add", column, part="key"),
                                    "to change its contract, list it under override:"))
    columns = {c: contract.override.get(c, spec) for c, spec in base.items() if c not in seen}
    columns.update(contract.add)
    if not columns and len(diags) == found:
        diags.append(Diagnostic("MLS105", f"no column is left of the contract of source '{other}'",
                                entry.at("sources", "schema", "drop"), "drop fewer columns, or add some"))
    return columns if len(diags) == found else None


def _origin(name: str, column: str, spec: SpecSet) -> Pointer:
    """Where column `column` of source `name` is written: its own override or add entry, else the entry
    of the source it reuses (following a chain of reuse), else its own schema entry."""
    entry = spec.sources[name]
    contract = entry.spec.columns
    if not isinstance(contract, LikeContract):
        return entry.at("sources", "schema", column, part="key")
    if column in contract.override:
        return entry.at("sources", "schema", "override", column, part="key")
    if column in contract.add:
        return entry.at("sources", "schema", "add", column, part="key")
    return _origin(contract.like, column, spec)


def _set_aside(spec: SpecSet, names: list[str]) -> None:
    """Remove sources whose contract is unknown, and say they exist, so references to them stay quiet."""
    sources = spec.sources
    if not isinstance(sources, Section):
        return
    if sources.damage is None:
        sources.damage = Damage()
    for name in names:
        del sources[name]
        sources.damage.names["sources"].add(name)
