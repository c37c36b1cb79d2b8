"""Batches no training step needs, end to end through the CLI: files no spec declares, live sources, score output.

One small project is trained once per module (a logistic regression on tests/e2e/test_run.py's data, with
a live source and a monitor without a quality section) and copied per test. `score --file` and
`monitor --file` check an undeclared CSV or Parquet file against the champion's inputs; a live batch
that breaks its contract does not fail `mlspec run`, and `mlspec monitor` reports the break; score
output keeps the input's columns in order and adds one probability column per class.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.test_run import make_frame, make_project, messages, mlspec, spec_doc, statuses, write_spec

LIVE = "events_live"


def batch_doc() -> dict:
    """One model and its gate; a live source with the training contract; a drift-only monitor."""
    doc = spec_doc()
    del doc["models"]["risk_gbm"], doc["gates"]["risk_gbm_release"]
    live = json.loads(json.dumps(doc["sources"]["events"]))
    live["path"] = f"data/{LIVE}.csv"
    doc["sources"][LIVE] = live
    doc["monitors"] = {"risk_watch": {"model": "risk_lr", "data": LIVE, "schedule": "0 6 * * *",
                                      "drift": {"method": "psi", "threshold": 0.25, "min_rows": 50}}}
    return doc


def write_live(root: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(root / "data" / f"{LIVE}.csv", index=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("batches") / "p", batch_doc())
    write_live(root, make_frame(300, seed=5))
    result = mlspec(root, "run", "-j", "1")
    assert result.code == 0, result.stderr
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(trained, root)
    return root


def broken(frame: pd.DataFrame) -> pd.DataFrame:
    """Two contract breaks: hours out of range (rows 3 and 9) and a channel the contract does not allow (row 4)."""
    out = frame.copy()
    out.loc[[3, 9], "hour"] = 30
    out["channel"] = out["channel"].astype(object)
    out.loc[4, "channel"] = "fax"
    return out


# ------------------------------------------------------------------------------------------------
# score --file
# ------------------------------------------------------------------------------------------------


def test_score_a_file_no_spec_declares(project: Path, tmp_path: Path) -> None:
    """Anywhere on disk, columns in any order, an undeclared column: checked, scored, written back in order."""
    frame = make_frame(120, seed=9).drop(columns=["label"])
    frame.insert(0, "note", [f"row {i}, \"quoted\"" for i in range(len(frame))])  # undeclared: kept as is
    frame = frame[["amount", "note", "channel", "event_id", "signal", "hour", "age", "event_time"]]
    batch = tmp_path / "elsewhere" / "batch.csv"
    batch.parent.mkdir()
    frame.to_csv(batch, index=False)
    out = tmp_path / "scored.csv"
    result = mlspec(project, "score", "risk_lr", "--file", str(batch), "-o", str(out))
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    assert f"Scored 120 rows with risk_lr v1 -> {out}" in result.stderr
    scored = pd.read_csv(out, keep_default_na=False)
    assert list(scored.columns) == [*frame.columns, "prediction", "proba_0", "proba_1", "model_version"]
    assert scored["note"].tolist() == frame["note"].tolist()
    assert scored["event_id"].tolist() == frame["event_id"].tolist()
    assert np.allclose(scored["proba_0"] + scored["proba_1"], 1.0)
    assert (scored["prediction"] == (scored["proba_1"] >= 0.5).astype(int)).all()  # the default threshold
    lineage = json.loads(out.with_name("scored.csv.json").read_text("utf-8"))
    assert (lineage["file"], lineage["source"], lineage["rows"], lineage["version"]) == (str(batch), None, 120, 1)


def test_score_a_parquet_file_to_standard_output(project: Path, tmp_path: Path) -> None:
    frame = make_frame(60, seed=3)
    batch = tmp_path / "batch.parquet"
    frame.astype({"age": "float64"}).to_parquet(batch, index=False)
    result = mlspec(project, "score", "risk_lr", "--file", str(batch), "-o", "-")
    assert result.code == 0, result.stderr
    scored = pd.read_csv(pd.io.common.StringIO(result.stdout))  # the predictions alone on standard output
    assert list(scored.columns) == [*frame.columns, "prediction", "proba_0", "proba_1", "model_version"]
    assert len(scored) == 60
    assert "Scored 60 rows with risk_lr v1 -> standard output" in result.stderr


def test_score_a_file_that_breaks_the_models_input_contract(project: Path, tmp_path: Path) -> None:
    batch = tmp_path / "bad.csv"
    broken(make_frame(50, seed=2)).to_csv(batch, index=False)
    out = tmp_path / "never.csv"
    result = mlspec(project, "score", "risk_lr", "--file", str(batch), "-o", str(out))
    assert result.code == 1
    assert (f"mlspec: file {batch}, checked against the input contract of model 'risk_lr' (from source 'events'), "
            "breaks its data contract (2 failed check(s))") in result.stderr
    spec = (project / "specs" / "risk.yaml").read_text("utf-8").splitlines()
    hour_line = next(n for n, line in enumerate(spec, start=1) if line.strip().startswith("hour:"))
    assert f"column 'hour': check '<= 23' failed for 2 row(s); e.g. '30', '30'  (specs/risk.yaml:{hour_line})" \
        in result.stderr
    assert "column 'channel': check 'allowed values' failed for 1 row(s); e.g. 'fax'" in result.stderr
    assert not out.exists()


def test_score_a_file_lacking_a_column_the_champion_reads(project: Path, tmp_path: Path) -> None:
    batch = tmp_path / "narrow.csv"
    make_frame(40).drop(columns=["amount"]).to_csv(batch, index=False)
    result = mlspec(project, "score", "risk_lr", "--file", str(batch), "-o", str(tmp_path / "x.csv"))
    assert result.code == 1
    assert "column 'amount': check 'column missing from the data' failed for 40 row(s)" in result.stderr


def test_score_arguments(project: Path, tmp_path: Path) -> None:
    (tmp_path / "batch.txt").write_text("a,b\n1,2\n", encoding="utf-8")
    unknown = mlspec(project, "score", "risk_lr", "--file", str(tmp_path / "batch.txt"))
    assert unknown.code == 2
    assert "cannot tell the format of" in unknown.stderr and ".csv and .parquet" in unknown.stderr
    assert mlspec(project, "score", "risk_lr").code == 2
    assert mlspec(project, "score", "risk_lr", "--source", LIVE, "--file", "x.csv").code == 2
    missing = mlspec(project, "score", "risk_lr", "--file", str(tmp_path / "nope.csv"))
    assert missing.code == 1 and f"file {tmp_path / 'nope.csv'} not found" in missing.stderr


def test_score_output_has_a_probability_per_class_with_any_label(tmp_path: Path) -> None:
    """A three-class text label with a comma, a space and quotes: one proba_<class> column each, in CSV."""
    doc = spec_doc()
    labels = ["web", "app, mobile", 'in "store"']
    doc["sources"]["events"]["schema"]["channel"]["values"] = labels
    for name in ("risk_gbm",):
        del doc["models"][name], doc["gates"][f"{name}_release"]
    del doc["features"]["channel_oh"]
    model = doc["models"]["risk_lr"]
    model.update({"label": "channel", "features": [f for f in model["features"] if f != "channel_oh"],
                  "metrics": ["accuracy"]})
    doc["gates"]["risk_lr_release"]["require"] = ["accuracy >= 0.0"]
    frame = make_frame(400)
    frame["channel"] = np.where(frame["signal"] > 0.5, labels[0], np.where(frame["signal"] < -0.5, labels[1],
                                                                           labels[2]))
    root = make_project(tmp_path / "p", doc, frame)
    assert mlspec(root, "run", "-j", "1").code == 0
    result = mlspec(root, "score", "risk_lr", "--source", "events", "-o", "-")
    assert result.code == 0, result.stderr
    scored = pd.read_csv(pd.io.common.StringIO(result.stdout))
    probas = [f"proba_{label}" for label in sorted(labels)]  # the model's classes, in scikit-learn's order
    assert list(scored.columns) == [*frame.columns, "prediction", *probas, "model_version"]
    assert np.allclose(scored[probas].sum(axis=1), 1.0)
    best = scored[probas].to_numpy().argmax(axis=1)
    assert (scored["prediction"] == np.array(sorted(labels))[best]).all()
    assert (scored["prediction"] == frame["channel"]).mean() > 0.7


# ------------------------------------------------------------------------------------------------
# a monitoring-only batch: `run` does not check it; `monitor` reports its contract breaks
# ------------------------------------------------------------------------------------------------


def test_a_broken_live_batch_does_not_fail_run(project: Path) -> None:
    write_live(project, broken(make_frame(300, seed=5)))
    result = mlspec(project, "run", "-j", "1")
    assert result.code == 0, result.stderr
    found = statuses(result.stderr)
    assert (found["source.events"], found[f"source.{LIVE}"], found["model.risk_lr"]) == ("SKIP", "SKIP", "SKIP")
    assert messages(result.stderr)[f"source.{LIVE}"].startswith("no selected model trains on it")
    # asked for on its own, the data is checked, and the break is a finding
    alone = mlspec(project, "run", "-j", "1", "-s", f"source:{LIVE}")
    assert alone.code == 1
    assert f"source '{LIVE}' breaks its data contract (2 failed check(s))" in alone.stderr


def test_monitor_reports_the_contract_breaks_of_its_batch(project: Path) -> None:
    write_live(project, broken(make_frame(300, seed=5)))
    result = mlspec(project, "monitor")
    assert result.code == 1, result.stderr
    assert "ALERT  monitor monitor.risk_watch" in result.stderr and "data contract: 2 failed check(s)" in result.stderr
    report = json.loads((project / ".mlspec" / "reports" / "monitor.risk_watch" / "report.json").read_text("utf-8"))
    assert report["contract"]["passed"] is False
    assert {(c["column"], c["check"], c["rows"]) for c in report["contract"]["checks"]} == {
        ("hour", "<= 23", 2), ("channel", "allowed values", 1)}
    assert report["drift"] is not None  # the batch was still monitored
    summary = (project / ".mlspec" / "reports" / "monitor.risk_watch" / "summary.md").read_text("utf-8")
    assert "### Data contract: broken" in summary

    write_live(project, make_frame(300, seed=5))
    clean = mlspec(project, "monitor")
    assert clean.code == 0, clean.stderr
    report = json.loads((project / ".mlspec" / "reports" / "monitor.risk_watch" / "report.json").read_text("utf-8"))
    assert report["contract"] == {"passed": True, "checks": []}


def test_monitor_a_file_by_model_name(project: Path, tmp_path: Path) -> None:
    batch = tmp_path / "today.csv"
    make_frame(300, seed=8).drop(columns=["label"]).to_csv(batch, index=False)  # no labels yet: not a failure
    result = mlspec(project, "monitor", "risk_lr", "--file", str(batch))
    assert result.code == 0, result.stderr
    assert "OK     monitor monitor.risk_watch" in result.stderr
    report = json.loads((project / ".mlspec" / "reports" / "monitor.risk_watch" / "report.json").read_text("utf-8"))
    assert (report["source"], report["rows"], report["contract"]) == (str(batch), 300, {"passed": True, "checks": []})
    assert report["drift"]["evaluated"] == 5  # signal, channel, hour, age, amount

    broken(make_frame(300, seed=8)).to_csv(batch, index=False)
    alert = mlspec(project, "monitor", "risk_watch", "--file", str(batch))
    assert alert.code == 1
    assert "data contract: 2 failed check(s)" in alert.stderr

    nomonitor = mlspec(project, "monitor", "nosuch", "--file", str(batch))
    assert nomonitor.code == 1
    assert mlspec(project, "monitor", "--file", str(batch), "--data", LIVE).code == 2


def test_a_model_without_a_monitor(project: Path, tmp_path: Path) -> None:
    doc = batch_doc()
    del doc["monitors"]
    doc["monitors"] = {}
    write_spec(project, doc)
    result = mlspec(project, "monitor", "risk_lr", "--file", str(tmp_path / "x.csv"))
    assert result.code == 1
    assert "model 'risk_lr' has no monitor" in result.stderr


# ------------------------------------------------------------------------------------------------
# standard output holds data only; progress goes to standard error (README, "Output streams")
# ------------------------------------------------------------------------------------------------


def test_progress_goes_to_standard_error_and_data_to_standard_output(project: Path, tmp_path: Path) -> None:
    ran = mlspec(project, "run", "-j", "1")
    assert ran.code == 0 and ran.stdout == ""
    assert "Done. PASS=" in ran.stderr and "check source.events" in ran.stderr
    watched = mlspec(project, "monitor")
    assert watched.code == 0 and watched.stdout == ""
    assert "monitor monitor.risk_watch" in watched.stderr
    to_file = mlspec(project, "score", "risk_lr", "--source", LIVE, "-o", str(tmp_path / "s.csv"))
    assert to_file.code == 0 and to_file.stdout == "" and "Scored 300 rows" in to_file.stderr
    to_stdout = mlspec(project, "score", "risk_lr", "--source", LIVE, "-o", "-")
    assert to_stdout.code == 0
    assert to_stdout.stdout == (tmp_path / "s.csv").read_text("utf-8")  # the same table, nothing else
    listed = mlspec(project, "registry", "ls")  # a listing is data: standard output
    assert listed.code == 0 and listed.stdout.startswith("MODEL") and listed.stderr == ""
