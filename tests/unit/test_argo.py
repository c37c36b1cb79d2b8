"""The Argo target's parts: spec names as Argo names (`mlspec.emit.argonames`), valid DNS-1123 labels within their
limits and one to one; and the size check of a document Kubernetes must store (`mlspec.emit.argo.too_large`).

Injectivity is shown three ways: exhaustively over every name of up to 7 characters of a small alphabet that
holds the troublesome characters (`_`, `-`, digits), where the rules' cases all occur; by hypothesis over the
schema's whole name spaces, pairs of projects and monitors included; and a real 32-bit collision of two
hashed names, found by search, which `Names` refuses instead of writing one object over another.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.emit.argonames import (
    CRON_LIMIT,
    LABEL_LIMIT,
    PART_LIMIT,
    Names,
    named,
    node_part,
    object_name,
    project_part,
)
from mlspec.errors import MlspecError

LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
NODE_NAME = re.compile(r"[a-z][a-z0-9_]{0,47}")  # the spec's rule for every node name
PROJECT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")  # the spec's rule for the project's name


def _names(alphabet: str, longest: int, rule: re.Pattern) -> list[str]:
    out = []
    for length in range(1, longest + 1):
        out += ["".join(p) for p in itertools.product(alphabet, repeat=length) if rule.fullmatch("".join(p))]
    return out


NODES = _names("a0_", 7, NODE_NAME)  # 1,093 names: trailing `_`, `__`, digits
PROJECTS = _names("a0_-", 5, PROJECT_NAME)


def _valid(label: str, limit: int) -> bool:
    return len(label) <= limit and LABEL.fullmatch(label) is not None


def test_exhaustive_node_parts_are_labels_and_one_to_one() -> None:
    parts = {name: node_part(name) for name in NODES}
    assert len(NODES) == 1093
    assert all(_valid(part, PART_LIMIT) for part in parts.values()), [p for p in parts.values() if not _valid(p, 50)]
    assert len(set(parts.values())) == len(parts)
    # the common case reads as the name: `_` becomes `-`, nothing else
    assert node_part("fraud_gbm") == "fraud-gbm" and node_part("a0") == "a0"
    # the cases a plain mapping would get wrong are hashed: a trailing `_`, `__` (which would look like `--`)
    assert re.fullmatch(r"a-h[0-9a-f]{8}", node_part("a_"))
    assert re.fullmatch(r"a-b-h[0-9a-f]{8}", node_part("a__b"))
    assert node_part("a__b") != node_part("a_b_") != node_part("a_b")


def test_exhaustive_project_parts_are_labels_and_one_to_one() -> None:
    parts = {name: project_part(name) for name in PROJECTS}
    assert all(_valid(part, LABEL_LIMIT) for part in parts.values())
    assert len(set(parts.values())) == len(parts)
    assert project_part("fraud-detection") == "fraud-detection"
    assert project_part("churn_eu") != project_part("churn-eu") == "churn-eu"


def test_exhaustive_object_names_of_two_projects_never_meet() -> None:
    """Names of CronWorkflows across projects that could share a namespace: (project, monitor) -> name is
    one to one even where the project's name holds `-monitor-`-like text."""
    projects = [*_names("a-_", 4, PROJECT_NAME), "a-monitor-b", "a-monitor", "x" * 63, "x" * 62 + "_"]
    monitors = [*_names("ab_", 4, NODE_NAME), "b_monitor_b", "monitor_b", "n" * 48]
    seen: dict[str, tuple[str, str]] = {}
    for project, monitor in itertools.product(projects, monitors):
        name = object_name(project, named("monitor", monitor), CRON_LIMIT)
        assert _valid(name, CRON_LIMIT), name
        assert seen.setdefault(name, (project, monitor)) == (project, monitor), name
    assert object_name("a-monitor", named("monitor", "b")) != object_name("a", named("monitor", "monitor_b"))


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(NODE_NAME, fullmatch=True), st.from_regex(NODE_NAME, fullmatch=True))
def test_node_parts_differ_for_different_names(first: str, second: str) -> None:
    assert _valid(node_part(first), PART_LIMIT)
    assert _valid(named("promote", first), LABEL_LIMIT)
    assert (node_part(first) == node_part(second)) == (first == second)


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(PROJECT_NAME, fullmatch=True), st.from_regex(NODE_NAME, fullmatch=True),
       st.from_regex(PROJECT_NAME, fullmatch=True), st.from_regex(NODE_NAME, fullmatch=True))
def test_object_names_differ_for_different_projects_or_names(p1: str, m1: str, p2: str, m2: str) -> None:
    first = object_name(p1, named("monitor", m1), CRON_LIMIT)
    second = object_name(p2, named("monitor", m2), CRON_LIMIT)
    assert _valid(first, CRON_LIMIT) and _valid(second, CRON_LIMIT)
    assert (first == second) == ((p1, m1) == (p2, m2))


def test_long_names_fit_their_limits() -> None:
    longest_node, longest_project = "n" + "_0" * 23 + "z", "p" + "-q" * 31
    assert len(longest_node) == 48 and len(longest_project) == 63
    assert _valid(named("approve", longest_node), LABEL_LIMIT)
    cron = object_name(longest_project, named("monitor", longest_node), CRON_LIMIT)
    assert _valid(cron, CRON_LIMIT) and "--" not in cron  # hashed as a whole
    assert object_name("fraud-detection", "lifecycle") == "fraud-detection--lifecycle"


def _colliding_names() -> tuple[str, str]:
    """Two node names whose hashed parts are equal: the same first 40 characters (what a hashed part keeps of a
    long name) and SHA-256 digests that share their first 32 bits, found by a birthday search (~80,000 tries)."""
    stem = "n" * 40
    seen: dict[str, str] = {}
    for i in itertools.count():
        name = f"{stem}{i:07d}_"  # the trailing `_` makes it hashed
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        if digest in seen:
            return seen[digest], name
        seen[digest] = name
    raise AssertionError("unreachable")


def test_a_real_hash_collision_is_refused_not_written() -> None:
    first, second = _colliding_names()
    assert NODE_NAME.fullmatch(first) and NODE_NAME.fullmatch(second) and first != second
    assert node_part(first) == node_part(second)  # the 1-in-4-billion case exists...
    names = Names()
    names.add("template", named("train", first), f"model '{first}'")
    assert names.add("template", named("train", first), f"model '{first}'") == named("train", first)  # same thing
    with pytest.raises(MlspecError) as caught:  # ...and is refused, naming both
        names.add("template", named("train", second), f"model '{second}'")
    assert first in caught.value.message and second in caught.value.message
    assert caught.value.hint == "rename one of them"


def test_a_document_too_large_for_kubernetes_is_named() -> None:
    """`too_large` measures the JSON the API server would store, not the YAML: indentation does not count."""
    from mlspec.emit.argo import OBJECT_LIMIT, too_large
    from mlspec.emit.yamlout import dump

    assert too_large("generated/argo/lifecycle.yaml", b"kind: WorkflowTemplate\n") is None
    wide = dump({"kind": "WorkflowTemplate", "items": ["x" * 200] * (OBJECT_LIMIT // 200)})
    note = too_large("generated/argo/lifecycle.yaml", wide)
    assert note is not None and note.startswith("generated/argo/lifecycle.yaml is 1.5 MiB as JSON")
    assert "refuse" in note
    deep: object = "v"  # a YAML file over half the limit whose JSON fits: its bytes are mostly indentation
    for _ in range(30):
        deep = {"k": deep}
    text = dump({"kind": "WorkflowTemplate", "items": [deep] * 1000})
    assert len(text) > OBJECT_LIMIT // 2
    assert len(json.dumps(yaml.safe_load(text), separators=(",", ":"))) < OBJECT_LIMIT // 4
    assert too_large("generated/argo/lifecycle.yaml", text) is None
