"""Evaluate a gate's requirements against a candidate's metrics and the registry's champion.

Gates fail closed: a missing, NaN or infinite metric fails the requirement, on either side of the
comparison. Requirements against the champion follow the gate's stated first-run policy when there
is no champion yet. Every requirement's values end up in the report, pass or fail, and so does the
promotion decision of the gate's `promote` policy (`promotion`), which likewise never calls a
missing value better.
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass, field
from typing import TypeGuard

from mlspec.lang.metrics import METRICS
from mlspec.manifest import GateNode

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass
class RequirementResult:
    """How one requirement fared, with the numbers it compared."""

    text: str
    status: str  # "pass" | "fail" | "skipped"
    value: float | None
    threshold: float | None
    champion_value: float | None = None
    reason: str = ""
    slice: str | None = None


@dataclass
class GateReport:
    """A gate's verdict and the evidence for it."""

    gate: str
    model: str
    verdict: str  # "pass" | "fail"
    candidate_sha256: str
    champion_version: int | None
    first_run: bool
    approval_environment: str | None
    requirements: list[RequirementResult] = field(default_factory=list)
    promotion: dict | None = None  # see `promotion`: whether a pass promotes, and why

    @property
    def passed(self) -> bool:
        """True when every requirement passed or was skipped by policy."""
        return self.verdict == "pass"

    def failures(self) -> list[RequirementResult]:
        """The requirements that failed."""
        return [r for r in self.requirements if r.status == "fail"]

    def to_dict(self) -> dict:
        """JSON-ready form (NaN becomes null)."""
        data = asdict(self)
        for item in data["requirements"]:
            for key in ("value", "threshold", "champion_value"):
                if isinstance(item[key], float) and not math.isfinite(item[key]):
                    item[key] = None
        return data


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check(requirement: dict, metrics: dict, champion_metrics: dict | None, first_run: str | None,
          slice_name: str | None = None) -> RequirementResult:
    """Evaluate one requirement (as stored in the manifest)."""
    text = requirement["text"]
    value = metrics.get(requirement["metric"])
    result = RequirementResult(text=text, status="fail", value=value if _finite(value) else None, threshold=None,
                               slice=slice_name)
    if requirement.get("champion_metric") is None:
        threshold = requirement["threshold"]
        result.threshold = threshold
    else:
        if champion_metrics is None:
            if first_run == "skip_champion_checks":
                result.status, result.reason = "skipped", "no champion yet (first_run: skip_champion_checks)"
            else:
                result.reason = "no champion yet (first_run: fail)"
            return result
        base = champion_metrics.get(requirement["champion_metric"])
        if not _finite(base):
            result.reason = f"the champion's {requirement['champion_metric']} is missing or not a number"
            return result
        result.champion_value = base
        margin = requirement.get("margin") or 0.0
        moved = {"+": base + margin, "-": base - margin, "*": base * margin}
        threshold = moved.get(requirement.get("margin_op", ""), base)
        result.threshold = threshold
    if not _finite(value):
        result.reason = f"{requirement['metric']} is missing or not a number (fails closed)"
        return result
    if _OPS[requirement["op"]](value, threshold):
        result.status = "pass"
    else:
        result.reason = f"{requirement['metric']} = {value:.6g}, needs {requirement['op']} {threshold:.6g}"
    return result


def promotion(gate: GateNode, metrics: dict, champion_metrics: dict | None) -> dict:
    """Whether a candidate that passes `gate` is promoted under its `promote` policy, with the numbers and why.

    always: yes. if_better: only when the candidate is strictly better than the champion on the gate's
    primary metric (its first requirement's), in that metric's direction; a tie or a missing value is not
    better. With no champion there is nothing to beat.
    """
    if gate.promote != "if_better":
        return {"policy": gate.promote, "promote": True, "metric": None, "candidate": None, "champion": None,
                "reason": "promote: always"}
    metric = gate.primary_metric
    value = metrics.get(metric)
    base = champion_metrics.get(metric) if champion_metrics is not None else None
    decision = {"policy": "if_better", "promote": False, "metric": metric,
                "candidate": value if _finite(value) else None, "champion": base if _finite(base) else None}
    if champion_metrics is None:
        return {**decision, "promote": True, "reason": "no champion yet"}
    if not _finite(value):
        return {**decision, "reason": f"the candidate's {metric} is missing or not a number"}
    if not _finite(base):
        return {**decision, "reason": f"the champion's {metric} is missing or not a number"}
    higher = METRICS[metric].higher_is_better
    better = value > base if higher else value < base
    verdict = "beats" if better else "does not beat"
    return {**decision, "promote": better,
            "reason": f"{metric} {value:.6g} {verdict} the champion's {base:.6g} ({'higher' if higher else 'lower'} "
                      "is better)"}


def evaluate(gate: GateNode, candidate: dict, champion: dict | None, champion_version: int | None) -> GateReport:
    """The gate's report for a candidate (`metrics`, `slices`, `sha256`) against the champion's lineage."""
    champion_metrics = champion["metrics"] if champion is not None else None
    results = [check(r, candidate["metrics"], champion_metrics, gate.first_run) for r in gate.requirements]
    for slice_gate in gate.slices:
        groups = candidate.get("slices", {}).get(slice_gate.column, {})
        champion_groups = (champion or {}).get("slices", {}).get(slice_gate.column, {})
        for value, group in sorted(groups.items()):
            label = f"{slice_gate.column}={value}"
            if group["rows"] < slice_gate.min_rows:
                results.extend(RequirementResult(text=r["text"], status="skipped", value=None, threshold=None,
                                                 reason=f"{group['rows']} test rows < min_rows {slice_gate.min_rows}",
                                                 slice=label) for r in slice_gate.requirements)
                continue
            base = champion_groups.get(value, {}).get("metrics") if champion is not None else None
            if champion is not None and base is None:
                base = {}
            results.extend(check(r, group["metrics"], base, gate.first_run, label) for r in slice_gate.requirements)
    verdict = "fail" if any(r.status == "fail" for r in results) else "pass"
    return GateReport(gate=gate.name, model=gate.model, verdict=verdict, candidate_sha256=candidate["sha256"],
                      champion_version=champion_version, first_run=champion is None,
                      approval_environment=gate.approval_environment, requirements=results,
                      promotion=promotion(gate, candidate["metrics"], champion_metrics))
