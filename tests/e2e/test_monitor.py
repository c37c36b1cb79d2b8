"""`mlspec monitor` and `mlspec score` end to end, through the CLI, on copies of the fraud example.

The fraud example is trained once per module (`mlspec run --approve`) and every test works on its
own copy of the trained project: the clean live batch is ok, the drifted batch names exactly the three
shifted columns, contract violations and a missing column raise quality alerts, shuffled labels a
performance alert, a challenger is scored in shadow, `--retrain` closes the loop through the gate,
and `mlspec score` writes predictions with lineage. A tiny generated project covers too-little-data
and the `bins` setting. The last part checks the Markdown/HTML reports in-process: GitHub's size
limits and inert rendering of hostile names and values.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlspec.runtime import artifacts
from mlspec.runtime.markdown import SUMMARY_LIMIT, inert
from mlspec.runtime.monitoring import drift
from mlspec.runtime.monitoring.profile import _categorical_profile
from mlspec.runtime.monitoring.report import ISSUE_LIMIT, html_report, markdown, marker
from mlspec.runtime.registry import Registry
from tests.conftest import REPO, run_cli

MONITOR = "fraud_gbm_drift"
REPORTS = Path(".mlspec") / "reports" / f"monitor.{MONITOR}"
SHIFTED = {"amount", "distance_from_home_km", "merchant_category"}
GITHUB_ISSUE_BODY = 65_536  # characters
GITHUB_STEP_SUMMARY = 1 << 20  # bytes
RUN_LINE = re.compile(r"^\d\d:\d\d:\d\d\s+\d+ of \d+ (?P<status>OK|SKIP|FAIL|ERROR)\s+(?P<action>check|train|gate) "
                      r"(?P<node>\S+) \.+ \[(?P=status) in [0-9.]+s\] (?P<message>.*)$")
MONITOR_LINE = re.compile(r"^\d\d:\d\d:\d\d\s+\d+ of \d+ (?P<word>OK|ALERT|NODATA|ERROR)\s+monitor (?P<node>\S+)")


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # in GitHub Actions the monitor would call `gh` to open issues and dispatch retrains
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("MLSPEC_REASON", "")  # --retrain sets it in-process; restored after the test


def mlspec(root: Path, *args: str):
    return run_cli("-C", str(root), *args)


def report_of(root: Path, monitor: str = MONITOR) -> dict:
    return json.loads((root / ".mlspec" / "reports" / f"monitor.{monitor}" / "report.json").read_text("utf-8"))


def monitor_words(stderr: str) -> dict[str, str]:
    return {m["node"]: m["word"] for m in map(MONITOR_LINE.match, stderr.splitlines()) if m}


def run_lines(stderr: str) -> dict[str, tuple[str, str, str]]:
    return {m["node"]: (m["status"], m["action"], m["message"]) for m in map(RUN_LINE.match, stderr.splitlines())
            if m}


def add_source(root: Path, name: str, frame: pd.DataFrame, template: str = "transactions_live") -> None:
    """Write `frame` to data/NAME.csv and declare it in specs/sources.yaml with the live batch's contract."""
    frame.to_csv(root / "data" / f"{name}.csv", index=False)
    specs = root / "specs" / "sources.yaml"
    text = specs.read_text("utf-8")
    start = text.index(f"  {template}:\n")
    following = re.search(r"^  \S", text[start + 3:], flags=re.MULTILINE)
    block = text[start: start + 3 + following.start()] if following else text[start:]
    block = block.replace(f"  {template}:", f"  {name}:", 1).replace(f"data/{template}.csv", f"data/{name}.csv")
    specs.write_text(text.rstrip("\n") + "\n\n" + block.rstrip("\n") + "\n", "utf-8")


def live_frame() -> pd.DataFrame:
    return pd.read_csv(REPO / "data" / "transactions_live.csv", dtype={"event_time": str})


def open_registry(root: Path) -> Registry:
    return Registry("sqlite:///.mlspec/registry.db", root / ".mlspec" / "artifacts", root)


# ------------------------------------------------------------------------------------------------
# the fraud example, trained once
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trained") / "fraud"
    root.mkdir()
    shutil.copytree(REPO / "specs", root / "specs")
    shutil.copytree(REPO / "data", root / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GITHUB_ACTIONS", raising=False)
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        result = mlspec(root, "run", "--approve")
    assert result.code == 0, result.stderr
    assert "registered fraud_gbm v1 as champion" in result.stderr
    return root


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    root = tmp_path / "fraud"
    shutil.copytree(trained, root)
    return root


@pytest.mark.slow
def test_the_clean_live_batch_is_ok(project: Path) -> None:
    result = mlspec(project, "monitor")
    assert result.code == 0, result.stderr
    assert monitor_words(result.stderr) == {f"monitor.{MONITOR}": "OK"}
    report = report_of(project)
    assert report["verdict"] == "ok" and report["reasons"] == []
    assert report["source"] == "transactions_live" and report["rows"] == 5000 and report["version"] == 1
    assert report["drift"]["verdict"] == "ok" and report["drift"]["drifted"] == []
    assert {c["verdict"] for c in report["drift"]["columns"]} == {"ok"}
    assert report["drift"]["prediction"]["verdict"] == "ok"
    assert report["quality"]["verdict"] == "ok" and report["quality"]["checks"] == []
    assert report["performance"]["verdict"] == "ok"
    assert report["shadow"] is None
    assert not (project / ".mlspec" / "alerts.log").exists()


@pytest.mark.slow
def test_the_drifted_batch_alerts_and_names_exactly_the_shifted_columns(project: Path, tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n", "utf-8")
    result = run_cli("-C", project.name, "monitor", MONITOR, "--data", "transactions_drifted", "--summary",
                     str(summary), cwd=project.parent)
    assert result.code == 1, result.stderr
    assert monitor_words(result.stderr) == {f"monitor.{MONITOR}": "ALERT"}
    assert f"report: {project.name}/{REPORTS.as_posix()}/report.html\n" in result.stderr  # from where it started

    report = report_of(project)
    assert report["verdict"] == "alert" and report["source"] == "transactions_drifted"
    assert set(report["drift"]["drifted"]) == SHIFTED
    assert {c["column"] for c in report["drift"]["columns"] if c["verdict"] == "drift"} == SHIFTED
    assert report["drift"]["verdict"] == "drift"
    assert report["drift"]["share"] == pytest.approx(3 / len(report["drift"]["columns"]))
    ranked = [c["score"] for c in report["drift"]["columns"]]
    assert ranked == sorted(ranked, reverse=True)  # ranked by score
    assert report["reasons"] == ["drift in " + ", ".join(report["drift"]["drifted"])]
    assert report["data_fingerprint"] == hashlib.sha256(
        (project / "data" / "transactions_drifted.csv").read_bytes()).hexdigest()

    page = (project / REPORTS / "report.html").read_text("utf-8")
    assert "<svg" in page
    assert "<script" not in page.lower() and not re.search(r"https?://", page)
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page, flags=re.IGNORECASE)
    for column in SHIFTED:
        assert f"<h3>{column}</h3>" in page  # a distribution chart per drifted column

    md = (project / REPORTS / "summary.md").read_text("utf-8")
    assert "| column | method | score | threshold | verdict | note |" in md
    for column in SHIFTED:
        assert re.search(rf"^\| {re.escape(inert(column))} \| \w+ \| [0-9.]+ \| [0-9.]+ \| \S+ drift \|", md,
                         flags=re.MULTILINE), column
    # --summary appends the same Markdown after what the file held
    assert summary.read_text("utf-8") == "# earlier step\n" + md
    log = [json.loads(line) for line in (project / ".mlspec" / "alerts.log").read_text("utf-8").splitlines()]
    assert [(e["monitor"], e["reasons"]) for e in log] == [(MONITOR, report["reasons"])]

    again = mlspec(project, "monitor", "--data", "transactions_drifted", "--summary", str(summary))
    assert again.code == 1
    assert summary.read_text("utf-8") == "# earlier step\n" + md + md
    assert len((project / ".mlspec" / "alerts.log").read_text("utf-8").splitlines()) == 2


@pytest.mark.slow
def test_contract_violations_give_a_quality_alert_with_checks_and_counts(project: Path) -> None:
    frame = live_frame()
    frame.loc[:99, "amount"] = -5.0
    frame.loc[100:149, "merchant_category"] = "casino"
    frame.loc[150:156, "hour"] = 31
    add_source(project, "live_bad", frame)
    result = mlspec(project, "monitor", "--data", "live_bad")
    assert result.code == 1, result.stderr
    report = report_of(project)
    quality = report["quality"]
    assert quality["verdict"] == "alert" and quality["schema_changes"] == []
    found = {(c["column"], c["check"]): c["rows"] for c in quality["checks"]}
    assert found == {("amount", ">= 0"): 100, ("merchant_category", "allowed values"): 50, ("hour", "<= 23"): 7}
    samples = {c["column"]: c["samples"] for c in quality["checks"]}
    assert samples["merchant_category"][0] == "casino" and samples["hour"][0] == "31"
    assert quality["failed_share"] == pytest.approx(100 / 5000)
    assert "data quality: 3 failed check(s)" in report["reasons"]
    assert report["drift"]["new_categories"] == {"merchant_category": ["casino"]}
    md = (project / REPORTS / "summary.md").read_text("utf-8")
    assert "| amount | \\>= 0 | 100 |" in md and "| merchant\\_category | allowed values | 50 | casino" in md


@pytest.mark.slow
def test_violations_within_max_failed_rows_do_not_alert(project: Path) -> None:
    frame = live_frame()
    frame.loc[:19, "amount"] = -5.0  # 20 of 5000 rows = 0.4%, under max_failed_rows 1%
    add_source(project, "live_few_bad", frame)
    result = mlspec(project, "monitor", "--data", "live_few_bad")
    report = report_of(project)
    assert report["quality"]["verdict"] == "ok" and report["quality"]["checks"][0]["rows"] == 20
    assert result.code == 0 and report["verdict"] == "ok"


@pytest.mark.slow
def test_a_missing_column_the_model_does_not_use_is_a_schema_change_alert(project: Path) -> None:
    add_source(project, "live_no_id", live_frame().drop(columns=["transaction_id"]))
    result = mlspec(project, "monitor", "--data", "live_no_id")
    assert result.code == 1, result.stderr
    report = report_of(project)
    assert report["quality"]["verdict"] == "alert"
    assert report["quality"]["schema_changes"] == ["transaction_id"]
    assert any("data quality" in r for r in report["reasons"])
    assert report["drift"]["verdict"] == "ok"  # the model's inputs are all there


@pytest.mark.slow
def test_a_missing_model_input_column_is_a_schema_change_alert(project: Path) -> None:
    add_source(project, "live_no_age", live_frame().drop(columns=["customer_age"]))
    result = mlspec(project, "monitor", "--data", "live_no_age")
    assert result.code == 1, result.stderr
    report = report_of(project)
    assert report["quality"]["verdict"] == "alert"
    assert report["quality"]["schema_changes"] == ["customer_age"]


def test_a_repeated_model_input_column_is_named_as_repeated_not_missing(project: Path) -> None:
    """A batch with `amount` twice: the contract sets both aside, and the alert says what the file shows."""
    frame = live_frame()
    add_source(project, "live_amount_twice", frame)
    path = project / "data" / "live_amount_twice.csv"
    lines = path.read_text("utf-8").splitlines()
    at = lines[0].split(",").index("amount")
    path.write_text("\n".join(",".join([*row.split(","), row.split(",")[at]]) for row in lines) + "\n", "utf-8")
    result = mlspec(project, "monitor", "--data", "live_amount_twice")
    assert result.code == 1, result.stderr
    reasons = [r for r in report_of(project)["reasons"] if r.startswith("schema change")]
    assert reasons == ["schema change: the live data has more than one column named amount"]


@pytest.mark.slow
def test_shuffled_labels_give_a_performance_alert_naming_roc_auc(project: Path) -> None:
    frame = live_frame()
    frame["is_fraud"] = np.random.default_rng(7).permutation(frame["is_fraud"].to_numpy())
    add_source(project, "live_shuffled", frame)
    result = mlspec(project, "monitor", "--data", "live_shuffled")
    assert result.code == 1, result.stderr
    report = report_of(project)
    perf = report["performance"]
    assert perf["verdict"] == "alert" and perf["rows"] == 5000
    (roc,) = perf["metrics"]
    assert roc["metric"] == "roc_auc" and roc["alert"] is True
    assert roc["training"] > 0.85 and abs(roc["live"] - 0.5) < 0.05 and roc["drop"] > 0.05
    assert report["reasons"] == ["performance dropped: roc_auc"]  # inputs unchanged: no drift, no quality alert
    assert "performance dropped: roc_auc" in result.stderr
    md = (project / REPORTS / "summary.md").read_text("utf-8")
    assert re.search(r"^\| roc_auc \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| 🚨 \|$", md, flags=re.MULTILINE)


@pytest.mark.slow
def test_labels_of_one_class_say_the_metric_is_not_measurable_not_that_it_dropped(project: Path) -> None:
    """roc_auc has no value on labels of one class: the monitor still alerts (a check that cannot decide must
    not pass), and says why instead of reporting a drop that was never measured."""
    frame = live_frame()
    frame["is_fraud"] = 0
    add_source(project, "live_one_class", frame)
    result = mlspec(project, "monitor", "--data", "live_one_class")
    assert result.code == 1, result.stderr
    report = report_of(project)
    (roc,) = report["performance"]["metrics"]
    assert roc["metric"] == "roc_auc" and roc["alert"] is True and roc["drop"] is None
    reasons = [r for r in report["reasons"] if r.startswith("performance")]
    assert reasons == ["performance not measurable: roc_auc (cannot be computed on these labelled rows, e.g. all "
                       "of one class)"]
    assert "performance dropped" not in result.stderr


@pytest.mark.slow
def test_a_challenger_is_scored_in_shadow(project: Path, tmp_path: Path) -> None:
    # a different model as fraud_gbm's challenger: the baseline's artifact, registered as fraud_gbm v2
    registry = open_registry(project)
    try:
        champion, baseline = registry.champion("fraud_gbm"), registry.champion("fraud_logreg")
        blob = artifacts.read_verified(project / ".mlspec" / "artifacts", baseline.artifact_sha256)
        version = registry.register_once("fraud_gbm", blob, metrics=baseline.metrics, params=baseline.params,
                                         lineage=baseline.lineage, profile=champion.profile, alias=None,
                                         reason="test: a challenger")[0]
    finally:
        registry.close()
    assert version == 2
    promoted = mlspec(project, "registry", "promote", "fraud_gbm", "--version", "2", "--alias", "challenger",
                      "--reason", "shadow test")
    assert promoted.code == 0, promoted.stderr

    result = mlspec(project, "monitor")
    assert result.code == 0, result.stderr
    shadow = report_of(project)["shadow"]
    assert shadow["challenger_version"] == 2
    assert 0.0 <= shadow["agreement"] <= 1.0 and shadow["agreement_kind"] == "share of equal predictions"
    assert shadow["agreement"] < 1.0  # a different model disagrees somewhere
    metrics = shadow["challenger_metrics"]
    assert set(metrics) == {"roc_auc", "average_precision", "recall", "precision"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values()) and metrics["roc_auc"] > 0.8
    md = (project / REPORTS / "summary.md").read_text("utf-8")
    assert "### Shadow: challenger v2" in md and "Challenger on this batch: roc_auc" in md

    scored = run_cli("score", "fraud_gbm", "--source", "transactions_live", "-o", "out.csv", cwd=project)
    assert scored.code == 0, scored.stderr
    out = pd.read_csv(project / "out.csv")
    lineage = json.loads((project / "out.csv.json").read_text("utf-8"))
    assert lineage["version"] == 1 and lineage["challenger_version"] == 2
    assert "challenger_prediction" in out.columns
    assert lineage["agreement"] == pytest.approx(float((out["prediction"] == out["challenger_prediction"]).mean()))
    assert lineage["agreement"] == pytest.approx(shadow["agreement"])


@pytest.mark.slow
def test_retrain_locally_closes_the_loop_through_the_gate(project: Path) -> None:
    # on the training data the champion was trained on, the retrained model is the champion, byte for
    # byte (a training process then, in process now): nothing new is registered
    result = mlspec(project, "monitor", "--data", "transactions_drifted", "--retrain")
    assert result.code == 1, result.stderr  # the alert stands; the retrain passed its gate
    assert monitor_words(result.stderr) == {f"monitor.{MONITOR}": "ALERT"}
    assert "retraining fraud_gbm through its gates (monitor fraud_gbm_drift: drift in" in result.stderr
    lines = run_lines(result.stderr)
    assert lines["model.fraud_gbm"][:2] == ("OK", "train")
    assert lines["gate.fraud_gbm_release"][2] == "passed; already registered as v1"
    # the steps are numbered in graph order, as `mlspec run` numbers them: the gate after its model
    steps = dict(re.findall(r" (\d+) of 3 \S+\s+\w+ (\S+) \.", result.stderr))
    assert steps == {"1": "source.transactions", "2": "model.fraud_gbm", "3": "gate.fraud_gbm_release"}, steps
    assert result.stderr.index("monitor monitor.fraud_gbm_drift") < result.stderr.index("train model.fraud_gbm")
    log = [json.loads(line) for line in (project / ".mlspec" / "alerts.log").read_text("utf-8").splitlines()]
    assert len(log) == 1 and log[0]["monitor"] == MONITOR and log[0]["reasons"][0].startswith("drift in ")

    # with other training data (the latest nine tenths of it), the retrain registers a new version
    training = project / "data" / "transactions.csv"
    rows = training.read_text(encoding="utf-8").splitlines(keepends=True)
    training.write_text("".join([rows[0], *rows[1 + (len(rows) - 1) // 10:]]), encoding="utf-8")
    result = mlspec(project, "monitor", "--data", "transactions_drifted", "--retrain")
    assert result.code == 1, result.stderr
    assert "registered fraud_gbm v2 as challenger" in run_lines(result.stderr)["gate.fraud_gbm_release"][2]

    # the retrained version waits for approval as challenger and is now scored in shadow
    after = mlspec(project, "monitor")
    assert after.code == 0, after.stderr
    shadow = report_of(project)["shadow"]
    assert shadow["challenger_version"] == 2 and 0.0 <= shadow["agreement"] <= 1.0
    assert set(shadow["challenger_metrics"]) == {"roc_auc", "average_precision", "recall", "precision"}


def test_no_champion_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    root = tmp_path / "fraud"
    root.mkdir()
    shutil.copytree(REPO / "specs", root / "specs")
    shutil.copytree(REPO / "data", root / "data")
    result = mlspec(root, "monitor")
    assert result.code == 1, result.stderr
    assert "model 'fraud_gbm' has no champion to monitor" in result.stderr
    assert "help: run: mlspec run -s +model:fraud_gbm" in result.stderr
    assert not (root / REPORTS).exists()
    scored = mlspec(root, "score", "fraud_gbm", "--source", "transactions_live", "-o", str(tmp_path / "x.csv"))
    assert scored.code == 1 and "model 'fraud_gbm' has no champion" in scored.stderr
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.slow
def test_an_unknown_or_unreadable_source_exits_1(project: Path) -> None:
    result = mlspec(project, "monitor", "--data", "no_such_source")
    assert result.code == 1 and "unknown source 'no_such_source'" in result.stderr
    (project / "data" / "transactions_live.csv").unlink()
    result = mlspec(project, "monitor")
    assert result.code == 1 and "not found" in result.stderr


def test_score_refuses_to_write_its_predictions_over_the_batch(project: Path) -> None:
    """`-o` naming the file being scored (a source's or --file's, however spelt) would replace the data."""
    data = project / "data" / "transactions_live.csv"
    before = data.read_bytes()
    for args in (("--source", "transactions_live", "-o", "data/transactions_live.csv"),
                 ("--file", "data/transactions_live.csv", "-o", "./data/../data/transactions_live.csv")):
        result = run_cli("score", "fraud_gbm", *args, cwd=project)
        assert result.code == 2, (args, result.stderr)
        assert "is the file being scored" in result.stderr
    assert data.read_bytes() == before


@pytest.mark.slow
def test_score_writes_predictions_with_the_model_version_and_lineage(project: Path) -> None:
    result = run_cli("score", "fraud_gbm", "--source", "transactions_live", "-o", "out.csv", cwd=project)
    assert result.code == 0, result.stderr
    assert "Scored 5000 rows with fraud_gbm v1 -> out.csv" in result.stderr
    out = pd.read_csv(project / "out.csv")
    source = live_frame()
    assert len(out) == 5000 and set(source.columns) < set(out.columns)
    assert (out["transaction_id"].to_numpy() == source["transaction_id"].to_numpy()).all()  # row order kept
    assert set(out["model_version"]) == {1}
    assert list(out.columns) == [*source.columns, "prediction", "proba_0", "proba_1", "model_version"]
    assert set(out["prediction"]) <= {0, 1} and out["proba_1"].between(0, 1).all()
    assert (out["prediction"] == (out["proba_1"] >= 0.5)).mean() > 0.99  # default decision threshold
    lineage = json.loads((project / "out.csv.json").read_text("utf-8"))
    registry = open_registry(project)
    try:
        champion = registry.champion("fraud_gbm")
    finally:
        registry.close()
    assert lineage["input_fingerprint"] == hashlib.sha256(
        (project / "data" / "transactions_live.csv").read_bytes()).hexdigest()
    assert lineage["artifact_sha256"] == champion.artifact_sha256
    assert (lineage["model"], lineage["version"], lineage["source"], lineage["rows"]) == (
        "fraud_gbm", 1, "transactions_live", 5000)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lineage["scored_at"])
    assert "challenger_version" not in lineage and "challenger_prediction" not in out.columns


@pytest.mark.slow
def test_score_refuses_a_batch_that_breaks_its_contract(project: Path) -> None:
    frame = live_frame()
    frame.loc[:9, "amount"] = -1.0
    add_source(project, "live_neg", frame)
    result = run_cli("score", "fraud_gbm", "--source", "live_neg", "-o", "out.csv", cwd=project)
    assert result.code == 1
    assert "breaks its data contract" in result.stderr and "amount" in result.stderr
    assert not (project / "out.csv").exists()


def unescaped(text: str, char: str) -> int:
    """How many times `char` occurs in `text` not escaped by a backslash (an even run of them does not escape)."""
    return len(re.findall(r"(?<!\\)(?:\\\\)*" + re.escape(char), text))


def tables(md: str) -> list[list[str]]:
    found, current = [], []
    for line in md.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return [*found, current] if current else found


HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "ul", "li", "table", "tr",
             "th", "td", "svg", "rect", "text"}


def assert_inert_html(page: str) -> None:
    """Only the report's own tags, no script, nothing loaded from anywhere."""
    for name, attributes in re.findall(r"<([A-Za-z][A-Za-z0-9]*)([^>]*)>", page):
        assert name in HTML_TAGS, name
        assert not re.search(r"\b(href|src|on[a-z]+)\s*=", attributes, flags=re.IGNORECASE), attributes


def assert_inert_markdown(md: str) -> None:
    for char in ("@", "<", ">", "[", "]", "!"):
        assert unescaped(md, char) == 0, (char, [line for line in md.splitlines() if unescaped(line, char)][:3])
    # the heading and the first line quote validated spec names in backticks; rows and reasons hold data
    data_lines = [line for line in md.splitlines() if line.startswith(("|", "- "))]
    assert all(unescaped(line, "`") == 0 for line in data_lines)
    for table in tables(md):
        widths = {unescaped(line, "|") for line in table}
        assert len(widths) == 1, table[:3]  # every row has the header's number of cells


HOSTILE = "<img src=x onerror=alert(1)> @octocat [click](http://evil.example) | ![x](y) <script>"


@pytest.mark.slow
def test_hostile_category_values_render_inert_in_the_reports(project: Path) -> None:
    frame = live_frame()
    frame.loc[:999, "merchant_category"] = HOSTILE
    add_source(project, "live_hostile", frame)
    result = mlspec(project, "monitor", "--data", "live_hostile")
    assert result.code == 1, result.stderr
    report = report_of(project)
    assert report["drift"]["new_categories"] == {"merchant_category": [HOSTILE]}
    md = (project / REPORTS / "summary.md").read_text("utf-8")
    assert inert("new categories: " + HOSTILE) in md
    assert_inert_markdown(md)
    page = (project / REPORTS / "report.html").read_text("utf-8")
    assert "<h3>merchant_category</h3>" in page and "&lt;img src=x " in page  # the chart's label, escaped
    assert_inert_html(page)
    assert not re.search(r"https?://", page)


# ------------------------------------------------------------------------------------------------
# a tiny project: too little data, and the bins setting
# ------------------------------------------------------------------------------------------------


TINY_SPEC = """apiVersion: mlspec/v1
project: {name: tiny, python: "3.11", seed: 1}
sources:
  events:
    format: csv
    path: data/events.csv
    schema:
      id: {type: int, unique: true}
      x: {type: float}
      c: {type: category, values: [a, b, c]}
      label: {type: int, values: [0, 1]}
  events_small:
    format: csv
    path: data/events_small.csv
    schema:
      id: {type: int, unique: true}
      x: {type: float}
      c: {type: category, values: [a, b, c]}
      label: {type: int, values: [0, 1]}
features:
  x_z: {source: events, column: x, transform: standardize}
  c_oh: {source: events, column: c, transform: one_hot}
models:
  m:
    task: classification
    source: events
    label: label
    features: [x_z, c_oh]
    estimator: logistic_regression
    metrics: [roc_auc]
gates:
  m_release:
    model: m
    require: ["roc_auc >= 0.5"]
    first_run: skip_champion_checks
monitors:
  m_drift:
    model: m
    data: events
    schedule: "0 6 * * *"
    drift: {method: psi, bins: 20}
    on_alert: [open_issue]
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    (root / "specs").mkdir()
    (root / "data").mkdir()
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    frame = pd.DataFrame({"id": np.arange(1000), "x": x.round(5), "c": rng.choice(["a", "b", "c"], 1000),
                          "label": (rng.random(1000) < 1 / (1 + np.exp(-2 * x))).astype(int)})
    frame.to_csv(root / "data" / "events.csv", index=False)
    frame.iloc[:150].to_csv(root / "data" / "events_small.csv", index=False)
    (root / "specs" / "project.yaml").write_text(TINY_SPEC, "utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GITHUB_ACTIONS", raising=False)
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        result = mlspec(root, "run", "--approve")
    assert result.code == 0, result.stderr
    return root


@pytest.mark.slow
def test_fewer_live_rows_than_min_rows_is_insufficient_data_never_ok(tiny: Path) -> None:
    result = mlspec(tiny, "monitor", "--data", "events_small")
    assert result.code == 0, result.stderr  # too little data is not an alert, but is said plainly
    assert monitor_words(result.stderr) == {"monitor.m_drift": "NODATA"}
    report = report_of(tiny, "m_drift")
    assert report["verdict"] == "insufficient_data"
    assert report["drift"]["verdict"] == "insufficient_data"
    assert {c["verdict"] for c in report["drift"]["columns"]} == {"insufficient_data"}
    assert all(c["note"] == "150 live rows, fewer than min_rows 200" for c in report["drift"]["columns"])
    assert report["drift"]["prediction"]["verdict"] == "insufficient_data"


@pytest.mark.slow
def test_the_bins_setting_shapes_the_reference_profile(tiny: Path) -> None:
    result = mlspec(tiny, "monitor")
    assert result.code == 0, result.stderr
    (x,) = [c for c in report_of(tiny, "m_drift")["drift"]["columns"] if c["column"] == "x"]
    assert len(x["reference"]["proportions"]) == 20


# ------------------------------------------------------------------------------------------------
# report size guards and inert rendering (in-process)
# ------------------------------------------------------------------------------------------------


def column(name: str, verdict: str = "drift", note: str = "", new: list[str] | None = None) -> dict:
    return {"column": name, "kind": "numeric", "method": "wasserstein", "threshold": 0.1,
            "score": 0.5 if verdict == "drift" else 0.01, "verdict": verdict, "rows": 1000,
            "null_rate_reference": 0.0, "null_rate_live": 0.0, "new_categories": new or [],
            "reference": {}, "live": {}, "note": note}


def a_report(columns: list[dict], reasons: list[str] | None = None, **parts) -> dict:
    drifted = [c["column"] for c in columns if c["verdict"] == "drift"]
    return {"monitor": "m", "model": "fraud_gbm", "version": 3, "source": "live", "rows": 1000,
            "data_fingerprint": "ab" * 32, "verdict": "alert",
            "reasons": reasons if reasons is not None else [f"drift in {', '.join(drifted)}"],
            "drift": {"verdict": "drift", "share": len(drifted) / max(len(columns), 1), "columns": columns,
                      "prediction": None},
            "quality": parts.get("quality"), "performance": parts.get("performance"), "shadow": parts.get("shadow")}


def test_a_report_with_20000_columns_stays_under_githubs_limits() -> None:
    columns = [column(f"feature_{i:05d}_with_a_longer_name", "drift" if i % 3 else "ok") for i in range(20_000)]
    report = a_report(columns)
    summary = markdown(report)
    assert len(summary) <= SUMMARY_LIMIT and len(summary.encode("utf-8")) <= GITHUB_STEP_SUMMARY
    assert summary.rstrip().endswith("_(report truncated; the full report is in the workflow artifact)_")
    assert "| column | method | score | threshold | verdict | note |" in summary
    body = marker("m") + "\n" + markdown(report, limit=ISSUE_LIMIT)
    assert len(body) <= GITHUB_ISSUE_BODY
    assert "report truncated" in body
    small = markdown(a_report(columns[:10]))
    assert "truncated" not in small and small.count("\n| feature_") == 0  # names are escaped: feature\_
    assert small.count("| feature\\_") == 10


def test_the_summary_limit_holds_in_bytes_for_non_ascii_values() -> None:
    reference = _categorical_profile(np.array(["a", "b"] * 500, dtype=object))
    live = np.array([f"商户名称商户{i}" for i in range(60_000)], dtype=object)
    result = asdict(drift.categorical("merchant_name", reference, live, "jensen_shannon", 0.1, 200))
    summary = markdown(a_report([result]))
    assert len(summary.encode("utf-8")) <= GITHUB_STEP_SUMMARY


def test_a_truncated_issue_body_still_shows_the_drift_table() -> None:
    columns = [column(f"sensor_reading_{i:04d}_{'x' * 24}") for i in range(2000)]
    body = markdown(a_report(columns), limit=ISSUE_LIMIT)
    assert len(body) <= ISSUE_LIMIT
    assert "| column | method | score | threshold | verdict | note |" in body


@pytest.mark.parametrize("text", [
    "@octocat please look",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[click me](http://evil.example)",
    "![tracker](http://evil.example/p.png)",
    "a | b | c",
    "x\\|y",  # a backslash before a pipe must not un-escape it
    "`code` and **bold** _it_ ~~s~~",
    "line one\nline two\r\n| injected | row |",
    "&lt;img&gt; &#64;octocat &#124;",
    ":warning: #123",
])
def test_inert_text_has_no_markdown_meaning(text: str) -> None:
    out = inert(text)
    assert "\n" not in out and "\r" not in out
    for char in "@<>[]()|!`*_~#&:":
        assert unescaped(out, char) == 0, (char, out)
    # escaping only adds backslashes (and a word joiner after @ and #, which GitHub would otherwise link
    # after rendering): removing them gives the original text on one line
    assert re.sub(r"\\(.)", r"\1", out).replace("\u2060", "") == " ".join(text.split())


def test_hostile_names_and_values_render_inert_in_the_report() -> None:
    hostile = ["@octocat", "<img src=x onerror=alert(1)>", "[x](http://evil.example)", "a|b|c", "<script>x",
               "name\nwith | newline", "x\\|y"]
    columns = [column(h, "drift", note=f"note {h}", new=[h, f"{h}!"]) for h in hostile]
    columns += [column("plain", "ok", new=hostile)]
    quality = {"verdict": "alert", "failed_share": 0.1, "schema_changes": [],
               "checks": [{"column": h, "check": f"allowed {h}", "rows": 3, "samples": [h, h]} for h in hostile]}
    report = a_report(columns, reasons=[f"drift in {h}" for h in hostile], quality=quality)
    md = markdown(report)
    assert_inert_markdown(md)
    assert md.count("| wasserstein |") == len(columns)  # no row split or merged
    page = html_report(report)
    assert_inert_html(page)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;script&gt;x" in page


def test_the_champion_is_scored_with_its_own_inputs_after_the_spec_changed(project: Path) -> None:
    # a change drops one of fraud_gbm's features, and its gate refuses the new model (here: it is not
    # retrained at all), so v1 stays champion: monitoring scores v1 with the inputs v1 was trained on
    spec = project / "specs" / "fraud.yaml"
    text = spec.read_text(encoding="utf-8")
    assert "features: [amount_log, merchant, hour," in text
    spec.write_text(text.replace("features: [amount_log, merchant, hour,", "features: [merchant, hour,", 1),
                    encoding="utf-8")
    result = mlspec(project, "monitor")
    assert result.code == 0, result.stderr
    report = report_of(project)
    assert report["version"] == 1 and report["verdict"] == "ok"
    assert report["drift"]["prediction"]["verdict"] == "ok"  # the champion really scored the batch
