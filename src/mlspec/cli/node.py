"""The entry point of generated scripts: run one node of `generated/manifest.json` through the runtime.

`python generated/model_fraud_gbm.py` trains exactly as `mlspec run -s model:fraud_gbm` would: the
same Runner and steps, reading the committed manifest instead of re-validating the specs. Gates take
an action: `evaluate` (default: decide and register), `report` (decide only; Markdown for the job
summary, used in pull requests) or `promote [--version N]` (after approval, make the version this run's
gate registered champion).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from mlspec.cli.common import EXIT_USAGE, explain, progress, report
from mlspec.errors import MlspecError
from mlspec.manifest import GateNode, Manifest

_RECOMPILE = "run `mlspec compile` and commit the result"


def _manifest_path() -> Path:
    main = sys.modules.get("__main__")
    script = Path(getattr(main, "__file__", "generated/x.py")).resolve()
    return script.parent / "manifest.json"


def main(node_id: str, argv: list[str], manifest: Path | None = None) -> int:
    """Run `node_id`'s action; return the process exit code (README's table: 0 ok, 1 failed, 2 usage).

    The manifest is `manifest` (`mlspec node`), by default the one beside the generated script that runs.

    A missing, unreadable or stale manifest is a finding about the generated files (1), as with
    `mlspec compile --check`; wrong arguments are a usage error (2). Anything unexpected is handled
    as `mlspec` handles it: a full disk is a message and 1, a bug one line and 2, never a traceback.
    """
    try:
        return _main(node_id, argv, manifest or _manifest_path())
    except Exception as exc:
        return report(exc)


def _main(node_id: str, argv: list[str], path: Path) -> int:
    try:
        manifest = Manifest.read_json(path.read_bytes())  # this mlspec's version only
    except (OSError, ValueError) as exc:
        raise MlspecError(f"cannot read {path}: {exc}", hint=getattr(exc, "hint", _RECOMPILE)) from None
    root = path.parent.parent
    if node_id not in manifest.nodes:
        raise MlspecError(f"{node_id} is not in {path}", hint=_RECOMPILE)
    kind = manifest.nodes[node_id].kind
    argv, plan = _take_plan(argv)
    affected = None if plan is None else set(plan.get("retrain", []))
    if affected is not None and kind in ("model", "gate"):
        model_id = node_id if kind == "model" else f"model.{manifest.node(node_id, GateNode).model}"
        if model_id not in affected:
            click.echo(f"{node_id}: not affected by this change; skipped", err=True)
            return 0
    action = argv[0] if argv else "evaluate"
    if kind == "gate" and action == "promote":
        rest, version = _take_option(argv[1:], "--version")
        if rest or (version is not None and not (version.isascii() and version.isdigit())):
            raise MlspecError(f"usage: {node_id} promote [--version N]", exit_code=EXIT_USAGE)
        return _promote(manifest, root, node_id, int(version) if version else None)
    if kind == "gate" and action == "report":
        rest, out = _take_option(argv[1:], "--out")
        rest, summary = _take_option(rest, "--summary")
        _no_more(node_id, rest)
        return _report(manifest, root, node_id, out, summary, plan)
    if kind == "monitor":
        return _monitor(manifest, root, node_id, argv)
    if not (kind == "gate" and action == "evaluate"):
        _no_more(node_id, argv)
    from mlspec.runtime.runner import Runner, RunOptions

    results = Runner(manifest, root, RunOptions(force=True), progress).run([node_id])
    if kind == "gate":
        _summarise_gate(manifest, root, node_id)
        if results.ok:
            _gate_outputs(manifest, root, node_id, results.results[-1].outputs)
    for result in results.results:
        explain(result)
    return 0 if results.ok else 1


def _no_more(node_id: str, argv: list[str]) -> None:
    """Arguments left over are a usage error (2)."""
    if argv:
        raise MlspecError(f"unknown arguments for {node_id}: {' '.join(argv)}", exit_code=EXIT_USAGE)


def _monitor(manifest: Manifest, root: Path, node_id: str, argv: list[str]) -> int:
    """Evaluate one monitor as `mlspec monitor NAME [--summary FILE] [--retrain]` would."""
    from mlspec.cli.monitor import monitor_progress, say_note
    from mlspec.runtime.monitoring.runner import MonitorOptions, MonitorRunner

    retrain = "--retrain" in argv  # outside GitHub Actions (Argo): retrain here on an alert that asks for it
    rest, summary = _take_option([a for a in argv if a != "--retrain"], "--summary")
    if rest or ("--summary" in argv and summary is None):
        raise MlspecError(f"usage: {node_id} [--summary FILE] [--retrain]", exit_code=EXIT_USAGE)
    options = MonitorOptions(summary=Path(summary) if summary else None, retrain=retrain)
    return 0 if MonitorRunner(manifest, root, options, monitor_progress, say_note).run([node_id]).ok else 1


def _summarise_gate(manifest: Manifest, root: Path, node_id: str) -> None:
    """In GitHub Actions, put the gate's verdict in the job summary, pass or fail (the workspace is thrown away)."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    report_file = root / ".mlspec" / "reports" / f"{node_id}.json"
    if not summary or not report_file.is_file():
        return
    from mlspec.runtime.gates import GateReport, RequirementResult
    from mlspec.runtime.markdown import gate_report

    data = json.loads(report_file.read_text(encoding="utf-8"))
    data["requirements"] = [RequirementResult(**r) for r in data["requirements"]]
    with Path(summary).open("a", encoding="utf-8") as handle:
        handle.write(gate_report(GateReport(**data)))


def _gate_outputs(manifest: Manifest, root: Path, node_id: str, outputs: dict) -> None:
    """Tell the promote job which version the gate registered, and whether it waits for approval
    (`promote=false` when it is champion already or `promote: if_better` found it no better): in GitHub
    Actions as step outputs, and in the folder MLSPEC_OUTPUTS names as one file per value (Argo's output
    parameters).

    The promote job reads the version from these job outputs, which live as long as the run: an approval may
    come weeks later, after the candidate's uploaded files have expired."""
    target = os.environ.get("GITHUB_OUTPUT")
    folder = os.environ.get("MLSPEC_OUTPUTS")
    version = outputs.get("version")
    if not (target or folder) or not isinstance(version, int):
        return
    report_file = root / ".mlspec" / "reports" / f"{node_id}.json"
    try:
        decided = json.loads(report_file.read_text(encoding="utf-8")).get("promotion") or {}
    except (OSError, ValueError):
        decided = {}
    waits = outputs.get("alias") != "champion" and decided.get("promote") is not False
    values = {"version": str(version), "promote": "true" if waits else "false"}
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{key}={value}\n" for key, value in values.items()))
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for key, value in values.items():
            (Path(folder) / key).write_text(value, encoding="ascii")


def _fork_note(manifest: Manifest) -> str | None:
    """Why a pull request from a fork makes no champion comparison, or None.

    GitHub gives fork pull requests no secrets, so state that needs credentials cannot be read: the report
    says so plainly instead of failing, or blaming the registry."""
    if os.environ.get("GITHUB_EVENT_NAME") != "pull_request" or not manifest.project.secrets:
        return None
    if any(os.environ.get(name) for name in manifest.project.secrets):
        return None
    try:
        event = json.loads(Path(os.environ.get("GITHUB_EVENT_PATH", "")).read_text(encoding="utf-8"))
        head = event["pull_request"]["head"]["repo"]["full_name"]
        base = event["pull_request"]["base"]["repo"]["full_name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if head == base:
        return None
    return ("The production champion is not available to pull requests from forks (GitHub gives them no "
            "secrets); champion comparisons were not made. They run once the change is merged.")


def _take_option(argv: list[str], name: str) -> tuple[list[str], str | None]:
    """Remove `name VALUE` from argv; return the rest and the value."""
    if name not in argv:
        return argv, None
    at = argv.index(name)
    value = argv[at + 1] if at + 1 < len(argv) else None
    return argv[:at] + argv[at + 2:], value


def _take_plan(argv: list[str]) -> tuple[list[str], dict | None]:
    """Remove `--plan PLAN.json` from argv; return the plan (None: no plan, everything is affected)."""
    rest, value = _take_option(argv, "--plan")
    if value is None or not Path(value).is_file():
        return rest, None
    return rest, json.loads(Path(value).read_text(encoding="utf-8"))


def _production_registry(manifest: Manifest, paths, plan: dict | None):
    """The registry holding the production champion: with a pull request's plan, the base branch's (the
    pull request's spec may point elsewhere); else the manifest's. None when the base has no project."""
    from mlspec.runtime import steps
    from mlspec.runtime.registry import open_registry

    if plan is None:
        return steps.open_registry(manifest, paths)
    base = plan.get("base_state")
    if not isinstance(base, dict):
        return None
    return open_registry(str(base["registry_uri"]), str(base["artifacts_uri"]), paths.root, cache=paths.artifacts)


def _report(manifest: Manifest, root: Path, node_id: str, out: str | None = None, summary: str | None = None,
            plan: dict | None = None) -> int:
    """Decide a gate for this checkout's candidate against the production champion, registering nothing:
    the pull request's gate report (Markdown on standard output, in `out` and in the job summary)."""
    from mlspec.runtime import gates, steps
    from mlspec.runtime.errors import RunError
    from mlspec.runtime.markdown import gate_report

    gate = manifest.node(node_id, GateNode)
    paths = steps.Paths.of(manifest, root)
    candidate = steps.load_candidate(paths, gate.model)
    champion, note = None, _fork_note(manifest)
    if note is None:
        try:
            registry = _production_registry(manifest, paths, plan)
            if registry is None:
                note = ("The base branch has no valid mlspec project, so there is no production champion "
                        "to compare with.")
            else:
                try:
                    champion = registry.champion(gate.model)
                finally:
                    registry.close()
        except RunError as exc:
            note = f"The registry could not be read ({exc.message}); champion comparisons were not made."
    lineage = {"metrics": champion.metrics, "slices": champion.lineage.get("slices", {})} if champion else None
    text = gate_report(gates.evaluate(gate, candidate, lineage, champion.version if champion else None), note)
    click.echo(text, nl=False)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / f"gate-report-{gate.name}.md").write_text(text, encoding="utf-8")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as handle:
            handle.write(text)
    return 0


def _promote(manifest: Manifest, root: Path, node_id: str, number: int | None) -> int:
    """After approval, make the version the gate registered champion (compare-and-set on the champion the gate
    compared it with). `number` is the gate job's output; without it, this checkout's candidate's version."""
    from mlspec.runtime import steps

    gate = manifest.node(node_id, GateNode)
    paths = steps.Paths.of(manifest, root)
    registry = steps.open_registry(manifest, paths)
    try:
        version = _version_to_promote(registry, gate, paths, number)
        if registry.alias(gate.model, "champion") == version.version:
            click.echo(f"{gate.model}: v{version.version} is already the champion")
            return 0
        decided = version.lineage.get("gate_report", {}).get("promotion") or {}
        if decided.get("promote") is False:  # promote: if_better found it no better; approval does not change that
            click.echo(f"{gate.model}: v{version.version} stays registered, not champion: {decided.get('reason')} "
                       "(promote: if_better)")
            return 0
        reason = os.environ.get("MLSPEC_REASON") or f"approved in environment {gate.approval_environment}"
        # compare-and-set: the approval may come days after the gate; promote only while the champion is
        # still the version the gate compared against (recorded with the registered version)
        compared = version.lineage.get("gate_report", {}).get("champion_version")
        registry.set_alias(gate.model, "champion", version.version, reason, expected=compared)
        click.echo(f"{gate.model}: champion -> v{version.version}")
    finally:
        registry.close()
    return 0


def _version_to_promote(registry, gate, paths, number: int | None):
    """The registered version a promotion moves to: `number` when given, and only if this gate registered it."""
    from mlspec.runtime import steps
    from mlspec.runtime.errors import RunError

    if number is None:
        candidate = steps.load_candidate(paths, gate.model)
        versions = [v for v in registry.versions(gate.model) if v.artifact_sha256 == candidate["sha256"]]
        if not versions:
            raise RunError(f"this run's candidate of '{gate.model}' was not registered", hint="did the gate pass?")
        return versions[-1]
    version = registry.get(gate.model, number)
    if version.lineage.get("gate") != gate.name:
        raise RunError(f"{gate.model} v{number} was not registered by gate '{gate.name}'; not promoted",
                       hint="promote the version the gate job of this run registered (its `version` output)")
    return version
