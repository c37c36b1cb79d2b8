"""`mlspec monitor`: evaluate monitors, write their reports and act on their alerts (`on_alert`: through
`mlspec.github` in GitHub Actions, or `retrain` here). Like `runtime.runner.Runner`, it never prints:
each monitor's start and end go to `on_event` (as `mlspec run` reports), what follows a verdict to `on_note`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.errors import shown
from mlspec.manifest import GateNode, Manifest, MonitorNode
from mlspec.runtime.errors import RunError
from mlspec.runtime.runner import Event, NodeResult, RunResults

Note = Callable[[str, bool], None]  # (line, whether it says an action failed)


@dataclass
class MonitorOptions:
    """What to check and what an alert does."""

    data_source: str | None = None  # check this source (or predictions:MODEL[@WINDOW]) instead of the monitor's own
    data_file: str | None = None  # or this CSV or Parquet file
    summary: Path | None = None  # append each report's Markdown here (e.g. $GITHUB_STEP_SUMMARY)
    retrain: bool = False  # outside GitHub Actions: retrain here on an alert whose actions include retrain
    # in GitHub Actions an alert opens the monitor's issue and dispatches its retrain, as `on_alert` asks
    on_github: bool = field(default_factory=lambda: os.environ.get("GITHUB_ACTIONS") == "true")


class MonitorRunner:
    """Runs the monitors of one manifest for one project folder."""

    def __init__(self, manifest: Manifest, root: Path, options: MonitorOptions, on_event: Event | None = None,
                 on_note: Note | None = None) -> None:
        from mlspec.runtime.steps import Paths

        self.manifest, self.root, self.options = manifest, root, options
        self.paths = Paths.of(manifest, root)
        self.on_event = on_event or (lambda *args: None)
        self.on_note = on_note or (lambda *args: None)

    def run(self, node_ids: list[str]) -> RunResults:
        """Evaluate each monitor, write its reports, act on its alert; every monitor's result (RunError when the
        registry cannot be opened)."""
        from mlspec.runtime.steps import open_registry

        started = time.perf_counter()
        registry = open_registry(self.manifest, self.paths)
        results = []
        try:
            for index, node_id in enumerate(node_ids, start=1):
                node = self.manifest.node(node_id, MonitorNode)
                self.on_event("start", index, len(node_ids), node_id, "monitor", None)
                result = self._evaluate(node_id, node, registry)
                self.on_event("end", index, len(node_ids), node_id, "monitor", result)
                results.append(result)
                if result.status != "error":
                    self._follow(node, result.outputs["report"], result.outputs["folder"])
        finally:
            registry.close()
        return RunResults(results, time.perf_counter() - started)

    def _evaluate(self, node_id: str, node: MonitorNode, registry) -> NodeResult:
        """The monitor's verdict, its reports written (JSON, Markdown, HTML); or why it could not be evaluated."""
        from mlspec.runtime.jsonio import dumps
        from mlspec.runtime.monitoring import monitor
        from mlspec.runtime.monitoring.report import html_report, markdown
        from mlspec.state.files import write_atomic

        started = time.perf_counter()
        try:
            report = monitor.evaluate(self.manifest, node, self.root, registry, self.paths.artifacts,
                                      self.options.data_source, self.options.data_file).to_dict()
        except RunError as exc:
            return NodeResult(node_id, "monitor", "error", exc.message, time.perf_counter() - started, exc.details,
                              exc.hint, exc.where)
        folder = self.root / ".mlspec" / "reports" / f"monitor.{node.name}"
        write_atomic(folder / "report.json", dumps(report))
        write_atomic(folder / "summary.md", markdown(report).encode())
        write_atomic(folder / "report.html", html_report(report).encode())
        message = "; ".join(report["reasons"]) or report["verdict"].replace("_", " ")
        return NodeResult(node_id, "monitor", report["verdict"], message, time.perf_counter() - started,
                          outputs={"report": report, "folder": folder.relative_to(self.root).as_posix()})

    def _follow(self, node: MonitorNode, report: dict, folder: str) -> None:
        """After the verdict: say where the report is, add it to the summary, and on an alert log it and act."""
        from mlspec.runtime.artifacts import append_whole
        from mlspec.runtime.monitoring.report import markdown

        self.on_note(f"report: {shown(self.root / folder / 'report.html')}", False)  # from where mlspec started
        if self.options.summary is not None:
            append_whole(self.options.summary, markdown(report).encode())
        if report["verdict"] != "alert":
            return
        line = json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "monitor": node.name,
                           "reasons": report["reasons"]})
        append_whole(self.root / ".mlspec" / "alerts.log", (line + "\n").encode())  # a whole line or none
        reason = f"monitor {node.name}: " + "; ".join(report["reasons"])
        if self.options.on_github:
            self._act_on_github(node, report, reason)
        elif self.options.retrain and "retrain" in node.on_alert:
            self._retrain_here(node.model, reason)

    def _act_on_github(self, node: MonitorNode, report: dict, reason: str) -> None:
        """Open or update the monitor's issue and dispatch retraining, as it asks; a failed action (no GitHub
        CLI, a token without permission) is one line, and the others still run."""
        from mlspec import github
        from mlspec.emit import RETRAIN_WORKFLOW
        from mlspec.runtime.monitoring.report import ISSUE_LIMIT, markdown, marker

        def open_issue() -> str:
            title = f"mlspec monitor {node.name}: {', '.join(report['reasons'])[:200] or 'alert'}"
            body = marker(node.name) + "\n" + markdown(report, limit=ISSUE_LIMIT)
            return github.open_or_update_issue(marker(node.name), title, f"mlspec monitor {node.name}", body)

        def retrain() -> str:
            # a scheduled run is on the default branch; a manual one may be on another: retrain where it ran
            ref = os.environ.get("GITHUB_REF_NAME") or self.manifest.project.default_branch
            return github.dispatch(RETRAIN_WORKFLOW, ref, {"model": node.model, "reason": reason[:900]}) + \
                f" for {node.model}"

        for name, action in (("open_issue", open_issue), ("retrain", retrain)):
            if name in node.on_alert:
                try:
                    self.on_note(action(), False)
                except github.GitHubError as exc:
                    self.on_note(f"monitor {node.name}: {name.replace('_', ' ')}: {exc.message}", True)

    def _retrain_here(self, model: str, reason: str) -> None:
        """Train `model` and run its gates, as `mlspec run` would, reporting through the same callback."""
        from mlspec.runtime.runner import Runner, RunOptions, default_jobs

        os.environ["MLSPEC_REASON"] = reason
        self.on_note(f"retraining {model} through its gates ({reason})", False)
        gates = sorted(n for n in self.manifest.nodes
                       if n.startswith("gate.") and self.manifest.node(n, GateNode).model == model)
        source = f"source.{self.manifest.model(model).source}"
        # the same training settings as `mlspec run`, so an unchanged model retrains to the same bytes; in graph
        # order (source, model, gates), which the step numbers follow
        Runner(self.manifest, self.root, RunOptions(force=True, jobs=default_jobs()), self.on_event).run(
            [source, f"model.{model}", *gates])
