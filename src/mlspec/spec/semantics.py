"""Semantic checks across the merged spec: references, types, expressions, parameters, schedules.

Every check appends diagnostics and goes on, so a user sees every problem in one run. Each
reference that does not resolve gets a "did you mean" hint. The checks live in `check_data`
(sources, features) and `check_models` (models, gates, monitors).
"""

from __future__ import annotations

from mlspec.diagnostics import Diagnostic
from mlspec.spec.check_common import Facts
from mlspec.spec.check_data import check_feature, check_source, close_feature_columns
from mlspec.spec.check_models import check_gate, check_model, check_monitor
from mlspec.spec.check_project import check_project, check_serve
from mlspec.spec.contracts import resolve_contracts
from mlspec.spec.merge import SpecSet

__all__ = ["Facts", "check"]


def check(spec: SpecSet) -> tuple[Facts, list[Diagnostic]]:
    """Run every semantic check; return what was learnt and the findings."""
    facts = Facts()
    diags: list[Diagnostic] = []
    if spec.project is not None:
        check_project(spec.project, diags)
    resolve_contracts(spec, diags, facts.column_origins)  # first: every later check reads full contracts
    for entry in spec.sources.values():
        check_source(entry, facts, diags)
    for entry in spec.features.values():
        check_feature(entry, spec, facts, diags)
    for entry in spec.features.values():
        close_feature_columns(entry.name, spec, facts)
    for entry in spec.models.values():
        check_model(entry, spec, facts, diags)
    for entry in spec.gates.values():
        check_gate(entry, spec, facts, diags)
    for entry in spec.monitors.values():
        check_monitor(entry, spec, facts, diags)
    if spec.project is not None:
        check_serve(spec, diags)
    return facts, diags


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
