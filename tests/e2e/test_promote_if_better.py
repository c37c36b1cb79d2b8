"""`promote` end to end through `mlspec run`: a gate whose champion comparison has a tolerance passes a worse
candidate. With the default (`always`) that candidate becomes the champion; with `promote: if_better` it is
registered and the champion stays, also when a reviewer approves it (the approval job's `promote`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlspec import api
from mlspec.runtime import steps
from mlspec.runtime.errors import RegistryError
from tests.e2e.test_run import messages, mlspec, registry_rows, show
from tests.spec_factory import dump

GATE = "price_release"


def _frame(noise: float, rows: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rooms = rng.normal(0, 1, rows)
    return pd.DataFrame({"rooms": rooms.round(6), "price": (3 * rooms + rng.normal(0, noise, rows)).round(6)})


def _project(root: Path, gate: dict) -> Path:
    doc = {
        "apiVersion": "mlspec/v1",
        "project": {"name": "houses", "seed": 5, "ci_state": "ephemeral"},
        "sources": {"sales": {"format": "csv", "path": "data/sales.csv",
                              "schema": {"rooms": {"type": "float"}, "price": {"type": "float"}}}},
        "features": {"rooms": {"source": "sales", "column": "rooms"}},
        "models": {"price_lr": {"task": "regression", "source": "sales", "label": "price", "features": ["rooms"],
                                "estimator": "linear_regression", "metrics": ["r2", "rmse"]}},
        "gates": {GATE: {"model": "price_lr", "first_run": "skip_champion_checks",
                         # the tolerance lets r2 drop by up to 0.3 from one release to the next
                         "require": ["r2 >= 0.5", "r2 >= champion.r2 - 0.3"], **gate}},
    }
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "houses.yaml").write_text(dump(doc), encoding="utf-8")
    return root


def _train(root: Path, noise: float, *args: str):
    (root / "data").mkdir(exist_ok=True)
    _frame(noise).to_csv(root / "data" / "sales.csv", index=False)
    result = mlspec(root, "run", *args)
    assert result.code == 0, result.stderr
    return result


def _aliases(root: Path) -> dict[int, list[str]]:
    return {row["version"]: row["aliases"] for row in registry_rows(root)}


def _report(root: Path) -> dict:
    return json.loads((root / ".mlspec" / "reports" / f"gate.{GATE}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("gate", "promoted"), [({}, True), ({"promote": "always"}, True),
                                                ({"promote": "if_better"}, False)])
def test_a_worse_candidate_that_passes_is_promoted_only_without_if_better(tmp_path: Path, gate: dict,
                                                                          promoted: bool) -> None:
    root = _project(tmp_path, gate)
    _train(root, noise=0.5)
    assert _aliases(root) == {1: ["champion"]}
    first_r2 = show(root, "price_lr", 1)["metrics"]["r2"]

    second = _train(root, noise=1.5)  # noisier data: a worse model, within the tolerance
    report = _report(root)
    assert report["verdict"] == "pass"
    second_r2 = show(root, "price_lr", 2)["metrics"]["r2"]
    assert first_r2 - 0.3 <= second_r2 < first_r2  # worse, but the requirements allow it
    if promoted:
        assert _aliases(root) == {1: [], 2: ["champion"]}
        assert report["promotion"]["promote"] is True
        assert messages(second.stderr)[f"gate.{GATE}"] == "passed; registered price_lr v2 as champion"
    else:
        assert _aliases(root) == {1: ["champion"], 2: []}  # registered, not promoted
        assert report["promotion"] == {
            "policy": "if_better", "promote": False, "metric": "r2", "candidate": second_r2, "champion": first_r2,
            "reason": f"r2 {second_r2:.6g} does not beat the champion's {first_r2:.6g} (higher is better)"}
        assert messages(second.stderr)[f"gate.{GATE}"] == (
            f"passed; registered price_lr v2, not promoted: {report['promotion']['reason']} (promote: if_better)")
        history = show(root, "price_lr")["alias_history"]
        assert [(h["alias"], h["to_version"]) for h in history] == [("champion", 1)]


def test_if_better_promotes_a_better_candidate(tmp_path: Path) -> None:
    root = _project(tmp_path, {"promote": "if_better"})
    _train(root, noise=1.5)
    _train(root, noise=0.5)
    assert _aliases(root) == {1: [], 2: ["champion"]}
    history = show(root, "price_lr")["alias_history"]
    assert [(h["alias"], h["from_version"], h["to_version"]) for h in history] == [
        ("champion", None, 1), ("champion", 1, 2)]


def test_if_better_with_approval_keeps_the_champion_after_approval(tmp_path: Path) -> None:
    root = _project(tmp_path, {"promote": "if_better", "approval": {"environment": "production"}})
    _train(root, 0.5, "--approve")
    assert _aliases(root) == {1: ["champion"]}
    _train(root, noise=1.5)  # worse: registered without an alias, not as a challenger awaiting approval
    assert _aliases(root) == {1: ["champion"], 2: []}
    _train(root, 1.5, "--approve", "--force")  # approving locally does not promote it either
    assert _aliases(root) == {1: ["champion"], 2: []}

    # what the approval job runs in CI, after a reviewer approved: the generated gate script's promote
    assert mlspec(root, "compile").code == 0
    approved = subprocess.run([sys.executable, str(root / "generated" / f"gate_{GATE}.py"), "promote"], cwd=root,
                              capture_output=True, text=True, timeout=600, check=False)
    assert approved.returncode == 0, approved.stderr
    assert "price_lr: v2 stays registered, not champion: r2 " in approved.stdout
    assert "(promote: if_better)" in approved.stdout
    assert _aliases(root) == {1: ["champion"], 2: []}


class _ChampionMovesAfterRead:
    """A registry whose champion moves to `to` right after the gate read it (another gate, a rollback...)."""

    def __init__(self, registry, to: int) -> None:
        self.registry, self.to = registry, to

    def champion(self, model: str):
        seen = self.registry.champion(model)
        self.registry.set_alias(model, "champion", self.to, "moved by someone else")
        return seen

    def __getattr__(self, name: str):
        return getattr(self.registry, name)


def test_if_better_moves_the_champion_only_if_it_is_still_the_one_compared(tmp_path: Path) -> None:
    root = _project(tmp_path, {"promote": "if_better"})
    _train(root, 1.5)
    _train(root, 1.0)
    assert mlspec(root, "registry", "rollback", "price_lr", "--reason", "test").code == 0
    assert _aliases(root) == {1: ["champion"], 2: []}

    # a better candidate's gate compares it with v1, but v2 is champion again before the move
    _frame(0.5).to_csv(root / "data" / "sales.csv", index=False)
    assert mlspec(root, "run", "-s", "model:price_lr").code == 0
    manifest = api.load(root).manifest
    paths = steps.Paths.of(manifest, root)
    registry = steps.open_registry(manifest, paths)
    try:
        with pytest.raises(RegistryError, match="champion changed since the gate ran"):
            steps.apply_gate(manifest, manifest.nodes[f"gate.{GATE}"], paths, _ChampionMovesAfterRead(registry, 2),
                             approve=False)
    finally:
        registry.close()
    assert _aliases(root) == {1: [], 2: ["champion"], 3: []}  # registered; the compare-and-set refused the move

    # running the gate again compares the registered candidate with v2, and promotes it
    again = mlspec(root, "run")
    assert again.code == 0, again.stderr
    assert _aliases(root) == {1: [], 2: [], 3: ["champion"]}
