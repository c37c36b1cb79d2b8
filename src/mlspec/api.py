"""The library API: one function per user action, returning result objects. Never prints or exits.

The CLI is a thin layer over these functions; tests and other tools can call them directly.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.diagnostics import Diagnostic, has_errors, sort_key
from mlspec.manifest import Manifest, canonical_json
from mlspec.spec.validate import Validated, validate_project


@dataclass
class Project:
    """A loaded project: validation result, and when valid its manifest, graph and order."""

    root: Path
    validated: Validated
    manifest: Manifest | None = None
    graph: object | None = None
    order: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the project validated and resolved without errors."""
        return self.manifest is not None and not has_errors(self.diagnostics)


def load(root: Path) -> Project:
    """Validate the specs under `root`, resolve them into a manifest, and build the graph."""
    validated = validate_project(root)
    project = Project(root, validated, diagnostics=list(validated.diagnostics))
    if not validated.ok:
        return project
    from mlspec.graph import build as graph_build  # networkx is only needed once specs are valid
    from mlspec.resolve import resolve
    from mlspec.spec.sourcemap import SourceMap

    resolved = resolve(validated.spec, validated.facts)
    graph = graph_build.build(resolved.manifest)
    problems = graph_build.cycles(graph, resolved.edge_origins)
    if problems:
        placed = SourceMap(validated.texts).locate(problems)
        project.diagnostics = sorted(project.diagnostics + placed, key=sort_key)
        return project
    project.manifest = resolved.manifest
    project.graph = graph
    project.order = graph_build.order(graph)
    return project


def select(project: Project, selectors: list[str], exclude: list[str] = ()) -> list[str]:
    """Selected node ids in graph order (raises `SelectorError` when a selector matches nothing)."""
    from mlspec.graph.select import select as graph_select

    chosen = graph_select(project.manifest, project.graph, selectors, exclude)
    return [node for node in project.order if node in chosen]


def json_schema() -> dict:
    """The spec language as a JSON Schema (draft-07 compatible), with every field's description."""
    from mlspec.spec.v1.models import SpecFile

    schema = SpecFile.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    schema = copy.deepcopy(schema)
    schema["definitions"] = schema.pop("$defs", {})
    _strip_discriminators(schema)
    return {"$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://mlspec.dev/schema/mlspec-v1.json", **schema}


def _strip_discriminators(node: object) -> None:
    """Drop OpenAPI `discriminator` keys, which draft-07 validators do not know."""
    if isinstance(node, dict):
        node.pop("discriminator", None)
        for value in node.values():
            _strip_discriminators(value)
    elif isinstance(node, list):
        for value in node:
            _strip_discriminators(value)


def json_schema_text() -> str:
    """The JSON Schema as canonical text (what `mlspec schema` writes)."""
    return canonical_json(json_schema()) + "\n"


def graph_json(project: Project, nodes: list[str]) -> str:
    """The selected part of the graph as JSON: nodes with kind and tags, and edges."""
    chosen = set(nodes)
    manifest = project.manifest
    doc = {
        "nodes": [{"id": n, "kind": manifest.nodes[n].kind, "name": manifest.nodes[n].name,
                   "tags": manifest.nodes[n].tags, "file": manifest.nodes[n].file} for n in nodes],
        "edges": [{"from": dep, "to": n} for n in nodes for dep in manifest.nodes[n].depends_on if dep in chosen],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


_MERMAID_SHAPES = {"source": ("[(", ")]"), "feature": ("[/", "/]"), "model": ("[[", "]]"),
                   "gate": ("{{", "}}"), "monitor": ("([", "])")}


def graph_mermaid(project: Project, nodes: list[str]) -> str:
    """The selected part of the graph as a Mermaid flowchart (names are identifiers, so safe to embed)."""
    chosen = set(nodes)
    lines = ["flowchart LR"]
    for n in nodes:
        node = project.manifest.nodes[n]
        left, right = _MERMAID_SHAPES[node.kind]
        lines.append(f"  {n.replace('.', '_')}{left}\"{node.kind}: {node.name}\"{right}")
    for n in nodes:
        for dep in project.manifest.nodes[n].depends_on:
            if dep in chosen:
                lines.append(f"  {dep.replace('.', '_')} --> {n.replace('.', '_')}")
    return "\n".join(lines) + "\n"


def graph_dot(project: Project, nodes: list[str]) -> str:
    """The selected part of the graph in Graphviz DOT."""
    chosen = set(nodes)
    lines = ["digraph mlspec {", "  rankdir=LR;"]
    for n in nodes:
        node = project.manifest.nodes[n]
        lines.append(f'  "{n}" [label="{node.kind}: {node.name}"];')
    for n in nodes:
        for dep in project.manifest.nodes[n].depends_on:
            if dep in chosen:
                lines.append(f'  "{dep}" -> "{n}";')
    lines.append("}")
    return "\n".join(lines) + "\n"
