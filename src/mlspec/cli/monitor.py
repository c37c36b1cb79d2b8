"""`mlspec monitor` and `mlspec score`: watch live data, close the retrain loop, score batches.

Exit codes of `mlspec monitor` (README's table): 0 ok (or too little data, said plainly); 1 an alert,
or a monitor that could not be evaluated (no champion, unreadable data); 2 usage or internal error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import click

from mlspec.cli.main import EXIT_FINDINGS, EXIT_USAGE, _load_or_exit, _select_or_exit, cli
from mlspec.cli.output import _style, echo_error
from mlspec.manifest import Manifest

EXIT_ALERT = EXIT_MONITOR_ERROR = EXIT_FINDINGS  # both are findings: the output says which
_WORDS = {"ok": ("OK", "green"), "alert": ("ALERT", "red"), "insufficient_data": ("NODATA", "yellow")}


def _write_reports(root: Path, name: str, report: dict) -> Path:
    from mlspec.runtime.jsonio import dumps
    from mlspec.runtime.monitoring.report import html_report, markdown
    from mlspec.state.files import write_atomic

    folder = root / ".mlspec" / "reports" / f"monitor.{name}"
    write_atomic(folder / "report.json", dumps(report))
    write_atomic(folder / "summary.md", markdown(report).encode())
    write_atomic(folder / "report.html", html_report(report).encode())
    return folder


def _gh(*args: str, body: str | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the GitHub CLI with arguments only (never a shell); `body` goes through a file, `stdin` as input."""
    gh = shutil.which("gh")
    if gh is None:
        raise click.ClickException("the GitHub CLI (gh) is not installed on this runner; GitHub-hosted runners "
                                   "have it, a self-hosted one needs it installed (https://cli.github.com)")
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False, encoding="utf-8") as handle:
        handle.write(body or "")
    try:
        command = [gh, *args] + (["--body-file", handle.name] if body is not None else [])
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120, input=stdin)
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or exc.stdout or "").strip().splitlines()
        raise click.ClickException(f"gh {' '.join(args[:2])} failed: {said[0][:300] if said else exc.returncode}"
                                   ) from None
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise click.ClickException(f"gh {' '.join(args[:2])} failed: {exc}") from None
    finally:
        Path(handle.name).unlink(missing_ok=True)


def _open_or_update_issue(name: str, report: dict) -> str:
    from mlspec.runtime.monitoring.report import ISSUE_LIMIT, markdown, marker

    body = marker(name) + "\n" + markdown(report, limit=ISSUE_LIMIT)
    title = f"mlspec monitor {name}: {', '.join(report['reasons'])[:200] or 'alert'}"
    # search by title (the marker, in an HTML comment, is not searchable), then trust only the marker
    found = json.loads(_gh("issue", "list", "--state", "open", "--search", f'"mlspec monitor {name}" in:title',
                           "--limit", "100", "--json", "number,body").stdout)
    for issue in found:
        if str(issue.get("body") or "").startswith(marker(name)):
            _gh("issue", "edit", str(issue["number"]), "--title", title, body=body)
            return f"updated issue #{issue['number']}"
    created = _gh("issue", "create", "--title", title, body=body)
    return f"opened {created.stdout.strip()}"


def _dispatch_retrain(model: str, reason: str, default_branch: str) -> str:
    # a scheduled run is on the default branch; a manual one may be on another: retrain where it ran
    ref = os.environ.get("GITHUB_REF_NAME") or default_branch
    _gh("workflow", "run", f"mlspec-retrain-{model}.yml", "--ref", ref, "-f", f"reason={reason[:900]}")
    return f"dispatched mlspec-retrain-{model}.yml"


def run_monitors(manifest: Manifest, root: Path, node_ids: list[str], argv: list[str] | None = None, *,
                 retrain_locally: bool = False, data_source: str | None = None, data_file: str | None = None) -> int:
    """Evaluate monitors, write their reports, apply their actions; return the exit code."""
    from mlspec.runtime.artifacts import append_whole
    from mlspec.runtime.errors import RunError
    from mlspec.runtime.monitoring import monitor
    from mlspec.runtime.monitoring.report import markdown
    from mlspec.runtime.steps import Paths, open_registry

    summary = None
    if argv:
        if len(argv) != 2 or argv[0] != "--summary":
            click.echo(f"mlspec: unknown arguments: {' '.join(argv)} (expected --summary FILE)", err=True)
            return EXIT_USAGE
        summary = Path(argv[1])
    paths = Paths.of(manifest, root)
    try:
        registry = open_registry(manifest, paths)
    except RunError as exc:
        echo_error(exc)
        return 1
    in_ci = os.environ.get("GITHUB_ACTIONS") == "true"
    code = 0
    try:
        for i, node_id in enumerate(node_ids, start=1):
            node = manifest.nodes[node_id]
            started = time.perf_counter()
            try:
                report = monitor.evaluate(manifest, node, root, registry, paths.artifacts, data_source,
                                          data_file).to_dict()
            except RunError as exc:
                click.echo(f"{time.strftime('%H:%M:%S')}  {i} of {len(node_ids)} {_style('ERROR', 'red')} monitor "
                           f"{node_id}: {exc.message}" + (f"\n    help: {exc.hint}" if exc.hint else ""), err=True)
                code = EXIT_MONITOR_ERROR
                continue
            folder = _write_reports(root, node.name, report)
            word, color = _WORDS[report["verdict"]]
            detail = "; ".join(report["reasons"]) or report["verdict"].replace("_", " ")
            click.echo(f"{time.strftime('%H:%M:%S')}  {i} of {len(node_ids)} {_style(f'{word:<6}', color)} monitor "
                       f"{node_id} [{time.perf_counter() - started:.2f}s] {detail}", err=True)
            click.echo(f"    report: {folder.relative_to(root).as_posix()}/report.html", err=True)
            if summary is not None:
                append_whole(summary, markdown(report).encode())
            if report["verdict"] != "alert":
                continue
            code = EXIT_ALERT
            _log_alert(root, node.name, report)
            reason = f"monitor {node.name}: " + "; ".join(report["reasons"])
            if in_ci:
                code = max(code, _act_on_alert(manifest, node, report, reason))
            elif retrain_locally and "retrain" in node.on_alert:
                code = max(code, _retrain_here(manifest, root, node.model, reason))
    finally:
        registry.close()
    return code


def _act_on_alert(manifest: Manifest, node, report: dict, reason: str) -> int:
    """Open or update the monitor's issue and dispatch retraining, as it asks; a failed action (no GitHub
    CLI, a token without permission) is one clear line and the monitor's error code, the others still run."""
    code = 0
    actions = [("open_issue", lambda: _open_or_update_issue(node.name, report)),
               ("retrain", lambda: _dispatch_retrain(node.model, reason, manifest.project.default_branch))]
    for name, action in actions:
        if name not in node.on_alert:
            continue
        try:
            click.echo(f"    {action()}", err=True)
        except click.ClickException as exc:
            click.echo(f"mlspec: monitor {node.name}: {name.replace('_', ' ')}: {exc.message}", err=True)
            code = EXIT_MONITOR_ERROR
    return code


def _log_alert(root: Path, name: str, report: dict) -> None:
    from mlspec.runtime.artifacts import append_whole

    line = json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "monitor": name, "reasons": report["reasons"]})
    append_whole(root / ".mlspec" / "alerts.log", (line + "\n").encode())  # a whole line or none


def _retrain_here(manifest: Manifest, root: Path, model: str, reason: str) -> int:
    from mlspec.cli.output import _event
    from mlspec.runtime.runner import Runner, RunOptions, default_jobs

    os.environ["MLSPEC_REASON"] = reason
    click.echo(f"    retraining {model} through its gates ({reason})", err=True)
    plan = [n for n in manifest.nodes if n == f"model.{model}"
            or (n.startswith("gate.") and manifest.nodes[n].model == model)]
    source = f"source.{manifest.nodes[f'model.{model}'].source}"
    # the same training settings as `mlspec run`, so an unchanged model retrains to the same bytes
    results = Runner(manifest, root, RunOptions(force=True, jobs=default_jobs()), _event).run([source, *sorted(plan)])
    return 0 if results.ok else EXIT_FINDINGS


@cli.command("monitor")
@click.argument("names", nargs=-1)
@click.option("--retrain", is_flag=True, help="On an alert whose actions include retrain, retrain here "
              "through the same gates.")
@click.option("--summary", type=click.Path(dir_okay=False), default=None,
              help="Also append the Markdown report to this file (e.g. $GITHUB_STEP_SUMMARY).")
@click.option("--data", "data_source", default=None,
              help="Check this source instead of the monitors' own live source (same contract), e.g. a new batch; "
                   "or predictions:MODEL[@WINDOW], what `mlspec serve` logged (e.g. predictions:churn@7d).")
@click.option("--file", "data_file", default=None, metavar="PATH",
              help="Check this CSV or Parquet file (no spec declares it) against the model's inputs, then monitor it.")
@click.pass_context
def monitor_command(ctx: click.Context, names: tuple[str, ...], retrain: bool, summary: str | None,
                    data_source: str | None, data_file: str | None) -> None:
    """Evaluate monitors (all, or the NAMES given) and apply their actions.

    NAMES may also name a model: its monitors (a file given with --file is then checked against its inputs)."""
    if data_source and data_file:
        raise click.UsageError("give --data SOURCE or --file PATH, not both")
    _file_format_or_usage(data_file)
    project = _load_or_exit(ctx)
    for name in names:
        if f"monitor.{name}" not in project.manifest.nodes and f"model.{name}" in project.manifest.nodes and \
                not any(m.model == name for m in project.manifest.of_kind("monitor")):
            click.echo(f"mlspec: model '{name}' has no monitor\n  help: add one under monitors: in the specs "
                       "(model, data, and drift, quality or performance)", err=True)
            ctx.exit(EXIT_FINDINGS)
    selectors = " ".join(_selector(project.manifest, n) for n in names)
    chosen = _select_or_exit(ctx, project, [selectors] if names else ["kind:monitor"], ())
    if not chosen:
        click.echo("No monitors are defined.", err=True)
        return
    argv = ["--summary", summary] if summary else None
    ctx.exit(run_monitors(project.manifest, project.root, chosen, argv, retrain_locally=retrain,
                          data_source=data_source, data_file=data_file))


def _file_format_or_usage(path: str | None) -> None:
    """A --file that is neither .csv nor .parquet is a usage error (exit 2), said before anything loads."""
    from mlspec.runtime.batch import file_format
    from mlspec.runtime.errors import RunError

    if path is None:
        return
    try:
        file_format(path)
    except RunError as exc:
        raise click.BadParameter(f"{exc.message} ({exc.hint})", param_hint="--file") from None


def _selector(manifest: Manifest, name: str) -> str:
    """The selector of NAME: the monitor of that name, or else the monitors of the model of that name."""
    if f"monitor.{name}" not in manifest.nodes and f"model.{name}" in manifest.nodes:
        return f"model:{name}+,kind:monitor"
    return f"monitor:{name}"


@cli.command("score")
@click.argument("model")
@click.option("--source", "source_name", default=None, help="The source to score (its contract is checked).")
@click.option("--file", "data_file", default=None, metavar="PATH",
              help="A CSV or Parquet file to score instead (no spec declares it): checked against the model's inputs.")
@click.option("-o", "--output", default=None, metavar="FILE",
              help="Where to write predictions (CSV; default .mlspec/scores/MODEL.csv; '-' for standard output).")
@click.pass_context
def score_command(ctx: click.Context, model: str, source_name: str | None, data_file: str | None,
                  output: str | None) -> None:
    """Score a batch with the champion (and the challenger in shadow); write predictions with lineage.

    The CSV holds the input's columns in its order, then prediction, proba_<class> per class (classifiers
    with probabilities), challenger_prediction (with a challenger) and model_version."""
    from mlspec.runtime.errors import RunError
    from mlspec.runtime.score import score, write

    if (source_name is None) == (data_file is None):
        raise click.UsageError("give --source SOURCE or --file PATH (exactly one)")
    _file_format_or_usage(data_file)
    project = _load_or_exit(ctx)
    try:
        scored = score(project.manifest, project.root, model, source_name, data_file)
    except RunError as exc:
        click.echo(f"mlspec: {exc.message}" + "".join(f"\n    - {d}" for d in exc.details)
                   + (f"\n    spec: {exc.where}" if exc.where else "")
                   + (f"\n  help: {exc.hint}" if exc.hint else ""), err=True)
        ctx.exit(EXIT_FINDINGS)
    lineage = scored.lineage
    if output == "-":  # the predictions are the data: standard output; what happened goes to standard error
        click.echo(scored.table, nl=False)
        where = "standard output"
    else:
        target = Path(output) if output else project.root / ".mlspec" / "scores" / f"{model}.csv"
        write(target, scored)
        where = str(target)
    click.echo(f"Scored {lineage['rows']} rows with {model} v{lineage['version']} -> {where}", err=True)
    if lineage.get("challenger_version"):
        click.echo(f"Shadow: challenger v{lineage['challenger_version']} agreed on {lineage['agreement']:.1%}",
                   err=True)
