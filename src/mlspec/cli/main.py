"""The `mlspec` command line: thin click commands over `mlspec.api`; the only code that prints or exits.

Exit codes (the table in README.md, which tests/e2e/test_exit_codes.py checks): 0 success; 1 findings
(invalid specs, a failed contract, training or gate, stale generated files, a monitor alert or a monitor
that could not be evaluated, a read-only folder or a full disk); 2 usage or internal error; with
`plan --detailed-exitcode`, 2 means changes and every error is 1. No exception shows a traceback: a
refusal of the operating system is a message naming the file, a bug one line saying where the details are.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from pathlib import Path

import click

from mlspec import __version__
from mlspec.cli.output import echo_error

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FORMATS = ("full", "concise", "json", "github", "sarif")


def _project_root(ctx: click.Context) -> Path:
    """The project folder: the one `-C` names (default: the current folder) or, like git, the nearest folder
    above it that holds `specs/`, so mlspec works from inside `specs/` or any subfolder. The search stops at
    a git repository's top folder; when nothing is found the folder named is used (and says there is no specs/)."""
    if "root" not in ctx.obj:
        ctx.obj["root"] = find_root(Path(ctx.obj["project"]).resolve())
    return ctx.obj["root"]


def find_root(start: Path) -> Path:
    """The nearest folder from `start` upwards that holds a `specs/` folder (`start` when none does)."""
    if not start.is_dir():
        return start
    for folder in (start, *start.parents):
        specs = folder / "specs"
        if specs.is_dir() and not specs.is_symlink():
            return folder
        if (folder / ".git").exists():  # the repository's top: a project above it is another one
            break
    return start


def _print_diagnostics(project, fmt: str, to_stderr: bool) -> None:
    from mlspec.diagnostics import RENDERERS, summary_line

    diags = project.diagnostics
    text = RENDERERS[fmt](diags, project.validated.source_lines())
    if fmt == "full" and diags:
        text += "\n" + summary_line(diags) + "\n"
    click.echo(text, nl=False, err=to_stderr)


def _load_or_exit(ctx: click.Context, fmt: str = "full"):
    from mlspec import api

    project = api.load(_project_root(ctx))
    if not project.ok:
        _print_diagnostics(project, fmt, to_stderr=True)
        ctx.exit(EXIT_FINDINGS)
    return project


def _select_or_exit(ctx: click.Context, project, select: tuple[str, ...], exclude: tuple[str, ...],
                    base: str | None = None, state: str | None = None) -> list[str]:
    from mlspec import api
    from mlspec.diagnostics import render_full
    from mlspec.graph.select import SelectorError

    modified = None
    if base is not None or state is not None:
        from mlspec.cli.plan import modified_nodes

        modified = modified_nodes(ctx, project, base, state)
    try:
        return api.select(project, list(select), list(exclude), modified)
    except SelectorError as exc:
        click.echo(render_full([exc.diagnostic], {}), nl=False, err=True)
        ctx.exit(EXIT_FINDINGS)


class _Group(click.Group):
    """The command group, with the one handler of errors a user can act on.

    A `RunError` (bad data, a failed gate, a registry or store that refuses, state that leads outside the
    project...) that a command did not report itself is one message and a help line, exit 1 (a finding).
    """

    def invoke(self, ctx: click.Context):
        from mlspec.runtime.errors import RunError

        try:
            return super().invoke(ctx)
        except RunError as exc:
            echo_error(exc)
            ctx.exit(EXIT_FINDINGS)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-C", "--project", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Project folder (the one holding specs/).")
@click.version_option(__version__, prog_name="mlspec")
@click.pass_context
def cli(ctx: click.Context, project: str) -> None:
    """mlspec: declarative MLOps. Specs in specs/ become workflows, jobs and models."""
    ctx.ensure_object(dict)
    ctx.obj["project"] = project


@cli.command()
@click.option("--output-format", "fmt", type=click.Choice(FORMATS), default="full", show_default=True,
              help="full: with source lines; concise: one line each; json; github: workflow annotations; "
                   "sarif: SARIF 2.1.0 for code scanning.")
@click.pass_context
def validate(ctx: click.Context, fmt: str) -> None:
    """Check every spec file; report all problems at once."""
    from mlspec import api
    from mlspec.diagnostics import RENDERERS, has_errors, summary_line

    validated, diags = api.check(_project_root(ctx))
    if fmt == "sarif":
        from mlspec.sarif import render_sarif

        text = render_sarif(diags)
    else:
        text = RENDERERS[fmt](diags, validated.source_lines())
    if fmt == "full" and diags:
        text += "\n" + summary_line(diags) + "\n"
    click.echo(text, nl=False)
    if validated.spec is None or has_errors(diags):
        ctx.exit(EXIT_FINDINGS)
    if fmt in ("full", "concise"):
        spec = validated.spec
        counts = {"source": len(spec.sources), "feature": len(spec.features), "model": len(spec.models),
                  "gate": len(spec.gates), "monitor": len(spec.monitors)}
        parts = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in counts.items())
        click.echo(f"OK: {len(validated.texts)} spec file(s), {parts}.")


@cli.command("ls")
@click.option("-s", "--select", multiple=True, help="Selector, e.g. model:fraud_gbm+ or tag:nightly.")
@click.option("--exclude", multiple=True, help="Selector of nodes to leave out.")
@click.option("--output", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.option("--base", default=None, help="Git ref that state:modified compares with.")
@click.option("--state", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Manifest that state:modified compares with.")
@click.pass_context
def ls_command(ctx: click.Context, select: tuple[str, ...], exclude: tuple[str, ...], output: str,
               base: str | None, state: str | None) -> None:
    """List nodes in dependency order (all, or those a selector picks)."""
    import json

    project = _load_or_exit(ctx)
    nodes = _select_or_exit(ctx, project, select, exclude, base, state)
    if output == "json":
        items = [{"id": n, "kind": project.manifest.nodes[n].kind, "file": project.manifest.nodes[n].file,
                  "tags": project.manifest.nodes[n].tags, "depends_on": project.manifest.nodes[n].depends_on}
                 for n in nodes]
        click.echo(json.dumps(items, indent=2))
        return
    for n in nodes:
        click.echo(n)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(("mermaid", "dot", "json")), default="mermaid",
              show_default=True)
@click.option("-s", "--select", multiple=True, help="Selector of nodes to draw.")
@click.option("--exclude", multiple=True, help="Selector of nodes to leave out.")
@click.pass_context
def graph(ctx: click.Context, fmt: str, select: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """Print the dependency graph."""
    from mlspec.graph import render

    project = _load_or_exit(ctx)
    nodes = _select_or_exit(ctx, project, select, exclude)
    draw = {"mermaid": render.as_mermaid, "dot": render.as_dot, "json": render.as_json}[fmt]
    click.echo(draw(project.manifest, nodes), nl=False)


@cli.command()
@click.option("-o", "--output", default="schema/mlspec-v1.json", show_default=True,
              help="Where to write the JSON Schema, relative to the project; '-' for standard output.")
@click.pass_context
def schema(ctx: click.Context, output: str) -> None:
    """Write the spec language's JSON Schema (for editor completion and checks)."""
    from mlspec import api

    text = api.json_schema_text()
    if output == "-":
        click.echo(text, nl=False)
        return
    target = _project_root(ctx) / output
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {output}", err=True)


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.pass_context
def init(ctx: click.Context, directory: str) -> None:
    """Create a starter project: a spec that validates, runs and monitors sample data; the JSON Schema; .gitignore."""
    from mlspec import scaffold

    try:
        written = scaffold.create(Path(directory))
    except FileExistsError as exc:
        click.echo(f"mlspec: {exc}; nothing was written", err=True)
        ctx.exit(EXIT_USAGE)
    for path in written:
        click.echo(f"created {path}" if not path.endswith(".gitignore") else f"ignored .mlspec/ in {path}")
    click.echo(f"Next: cd {directory} && mlspec validate && mlspec run && mlspec monitor (on the sample data in "
               "data/; put yours there and describe it in specs/). Before `mlspec compile`, choose where CI keeps "
               "its models: the commented registry lines in specs/project.yaml.")


@cli.command()
@click.argument("code")
@click.pass_context
def explain(ctx: click.Context, code: str) -> None:
    """Explain a diagnostic code, a metric or an estimator (its parameters, bounds and defaults), e.g.
    `mlspec explain MLS011`, `mlspec explain f1_macro` or `mlspec explain random_forest`."""
    from mlspec.codes import CODES
    from mlspec.codes import explain as explain_code
    from mlspec.lang.estimators import ESTIMATORS, explain_estimator
    from mlspec.lang.metrics import METRICS, explain_metric
    from mlspec.spec.names import did_you_mean, hint_for

    text = explain_code(code) or explain_metric(code) or explain_estimator(code)
    if text is None:
        close = did_you_mean(code, [*METRICS, *ESTIMATORS])
        if code.upper().startswith("MLS"):
            hint = hint_for(code.upper(), CODES, "code")
        elif close is not None:
            hint = f"did you mean '{close}'?"
        else:
            hint = "`mlspec explain MLS203` lists the metrics, `mlspec explain MLS205` the estimators"
        click.echo(f"mlspec: no code, metric or estimator '{code}'; {hint}", err=True)
        ctx.exit(EXIT_USAGE)
    click.echo(text, nl=False)


def _save_crash(exc: BaseException) -> str:
    fd, path = tempfile.mkstemp(prefix="mlspec-crash-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"mlspec {__version__}\nargv: {sys.argv!r}\n\n")
        handle.write("".join(traceback.format_exception(exc)))
    return path


def _internal_error(exc: BaseException) -> None:
    """One line for a bug, with the details in a file (or why they could not be saved)."""
    try:
        where = f"details saved to {_save_crash(exc)}"
    except OSError as problem:  # a full or read-only temporary folder: say so rather than show a traceback
        where = f"the details could not be saved ({problem.strerror})"
    click.echo(f"mlspec: internal error ({type(exc).__name__}); {where}", err=True)


def report_exception(exc: Exception) -> int:
    """Say what an exception that reached the top means; return the exit code.

    A refusal of the operating system (read-only folder, no permission, full disk, file size limit)
    is a message naming the file, and exit 1; anything else is a bug: one line, the details saved to
    a file, and exit 2. Never a traceback.
    """
    from mlspec.runtime.errors import environment_error

    refused = environment_error(exc)
    if refused is not None:
        from mlspec.cli.environment import message

        click.echo(message(refused), err=True)
        return EXIT_FINDINGS
    _internal_error(exc)
    return EXIT_USAGE


def _error_code(code: int, argv: list[str]) -> int:
    """The exit code of an error: `code`, except where 2 means "changes".

    `plan --detailed-exitcode` follows Terraform: 0 no change, 1 error, 2 changes. A script that
    reads 2 as "changes" must never get it for a typo or a crash, so there every error is 1.
    """
    from mlspec.cli.entry import subcommand

    return EXIT_FINDINGS if subcommand(argv) == "plan" and "--detailed-exitcode" in argv else code


def main() -> None:
    """Console entry point: run the CLI; the one place that turns exceptions into a message and an exit code."""
    try:
        code = cli.main(standalone_mode=False, prog_name="mlspec")
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(_error_code(EXIT_USAGE, sys.argv[1:]))
    except click.ClickException as exc:  # a usage error is 2; a ClickException a command raised is 1, as in click
        exc.show()
        sys.exit(_error_code(exc.exit_code, sys.argv[1:]))
    except Exception as exc:
        sys.exit(_error_code(report_exception(exc), sys.argv[1:]))
    sys.exit(code if isinstance(code, int) else EXIT_OK)


# Commands in other modules register themselves on `cli` when imported.
from mlspec.cli import compile as _compile_commands  # noqa: E402, F401
from mlspec.cli import monitor as _monitor_commands  # noqa: E402, F401
from mlspec.cli import plan as _plan_commands  # noqa: E402, F401
from mlspec.cli import report as _report_commands  # noqa: E402, F401
from mlspec.cli import run as _run_commands  # noqa: E402, F401
from mlspec.cli import serve as _serve_commands  # noqa: E402, F401
