"""Gate evaluation (`mlspec.runtime.gates`): absolute and champion-relative requirements, fail-closed
handling of missing/NaN/infinite metrics on either side, the first-run policy, slices and the verdict.

Requirements are parsed with the compiler's own `parse_requirement`, so these are the dicts a real
manifest holds.
"""

from __future__ import annotations

import json
import math

import pytest

from mlspec.lang.requirements import parse_requirement
from mlspec.manifest import GateNode, SliceGate
from mlspec.runtime.gates import check, evaluate

NAN, INF = math.nan, math.inf


def req(text: str) -> dict:
    return parse_requirement(text).to_dict()


def gate(*texts: str, first_run: str | None = "skip_champion_checks", slices: list[SliceGate] | None = None,
         approval: str | None = None) -> GateNode:
    return GateNode(id="gate.g", name="g", file="specs/g.yaml", model="m", requirements=[req(t) for t in texts],
                    first_run=first_run, slices=slices or [], approval_environment=approval)


def candidate(metrics: dict, slices: dict | None = None) -> dict:
    return {"metrics": metrics, "slices": slices or {}, "sha256": "ab" * 32}


# ------------------------------------------------------------------------------------------------
# check: absolute requirements
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value", "status"), [
    ("roc_auc >= 0.9", 0.9, "pass"),  # boundary is inclusive
    ("roc_auc >= 0.9", 0.95, "pass"),
    ("roc_auc >= 0.9", 0.8999, "fail"),
    ("roc_auc > 0.9", 0.9, "fail"),  # strict
    ("roc_auc > 0.9", 0.9001, "pass"),
    ("rmse <= 60", 60.0, "pass"),
    ("rmse <= 60", 60.5, "fail"),
    ("rmse < 60", 60.0, "fail"),
    ("rmse < 60", 59.0, "pass"),
    ("r2 >= -0.5", -0.25, "pass"),  # negative thresholds
    ("r2 >= -0.5", -0.75, "fail"),
    ("accuracy >= 1", 1, "pass"),  # an int metric value is a number like any other
])
def test_absolute(text: str, value: float, status: str) -> None:
    metric = text.split()[0]
    result = check(req(text), {metric: value}, None, None)
    assert result.status == status
    assert result.threshold == parse_requirement(text).threshold
    assert result.value == value
    assert result.champion_value is None
    if status == "fail":
        assert result.reason == f"{metric} = {value:.6g}, needs {text.split()[1]} {result.threshold:.6g}"
    else:
        assert result.reason == ""


def test_absolute_fail_reason_names_value_and_threshold() -> None:
    result = check(req("roc_auc >= 0.999"), {"roc_auc": 0.87654321}, None, None)
    assert result.status == "fail"
    assert result.reason == "roc_auc = 0.876543, needs >= 0.999"
    assert result.text == "roc_auc >= 0.999"


# ------------------------------------------------------------------------------------------------
# check: relative to the champion
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value", "champion", "threshold", "status"), [
    ("roc_auc >= champion.roc_auc", 0.90, 0.90, 0.90, "pass"),
    ("roc_auc >= champion.roc_auc", 0.8999, 0.90, 0.90, "fail"),
    ("roc_auc >= champion.roc_auc - 0.005", 0.896, 0.90, 0.895, "pass"),
    ("roc_auc >= champion.roc_auc - 0.005", 0.894, 0.90, 0.895, "fail"),
    ("roc_auc >= champion.roc_auc + 0.01", 0.905, 0.90, 0.91, "fail"),
    ("roc_auc >= champion.roc_auc + 0.01", 0.915, 0.90, 0.91, "pass"),
    ("rmse <= champion.rmse * 1.05", 52.4, 50.0, 52.5, "pass"),
    ("rmse <= champion.rmse * 1.05", 52.6, 50.0, 52.5, "fail"),
    ("rmse < champion.rmse * 0.5", 25.0, 50.0, 25.0, "fail"),
    ("rmse < champion.rmse - 10", 39.0, 50.0, 40.0, "pass"),
])
def test_relative(text: str, value: float, champion: float, threshold: float, status: str) -> None:
    metric = text.split()[0]
    result = check(req(text), {metric: value}, {metric: champion}, "fail")
    assert result.status == status
    assert result.champion_value == champion
    assert result.threshold == pytest.approx(threshold)
    assert result.value == value


def test_relative_compares_with_the_named_champion_metric() -> None:
    result = check(req("recall >= champion.precision"), {"recall": 0.7, "precision": 0.1},
                   {"recall": 0.1, "precision": 0.8}, "fail")
    assert result.status == "fail"
    assert result.champion_value == 0.8
    assert result.reason == "recall = 0.7, needs >= 0.8"


# ------------------------------------------------------------------------------------------------
# check: fail closed
# ------------------------------------------------------------------------------------------------


BAD_VALUES = [NAN, INF, -INF, None, "0.95", True]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=["nan", "inf", "-inf", "none", "string", "bool"])
@pytest.mark.parametrize("text", ["roc_auc >= 0.5", "roc_auc <= 0.5", "roc_auc > -1e9", "roc_auc < 1e9"])
def test_non_finite_candidate_metric_fails_absolute_in_both_directions(bad: object, text: str) -> None:
    result = check(req(text), {"roc_auc": bad}, None, None)
    assert result.status == "fail"
    assert result.value is None
    assert result.reason == "roc_auc is missing or not a number (fails closed)"


@pytest.mark.parametrize("text", ["roc_auc >= 0.5", "rmse <= 100", "roc_auc >= champion.roc_auc",
                                  "rmse <= champion.rmse * 1.1"])
def test_missing_candidate_metric_fails(text: str) -> None:
    metric = text.split()[0]
    result = check(req(text), {"other": 1.0}, {metric: 0.5}, "skip_champion_checks")
    assert result.status == "fail"
    assert result.reason == f"{metric} is missing or not a number (fails closed)"


@pytest.mark.parametrize("bad", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("text", ["roc_auc >= champion.roc_auc - 0.01", "rmse <= champion.rmse * 1.05"])
def test_non_finite_candidate_metric_fails_relative_in_both_directions(bad: float, text: str) -> None:
    metric = text.split()[0]
    result = check(req(text), {metric: bad}, {metric: 0.5}, "fail")
    assert result.status == "fail"
    assert result.champion_value == 0.5
    assert "missing or not a number" in result.reason


@pytest.mark.parametrize("bad", [NAN, INF, -INF, None], ids=["nan", "inf", "-inf", "none"])
@pytest.mark.parametrize("text", ["roc_auc >= champion.roc_auc", "rmse <= champion.rmse * 1.05"])
def test_non_finite_champion_metric_fails(bad: object, text: str) -> None:
    metric = text.split()[0]
    # with a -inf champion, `>=` would pass anything and `<= *1.05` nothing: it must fail regardless
    result = check(req(text), {metric: 0.5}, {metric: bad}, "skip_champion_checks")
    assert result.status == "fail"
    assert result.champion_value is None
    assert result.reason == f"the champion's {metric} is missing or not a number"


def test_champion_without_that_metric_fails() -> None:
    result = check(req("roc_auc >= champion.roc_auc"), {"roc_auc": 0.99}, {"recall": 0.5}, "skip_champion_checks")
    assert result.status == "fail"
    assert result.reason == "the champion's roc_auc is missing or not a number"


# ------------------------------------------------------------------------------------------------
# check: first run (no champion)
# ------------------------------------------------------------------------------------------------


def test_first_run_skip_champion_checks_skips_only_champion_requirements() -> None:
    relative = check(req("roc_auc >= champion.roc_auc"), {"roc_auc": 0.5}, None, "skip_champion_checks")
    assert relative.status == "skipped"
    assert relative.reason == "no champion yet (first_run: skip_champion_checks)"
    absolute = check(req("roc_auc >= 0.9"), {"roc_auc": 0.5}, None, "skip_champion_checks")
    assert absolute.status == "fail"


def test_first_run_skip_does_not_excuse_a_nan_candidate_on_absolute_requirements() -> None:
    assert check(req("roc_auc >= 0.1"), {"roc_auc": NAN}, None, "skip_champion_checks").status == "fail"


@pytest.mark.parametrize("policy", ["fail", None])
def test_first_run_fail(policy: str | None) -> None:
    result = check(req("roc_auc >= champion.roc_auc - 0.5"), {"roc_auc": 0.99}, None, policy)
    assert result.status == "fail"
    assert result.reason == "no champion yet (first_run: fail)"


# ------------------------------------------------------------------------------------------------
# evaluate: verdicts, reports, slices
# ------------------------------------------------------------------------------------------------


def test_evaluate_all_pass() -> None:
    report = evaluate(gate("roc_auc >= 0.8", "recall >= 0.5"), candidate({"roc_auc": 0.9, "recall": 0.6}), None,
                      None)
    assert report.passed and report.verdict == "pass"
    assert report.failures() == []
    assert [r.status for r in report.requirements] == ["pass", "pass"]
    assert report.first_run is True
    assert report.champion_version is None
    assert report.candidate_sha256 == "ab" * 32
    assert (report.gate, report.model) == ("g", "m")


def test_evaluate_one_failure_fails_the_gate_and_every_requirement_is_reported() -> None:
    report = evaluate(gate("roc_auc >= 0.8", "recall >= 0.7", "roc_auc >= champion.roc_auc"),
                      candidate({"roc_auc": 0.9, "recall": 0.6}), {"metrics": {"roc_auc": 0.85}}, 3)
    assert report.verdict == "fail" and not report.passed
    assert [r.status for r in report.requirements] == ["pass", "fail", "pass"]
    assert [r.text for r in report.failures()] == ["recall >= 0.7"]
    assert report.first_run is False
    assert report.champion_version == 3


def test_evaluate_first_run_with_only_champion_requirements_skipped_passes() -> None:
    report = evaluate(gate("roc_auc >= 0.8", "roc_auc >= champion.roc_auc - 0.01"),
                      candidate({"roc_auc": 0.81}), None, None)
    assert report.verdict == "pass"
    assert [r.status for r in report.requirements] == ["pass", "skipped"]


def test_evaluate_first_run_fail_policy_fails_the_gate() -> None:
    report = evaluate(gate("roc_auc >= 0.8", "roc_auc >= champion.roc_auc", first_run="fail"),
                      candidate({"roc_auc": 0.99}), None, None)
    assert report.verdict == "fail"
    assert [r.reason for r in report.failures()] == ["no champion yet (first_run: fail)"]


def test_evaluate_worse_than_champion_fails() -> None:
    report = evaluate(gate("roc_auc >= 0.5", "roc_auc >= champion.roc_auc - 0.001"),
                      candidate({"roc_auc": 0.80}), {"metrics": {"roc_auc": 0.90}}, 1)
    assert report.verdict == "fail"
    failure = report.failures()[0]
    assert failure.reason == "roc_auc = 0.8, needs >= 0.899"
    assert failure.champion_value == 0.90


def test_report_dict_is_json_ready_with_nan_as_null() -> None:
    report = evaluate(gate("roc_auc >= 0.5", "roc_auc >= champion.roc_auc"), candidate({"roc_auc": NAN}),
                      {"metrics": {"roc_auc": 0.7}}, 2)
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)  # would raise on NaN
    assert json.loads(text)["verdict"] == "fail"
    assert [r["value"] for r in data["requirements"]] == [None, None]
    assert data["requirements"][1]["champion_value"] == 0.7


def slice_gate(*texts: str, min_rows: int = 30) -> SliceGate:
    return SliceGate(column="region", requirements=[req(t) for t in texts], min_rows=min_rows)


def group(rows: int, **metrics: float) -> dict:
    return {"rows": rows, "metrics": metrics}


def test_slices_every_value_is_checked_and_labelled() -> None:
    g = gate("roc_auc >= 0.5", slices=[slice_gate("roc_auc >= 0.7")])
    cand = candidate({"roc_auc": 0.9}, {"region": {"north": group(100, roc_auc=0.8),
                                                   "south": group(100, roc_auc=0.65)}})
    report = evaluate(g, cand, None, None)
    assert report.verdict == "fail"
    sliced = [r for r in report.requirements if r.slice]
    assert [(r.slice, r.status) for r in sliced] == [("region=north", "pass"), ("region=south", "fail")]
    assert report.failures()[0].reason == "roc_auc = 0.65, needs >= 0.7"


def test_slices_below_min_rows_are_skipped_with_reason() -> None:
    g = gate("roc_auc >= 0.5", slices=[slice_gate("roc_auc >= 0.7", "recall >= 0.5", min_rows=50)])
    cand = candidate({"roc_auc": 0.9}, {"region": {"north": group(100, roc_auc=0.8, recall=0.9),
                                                   "tiny": group(49, roc_auc=0.1, recall=0.0),
                                                   "edge": group(50, roc_auc=0.71, recall=0.5)}})
    report = evaluate(g, cand, None, None)
    assert report.verdict == "pass"
    tiny = [r for r in report.requirements if r.slice == "region=tiny"]
    assert [r.status for r in tiny] == ["skipped", "skipped"]
    assert tiny[0].reason == "49 test rows < min_rows 50"
    edge = [r for r in report.requirements if r.slice == "region=edge"]
    assert [r.status for r in edge] == ["pass", "pass"]  # exactly min_rows is checked


def test_slices_nan_metric_fails_closed() -> None:
    g = gate("roc_auc >= 0.5", slices=[slice_gate("roc_auc >= 0.7", min_rows=1)])
    cand = candidate({"roc_auc": 0.9}, {"region": {"one_class": group(40, roc_auc=NAN)}})
    report = evaluate(g, cand, None, None)
    assert report.verdict == "fail"
    assert report.failures()[0].slice == "region=one_class"


def test_slices_relative_to_the_champions_same_slice() -> None:
    g = gate("roc_auc >= 0.5", slices=[slice_gate("roc_auc >= champion.roc_auc - 0.05")])
    cand = candidate({"roc_auc": 0.9}, {"region": {"north": group(100, roc_auc=0.80),
                                                   "south": group(100, roc_auc=0.80)}})
    champion = {"metrics": {"roc_auc": 0.9}, "slices": {"region": {"north": group(90, roc_auc=0.84),
                                                                   "south": group(90, roc_auc=0.90)}}}
    report = evaluate(g, cand, champion, 4)
    sliced = {r.slice: r for r in report.requirements if r.slice}
    assert sliced["region=north"].status == "pass"
    assert sliced["region=north"].champion_value == 0.84
    assert sliced["region=south"].status == "fail"
    assert sliced["region=south"].threshold == pytest.approx(0.85)
    assert report.verdict == "fail"


def test_slices_relative_when_the_champion_lacks_that_slice_fails_closed() -> None:
    g = gate("roc_auc >= 0.5", slices=[slice_gate("roc_auc >= champion.roc_auc")])
    cand = candidate({"roc_auc": 0.9}, {"region": {"new_region": group(100, roc_auc=0.99)}})
    report = evaluate(g, cand, {"metrics": {"roc_auc": 0.8}, "slices": {}}, 1)
    assert report.verdict == "fail"
    assert report.failures()[0].reason == "the champion's roc_auc is missing or not a number"


def test_slices_relative_on_first_run_follow_the_policy() -> None:
    cand = candidate({"roc_auc": 0.9}, {"region": {"north": group(100, roc_auc=0.6)}})
    skip = evaluate(gate("roc_auc >= 0.5", slices=[slice_gate("roc_auc >= champion.roc_auc")]), cand, None, None)
    assert skip.verdict == "pass"
    assert [r.status for r in skip.requirements] == ["pass", "skipped"]
    fail = evaluate(gate("roc_auc >= 0.5", first_run="fail", slices=[slice_gate("roc_auc >= champion.roc_auc")]),
                    cand, None, None)
    assert fail.verdict == "fail"


def test_approval_environment_is_reported() -> None:
    report = evaluate(gate("roc_auc >= 0.5", approval="production"), candidate({"roc_auc": 0.9}), None, None)
    assert report.approval_environment == "production"
    assert report.to_dict()["approval_environment"] == "production"


# ------------------------------------------------------------------------------------------------
# promotion: promote always or if_better, on the gate's primary metric
# ------------------------------------------------------------------------------------------------


def if_better(*texts: str) -> GateNode:
    return gate(*texts).model_copy(update={"promote": "if_better"})


@pytest.mark.parametrize(("text", "value", "champion_value", "promote"), [
    ("r2 >= champion.r2 - 0.1", 0.81, 0.80, True),  # higher is better: strictly higher promotes
    ("r2 >= champion.r2 - 0.1", 0.79, 0.80, False),  # within the tolerance, so it passes, but worse
    ("r2 >= champion.r2 - 0.1", 0.80, 0.80, False),  # a tie does not promote
    ("rmse <= champion.rmse * 1.1", 9.0, 10.0, True),  # lower is better
    ("rmse <= champion.rmse * 1.1", 10.5, 10.0, False),
    ("rmse <= champion.rmse * 1.1", 10.0, 10.0, False),
])
def test_if_better_compares_the_primary_metric_in_its_direction(text: str, value: float, champion_value: float,
                                                                promote: bool) -> None:
    metric = text.split()[0]
    report = evaluate(if_better(text), candidate({metric: value}), {"metrics": {metric: champion_value}}, 4)
    assert report.passed
    decision = report.promotion
    assert decision["promote"] is promote
    assert (decision["policy"], decision["metric"]) == ("if_better", metric)
    assert (decision["candidate"], decision["champion"]) == (value, champion_value)
    assert ("does not beat" in decision["reason"]) is not promote


def test_if_better_decides_on_the_first_requirements_metric_only() -> None:
    better_loss = {"log_loss": 0.40, "roc_auc": 0.70}
    champion = {"metrics": {"log_loss": 0.45, "roc_auc": 0.80}}
    first_loss = evaluate(if_better("log_loss <= 0.9", "roc_auc >= 0.5"), candidate(better_loss), champion, 1)
    first_auc = evaluate(if_better("roc_auc >= 0.5", "log_loss <= 0.9"), candidate(better_loss), champion, 1)
    assert (first_loss.promotion["metric"], first_loss.promotion["promote"]) == ("log_loss", True)
    assert (first_auc.promotion["metric"], first_auc.promotion["promote"]) == ("roc_auc", False)


@pytest.mark.parametrize(("value", "champion_metrics", "reason"), [
    (NAN, {"r2": 0.5}, "the candidate's r2 is missing or not a number"),
    (0.9, {"r2": NAN}, "the champion's r2 is missing or not a number"),
    (0.9, {"rmse": 1.0}, "the champion's r2 is missing or not a number"),  # trained before r2 was a metric
])
def test_if_better_never_calls_a_missing_value_better(value: float, champion_metrics: dict, reason: str) -> None:
    report = evaluate(if_better("r2 >= -10"), candidate({"r2": value}), {"metrics": champion_metrics}, 1)
    assert report.promotion["promote"] is False
    assert report.promotion["reason"] == reason
    json.dumps(report.to_dict(), allow_nan=False)


def test_if_better_without_a_champion_promotes() -> None:
    report = evaluate(if_better("r2 >= champion.r2"), candidate({"r2": 0.1}), None, None)
    assert report.passed and report.promotion["promote"] is True
    assert report.promotion["reason"] == "no champion yet"


def test_always_promotes_a_worse_candidate_that_passes() -> None:
    g = gate("r2 >= champion.r2 - 0.1")
    assert g.promote == "always"  # the default, and what a manifest without the field means
    report = evaluate(g, candidate({"r2": 0.75}), {"metrics": {"r2": 0.80}}, 2)
    assert report.passed and report.promotion["promote"] is True
