"""The `mlspec` command line: thin click commands over `mlspec.api`; the only code that prints or exits.

Exit codes (the table in README.md, which tests/e2e/test_exit_codes.py checks): 0 success; 1 findings
(invalid specs, a failed contract, training or gate, stale generated files, a monitor alert or a monitor
that could not be evaluated, a read-only folder or a full disk); 2 usage or internal error; with
`plan --detailed-exitcode`, 2 means changes and every error is 1. No exception shows a traceback: every
error is said by the one handler, `cli.common.report`.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from mlspec import __version__
from mlspec.cli.common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, load_or_exit, project_root, report, selected_nodes
from mlspec.errors import MlspecError

FORMATS = ("full", "concise", "json", "github", "sarif")


class _Group(click.Group):
    """The command group: an `MlspecError` a command raises (bad data, a failed gate, a registry that refuses, a
    selector that matches nothing...) is said by the one handler and ends the command with its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MlspecError as exc:
            ctx.exit(report(exc))

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """The command `args` name; one that runs models, where only the compiler is installed, ends with what to
        install (exit 1) instead of an import error. Its help needs nothing."""
        name, command, rest = super().resolve_command(ctx, args)
        if name in RUNTIME_COMMANDS and not ctx.resilient_parsing and not {"-h", "--help"} & set(rest):
            missing = missing_runtime()
            if missing:
                raise MlspecError(f"`mlspec {name}` needs mlspec's runtime, which is not installed here (missing: "
                                  f"{', '.join(missing)})", hint="pip install 'mlspec-gitops[runtime]' (add postgres, "
                                  "objectstore, duckdb or dask when the project uses them)")
        return name, command, rest


# Commands that run models need the `runtime` extra; the default install is the compiler alone.
RUNTIME_COMMANDS = frozenset({"run", "monitor", "score", "registry", "serve", "node"})
RUNTIME_MODULES = ("numpy", "pandas", "pyarrow", "sklearn", "sqlalchemy", "skops", "pandera", "threadpoolctl")


def missing_runtime() -> list[str]:
    """The runtime's modules that cannot be imported here (found without importing them)."""
    from importlib.util import find_spec

    return [name for name in RUNTIME_MODULES if find_spec(name) is None]


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-C", "--project", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Project folder (the one holding specs/).")
@click.version_option(__version__, prog_name="mlspec")
@click.pass_context
def cli(ctx: click.Context, project: str) -> None:
    """mlspec: declarative MLOps. Specs in specs/ become workflows, jobs and models."""
    ctx.ensure_object(dict)
    ctx.obj["project"] = project
    if ctx.invoked_subcommand not in RUNTIME_COMMANDS:
        collector_off(ctx)


def collector_off(ctx: click.Context) -> None:
    """Turn the cyclic garbage collector off until the command ends: the one place mlspec tunes it.

    A command that runs no models (validate, compile, plan, ls, graph, pr-report...) builds the project's
    specs, manifest and generated files: hundreds of thousands of small objects and no reference cycles,
    freed by reference counting when the command returns. The collector frees nothing there, but its passes
    walk every tracked object, the whole project included, and cost a large share of a big compile or plan
    (benchmarks/README.md § Figures behind code comments). Commands that run models keep it on for pandas and
    scikit-learn, and for `mlspec serve`, which runs for days, pausing it only while they read the project
    (`mlspec.gcpause`). Restored when the command's context closes, so a caller in the same process (tests,
    `CliRunner`) gets its collector back.
    """
    import gc

    if gc.isenabled():
        gc.disable()
        ctx.call_on_close(gc.enable)


@cli.command()
@click.option("--output-format", "fmt", type=click.Choice(FORMATS), default="full", show_default=True,
              help="full: with source lines; concise: one line each; json; github: workflow annotations; "
                   "sarif: SARIF 2.1.0 for code scanning.")
@click.pass_context
def validate(ctx: click.Context, fmt: str) -> None:
    """Check every spec file; report all problems at once."""
    from mlspec import api
    from mlspec.diagnostics import RENDERERS, has_errors, summary_line

    validated, diags = api.check(project_root(ctx))
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

    project = load_or_exit(ctx)
    nodes = selected_nodes(project, select, exclude, base, state)
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

    project = load_or_exit(ctx)
    nodes = selected_nodes(project, select, exclude)
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
    target = project_root(ctx) / output
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {output}", err=True)


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
def init(directory: str) -> None:
    """Create a starter project: a spec that validates, runs and monitors sample data; the JSON Schema; .gitignore."""
    from mlspec import scaffold

    try:
        written = scaffold.create(Path(directory))
    except FileExistsError as exc:
        raise MlspecError(f"{exc}; nothing was written", exit_code=EXIT_USAGE) from None
    for path in written:
        click.echo(f"created {path}" if not path.endswith(".gitignore") else f"ignored .mlspec/ in {path}")
    cd = "" if Path(directory).resolve() == Path.cwd().resolve() else f"cd {shlex.quote(directory)} && "
    click.echo(f"Next: {cd}mlspec validate && mlspec run && mlspec monitor (on the sample data in "
               "data/; put yours there and describe it in specs/). Before `mlspec compile`, choose where CI keeps "
               "its models: the commented registry lines in specs/project.yaml.")


@cli.command()
@click.argument("code")
def explain(code: str) -> None:
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
        raise MlspecError(f"no code, metric or estimator '{code}'", hint=hint, exit_code=EXIT_USAGE)
    click.echo(text, nl=False)


def _error_code(code: int, argv: list[str]) -> int:
    """The exit code of an error: `code`, except where 2 means "changes".

    `plan --detailed-exitcode` follows Terraform: 0 no change, 1 error, 2 changes. A script that
    reads 2 as "changes" must never get it for a typo or a crash, so there every error is 1.
    """
    return EXIT_FINDINGS if _subcommand(argv) == "plan" and "--detailed-exitcode" in argv else code


def _subcommand(argv: list[str]) -> str | None:
    """The first argument that is neither a global option nor its value (an error may come before click
    knows the command)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-C", "--project"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


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
        sys.exit(_error_code(report(exc), sys.argv[1:]))
    sys.exit(code if isinstance(code, int) else EXIT_OK)


# Commands in other modules register themselves on `cli` when imported.
from mlspec.cli import checkinput as _check_input_commands  # noqa: E402, F401
from mlspec.cli import compile as _compile_commands  # noqa: E402, F401
from mlspec.cli import monitor as _monitor_commands  # noqa: E402, F401
from mlspec.cli import nodecommand as _node_commands  # noqa: E402, F401
from mlspec.cli import plan as _plan_commands  # noqa: E402, F401
from mlspec.cli import report as _report_commands  # noqa: E402, F401
from mlspec.cli import run as _run_commands  # noqa: E402, F401
from mlspec.cli import serve as _serve_commands  # noqa: E402, F401
