"""The selector language on the bundled fraud example: kinds, tags, graph operators, unions, intersections."""

from __future__ import annotations

import pytest

from mlspec import api
from mlspec.graph.select import SelectorError
from tests.conftest import REPO


@pytest.fixture(scope="module")
def project() -> api.Project:
    loaded = api.load(REPO)
    assert loaded.ok, loaded.diagnostics
    return loaded


def sel(project: api.Project, *selectors: str, exclude: tuple[str, ...] = ()) -> list[str]:
    return api.select(project, list(selectors), list(exclude))


def test_by_kind_and_name(project: api.Project) -> None:
    assert sel(project, "model:fraud_gbm") == ["model.fraud_gbm"]
    assert sel(project, "fraud_gbm") == ["model.fraud_gbm"]
    assert sel(project, "kind:gate") == ["gate.fraud_gbm_release", "gate.fraud_logreg_release"]


def test_glob_and_tag(project: api.Project) -> None:
    assert sel(project, "model:fraud_*") == ["model.fraud_gbm", "model.fraud_logreg"]
    assert sel(project, "tag:baseline") == ["model.fraud_logreg"]


def test_descendants(project: api.Project) -> None:
    assert sel(project, "model:fraud_gbm+") == ["model.fraud_gbm", "gate.fraud_gbm_release",
                                                "monitor.fraud_gbm_drift"]
    # is_night reads the column `hour`, not the feature, so only the gbm depends on feature.hour
    assert sel(project, "feature:hour+1") == ["feature.hour", "model.fraud_gbm"]
    assert sel(project, "source:transactions+1")[:2] == ["source.transactions", "feature.account_age_log"]
    assert "gate.fraud_gbm_release" not in sel(project, "source:transactions+1")


def test_ancestors(project: api.Project) -> None:
    chosen = sel(project, "+gate:fraud_logreg_release")
    assert chosen[0] == "source.transactions"
    assert chosen[-2:] == ["model.fraud_logreg", "gate.fraud_logreg_release"]
    assert "feature.hour" not in chosen  # only the gbm uses the hour feature
    assert "source.transactions_live" not in chosen


def test_limited_ancestors(project: api.Project) -> None:
    assert sel(project, "1+feature:is_night") == ["source.transactions", "feature.is_night"]
    assert sel(project, "1+gate:fraud_gbm_release") == ["model.fraud_gbm", "gate.fraud_gbm_release"]


def test_union_intersection_and_exclude(project: api.Project) -> None:
    assert sel(project, "model:fraud_gbm gate:fraud_logreg_release") == ["model.fraud_gbm",
                                                                        "gate.fraud_logreg_release"]
    assert sel(project, "tag:fraud,tag:nightly") == ["model.fraud_gbm"]
    assert sel(project, "kind:model", exclude=("tag:baseline",)) == ["model.fraud_gbm"]


def test_at_operator(project: api.Project) -> None:
    chosen = sel(project, "@feature:is_night")
    assert "monitor.fraud_gbm_drift" in chosen and "source.transactions_live" in chosen


def test_result_is_in_graph_order(project: api.Project) -> None:
    chosen = sel(project, "monitor:fraud_gbm_drift source:transactions")
    assert chosen == ["source.transactions", "monitor.fraud_gbm_drift"]


@pytest.mark.parametrize(("selector", "code", "hint"), [
    ("model:fraud_gmb", "MLS301", "did you mean 'fraud_gbm'?"),
    ("tag:nightlly", "MLS301", "did you mean 'nightly'?"),
    ("modle:fraud_gbm", "MLS302", "did you mean 'model'?"),
    ("model:", "MLS302", "write model:NAME"),
    ("tag:baseline,tag:nightly", "MLS301", None),
])
def test_selector_errors(project: api.Project, selector: str, code: str, hint: str | None) -> None:
    with pytest.raises(SelectorError) as raised:
        sel(project, selector)
    assert raised.value.diagnostic.code == code
    if hint is not None:
        assert raised.value.diagnostic.hint == hint
