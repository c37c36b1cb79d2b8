"""Hostile spec text in the pull-request report stays inert.

Specs arrive in pull requests, and their free text (descriptions, tags, category values, paths,
string literals in expressions) ends up in the plan, the gate reports and the monitor reports that
mlspec posts to GitHub. The property checked here, with a real Markdown parser (markdown-it-py, with
GitHub's tables): the report rendered from hostile text has exactly the structure of the report
rendered from plain text of the same shape. So hostile text adds no mention, issue reference, link,
image, HTML, heading, list, table row or cell, and leaves no code fence open.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from mlspec.runtime.gates import GateReport, RequirementResult
from mlspec.runtime.markdown import gate_report
from mlspec.runtime.monitoring.report import markdown as monitor_markdown
from tests.conftest import REPO, run_cli

FRAUD_SPECS = REPO / "tests" / "golden" / "fraud" / "specs"

HOSTILE = [
    "@octocat and @acme/security-team please look at #1 and acme/fraud#2 and GH-3",
    "<img src=x onerror=alert(1)> <script>alert(1)</script> <!-- hidden --> <details open>",
    "![pixel](https://evil.example/p.png) [click](https://evil.example) <https://evil.example> "
    "https://evil.example/x www.evil.example",
    "| a | b |\n|---|---|\n| c | d |",
    "```\nunclosed fence\n~~~",
    "${{ secrets.GITHUB_TOKEN }} {{ 7*7 }} {% raw %} $(touch /tmp/pwned) `backtick` ``double``",
    "- item\n# heading\n> quote\n1. ordered\n---\n===",
    "**bold** _em_ ~~strike~~ :+1: &amp; &#64;octocat \\ trailing backslash \\",
]


def _plain(text: str) -> str:
    """Text of the same length made of letters only: the benign twin of a hostile string."""
    return re.sub(r"[^ ]", "x", " ".join(text.split()))


def _yaml_string(text: str) -> str:
    """A double-quoted YAML scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _apply(root: Path, strings: list[str]) -> None:
    """Put `strings` into every free-text field of the fraud example that reaches a report."""
    fraud = root / "specs" / "fraud.yaml"
    text = fraud.read_text(encoding="utf-8")
    replacements = {
        "    description: Gradient-boosted trees; the expected champion.\n":
            f"    description: {_yaml_string(strings[0])}\n",
        "    description: A simple, explainable baseline.\n": f"    description: {_yaml_string(strings[1])}\n",
        "    description: The production model must catch fraud at least as well as the current champion.\n":
            f"    description: {_yaml_string(strings[2])}\n",
        "    description: Night-time transactions are riskier.\n": f"    description: {_yaml_string(strings[3])}\n",
        "    description: Daily drift, quality and performance check of the fraud model on the latest batch.\n":
            f"    description: {_yaml_string(strings[4])}\n",
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    fraud.write_text(text, encoding="utf-8")
    project = root / "specs" / "project.yaml"
    old = "  description: Flag fraudulent card transactions before they settle.\n"
    assert old in project.read_text(encoding="utf-8")
    project.write_text(project.read_text(encoding="utf-8").replace(
        old, f"  description: {_yaml_string(strings[5])}\n"), encoding="utf-8")
    sources = root / "specs" / "sources.yaml"
    text = sources.read_text(encoding="utf-8")
    old = "    description: Six months of labelled card transactions (training data).\n"
    assert text.count(old) == 1
    text = text.replace(old, f"    description: {_yaml_string(strings[6])}\n")
    old = "        values: [grocery, travel, electronics, restaurants, fuel, online, other]\n"
    assert text.count(old) == 3
    text = text.replace(old, f"        values: [grocery, travel, electronics, restaurants, fuel, online, other, "
                             f"{_yaml_string(strings[7])}]\n", 1)  # a category value of the training source
    sources.write_text(text, encoding="utf-8")


def _git(root: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": str(root)}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def _plan_markdown(tmp_path: Path, strings: list[str], name: str) -> str:
    """The Markdown plan of a pull request that puts `strings` into the fraud example's free text."""
    root = tmp_path / name
    shutil.copytree(FRAUD_SPECS, root / "specs")
    _git(root, "init", "--quiet")
    _git(root, "add", "-A")
    _git(root, "commit", "--quiet", "-m", "base")
    _apply(root, strings)
    result = run_cli("-C", str(root), "plan", "--base", "HEAD", "--format", "md")
    assert result.code == 0, result.stdout + result.stderr
    return result.stdout


_MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def _structure(markdown: str) -> list[tuple]:
    """Block and inline token types, with adjacent text merged: what the renderer builds, not the words."""
    shape: list[tuple] = []
    for token in _MD.parse(markdown):
        if token.type != "inline":
            shape.append((token.type, token.tag, token.info, token.attrGet("href"), token.attrGet("src")))
            continue
        inline: list[tuple] = []
        for child in token.children or []:
            item = (child.type, child.tag, child.attrGet("href"), child.attrGet("src"))
            if item[0] == "text" and inline and inline[-1][0] == "text":
                continue
            inline.append(item)
        shape.append(("inline", tuple(inline)))
    return shape


def _live_references(markdown: str) -> list[str]:
    """Mentions and issue references that GitHub would link in the rendered text (not in code)."""
    found = []
    for token in _MD.parse(markdown):
        for child in token.children or []:
            if child.type == "text":
                found += re.findall(r"(?<![\w`])[@#][A-Za-z0-9][\w/-]*", child.content)
    return found


def _row_splits(markdown: str) -> list[int]:
    """Per table line, the pipes GitHub would split cells on."""
    return [len(re.findall(r"(?<!\\)\|", line)) for line in markdown.splitlines() if line.startswith("|")]


def _assert_inert(hostile: str, plain: str) -> None:
    assert _structure(hostile) == _structure(plain)
    assert _live_references(hostile) == []
    # GitHub splits table rows on every pipe not escaped by a backslash, inside code spans too
    assert _row_splits(hostile) == _row_splits(plain)
    assert hostile.count("```") % 2 == 0


@pytest.mark.parametrize("rotation", range(len(HOSTILE)))
def test_plan_markdown_keeps_hostile_spec_text_inert(tmp_path: Path, rotation: int) -> None:
    strings = HOSTILE[rotation:] + HOSTILE[:rotation]  # every string in every field over the rotations
    hostile = _plan_markdown(tmp_path, strings, "hostile")
    plain = _plan_markdown(tmp_path, [_plain(s) for s in strings], "plain")
    assert "evil.example" in hostile and "octocat" in hostile, "the hostile text should be shown, inert"
    _assert_inert(hostile, plain)


def _gate(text: str) -> GateReport:
    return GateReport(gate="fraud_gbm_release", model="fraud_gbm", verdict="fail", candidate_sha256="ab" * 32,
                      champion_version=3, first_run=False, approval_environment=None,
                      requirements=[RequirementResult(text=text, status="fail", value=0.5, threshold=0.9,
                                                      champion_value=0.91, reason=text, slice=text)])


@pytest.mark.parametrize("text", HOSTILE)
def test_gate_report_keeps_hostile_text_inert(text: str) -> None:
    hostile = gate_report(_gate(text), note=text)
    _assert_inert(hostile, gate_report(_gate(_plain(text)), note=_plain(text)))


def _monitor(text: str) -> dict:
    column = {"column": "merchant_category", "method": "jensen_shannon", "score": 0.4, "threshold": 0.1,
              "verdict": "drift", "note": "", "new_categories": [text, text]}
    return {"monitor": "fraud_gbm_drift", "verdict": "alert", "model": "fraud_gbm", "version": 2,
            "source": "transactions_live", "rows": 500, "data_fingerprint": "cd" * 32, "reasons": [text],
            "drift": {"verdict": "drift", "share": 0.5, "columns": [column], "prediction": None},
            "quality": {"verdict": "fail", "checks": [{"column": "merchant_category", "check": text, "rows": 3,
                                                      "samples": [text, text]}]}}


@pytest.mark.parametrize("text", HOSTILE)
def test_monitor_report_keeps_hostile_data_inert(text: str) -> None:
    """Category values come from live data, which is as untrusted as the spec."""
    hostile = monitor_markdown(_monitor(text))
    _assert_inert(hostile, monitor_markdown(_monitor(_plain(text))))


def test_pull_request_report_keeps_hostile_text_inert(tmp_path: Path) -> None:
    """The assembled comment (plan + gate reports) from hostile specs has the plain report's structure."""
    outputs = {}
    for name, strings in (("hostile", HOSTILE), ("plain", [_plain(s) for s in HOSTILE])):
        plan = tmp_path / f"{name}-plan.md"
        plan.write_text(_plan_markdown(tmp_path, strings, name), encoding="utf-8")
        reports = tmp_path / f"{name}-reports"
        reports.mkdir()
        (reports / "gate-report-fraud_gbm_release.md").write_text(gate_report(_gate(strings[0])), encoding="utf-8")
        out = tmp_path / f"{name}-out"
        result = run_cli("pr-report", "--plan", str(plan), "--reports", str(reports), "--head-sha", "c" * 40,
                         "--link", "https://github.com/acme/fraud/actions/runs/1", "-o", str(out))
        assert result.code == 0, result.stdout + result.stderr
        outputs[name] = (out / "report.md").read_text(encoding="utf-8")
    _assert_inert(outputs["hostile"], outputs["plain"])
