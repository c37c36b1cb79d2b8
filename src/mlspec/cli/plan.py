"""`mlspec plan`: what a spec change does to the models, compared with a git ref or a saved manifest."""

from __future__ import annotations

from pathlib import Path

import click

from mlspec.cli.common import load_or_exit, project_root
from mlspec.cli.main import cli

EXIT_CHANGES = 2


def modified_nodes(project, base: str | None, state: str | None) -> set[str] | None:
    """What `state:modified` means for this invocation (None without --base/--state)."""
    if base is None and state is None:
        return None
    from mlspec import api

    return set(api.plan(project, api.plan_base(project, base, Path(state) if state else None), files=False).modified())


def _open_registry(project):
    from mlspec.runtime.steps import Paths, open_registry

    return open_registry(project.manifest, Paths.of(project.manifest, project.root))


def _last_run_plan(project, github_output: str | None, train_all: bool) -> None:
    """`plan --last-run`: the models this run trains, as notes and (in GitHub Actions) job outputs."""
    from mlspec import lastrun

    if train_all:
        result = lastrun.every_model(project.manifest, "a manual run trains every model")
    else:
        registry = _open_registry(project)
        try:
            last = registry.last_run(project.manifest.project.default_branch)
        finally:
            registry.close()
        result = lastrun.affected(project.manifest, project.graph, last, project.root)
    for note in result.notes:
        click.echo(note)
    click.echo("Trains: " + (", ".join(result.models) or "nothing"))
    if github_output:
        _write_outputs(project.manifest, set(result.models), github_output)


def _write_outputs(manifest, chosen: set[str], github_output: str) -> None:
    """`train_<model>=true|false` for every model: the job outputs the generated jobs' conditions read."""
    lines = [f"train_{m.name}={'true' if m.name in chosen else 'false'}\n" for m in manifest.of_kind("model")]
    with Path(github_output).open("a", encoding="utf-8") as handle:
        handle.write("".join(lines))


@cli.command("record-run")
@click.option("--commit", required=True, help="The commit this run checked out (GITHUB_SHA in Actions).")
@click.pass_context
def record_run_command(ctx: click.Context, commit: str) -> None:
    """Record a successful run of the generated main workflow: the next push plans against it."""
    from mlspec import lastrun

    project = load_or_exit(ctx)
    sha = lastrun.full_commit(project.root, commit)
    if sha is None:
        raise click.UsageError(f"--commit {commit!r} is not a commit of the repository at {project.root} (or git "
                               "cannot read it); give the sha the run checked out ($GITHUB_SHA in Actions)")
    commit = sha
    branch = project.manifest.project.default_branch
    registry = _open_registry(project)
    try:
        last = registry.last_run(branch)
        if lastrun.superseded(project.root, last, commit):
            click.echo(f"not recorded: the run of a later commit ({last['commit'][:12]}) on {branch} is recorded")
            return
        registry.record_run(branch, lastrun.record(project.manifest, commit))
    finally:
        registry.close()
    click.echo(f"recorded commit {commit[:12]} as the last successful run on {branch}")


@cli.command("plan")
@click.option("--base", default=None, help=(
    "Git ref to compare with (its specs are read from git). Default: the merge-base of HEAD with the default "
    "branch (origin/<default_branch>, else origin/HEAD, else <default_branch>), else HEAD; the plan says which."))
@click.option("--state", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A manifest.json from an earlier compile to compare with.")
@click.option("--last-run", is_flag=True, help=(
    "Compare with the last successful run recorded in the registry (`mlspec record-run`) and list the models "
    "to train: changed specs, data files changed since that run's commit, and what depends on them."))
@click.option("--event", default=None, help=(
    "With --last-run: the GitHub event that started the run ($GITHUB_EVENT_NAME); a manual "
    "workflow_dispatch trains every model."))
@click.option("--github-output", type=click.Path(dir_okay=False), default=None,
              help="Append train_<model>=true|false lines (the models the plan trains) to this file "
                   "($GITHUB_OUTPUT).")
@click.option("--format", "fmt", type=click.Choice(("text", "md", "json")), default="text", show_default=True)
@click.option("--explain", is_flag=True, help="List every changed field as old -> new.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when nothing changes, 2 when something does.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Also write the plan here.")
@click.pass_context
def plan_command(ctx: click.Context, base: str | None, state: str | None, last_run: bool, event: str | None,
                 github_output: str | None, fmt: str, explain: bool, detailed_exitcode: bool,
                 output: str | None) -> None:
    """Show which models retrain, which gates and monitors change, and which generated files change."""
    from mlspec import api
    from mlspec.plan import render_json, render_markdown, render_text

    if sum((base is not None, state is not None, last_run)) > 1:
        raise click.UsageError("give at most one of --base REF, --state FILE or --last-run")
    if event and not last_run:
        raise click.UsageError("--event goes with --last-run")
    # the compile cache's project when it knows these specs (the plan is the same), else validated and resolved
    project = api.load_cached(project_root(ctx)) or load_or_exit(ctx)
    if last_run:
        _last_run_plan(project, github_output, event == "workflow_dispatch")
        return
    if base is None and state is None:  # like a pull request: against where this branch left the default one
        base, said = api.default_base(project.root, project.valid_manifest.project.default_branch)
        click.echo(f"Base: {said} (choose another with --base REF)", err=True)
    side = api.plan_base(project, base, Path(state) if state else None)
    result = api.plan(project, side)
    if fmt == "json":
        text = render_json(result)
    elif fmt == "md":
        text = render_markdown(result, project.valid_manifest, side.manifest)
    else:
        text = render_text(result, explain)
    click.echo(text, nl=False)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    if github_output:
        _write_outputs(project.manifest, {m.split(".", 1)[1] for m in result.retrain}, github_output)
    if detailed_exitcode and result.changed:
        ctx.exit(EXIT_CHANGES)
