"""A nullable bool column with missing values in expressions, end to end through the CLI (issue #15).

Loaded as pandas' nullable `boolean` type, such a column reached expressions as an array of Python
objects holding `pd.NA`, and `flag or signal > 1` failed at training with "arithmetic needs numbers".
A missing flag now counts as false in `and`/`or`/`not`, and `is_null(flag)` finds it, in derived
features (training, scoring) and in row rules alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.e2e.test_run import make_frame, make_project, mlspec, spec_doc


def flagged_frame(rows: int = 800) -> pd.DataFrame:
    """The run tests' data with `flag`: true, false or missing (about one row in ten)."""
    frame = make_frame(rows)
    rng = np.random.default_rng(3)
    flag = np.where(rng.random(rows) < 0.5, "true", "false").astype(object)
    flag[rng.random(rows) < 0.1] = ""
    frame["flag"] = flag
    return frame


def flagged_doc(rules: list[dict] | None = None) -> dict:
    doc = spec_doc()
    del doc["models"]["risk_gbm"], doc["gates"]["risk_gbm_release"]
    doc["sources"]["events"]["schema"]["flag"] = {"type": "bool", "nullable": True}
    doc["sources"]["events"]["checks"]["rows"] += rules or []
    doc["features"]["flag_or_signal"] = {"source": "events", "expr": "flag or signal > 1"}
    doc["features"]["flag_missing"] = {"source": "events", "expr": "is_null(flag)"}
    doc["models"]["risk_lr"]["features"] = [*doc["models"]["risk_lr"]["features"], "flag_or_signal", "flag_missing"]
    return doc


def test_a_model_trains_and_scores_on_expressions_over_a_nullable_bool(tmp_path: Path) -> None:
    frame = flagged_frame()
    root = make_project(tmp_path, flagged_doc(), frame)
    result = mlspec(root, "run")
    assert result.code == 0, result.stderr
    assert "registered risk_lr v1 as champion" in result.stderr
    scored = mlspec(root, "score", "risk_lr", "--source", "events", "--output", str(root / "scores.csv"))
    assert scored.code == 0, scored.stderr
    assert len(pd.read_csv(root / "scores.csv")) == len(frame)


def test_row_rules_treat_a_missing_flag_as_false_and_is_null_finds_it(tmp_path: Path) -> None:
    frame = flagged_frame()
    rules = [{"name": "flag_or_strong", "expr": "flag or signal > 1"},
             {"name": "flag_known", "expr": "not is_null(flag)"},
             {"name": "never_both", "expr": "not (is_null(flag) and flag)"}]
    root = make_project(tmp_path, flagged_doc(rules), frame)
    result = mlspec(root, "run", "-s", "source:events")
    assert result.code == 1, result.stderr
    missing = frame["flag"] == ""
    weak = (frame["flag"] != "true") & ~(frame["signal"] > 1)  # false or missing flag, and no strong signal
    failed = json.loads((root / ".mlspec" / "run_results.json").read_text("utf-8"))["results"][0]["message"]
    assert f"check 'row check flag_or_strong' failed for {int(weak.sum())} row(s)" in result.stderr, failed
    assert f"check 'row check flag_known' failed for {int(missing.sum())} row(s)" in result.stderr
    assert "never_both" not in result.stderr
    assert "arithmetic needs numbers" not in result.stderr
