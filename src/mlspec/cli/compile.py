"""`mlspec compile [--check]`: generate workflows, scripts and the manifest; or check they are current."""

from __future__ import annotations

import click

from mlspec.cli.main import EXIT_FINDINGS, EXIT_USAGE, _load_or_exit, _project_root, cli

EXIT_STALE = 2


@cli.command("compile")
@click.option("--check", is_flag=True, help="Write nothing; list missing, modified and orphaned files (exit 2).")
@click.pass_context
def compile_command(ctx: click.Context, check: bool) -> None:
    """Generate .github/workflows/mlspec-*.yml and generated/ from the specs."""
    from mlspec import gcpause

    # Load and emit each pause the cyclic collector; paused across the whole command instead, its
    # passes over the loaded project between phases (0.2 s at 1,000 models) are not made at all, and
    # the project is freed by reference counting when the command returns.
    with gcpause.paused():
        root = _project_root(ctx)
        if check or not root.is_dir():  # --check writes nothing; a missing project is reported as usual
            _compile(ctx, check)
            return
        with _locked(root):
            _recover_or_exit(ctx, root)
            _compile(ctx, check)


def _locked(root):
    """The repository's compile lock, saying when it waits or cannot lock."""
    from mlspec.recovery import lock

    def unsupported(exc: OSError) -> None:
        click.echo(f"warning: cannot lock {root} ({exc.strerror}); do not run two `mlspec compile` at once here.",
                   err=True)

    return lock(root, on_wait=lambda: click.echo("Waiting for another `mlspec compile` in this repository...",
                                                 err=True), on_unsupported=unsupported)


def _recover_or_exit(ctx: click.Context, root) -> None:
    """Undo a compile that was killed while swapping files in, before anything reads the tree."""
    from mlspec.recovery import RecoveryError, recover

    try:
        restored = recover(root)
    except RecoveryError as exc:
        click.echo(f"mlspec: {exc}\n  hint: {exc.hint}", err=True)
        ctx.exit(EXIT_USAGE)
    except OSError as exc:
        click.echo(f"mlspec: could not undo an interrupted compile: {exc}\n  hint: {RecoveryError.hint}", err=True)
        ctx.exit(EXIT_USAGE)
    if restored:
        click.echo(f"Recovered from an interrupted compile: {len(restored)} files put back as they were.", err=True)


def _compile(ctx: click.Context, check: bool) -> None:
    from mlspec.emit.tree import emit
    from mlspec.outputs import UnsafePathError, user_owned
    from mlspec.recovery import interrupted
    from mlspec.sync import apply, compare

    project = _load_or_exit(ctx)
    if project.manifest.project.registry_uri.startswith("sqlite:"):
        click.echo("warning: the registry is a local SQLite file. Each GitHub Actions job starts on a fresh "
                   "runner, so registrations made by the generated workflows would be lost; point "
                   "project.registry.uri at PostgreSQL (password as ${env:NAME}, a repository secret) for CI.",
                   err=True)
    keep = user_owned(project.root)
    files = emit(project.manifest, keep)
    _check_user_lint_config(project, keep)
    if check and interrupted(project.root):
        click.echo("warning: an earlier `mlspec compile` was interrupted while replacing files, so generated "
                   "files may be a mix of two versions; `mlspec compile` puts the old ones back first.", err=True)
    try:
        changes = compare(project.root, files)
    except UnsafePathError as exc:
        click.echo(f"mlspec: {exc}", err=True)
        ctx.exit(EXIT_FINDINGS)
    if check:
        if not changes.stale:
            click.echo(f"Generated files are up to date ({len(changes.unchanged)} files).")
            return
        for path in changes.created:
            click.echo(f"missing:  {path}")
        for path in changes.updated:
            click.echo(f"modified: {path}")
        for path in changes.deleted:
            click.echo(f"orphaned: {path}")
        for path in changes.updated:
            click.echo("\n" + changes.diffs[path], nl=False)
        click.echo("\nGenerated files are stale. Run `mlspec compile` and commit the result.", err=True)
        ctx.exit(EXIT_STALE)
    if not changes.stale:
        click.echo(f"Nothing to do: {len(changes.unchanged)} generated files are up to date.")
        return
    try:
        apply(project.root, files, changes)
    except (OSError, UnsafePathError) as exc:
        click.echo(f"mlspec: compile failed, the previous files were kept: {exc}", err=True)
        ctx.exit(EXIT_USAGE)
    click.echo(f"Compiled: {len(changes.created)} created, {len(changes.updated)} updated, "
               f"{len(changes.deleted)} deleted, {len(changes.unchanged)} unchanged.")


def _check_user_lint_config(project, keep: frozenset[str]) -> None:
    """Warn when the repository's own actionlint.yaml lacks runner labels the workflows use."""
    from mlspec.emit import ACTIONLINT_PATH
    from mlspec.emit.lintconfig import undeclared_labels

    if ACTIONLINT_PATH not in keep:
        return
    try:
        text = (project.root / ACTIONLINT_PATH).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    missing = undeclared_labels(project.manifest, text)
    if missing:
        click.echo(f"warning: {ACTIONLINT_PATH} is your own, so mlspec leaves it alone; declare the runner "
                   f"label(s) {', '.join(missing)} under self-hosted-runner.labels in it, or actionlint "
                   "will report them as unknown in the generated workflows.", err=True)
