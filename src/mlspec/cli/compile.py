"""`mlspec compile [--check]`: generate workflows, scripts and the manifest; or check they are current."""

from __future__ import annotations

import click

from mlspec.cli.common import EXIT_FINDINGS, project_root
from mlspec.cli.main import cli
from mlspec.errors import MlspecError

EXIT_STALE = EXIT_FINDINGS  # stale generated files are a finding (README's table of exit codes)
SHOWN_DIFFS = 50  # `--check` shows the diffs of this many modified files; a CI log has no use for more


@cli.command("compile")
@click.option("--check", is_flag=True, help="Write nothing; list missing, modified and orphaned files (exit 1).")
@click.option("--upgrade-pins", is_flag=True,
              help="Pin every package in generated/constraints.txt to the version installed here (by default "
                   "pins are kept while they satisfy mlspec's requirements).")
@click.pass_context
def compile_command(ctx: click.Context, check: bool, upgrade_pins: bool) -> None:
    """Generate .github/workflows/mlspec-*.yml and generated/ from the specs.

    Refuses state that CI jobs would lose (a SQLite registry, a project folder for artifacts: see
    `mlspec explain MLS221`) and writes nothing then."""
    root = project_root(ctx)
    if check or not root.is_dir():  # --check writes nothing; a missing project is reported as usual
        _compile(ctx, check, upgrade_pins)
        return
    with _locked(root):
        _sweep(root)
        _compile(ctx, check, upgrade_pins)


def _locked(root):
    """The repository's compile lock, saying when it waits or cannot lock."""
    from mlspec.write.sync import lock

    def unsupported(exc: OSError) -> None:
        click.echo(f"warning: cannot lock {root} ({exc.strerror}); do not run two `mlspec compile` at once here.",
                   err=True)

    return lock(root, on_wait=lambda: click.echo("Waiting for another `mlspec compile` in this repository...",
                                                 err=True), on_unsupported=unsupported)


def _sweep(root) -> None:
    """Remove what a compile killed while writing left beside its targets (this compile finishes its work)."""
    from mlspec.write.sync import sweep

    try:
        left = sweep(root)
    except OSError as exc:  # this compile writes its own files regardless
        click.echo(f"warning: cannot remove what an interrupted `mlspec compile` left: {exc}", err=True)
        return
    if left:
        click.echo(f"An earlier `mlspec compile` was interrupted: removed the {len(left)} files it left beside "
                   "their targets; this compile writes the rest.", err=True)


def _compile(ctx: click.Context, check: bool, upgrade_pins: bool = False) -> None:
    """Compile by the cache when an entry for these exact inputs vouches for the tree, else in full."""
    from mlspec.write import cache
    from mlspec.write.outputs import user_owned

    root = project_root(ctx)
    specs = cache.read_specs(root) if root.is_dir() else None  # None: the cache cannot vouch; the full path says why
    keep = user_owned(root)
    key = cache.key(specs, keep, cache.own_lint_config(root, keep)) if specs is not None else None
    if key is not None and _compile_cached(ctx, key, check, upgrade_pins):
        return
    _compile_fully(ctx, check, upgrade_pins, specs, key, keep)


def _compile_cached(ctx: click.Context, key: str, check: bool, upgrade_pins: bool) -> bool:
    """True when the cache's entry for `key` says the tree is up to date and every file's hash agrees (the
    command is then done, having said what the full path would); False sends compile down the full path,
    which repairs or reports whatever differs, as without a cache."""
    from pydantic import ValidationError

    from mlspec import api
    from mlspec.emit import CONSTRAINTS_PATH
    from mlspec.manifest import ProjectSettings
    from mlspec.write import cache
    from mlspec.write.sync import compare_digests

    entry = cache.lookup(key)
    if entry is None:
        return False
    try:
        settings = ProjectSettings.model_validate(entry.settings)
    except ValidationError:  # an entry this mlspec cannot read: compile afresh (and replace it)
        return False
    root = project_root(ctx)
    pins = api.pins_for(root, settings, upgrade=upgrade_pins)  # fails as the full path would: the specs are valid
    digests = dict(entry.files)
    if pins is not None:
        digests[CONSTRAINTS_PATH] = cache.digest(pins.text)
    try:
        changes = compare_digests(root, digests, entry.listed)
    except MlspecError:  # a link in the way: the full path reports it
        return False
    if changes.stale:
        return False
    _warn([*(pins.warnings if pins is not None else ()), *api.install_notes_for(root, settings),
           *_size_notes({path: root / path for path in entry.files})],
          entry.lint_missing)
    if check:
        click.echo(f"Generated files are up to date ({len(changes.unchanged)} files).")
    else:
        click.echo(f"Nothing to do: {len(changes.unchanged)} generated files are up to date.")
    return True


def _compile_fully(ctx: click.Context, check: bool, upgrade_pins: bool, specs: dict[str, bytes] | None,
                   key: str | None, keep: frozenset[str]) -> None:
    """Validate, resolve and render, then write what differs (or list it with --check); remember the outputs
    under `key` when every spec validation read is one `key` hashed."""
    from mlspec import api
    from mlspec.emit.tree import emit
    from mlspec.write import cache
    from mlspec.write.sync import apply, compare

    project = _load(ctx, specs)
    _refuse_job_local_state(ctx, project)
    pins = api.pins(project, upgrade=upgrade_pins)
    files = emit(project.manifest, keep, pins.text if pins is not None else None)
    missing = api.lint_missing(project.root, project.manifest, keep)
    _warn([*(pins.warnings if pins is not None else ()), *api.install_notes(project), *_size_notes(files)], missing)
    if key is not None and specs is not None and project.validated.texts.keys() == specs.keys():
        cache.store(key, cache.entry_for(files, project.manifest.project.model_dump(mode="json"), missing))
    changes = compare(project.root, files, diffs=SHOWN_DIFFS if check else 0)  # plain compile shows none
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
            if path in changes.diffs:
                click.echo("\n" + changes.diffs[path], nl=False)
        unshown = len(changes.updated) - len(changes.diffs)
        if unshown:
            click.echo(f"\n(the diffs of {unshown} more modified file{'s' if unshown > 1 else ''} are not shown)")
        click.echo("\nGenerated files are stale. Run `mlspec compile` and commit the result.", err=True)
        ctx.exit(EXIT_STALE)
    if not changes.stale:
        click.echo(f"Nothing to do: {len(changes.unchanged)} generated files are up to date.")
        return
    try:
        apply(project.root, files, changes)
    except (OSError, MlspecError) as exc:
        raise _failed(exc) from exc
    click.echo(f"Compiled: {len(changes.created)} created, {len(changes.updated)} updated, "
               f"{len(changes.deleted)} deleted, {len(changes.unchanged)} unchanged.")


def _refuse_job_local_state(ctx: click.Context, project) -> None:
    """Stop (exit 1, nothing written) when the generated CI would keep its state where a job loses it."""
    from mlspec import api
    from mlspec.diagnostics import render_full, summary_line

    problems = api.ci_problems(project)
    if problems:
        click.echo(render_full(problems, project.validated.source_lines()) + "\n" + summary_line(problems),
                   err=True)
        ctx.exit(EXIT_FINDINGS)


def _load(ctx: click.Context, specs: dict[str, bytes] | None):
    """The valid project, validated from `specs` (the bytes the cache key hashed) where they hold a file;
    invalid specs are printed on standard error and exit 1."""
    from mlspec import api
    from mlspec.cli.common import print_diagnostics

    project = api.load(project_root(ctx), specs)
    if not project.ok:
        print_diagnostics(project, "full", to_stderr=True)
        ctx.exit(EXIT_FINDINGS)
    return project


def _size_notes(files: dict) -> list[str]:
    """Files among `files` ({path: bytes, or the file holding them}) too large for where they run: a workflow
    GitHub would not start, an Argo document Kubernetes would not store."""
    from mlspec.emit import WORKFLOW_DIR, argo, workflows

    checks = {WORKFLOW_DIR + "/": workflows.too_large, argo.ARGO_DIR + "/": argo.too_large}
    notes = []
    for path, data in sorted(files.items()):
        check = next((check for folder, check in checks.items() if path.startswith(folder)), None)
        if check is None:
            continue
        try:
            note = check(path, data if isinstance(data, bytes) else data.read_bytes())
        except OSError:  # a file that cannot be read is compile's to report, not this warning's
            continue
        if note:
            notes.append(note)
    return notes


def _warn(notes: list[str], lint_missing: list[str]) -> None:
    """The pins' and the install's warnings; and runner labels the repository's own actionlint.yaml lacks."""
    from mlspec.emit import ACTIONLINT_PATH

    for note in notes:
        click.echo(f"warning: {note}", err=True)
    if lint_missing:
        click.echo(f"warning: {ACTIONLINT_PATH} is your own, so mlspec leaves it alone; declare the runner "
                   f"label(s) {', '.join(lint_missing)} under self-hosted-runner.labels in it, or actionlint "
                   "will report them as unknown in the generated workflows.", err=True)


def _failed(exc: Exception) -> MlspecError:
    """A failed write: what went wrong (for a full disk or a read-only folder, also what to do)."""
    from mlspec.cli.environment import describe
    from mlspec.runtime.errors import environment_error
    from mlspec.write.outputs import NEW_SUFFIX, OLD_SUFFIX

    refused = environment_error(exc)
    if refused is None:
        return MlspecError(f"compile failed, the previous files were kept: {exc}")
    if isinstance(refused.filename, str):  # the file being replaced, not its staged copy or backup
        name = refused.filename.removesuffix(NEW_SUFFIX).removesuffix(OLD_SUFFIX)
        refused = OSError(refused.errno, refused.strerror, name)
    what, todo = describe(refused)
    return MlspecError(f"compile failed, the previous files were kept: {what}", hint=todo)
