"""Reused contracts resolve to exactly the columns they describe, at any depth of reuse (issue #15)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.spec.validate import validate_texts
from tests.spec_factory import dump

NAMES = [f"c{i}" for i in range(12)]
TYPES = [{"type": "int"}, {"type": "float", "min": 0}, {"type": "string"}, {"type": "bool", "nullable": True},
         {"type": "category", "values": ["a", "b"]}]


@st.composite
def reuse_chains(draw) -> tuple[dict, list[dict], dict]:
    """A base contract, a chain of reuses (each of the previous source), and the columns each should end with."""
    base = {name: draw(st.sampled_from(TYPES)) for name in draw(st.lists(st.sampled_from(NAMES), min_size=2,
                                                                            max_size=8, unique=True))}
    current, steps = dict(base), []
    for _ in range(draw(st.integers(1, 3))):
        names = sorted(current)
        drop = draw(st.lists(st.sampled_from(names), max_size=len(names) - 1, unique=True))
        kept = [n for n in names if n not in drop]
        override = {n: draw(st.sampled_from(TYPES)) for n in draw(st.lists(st.sampled_from(kept), unique=True))}
        free = [n for n in NAMES if n not in kept]
        # every name may be in use already: then there is nothing left to add
        adding = draw(st.lists(st.sampled_from(free), max_size=3, unique=True)) if free else []
        add = {n: draw(st.sampled_from(TYPES)) for n in adding}
        steps.append({"drop": drop, "override": override, "add": add})
        current = {n: override.get(n, current[n]) for n in kept} | add
    return base, steps, current


def _normal(column: dict) -> dict:
    return {"nullable": False, "min": None, "values": None} | column


@settings(deadline=None, max_examples=60)
@given(reuse_chains())
def test_a_chain_of_reuses_resolves_to_the_expected_columns(chain) -> None:
    base, steps, expected = chain
    sources = {"s0": {"format": "csv", "path": "data/s0.csv", "schema": base}}
    for i, step in enumerate(steps, start=1):
        schema = {"like": f"s{i - 1}", **{k: v for k, v in step.items() if v}}
        sources[f"s{i}"] = {"format": "csv", "path": f"data/s{i}.csv", "schema": schema}
    text = dump({"apiVersion": "mlspec/v1", "project": {"name": "reuse"}, "sources": sources})
    result = validate_texts({"specs/main.yaml": text})
    assert result.ok, [d.message for d in result.diagnostics]
    last = result.spec.sources[f"s{len(steps)}"].spec.columns
    got = {name: _normal(column.model_dump(exclude_defaults=True) | {"type": column.type})
           for name, column in last.items()}
    assert got == {name: _normal(column) for name, column in expected.items()}


def test_a_column_named_like_is_a_column() -> None:
    text = dump({"apiVersion": "mlspec/v1", "project": {"name": "reuse"}, "sources": {
        "s": {"format": "csv", "path": "data/s.csv", "schema": {"like": {"type": "int"}}}}})
    result = validate_texts({"specs/main.yaml": text})
    assert result.ok and list(result.spec.sources["s"].spec.columns) == ["like"]
