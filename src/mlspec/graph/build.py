"""Build the lifecycle graph from a manifest; report cycles with the place of every edge.

Edges point from a dependency to what needs it (`source.tx -> feature.amount -> model.gbm`). The
order is deterministic: a lexicographical topological sort keyed by node kind, then id, so the
same specs always give the same order whatever the insertion order or PYTHONHASHSEED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

from mlspec.diagnostics import Diagnostic, Pointer, Related
from mlspec.manifest import NODE_KINDS, Manifest

KIND_RANK = {kind: i for i, kind in enumerate(NODE_KINDS)}


def build(manifest: Manifest) -> nx.DiGraph:
    """A directed graph with one node per manifest node and an edge per dependency."""
    graph = nx.DiGraph()
    graph.add_nodes_from(manifest.nodes)
    graph.add_edges_from((dep, node.id) for node in manifest.nodes.values() for dep in node.depends_on)
    return graph


def feature_graph(edges: Iterable[tuple[str, str]]) -> nx.DiGraph:
    """A graph of just the given feature-to-feature edges: all the cycle check needs."""
    graph = nx.DiGraph()
    graph.add_edges_from(edges)
    return graph


def _feature_edges(graph: nx.DiGraph) -> nx.DiGraph:
    """The subgraph of derived features that read other derived features: the only place a cycle can be."""
    edges = [(a, b) for a, b in graph.edges if a.startswith("feature.") and b.startswith("feature.")]
    sub = nx.DiGraph()
    sub.add_edges_from(edges)
    return sub


def cycles(graph: nx.DiGraph, origins: Mapping[tuple[str, str], Pointer]) -> list[Diagnostic]:
    """One diagnostic per cycle, naming its path and citing where each edge was written."""
    diags = []
    sub = _feature_edges(graph)
    for component in sorted(sorted(c) for c in nx.strongly_connected_components(sub)
                             if len(c) > 1 or sub.has_edge(next(iter(c)), next(iter(c)))):
        cycle = nx.find_cycle(sub.subgraph(component), source=component[0])
        path = [edge[0] for edge in cycle] + [cycle[0][0]]
        related = tuple(Related(origins.get((a, b)), f"{b} depends on {a}") for a, b in cycle)
        first = origins.get((cycle[0][0], cycle[0][1]))
        diags.append(Diagnostic("MLS300", "dependency cycle: " + " -> ".join(path), first,
                                "a derived feature cannot depend on itself, directly or through others; "
                                "break the cycle", related=related))
    return diags


def order(graph: nx.DiGraph) -> list[str]:
    """Every node in dependency order, ties broken by kind then id.

    Dependencies only point from an earlier kind to a later one (source -> feature -> model -> gate,
    monitor), except between derived features; so sorting by (kind, id) is already an order, and only
    the features linked to other features need a topological sort.
    """
    nodes = sorted(graph.nodes, key=sort_key)
    sub = _feature_edges(graph)
    if sub.number_of_edges() == 0:
        return nodes
    chained = list(nx.lexicographical_topological_sort(sub, key=sort_key))
    placed = set(chained)
    features = [n for n in nodes if n.startswith("feature.")]
    # features with no feature edges first (id order), then those that read or are read by others
    feature_order = [n for n in features if n not in placed] + chained
    first = nodes.index(features[0])
    return nodes[:first] + feature_order + nodes[first + len(features):]


def sort_key(node_id: str) -> tuple[int, str]:
    """Kind first (sources before features before models...), then id."""
    kind = node_id.split(".", 1)[0]
    return (KIND_RANK.get(kind, len(KIND_RANK)), node_id)
