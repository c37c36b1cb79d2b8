"""Drawings of the lifecycle graph: JSON, Mermaid and Graphviz DOT for `mlspec graph`, and the plan's Mermaid.

Every function takes the manifest and the node ids to draw, in the order to draw them, and draws only the
edges between drawn nodes. Node ids are identifiers (`kind.name`, names validated by the spec), so they
are safe to embed in Mermaid and DOT as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from mlspec.manifest import Manifest

_MERMAID_SHAPES = {"source": ("[(", ")]"), "feature": ("[/", "/]"), "model": ("[[", "]]"),
                   "gate": ("{{", "}}"), "monitor": ("([", "])")}
# Fill and stroke of a node the plan creates, updates or deletes.
_CHANGE_STYLES = {"create": "fill:#d4f8d4,stroke:#2a2", "update": "fill:#fff3c4,stroke:#c90",
                  "delete": "fill:#f8d4d4,stroke:#c22"}


def _edges(manifest: Manifest, nodes: Sequence[str]) -> list[tuple[str, str]]:
    """(dependency, node) pairs among `nodes`, in drawing order; a node missing from the manifest has none."""
    chosen = set(nodes)
    return [(dep, n) for n in nodes if n in manifest.nodes
            for dep in manifest.nodes[n].depends_on if dep in chosen]


def _mermaid_id(node_id: str) -> str:
    return node_id.replace(".", "_")


def as_json(manifest: Manifest, nodes: Sequence[str]) -> str:
    """The nodes with kind, name, tags and file, and the edges between them, as sorted JSON."""
    doc = {
        "nodes": [{"id": n, "kind": manifest.nodes[n].kind, "name": manifest.nodes[n].name,
                   "tags": manifest.nodes[n].tags, "file": manifest.nodes[n].file} for n in nodes],
        "edges": [{"from": dep, "to": n} for dep, n in _edges(manifest, nodes)],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def as_mermaid(manifest: Manifest, nodes: Sequence[str]) -> str:
    """A Mermaid flowchart, each kind of node in its own shape."""
    lines = ["flowchart LR"]
    for n in nodes:
        node = manifest.nodes[n]
        left, right = _MERMAID_SHAPES[node.kind]
        lines.append(f"  {_mermaid_id(n)}{left}\"{node.kind}: {node.name}\"{right}")
    lines += [f"  {_mermaid_id(dep)} --> {_mermaid_id(n)}" for dep, n in _edges(manifest, nodes)]
    return "\n".join(lines) + "\n"


def as_dot(manifest: Manifest, nodes: Sequence[str]) -> str:
    """A Graphviz DOT digraph, left to right."""
    lines = ["digraph mlspec {", "  rankdir=LR;"]
    lines += [f'  "{n}" [label="{manifest.nodes[n].kind}: {manifest.nodes[n].name}"];' for n in nodes]
    lines += [f'  "{dep}" -> "{n}";' for dep, n in _edges(manifest, nodes)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def changes_mermaid(manifest: Manifest, nodes: Sequence[str], actions: Mapping[str, str]) -> list[str]:
    """The plan's fenced Mermaid block: `nodes` labelled by id, those in `actions` coloured by their change.

    Edges come from `manifest` (the head), so a deleted node is drawn alone.
    """
    if not nodes:
        return []
    lines = ["```mermaid", "flowchart LR"]
    lines += [f"  {_mermaid_id(n)}[\"{n}\"]" for n in nodes]
    lines += [f"  {_mermaid_id(dep)} --> {_mermaid_id(n)}" for dep, n in _edges(manifest, nodes)]
    lines += [f"  style {_mermaid_id(n)} {_CHANGE_STYLES[actions[n]]}"
              for n in nodes if actions.get(n) in _CHANGE_STYLES]
    lines.append("```")
    return lines
