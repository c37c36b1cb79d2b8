"""`mlspec run` and `mlspec registry ...`: the lifecycle on a laptop, and the registry by hand."""

from __future__ import annotations

import json

import click

from mlspec.cli.common import EXIT_FINDINGS, explain, load_or_exit, progress, project_root, selected_nodes
from mlspec.cli.main import cli
from mlspec.errors import shown


@cli.command()
@click.option("-s", "--select", multiple=True, help="Selector of nodes to run (default: everything).")
@click.option("--exclude", multiple=True, help="Selector of nodes to leave out.")
@click.option("--force", is_flag=True, help="Run every selected node even when its inputs are unchanged.")
@click.option("--approve", is_flag=True,
              help="Grant gates' manual approvals locally: promote to champion instead of challenger.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
              help="Models trained in parallel processes (default: 2 on a machine with 2+ cores).")
@click.option("--base", default=None, help="Git ref that state:modified compares with (e.g. origin/main).")
@click.option("--state", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Manifest that state:modified compares with.")
@click.pass_context
def run(ctx: click.Context, select, exclude, force: bool, approve: bool, jobs: int | None, base: str | None,
        state: str | None) -> None:
    """Run the lifecycle: check data, train, evaluate, gate, register and promote."""
    from mlspec.runtime.runner import Runner, RunOptions, default_jobs

    project = load_or_exit(ctx)
    nodes = selected_nodes(project, select, exclude, base, state)
    options = RunOptions(force=force, approve=approve, jobs=jobs or default_jobs(), workers=True)
    runner = Runner(project.manifest, project.root, options, progress)
    results = runner.run(nodes)
    problems = [r for r in results.results if r.status in ("fail", "error")]
    if problems:
        click.echo("\nFailures:", err=True)
        for r in problems:
            click.echo(f"  {r.node_id}: {r.message}", err=True)
            explain(r)
    folder = runner.paths.state
    click.echo(f"\nDone. PASS={results.count('success')} SKIP={results.count('skipped')} "
               f"FAIL={results.count('fail')} ERROR={results.count('error')} TOTAL={len(results.results)} "
               f"in {results.elapsed:.2f}s", err=True)
    click.echo(f"Run results: {shown(folder / 'run_results.json')}   reports: {shown(folder / 'reports')}/", err=True)
    if any(r.action == "gate" for r in results.results):
        click.echo(f"Registry: {project.manifest.project.registry_uri}   artifacts: "
                   f"{shown(runner.paths.artifacts)}/   (see: mlspec registry ls)", err=True)
    if problems:
        ctx.exit(EXIT_FINDINGS)


@cli.group()
def registry() -> None:
    """Inspect and manage registered model versions and their aliases."""


def _registry_call(ctx: click.Context, action):
    from mlspec.runtime.steps import Paths, open_registry

    project = load_or_exit(ctx)
    reg = open_registry(project.manifest, Paths.of(project.manifest, project_root(ctx)))
    try:
        return action(reg)
    finally:
        reg.close()


@registry.command("ls")
@click.argument("model", required=False)
@click.pass_context
def registry_ls(ctx: click.Context, model: str | None) -> None:
    """List versions with their primary metric and aliases."""

    def action(reg):
        table = reg.aliases()
        rows = reg.versions(model)
        if not rows:
            click.echo("No registered versions yet. Run: mlspec run")
            return
        click.echo(f"{'MODEL':<24} {'VERSION':>7}  {'CREATED (UTC)':<20} {'BY':<16} {'ALIASES':<22} PRIMARY METRIC")
        for v in rows:
            names = ",".join(a for a, n in sorted(table.get(v.model, {}).items()) if n == v.version)
            primary = v.lineage.get("primary_metric") or next(iter(v.metrics), None)
            value = v.metrics.get(primary)
            metrics = f"{primary}={value:.4f}" if isinstance(value, float) else f"{primary}=n/a"
            click.echo(f"{v.model:<24} {v.version:>7}  {v.created_at[:19]:<20} {v.created_by[:16]:<16} "
                       f"{names:<22} {metrics}")

    _registry_call(ctx, action)


@registry.command("show")
@click.argument("model")
@click.option("--version", "number", type=int, default=None, help="Version number (default: the champion).")
@click.pass_context
def registry_show(ctx: click.Context, model: str, number: int | None) -> None:
    """Show one version: metrics, parameters, lineage and alias history (JSON)."""
    from mlspec.runtime.errors import RegistryError

    def action(reg):
        chosen = number if number is not None else reg.alias(model, "champion")
        if chosen is None:
            raise RegistryError(f"model '{model}' has no champion", hint="pass --version N")
        v = reg.get(model, chosen)
        lineage = {k: val for k, val in v.lineage.items() if k != "gate_report"}
        doc = {"model": v.model, "version": v.version, "artifact_sha256": v.artifact_sha256,
               "created_at": v.created_at, "created_by": v.created_by, "metrics": v.metrics, "params": v.params,
               "lineage": lineage, "aliases": {a: n for a, n in reg.aliases().get(model, {}).items()},
               "alias_history": reg.history(model)}
        click.echo(json.dumps(doc, indent=2, sort_keys=True))

    _registry_call(ctx, action)


@registry.command("promote")
@click.argument("model")
@click.option("--version", "number", type=int, required=True, help="The version to promote.")
@click.option("--alias", type=click.Choice(("champion", "challenger")), default="champion", show_default=True)
@click.option("--reason", required=True, help="Why (recorded in the alias history).")
@click.pass_context
def registry_promote(ctx: click.Context, model: str, number: int, alias: str, reason: str) -> None:
    """Point an alias at a version (its artifact is verified first)."""
    _registry_call(ctx, lambda reg: reg.set_alias(model, alias, number, reason))
    click.echo(f"{model}: {alias} -> v{number}")


@registry.command("rollback")
@click.argument("model")
@click.option("--reason", required=True, help="Why (recorded in the alias history).")
@click.pass_context
def registry_rollback(ctx: click.Context, model: str, reason: str) -> None:
    """Move the champion back to the version it replaced."""
    version = _registry_call(ctx, lambda reg: reg.rollback(model, reason))
    click.echo(f"{model}: champion -> v{version}")


@registry.command("verify")
@click.pass_context
def registry_verify(ctx: click.Context) -> None:
    """Check every version's artifact hash, version numbering and aliases."""
    def check(reg):
        problems = reg.verify()
        # unreferenced artifacts are harmless notes, listed only when the registry itself reads cleanly
        return problems, ([] if problems else reg.orphans())

    problems, orphans = _registry_call(ctx, check)
    for problem in problems:
        click.echo(f"problem: {problem}")
    for orphan in orphans:
        click.echo(f"note: unreferenced artifact {orphan} (left by an interrupted registration; harmless)")
    if problems:
        ctx.exit(EXIT_FINDINGS)
    click.echo("Registry OK.")
