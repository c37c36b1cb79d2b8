"""`mlspec plan`: what a spec change does, as a semantic diff of two manifests.

Manifests are resolved data, so reformatting, reordering keys and editing comments change nothing.
Each node is CREATE, UPDATE, DELETE or UNCHANGED; an UPDATE lists its changed fields (old -> new).
The plan also names what must retrain (changed models and models downstream of a changed source or
feature), the gates and monitors affected, and the generated files that change.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from mlspec.graph import render
from mlspec.manifest import Manifest

# config_hash and file are bookkeeping; depends_on is derived from the fields that name other nodes
_IGNORED = ("config_hash", "file", "depends_on")
# fields that change nothing a run does: a node changed only there is not retrained
_META_ONLY = ("description", "tags")


@dataclass
class NodeChange:
    """One node's change, with the fields that differ."""

    node_id: str
    kind: str
    action: str  # create | update | delete | unchanged
    fields: dict[str, tuple[object, object]] = field(default_factory=dict)
    metadata_only: bool = False


@dataclass
class Plan:
    """Every node change, what they affect, and the generated files that change."""

    changes: list[NodeChange]
    retrain: list[str]
    affected_gates: list[str]
    affected_monitors: list[str]
    files: dict[str, list[str]]  # created / updated / deleted
    notes: list[str] = field(default_factory=list)
    # the base's registry and artifact store: a pull request's gate reports read the production champion
    # there, never where the pull request's own spec points (None: the base has no valid project)
    base_state: dict[str, str] | None = None

    def count(self, action: str) -> int:
        """How many nodes have `action`."""
        return sum(c.action == action for c in self.changes)

    @property
    def changed(self) -> bool:
        """True when any node or generated file changes."""
        return any(c.action != "unchanged" for c in self.changes) or any(self.files.values())

    def modified(self) -> list[str]:
        """Node ids that were created or updated (state:modified)."""
        return [c.node_id for c in self.changes if c.action in ("create", "update") and not c.metadata_only]

    def summary(self) -> str:
        """`Plan: 1 to add, 2 to change, 0 to remove, 3 to retrain.`"""
        return (f"Plan: {self.count('create')} to add, {self.count('update')} to change, "
                f"{self.count('delete')} to remove, {len(self.retrain)} to retrain.")


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    return {prefix: value}


def _node_fields(node) -> dict[str, object]:
    data = {k: v for k, v in node.model_dump(mode="json").items() if k not in _IGNORED}
    # people read expressions as text: compare the canonical text, not the parsed tree
    data.pop("expr", None)
    if "requirements" in data:
        data["requirements"] = [r["text"] for r in data["requirements"]]
    for item in data.get("slices", []) if isinstance(data.get("slices"), list) else []:
        if isinstance(item, dict) and "requirements" in item:
            item["requirements"] = [r["text"] for r in item["requirements"]]
    if "row_checks" in data:
        data["row_checks"] = {r["name"]: r["text"] for r in data["row_checks"]}
    return _flatten(data)


def diff_nodes(base: Manifest | None, head: Manifest) -> list[NodeChange]:
    """Node-level changes from `base` to `head`, in id order."""
    base_nodes = base.nodes if base is not None else {}
    changes = []
    for node_id in sorted(set(base_nodes) | set(head.nodes)):
        old, new = base_nodes.get(node_id), head.nodes.get(node_id)
        if old is None:
            assert new is not None  # the id came from one of the two
            changes.append(NodeChange(node_id, new.kind, "create"))
        elif new is None:
            changes.append(NodeChange(node_id, old.kind, "delete"))
        elif old == new:  # equal models have equal fields: most nodes, and far quicker than dumping them
            changes.append(NodeChange(node_id, new.kind, "unchanged"))
        else:
            a, b = _node_fields(old), _node_fields(new)
            fields = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
            if not fields:
                changes.append(NodeChange(node_id, new.kind, "unchanged"))
            else:
                meta = all(k.split(".")[0] in _META_ONLY for k in fields)
                changes.append(NodeChange(node_id, new.kind, "update", fields, metadata_only=meta))
    return changes


def _project_change(base: Manifest | None, head: Manifest) -> NodeChange | None:
    if base is None:
        return None
    a, b = _flatten(base.project.model_dump(mode="json")), _flatten(head.project.model_dump(mode="json"))
    fields = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
    if not fields:
        return None
    return NodeChange("project", "project", "update", fields, metadata_only=set(fields) <= {"description"})


def make_plan(base: Manifest | None, head: Manifest, graph, files: dict[str, list[str]]) -> Plan:
    """The plan from `base` to `head` (`graph` is head's dependency graph)."""
    import networkx as nx

    changes = diff_nodes(base, head)
    touched = [c.node_id for c in changes if c.action in ("create", "update") and not c.metadata_only]
    project = _project_change(base, head)
    if project is not None:
        changes.insert(0, project)
        if any(k in ("seed", "python") for k in project.fields):  # every model depends on these
            touched += [n for n in head.nodes if n.startswith("model.")]
    downstream = set(touched)
    for node_id in touched:
        downstream |= nx.descendants(graph, node_id)
    retrain = sorted(n for n in downstream if n.startswith("model."))
    gates = sorted(n for n in downstream if n.startswith("gate."))
    monitors = sorted(n for n in downstream if n.startswith("monitor."))
    notes = []
    for change in changes:
        if change.action == "delete" and change.kind == "model":
            notes.append(f"{change.node_id} is removed: its registered versions and aliases stay in the registry "
                         "(nothing trains or promotes it any more; its monitors and gates go with it)")
    return Plan(changes, retrain, gates, monitors, files, notes)


# ------------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------------

_SIGNS = {"create": "+", "update": "~", "delete": "-", "unchanged": " "}


def _show(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _list_change(old: object, new: object) -> str | None:
    """For two lists, what was removed and added (or that only the order changed); else None."""
    if not (isinstance(old, list) and isinstance(new, list)):
        return None
    keys_old = [json.dumps(v, sort_keys=True) for v in old]
    keys_new = [json.dumps(v, sort_keys=True) for v in new]
    removed = [v for v, k in zip(old, keys_old, strict=True) if k not in keys_new]
    added = [v for v, k in zip(new, keys_new, strict=True) if k not in keys_old]
    if not removed and not added:
        return "order changed"
    parts = [f"-{_show(v)}" for v in removed] + [f"+{_show(v)}" for v in added]
    return " ".join(parts)


def _explain(old: object, new: object) -> str:
    """One changed field as `old -> new`, or as removed/added items for lists."""
    return _list_change(old, new) or f"{_show(old)} -> {_show(new)}"


def _metadata_changed(change: NodeChange) -> str:
    """'description only', 'tags only' or 'description and tags only'."""
    return " and ".join(sorted({key.split(".")[0] for key in change.fields})) + " only"


def render_text(plan: Plan, explain: bool = False) -> str:
    """Terminal form; ends with the one-line summary."""
    lines = []
    for change in plan.changes:
        if change.action == "unchanged":
            continue
        suffix = f" ({_metadata_changed(change)})" if change.metadata_only else ""
        lines.append(f"  {_SIGNS[change.action]} {change.action.upper():<6} {change.node_id}{suffix}")
        if explain:
            for key, (old, new) in change.fields.items():
                lines.append(f"        {key}: {_explain(old, new)}")
    if not lines:
        lines.append("  No changes to nodes.")
    out = ["Nodes:", *lines]
    if plan.retrain:
        out += ["", "Retrain: " + ", ".join(plan.retrain)]
    if plan.affected_gates:
        out.append("Gates affected: " + ", ".join(plan.affected_gates))
    if plan.affected_monitors:
        out.append("Monitors affected: " + ", ".join(plan.affected_monitors))
    changed_files = [(k, p) for k in ("created", "updated", "deleted") for p in plan.files.get(k, [])]
    if changed_files:
        out += ["", "Generated files:"] + [f"  {kind:<8} {path}" for kind, path in changed_files]
    out += [f"Note: {n}" for n in plan.notes]
    out += ["", plan.summary()]
    return "\n".join(out) + "\n"


def render_json(plan: Plan) -> str:
    """Machine form."""
    doc = asdict(plan)
    doc["summary"] = plan.summary()
    doc["counts"] = {a: plan.count(a) for a in ("create", "update", "delete", "unchanged")}
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"


def render_markdown(plan: Plan, head: Manifest, base: Manifest | None) -> str:
    """PR-comment form: summary, changes with Old/New/Δ, graph, retrain list, files. All spec text inert."""
    from mlspec.mdsafe import code, inert

    out = [f"**{plan.summary()}**", ""]
    rows = [c for c in plan.changes if c.action != "unchanged"]
    if not rows:
        out.append("No ML change: no node is added, changed or removed.")
    else:
        out += ["| | node | change |", "|---|---|---|"]
        for change in rows:
            what = _metadata_changed(change) if change.metadata_only else change.action
            out.append(f"| {_SIGNS[change.action].strip() or ' '} | {code(change.node_id, cell=True)} | {what} |")
        details = [(c, k, o, n) for c in rows for k, (o, n) in c.fields.items()]
        if details:
            out += ["", "| node | field | old | new | Δ |", "|---|---|---|---|---|"]
            for change, key, old, new in details:
                delta = _list_change(old, new) or ""
                if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool) \
                        and not isinstance(new, bool):
                    delta = f"{new - old:+.6g}"
                out.append(f"| {code(change.node_id, cell=True)} | {code(key, cell=True)} | "
                           f"{code(_show(old), cell=True)} | {code(_show(new), cell=True)} | "
                           f"{code(delta, cell=True) if delta else ''} |")
    shown = {c.node_id for c in plan.changes if c.action != "unchanged"}
    shown |= set(plan.retrain) | set(plan.affected_gates) | set(plan.affected_monitors)
    actions = {c.node_id: c.action for c in plan.changes}
    out += ["", *render.changes_mermaid(head, sorted(shown), actions)]
    if plan.retrain:
        out += ["", "Retrains: " + ", ".join(code(m) for m in plan.retrain)]
    if plan.affected_gates:
        out += ["", "Gates affected: " + ", ".join(code(g) for g in plan.affected_gates)]
    if plan.affected_monitors:
        out += ["", "Monitors affected: " + ", ".join(code(m) for m in plan.affected_monitors)]
    files = [(k, p) for k in ("created", "updated", "deleted") for p in plan.files.get(k, [])]
    if files:
        out += ["", "<details><summary>Generated files that change</summary>", ""]
        out += [f"- {kind}: {code(path)}" for kind, path in files] + ["", "</details>"]
    out += [f"> {inert(n)}" for n in plan.notes]
    return "\n".join(out) + "\n"
