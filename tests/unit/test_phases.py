"""The front end's phases as tables: small spec texts in, each phase's typed value out.

merge: spec files -> `SpecSet` (which file each entry came from) or the finding that stops it;
resolve: `SpecSet` -> `Manifest` (defaults written out, dependencies, expressions' inputs, hashes);
graph: `Manifest` -> edges, a deterministic order, and cycles placed on the expression that closes them.
"""

from __future__ import annotations

import pytest

from mlspec.graph import build
from mlspec.resolve import resolve
from mlspec.spec.validate import validate_texts

HEAD = "apiVersion: mlspec/v1\n"
PROJECT = "project: {name: p}\n"
SOURCE = ("sources:\n  s: {format: csv, path: d.csv, schema: {a: {type: float}, c: {type: category, values: [u, v]},"
          " label: {type: int, values: [0, 1]}}}\n")
FEATURES = ("features:\n  a: {source: s, column: a, transform: standardize}\n"
            "  c: {source: s, column: c, transform: one_hot}\n"
            "  a2: {source: s, expr: 'a * 2'}\n  a4: {source: s, expr: 'a2 * 2'}\n")
MODEL = ("models:\n  m: {task: classification, source: s, label: label, features: [a4, c], "
         "estimator: logistic_regression, metrics: [accuracy, f1]}\n")
GATE = "gates:\n  g: {model: m, require: ['accuracy >= 0.5']}\n"
ONE_FILE = HEAD + PROJECT + SOURCE + FEATURES + MODEL + GATE


def manifest(text: str = ONE_FILE):
    validated = validate_texts({"p.yaml": text})
    assert validated.ok, [d.message for d in validated.diagnostics]
    return resolve(validated.spec, validated.facts).manifest


# -- merge ----------------------------------------------------------------------------------------

MERGE_CASES = {
    "sections split over files": (
        {"a.yaml": HEAD + PROJECT, "b.yaml": HEAD + SOURCE, "c.yaml": HEAD + FEATURES + MODEL},
        [], {"source.s": "b.yaml", "model.m": "c.yaml"}),
    "a model defined in two files": (
        {"a.yaml": ONE_FILE, "b.yaml": HEAD + MODEL}, [("MLS200", "b.yaml", "model 'm' is defined twice")], {}),
    "two project sections": (
        {"a.yaml": ONE_FILE, "b.yaml": HEAD + PROJECT},
        [("MLS215", "b.yaml", "the project section is defined more than once")], {}),
    "no project section": (
        {"b.yaml": HEAD + SOURCE}, [("MLS215", "b.yaml", "no project section in any spec file")], {}),
    "a reference to a source nobody defines": (
        {"a.yaml": HEAD + PROJECT + FEATURES}, [("MLS201", "a.yaml", "unknown source 's'")] * 4, {}),
}


@pytest.mark.parametrize("files, findings, where", MERGE_CASES.values(), ids=list(MERGE_CASES))
def test_merge(files: dict[str, str], findings: list[tuple[str, str, str]], where: dict[str, str]) -> None:
    validated = validate_texts(files)
    assert [(d.code, d.where.file, d.message) for d in validated.diagnostics] == findings
    assert validated.ok == (not findings)
    if where:
        entries = {**{f"source.{n}": e for n, e in validated.spec.sources.items()},
                   **{f"model.{n}": e for n, e in validated.spec.models.items()}}
        assert {node: entries[node].file for node in where} == where


# -- resolve --------------------------------------------------------------------------------------

RESOLVE_CASES = {
    "a model's split defaults to random 0.2": (ONE_FILE, "model.m", "split",
                                               {"method": "random", "test_fraction": 0.2}),
    "the project seed becomes random_state": (ONE_FILE.replace("{name: p}", "{name: p, seed: 7}"), "model.m",
                                              "params", {"random_state": 7}),
    "the first metric is the primary one": (ONE_FILE, "model.m", "primary_metric", "accuracy"),
    "a model depends on its features and source": (ONE_FILE, "model.m", "depends_on",
                                                    ["feature.a4", "feature.c", "source.s"]),
    "a derived feature reads columns through other features": (ONE_FILE, "feature.a4", "inputs", ["a"]),
    "and names the derived features it reads": (ONE_FILE, "feature.a4", "derived_inputs", ["a2"]),
    "an expression is parsed into a tree": (ONE_FILE, "feature.a2", "expr",
                                            {"op": "mul", "args": [{"col": "a"}, {"num": 2}]}),
    "an expression's type comes from its columns": (ONE_FILE, "feature.a2", "input_type", "float"),
    "a feature without transform passes through": (ONE_FILE, "feature.a2", "transform.kind", "passthrough"),
    "a gate depends on its model": (ONE_FILE, "gate.g", "depends_on", ["model.m"]),
}


def field_of(node, path: str):
    value = node.model_dump()
    for part in path.split("."):
        value = value[part]
    return value


@pytest.mark.parametrize("text, node, path, expected", RESOLVE_CASES.values(), ids=list(RESOLVE_CASES))
def test_resolve(text: str, node: str, path: str, expected: object) -> None:
    assert field_of(manifest(text).nodes[node], path) == expected


HASH_CASES = {
    "a parameter": (MODEL, MODEL.replace("metrics: [accuracy, f1]", "metrics: [accuracy, f1], params: {C: 0.5}"),
                    True),
    "the metrics' order (the first is primary)": (MODEL, MODEL.replace("[accuracy, f1]", "[f1, accuracy]"), True),
    "a description": (MODEL, MODEL.replace("metrics: [accuracy, f1]", "metrics: [accuracy, f1], description: hi"),
                      False),
    "a tag": (MODEL, MODEL.replace("metrics: [accuracy, f1]", "metrics: [accuracy, f1], tags: [churn]"), False),
}


@pytest.mark.parametrize("before, after, changes", HASH_CASES.values(), ids=list(HASH_CASES))
def test_config_hash_follows_settings_not_prose(before: str, after: str, changes: bool) -> None:
    old, new = manifest(ONE_FILE), manifest(ONE_FILE.replace(before, after))
    assert (old.nodes["model.m"].config_hash != new.nodes["model.m"].config_hash) is changes
    assert old.nodes["source.s"].config_hash == new.nodes["source.s"].config_hash


# -- graph ----------------------------------------------------------------------------------------

COLUMN = "features:\n  a: {source: s, column: a}\n"
DERIVED = COLUMN + "  a2: {source: s, expr: 'a * 2'}\n"
SMALL_MODEL = ("models:\n  m: {task: classification, source: s, label: label, features: [a], "
               "estimator: logistic_regression, metrics: [accuracy]}\n")
GRAPH_CASES = {
    "a source alone": (HEAD + PROJECT + SOURCE, [], ["source.s"]),
    "a column feature follows its source": (HEAD + PROJECT + SOURCE + COLUMN, [("source.s", "feature.a")],
                                            ["source.s", "feature.a"]),
    "a derived feature follows its source, not the column feature of the same column": (
        HEAD + PROJECT + SOURCE + DERIVED, [("source.s", "feature.a"), ("source.s", "feature.a2")],
        ["source.s", "feature.a", "feature.a2"]),
    "a model follows its features and its source": (
        HEAD + PROJECT + SOURCE + COLUMN + SMALL_MODEL,
        [("feature.a", "model.m"), ("source.s", "feature.a"), ("source.s", "model.m")],
        ["source.s", "feature.a", "model.m"]),
    "a gate follows its model": (
        HEAD + PROJECT + SOURCE + COLUMN + SMALL_MODEL + GATE,
        [("feature.a", "model.m"), ("model.m", "gate.g"), ("source.s", "feature.a"), ("source.s", "model.m")],
        ["source.s", "feature.a", "model.m", "gate.g"]),
}


@pytest.mark.parametrize("text, edges, order", GRAPH_CASES.values(), ids=list(GRAPH_CASES))
def test_graph(text: str, edges: list[tuple[str, str]], order: list[str]) -> None:
    graph = build.build(manifest(text))
    assert sorted(graph.edges) == edges
    assert build.order(graph) == order


def test_graph_edges_and_order() -> None:
    graph = build.build(manifest())
    assert sorted(graph.edges) == [
        ("feature.a2", "feature.a4"), ("feature.a4", "model.m"),
        ("feature.c", "model.m"), ("model.m", "gate.g"), ("source.s", "feature.a"), ("source.s", "feature.a2"),
        ("source.s", "feature.a4"), ("source.s", "feature.c"), ("source.s", "model.m")]
    assert build.order(graph) == ["source.s", "feature.a", "feature.c", "feature.a2", "feature.a4", "model.m",
                                  "gate.g"]


def test_graph_order_ignores_file_order() -> None:
    split = {"z.yaml": HEAD + MODEL + GATE, "a.yaml": HEAD + PROJECT + SOURCE, "m.yaml": HEAD + FEATURES}
    validated = validate_texts(dict(reversed(list(split.items()))))
    other = resolve(validated.spec, validated.facts).manifest
    assert build.order(build.build(other)) == build.order(build.build(manifest()))


def test_a_cycle_is_placed_on_the_expression_that_closes_it() -> None:
    text = ONE_FILE.replace("a2: {source: s, expr: 'a * 2'}", "a2: {source: s, expr: 'a4 / 2'}")
    validated = validate_texts({"p.yaml": text})
    resolved = resolve(validated.spec, validated.facts)
    (finding,) = build.cycles(build.build(resolved.manifest), resolved.edge_origins)
    assert finding.code.startswith("MLS") and "a2" in finding.message and "a4" in finding.message
    assert finding.where.file == "p.yaml" and finding.where.path[:2] in {("features", "a2"), ("features", "a4")}
