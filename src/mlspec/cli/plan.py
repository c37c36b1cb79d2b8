"""`mlspec plan`: what a spec change does to the models, compared with a git ref or a saved manifest."""

from __future__ import annotations

from pathlib import Path

import click

from mlspec.cli.main import EXIT_FINDINGS, _load_or_exit, cli

EXIT_CHANGES = 2


def modified_nodes(ctx: click.Context, project, base: str | None, state: str | None) -> set[str] | None:
    """What `state:modified` means for this invocation (None without --base/--state)."""
    if base is None and state is None:
        return None
    from mlspec import api

    try:
        manifest, notes = api.base_manifest(project.root, base, Path(state) if state else None)
    except api.BaseError as exc:
        click.echo(f"mlspec: {exc}", err=True)
        ctx.exit(EXIT_FINDINGS)
    return set(api.plan(project, manifest, notes).modified())


@cli.command("plan")
@click.option("--base", default=None, help="Git ref to compare with (its specs are read from git).")
@click.option("--state", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A manifest.json from an earlier compile to compare with.")
@click.option("--format", "fmt", type=click.Choice(("text", "md", "json")), default="text", show_default=True)
@click.option("--explain", is_flag=True, help="List every changed field as old -> new.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when nothing changes, 2 when something does.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Also write the plan here.")
@click.pass_context
def plan_command(ctx: click.Context, base: str | None, state: str | None, fmt: str, explain: bool,
                 detailed_exitcode: bool, output: str | None) -> None:
    """Show which models retrain, which gates and monitors change, and which generated files change."""
    from mlspec import api
    from mlspec.plan import render_json, render_markdown, render_text

    if (base is None) == (state is None):
        raise click.UsageError("give exactly one of --base REF or --state FILE")
    project = _load_or_exit(ctx)
    try:
        manifest, notes = api.base_manifest(project.root, base, Path(state) if state else None)
    except api.BaseError as exc:
        click.echo(f"mlspec: {exc}", err=True)
        ctx.exit(EXIT_FINDINGS)
    result = api.plan(project, manifest, notes)
    if fmt == "json":
        text = render_json(result)
    elif fmt == "md":
        text = render_markdown(result, project.manifest, manifest)
    else:
        text = render_text(result, explain)
    click.echo(text, nl=False)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    if detailed_exitcode and result.changed:
        ctx.exit(EXIT_CHANGES)
