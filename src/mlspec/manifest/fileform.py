"""The manifest's file form: what `generated/manifest.json` leaves out, and how a reader puts it back.

The file is the runtime's contract and people read it, so it holds what was decided and not what
follows from it. Left out (version 2): every value equal to its field's default; each node's id, kind
and name, which its key says (`model.churn`); its dependencies, which the fields naming other nodes
say; a column feature's inputs (its column) and input type (the column's type in its source; a derived
feature's is float); a model's label type (the label column's), primary metric (its first metric) and,
when they are the project's, runner and timeout. `derived` computes those values from what the file
keeps, for both directions: writing drops a value only when it equals what `derived` gives, and
reading fills in only what is missing, so an explicit value (a version 1 file writes all of them) wins.
"""

from __future__ import annotations

import contextlib
from typing import Any

_PREDICTIONS = "predictions:"


def _get(value: Any, name: str) -> Any:
    """`name` of a node or setting, as a dict (the file) or as a model (in memory)."""
    return value[name] if isinstance(value, dict) else getattr(value, name)


def _column_type(nodes: dict, source: str, column: str) -> Any:
    return _get(_get(nodes[f"source.{source}"], "columns")[column], "type")


def derived(key: str, node: dict, nodes: dict, project: Any) -> dict[str, Any]:
    """The values of the node at `key` that follow from the rest of the manifest (see the module's docstring).

    Reads only values the file always keeps, so it gives the same answer for a full node and a lean one.
    Raises KeyError, TypeError or IndexError on a manifest that is not whole (a reader then leaves the
    node as it is, and validation says what is missing)."""
    kind, name = key.split(".", 1)
    out: dict[str, Any] = {"id": key, "kind": kind, "name": name}
    if kind == "source":
        out["depends_on"] = []
    elif kind == "feature":
        column = node.get("column")
        derived_inputs = node.get("derived_inputs", [])
        out["depends_on"] = sorted({f"source.{node['source']}", *(f"feature.{d}" for d in derived_inputs)})
        if column is None:
            out["input_type"] = "float"  # an expression's value
        else:
            out["inputs"] = [column]
            out["input_type"] = _column_type(nodes, node["source"], column)
    elif kind == "model":
        out["depends_on"] = sorted({f"source.{node['source']}", *(f"feature.{f}" for f in node["features"])})
        out["label_type"] = _column_type(nodes, node["source"], node["label"])
        out["primary_metric"] = node["metrics"][0]
        out["runner"] = _get(project, "runner")
        out["timeout_minutes"] = _get(project, "timeout_minutes")
    elif kind == "gate":
        out["depends_on"] = [f"model.{node['model']}"]
    elif kind == "monitor":
        data = node["data"]
        source = _get(nodes[f"model.{node['model']}"], "source") if data.startswith(_PREDICTIONS) else data
        out["depends_on"] = sorted({f"model.{node['model']}", f"source.{source}"})
    return out


def lean(data: dict, full_value) -> dict:
    """`data` (a manifest dumped without its defaults) without the nodes' derived values, in place.

    `full_value(key, field)` gives a node's value of `field` when the dump left it out as a default but
    `derived` would restore something else (never for a manifest mlspec resolved): it is then written."""
    nodes, project = data["nodes"], data["project"]
    for key, node in nodes.items():
        for name, value in derived(key, node, nodes, project).items():
            if name not in node:
                if full_value(key, name) != value:
                    node[name] = full_value(key, name)
            elif node[name] == value:
                del node[name]
    return data


def restore(data: Any) -> Any:
    """A manifest read from a file, with its nodes' derived values filled in where the file left them out.

    Anything that is not a manifest's shape is returned as it is, for validation to describe."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
        return data
    nodes, project = data["nodes"], data.get("project")
    whole = {}
    for key, node in nodes.items():
        if isinstance(node, dict) and isinstance(key, str) and "." in key:
            with contextlib.suppress(KeyError, TypeError, IndexError, AttributeError):  # validation says what is wrong
                node = {**derived(key, node, nodes, project), **node}
        whole[key] = node
    return {**data, "nodes": whole}
