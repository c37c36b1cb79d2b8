"""Per-measure drift thresholds, end to end through the CLI on generated data (issue #15).

A monitor's `threshold` used to apply only to the columns measured with its `method`: under the
default wasserstein, a category column was measured with jensen_shannon at 0.1 whatever the monitor
said. Now every column and the predictions are resolved at compile time to one measure and one
threshold (`thresholds:` per measure, `categorical:` for category columns), the report says per
column which were applied, and prediction drift under chi_square is measured with chi_square (it
was measured with psi and compared with chi_square's threshold).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.test_run import make_frame, make_project, mlspec, spec_doc

LIVE_ROWS = 600


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)  # the monitor would call `gh` to open issues
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def monitored_doc(monitors: dict) -> dict:
    """The run tests' project with one model, a live source reusing the training contract, and `monitors`."""
    doc = spec_doc()
    del doc["models"]["risk_gbm"], doc["gates"]["risk_gbm_release"]
    doc["sources"]["events_live"] = {"format": "csv", "path": "data/live.csv",
                                     "schema": {"like": "events"}, "checks": {"min_rows": 1}}
    doc["monitors"] = {name: {"model": "risk_lr", "data": "events_live", "schedule": "0 6 * * *", "drift": d}
                       for name, d in monitors.items()}
    return doc


def live_batch(root: Path) -> None:
    """A batch where the channel mix moved a little (jensen_shannon about 0.2) and the numbers did not."""
    frame = make_frame(LIVE_ROWS, seed=5)
    rng = np.random.default_rng(9)
    frame["channel"] = rng.choice(["web", "app", "store"], LIVE_ROWS, p=[0.2, 0.4, 0.4])
    frame.to_csv(root / "data" / "live.csv", index=False)


def trained(root: Path, monitors: dict) -> Path:
    make_project(root, monitored_doc(monitors))
    live_batch(root)
    result = mlspec(root, "run")
    assert result.code == 0, result.stderr
    return root


def report(root: Path, monitor: str) -> dict:
    return json.loads((root / ".mlspec" / "reports" / f"monitor.{monitor}" / "report.json").read_text("utf-8"))


def applied(rep: dict) -> dict[str, tuple[str, float]]:
    """column -> (method, threshold) as the report says they were applied."""
    return {c["column"]: (c["method"], c["threshold"]) for c in rep["drift"]["columns"]}


MONITORS = {
    # js on the category column at 0.5: the shifted channel mix stays under it; numbers and predictions 0.3
    "lenient": {"method": "wasserstein", "thresholds": {"wasserstein": 0.3, "jensen_shannon": 0.5}},
    # the same batch under js 0.05 for categories: the channel column drifts
    "strict_categories": {"method": "wasserstein", "thresholds": {"jensen_shannon": 0.05}},
    # ks for numbers, chi_square (Cramér's V) for categories, each with its own threshold
    "mixed": {"method": "ks", "categorical": "chi_square", "thresholds": {"ks": 0.2, "chi_square": 0.04}},
    # a feature override on the category column beats the per-measure threshold
    "override": {"method": "psi", "thresholds": {"psi": 0.25}, "features": {"channel_oh": {"threshold": 9.0}}},
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    root = trained(tmp_path_factory.mktemp("drift_thresholds"), MONITORS)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GITHUB_ACTIONS", raising=False)
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        result = mlspec(root, "monitor")
    assert result.code in (0, 1), result.stderr
    return {name: report(root, name) for name in MONITORS}


@pytest.mark.slow
def test_every_column_is_judged_with_the_measure_and_threshold_the_monitor_set(reports: dict) -> None:
    numeric = ("age", "amount", "hour", "signal")
    lenient = applied(reports["lenient"])
    assert lenient == {"channel": ("jensen_shannon", 0.5), **dict.fromkeys(numeric, ("wasserstein", 0.3))}
    strict = applied(reports["strict_categories"])
    assert strict == {"channel": ("jensen_shannon", 0.05), **dict.fromkeys(numeric, ("wasserstein", 0.1))}
    assert applied(reports["mixed"]) == {"channel": ("chi_square", 0.04), **dict.fromkeys(numeric, ("ks", 0.2))}
    assert applied(reports["override"]) == {"channel": ("psi", 9.0), **dict.fromkeys(numeric, ("psi", 0.25))}
    for rep in reports.values():
        for column in rep["drift"]["columns"]:  # each verdict is its own score against its own threshold
            assert column["verdict"] == ("drift" if column["score"] > column["threshold"] else "ok"), column


@pytest.mark.slow
def test_the_category_threshold_decides_whether_the_shifted_mix_drifts(reports: dict) -> None:
    channel = {name: next(c for c in rep["drift"]["columns"] if c["column"] == "channel")
               for name, rep in reports.items()}
    # the same score, judged by two thresholds: one set only through thresholds.jensen_shannon
    assert channel["lenient"]["score"] == channel["strict_categories"]["score"]
    assert 0.05 < channel["lenient"]["score"] < 0.5
    assert channel["lenient"]["verdict"] == "ok" and "channel" not in reports["lenient"]["drift"]["drifted"]
    assert channel["strict_categories"]["verdict"] == "drift"
    assert "channel" in reports["strict_categories"]["drift"]["drifted"]
    assert reports["strict_categories"]["verdict"] == "alert"


def test_predictions_are_measured_with_the_method_whose_threshold_they_meet(tmp_path: Path) -> None:
    # only spec fields that existed before: chi_square was swapped for psi on the predictions, while the
    # threshold they were compared with stayed chi_square's
    root = trained(tmp_path, {"chi": {"method": "chi_square", "threshold": 0.3}})
    result = mlspec(root, "monitor", "chi")
    assert result.code in (0, 1), result.stderr
    prediction = report(root, "chi")["drift"]["prediction"]
    assert (prediction["method"], prediction["threshold"]) == ("chi_square", 0.3)
    assert prediction["verdict"] == ("drift" if prediction["score"] > 0.3 else "ok")
    assert 0.0 <= prediction["score"] <= 1.0  # Cramér's V is bounded; a PSI is not


@pytest.mark.slow
def test_predictions_meet_the_threshold_of_their_own_measure(reports: dict) -> None:
    lenient = reports["lenient"]["drift"]["prediction"]
    assert (lenient["method"], lenient["threshold"]) == ("wasserstein", 0.3)
    mixed = reports["mixed"]["drift"]["prediction"]
    assert (mixed["method"], mixed["threshold"]) == ("ks", 0.2)


def test_monitor_markdown_names_each_columns_measure(tmp_path: Path) -> None:
    root = trained(tmp_path, {"mixed": MONITORS["mixed"]})
    result = mlspec(root, "monitor", "mixed")
    assert result.code in (0, 1), result.stderr
    summary = (root / ".mlspec" / "reports" / "monitor.mixed" / "summary.md").read_text("utf-8")
    rows = {line.split("|")[1].strip(): line for line in summary.splitlines() if line.startswith("| ")}
    assert "| chi_square |" in rows["channel"] and "| 0.0400 |" in rows["channel"]
    assert "| ks |" in rows["hour"] and "| 0.2000 |" in rows["hour"]
