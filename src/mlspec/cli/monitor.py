"""`mlspec monitor` and `mlspec score`: watch live data, close the retrain loop, score batches.

Exit codes of `mlspec monitor` (README's table): 0 ok (or too little data, said plainly); 1 an alert,
or a monitor that could not be evaluated (no champion, unreadable data); 2 usage or internal error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlspec.cli.common import EXIT_FINDINGS, explain, load_or_exit, progress
from mlspec.cli.main import cli


def say_note(line: str, failed: bool) -> None:
    """A line under a monitor's progress line (`MonitorRunner`'s notes); a failed action is an error line."""
    click.echo(f"mlspec: {line}" if failed else f"    {line}", err=True)


def monitor_progress(kind: str, index: int, total: int, node_id: str, action: str, result) -> None:
    """The progress line of a monitor (or of the nodes it retrains), and what a monitor that failed needs."""
    progress(kind, index, total, node_id, action, result)
    if kind == "end" and action == "monitor" and result.status == "error":
        explain(result)


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
    from mlspec import api
    from mlspec.runtime.batch import file_format
    from mlspec.runtime.monitoring.runner import MonitorOptions

    if data_source and data_file:
        raise click.UsageError("give --data SOURCE or --file PATH, not both")
    if data_file:  # said before anything loads
        file_format(data_file)
    project = load_or_exit(ctx)
    chosen = api.monitors(project, list(names))
    if not chosen:
        click.echo("No monitors are defined.", err=True)
        return
    options = MonitorOptions(data_source=data_source, data_file=data_file, retrain=retrain,
                             summary=Path(summary) if summary else None)
    results = api.monitor(project, chosen, options, monitor_progress, say_note)
    ctx.exit(0 if results.ok else EXIT_FINDINGS)


def _refuse_overwriting_the_input(project, target: Path, source_name: str | None, data_file: str | None) -> None:
    """A usage error when `target` is the file being scored: writing the predictions there would replace the
    batch (and a source's data) with them."""
    if data_file is not None:
        scored = Path(data_file)
    else:
        if f"source.{source_name}" not in project.manifest.nodes:
            return  # scoring says it is unknown
        path = project.manifest.source(source_name).path  # None: a SQL source, no file
        if path is None or "://" in path:
            return
        scored = project.root / path
    if target.resolve() == scored.resolve():
        raise click.UsageError(f"-o {target} is the file being scored: the predictions would replace it; write them "
                               "elsewhere")


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
    from mlspec.runtime.batch import file_format
    from mlspec.runtime.score import score, write

    if (source_name is None) == (data_file is None):
        raise click.UsageError("give --source SOURCE or --file PATH (exactly one)")
    if data_file:  # said before anything loads
        file_format(data_file)
    project = load_or_exit(ctx)
    if output and output != "-":
        _refuse_overwriting_the_input(project, Path(output), source_name, data_file)
    scored = score(project.manifest, project.root, model, source_name, data_file)
    lineage = scored.lineage
    if output == "-":  # the predictions are the data: standard output; what happened goes to standard error
        sys.stdout.flush()
        scored.send(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        where = "standard output"
    else:
        target = Path(output) if output else project.root / ".mlspec" / "scores" / f"{model}.csv"
        write(target, scored)
        where = str(target)
    click.echo(f"Scored {lineage['rows']} rows with {model} v{lineage['version']} -> {where}", err=True)
    if lineage.get("challenger_version"):
        click.echo(f"Shadow: challenger v{lineage['challenger_version']} agreed on {lineage['agreement']:.1%}",
                   err=True)
