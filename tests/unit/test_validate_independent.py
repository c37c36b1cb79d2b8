"""Validate reports every independent finding in one run (issue #15).

Two parts of a project that share nothing (each its own source, features, model and gate, in its own
file) are validated together and apart: whatever mistakes each part holds (a YAML error, a schema
error, a semantic one), the findings of the whole are exactly the findings of the parts. So a schema
error in one part neither hides the other part's findings nor adds knock-on ones.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.spec.validate import validate_texts
from tests.spec_factory import dump

PROJECT = "apiVersion: mlspec/v1\nproject: {name: parts}\n"


def _part(p: str) -> dict:
    return {
        "apiVersion": "mlspec/v1",
        "sources": {f"{p}_data": {"format": "csv", "path": f"data/{p}.csv", "schema": {
            "amount": {"type": "float", "min": 0}, "kind": {"type": "category", "values": ["a", "b"]},
            "label": {"type": "int", "values": [0, 1]}}}},
        "features": {f"{p}_amount": {"source": f"{p}_data", "column": "amount", "transform": "log1p"},
                     f"{p}_kind": {"source": f"{p}_data", "column": "kind", "transform": "one_hot"}},
        "models": {f"{p}_model": {"task": "classification", "source": f"{p}_data", "label": "label",
                                  "features": [f"{p}_amount", f"{p}_kind"], "estimator": "random_forest",
                                  "metrics": ["roc_auc"]}},
        "gates": {f"{p}_gate": {"model": f"{p}_model", "require": ["roc_auc >= 0.7"]}},
    }


def _set(path: tuple, value):
    def apply(doc: dict) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return apply


# Mistakes a part can hold; each names only its own part (`{p}`), never the other part.
MISTAKES = {
    "none": lambda p: None,
    "schema: task": lambda p: _set(("models", f"{p}_model", "task"), "classify"),
    "schema: format": lambda p: _set(("sources", f"{p}_data", "format"), "cvs"),
    "schema: unknown field": lambda p: _set(("features", f"{p}_amount", "imput"), "mean"),
    "schema: section not a mapping": lambda p: _set(("gates",), [f"{p}_gate"]),
    "semantic: estimator": lambda p: _set(("models", f"{p}_model", "estimator"), "random_forrest"),
    "semantic: column": lambda p: _set(("features", f"{p}_amount", "column"), "amonut"),
    "semantic: metric": lambda p: _set(("models", f"{p}_model", "metrics"), ["roc_auc", "f1_macr"]),
    "semantic: threshold": lambda p: _set(("gates", f"{p}_gate", "require"), ["roc_auc >= 1.5"]),
    "semantic: transform": lambda p: _set(("features", f"{p}_kind", "transform"), "standardize"),
}
TEXT_MISTAKES = {"none": lambda text: text,
                 "yaml: syntax": lambda text: text + "broken: [\n",
                 "yaml: ambiguous value": lambda text: text.replace("min: 0", "min: 0777")}


def _text(p: str, mistakes: list[str], text_mistake: str) -> str:
    doc = _part(p)
    for name in sorted(mistakes, key=lambda m: m == "schema: section not a mapping"):  # that one replaces a section
        change = MISTAKES[name](p)
        if change is not None:
            change(doc)
    return TEXT_MISTAKES[text_mistake](dump(doc))


def _findings(texts: dict[str, str]) -> set[tuple]:
    result = validate_texts(texts)
    return {(d.code, d.message, d.span.file if d.span else None, d.span.line if d.span else None,
             d.span.col if d.span else None) for d in result.diagnostics}


mistakes = st.lists(st.sampled_from(sorted(MISTAKES)), max_size=3, unique=True)


@settings(deadline=None)
@given(mistakes, mistakes, st.sampled_from(sorted(TEXT_MISTAKES)), st.sampled_from(sorted(TEXT_MISTAKES)))
def test_findings_of_the_whole_are_the_findings_of_its_parts(a: list[str], b: list[str], text_a: str,
                                                             text_b: str) -> None:
    part_a, part_b = _text("a", a, text_a), _text("b", b, text_b)
    whole = _findings({"specs/project.yaml": PROJECT, "specs/a.yaml": part_a, "specs/b.yaml": part_b})
    alone_a = _findings({"specs/project.yaml": PROJECT, "specs/a.yaml": part_a})
    alone_b = _findings({"specs/project.yaml": PROJECT, "specs/b.yaml": part_b})
    assert whole == alone_a | alone_b
    if a == b == [] and text_a == text_b == "none":
        assert whole == set()


def test_a_broken_source_makes_no_unknown_reference_findings() -> None:
    part = _text("a", ["schema: format"], "none")
    found = _findings({"specs/project.yaml": PROJECT, "specs/a.yaml": part})
    assert [f[0] for f in found] == ["MLS104"], found


def test_a_file_with_a_syntax_error_hides_no_finding_of_another_file() -> None:
    found = _findings({"specs/project.yaml": PROJECT, "specs/a.yaml": "apiVersion: mlspec/v1\nsources: [\n",
                       "specs/b.yaml": _text("b", ["semantic: estimator", "semantic: column"], "none")})
    assert sorted(f[0] for f in found) == ["MLS005", "MLS201", "MLS205"], found


def test_a_broken_project_section_hides_no_other_finding() -> None:
    found = _findings({"specs/project.yaml": "apiVersion: mlspec/v1\nproject: {name: parts, seed: -1}\n",
                       "specs/b.yaml": _text("b", ["semantic: metric"], "none")})
    assert sorted(f[0] for f in found) == ["MLS105", "MLS203"], found
