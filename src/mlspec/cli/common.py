"""What every command shares: the project folder, loading and selecting, the progress lines, the one error handler.

`report` is the one place an exception becomes output and an exit code (README's table), never a traceback.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from mlspec import __version__
from mlspec.errors import MlspecError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

# status -> (word, colour) of a progress line: a node of `run` or a generated script, or a monitor
_WORDS = {"success": ("OK", "green"), "skipped": ("SKIP", "yellow"), "fail": ("FAIL", "red"), "error": ("ERROR", "red"),
          "ok": ("OK", "green"), "alert": ("ALERT", "red"), "insufficient_data": ("NODATA", "yellow")}
_WORD_WIDTH = max(len(word) for word, _ in _WORDS.values())
_LINE_WIDTH = 72


def project_root(ctx: click.Context) -> Path:
    """The project folder: the one `-C` names (default: the current folder) or, like git, the nearest folder
    above it that holds `specs/`, so mlspec works from inside `specs/` or any subfolder. The search stops at
    a git repository's top folder; when nothing is found the folder named is used (and says there is no specs/)."""
    if "root" not in ctx.obj:
        start = ctx.obj["root"] = Path(ctx.obj["project"]).resolve()
        for folder in (start, *start.parents) if start.is_dir() else ():
            if (folder / "specs").is_dir() and not (folder / "specs").is_symlink():
                ctx.obj["root"] = folder
                break
            if (folder / ".git").exists():  # the repository's top: a project above it is another one
                break
    return ctx.obj["root"]


def print_diagnostics(project, fmt: str, to_stderr: bool) -> None:
    """The project's findings in `fmt` (full: with source lines and a summary line)."""
    from mlspec.diagnostics import RENDERERS, summary_line

    diags = project.diagnostics
    text = RENDERERS[fmt](diags, project.validated.source_lines())
    if fmt == "full" and diags:
        text += "\n" + summary_line(diags) + "\n"
    click.echo(text, nl=False, err=to_stderr)


def load_or_exit(ctx: click.Context, fmt: str = "full"):
    """The valid project (`api.Project`); invalid specs are printed on standard error and exit 1."""
    from mlspec import api

    if not (project := api.load(project_root(ctx))).ok:
        print_diagnostics(project, fmt, to_stderr=True)
        ctx.exit(EXIT_FINDINGS)
    return project


def selected_nodes(project, selectors: tuple[str, ...], exclude: tuple[str, ...], base: str | None = None,
                   state: str | None = None) -> list[str]:
    """The node ids the selectors pick, in graph order (`state:modified` against `base` or `state`)."""
    from mlspec import api
    from mlspec.cli.plan import modified_nodes

    return api.select(project, list(selectors), list(exclude), modified_nodes(project, base, state))


def progress(kind: str, index: int, total: int, node_id: str, action: str, result) -> None:
    """The progress line of a node or monitor on standard error (dbt-like), as `Runner` and `MonitorRunner`
    report them: at "start" a live line on a terminal only, at "end" the outcome with its time and message."""
    stamp = time.strftime("%H:%M:%S")
    head = f"{stamp}  {index:>{len(str(total))}} of {total}"
    if kind == "start":
        if sys.stderr.isatty():  # a live status line only on a terminal; logs stay clean
            click.echo(f"\r{head} {'RUN':<{_WORD_WIDTH}} {action} {node_id} ...", nl=False, err=True)
        return
    word, color = _WORDS[result.status]
    shown = f"{word:<{_WORD_WIDTH}}"  # bold and coloured on a terminal, unless NO_COLOR asks otherwise
    shown = click.style(shown, fg=color, bold=True) if sys.stderr.isatty() and "NO_COLOR" not in os.environ else shown
    label = f"{action} {node_id} "
    dots = "." * max(3, _LINE_WIDTH - len(label) - len(head))
    line = f"{head} {shown} {label}{dots} [{word} in {result.duration:.2f}s] {result.message}"
    click.echo(("\r\x1b[K" if sys.stderr.isatty() else "") + line, err=True)


def explain(result) -> None:
    """What a failed node or monitor needs besides its line: the failed checks, the spec's line, the help."""
    for line in result.details:
        click.echo(f"    - {line}", err=True)
    if result.where:
        click.echo(f"    spec: {result.where}", err=True)
    if result.hint:
        click.echo(f"    help: {result.hint}", err=True)


def report(exc: Exception) -> int:
    """Say what an exception that reached a command's top means; return the exit code: an `MlspecError` is
    `mlspec: MESSAGE`, its notes and `  help: HINT`, with its code; a refusal of the operating system
    (read-only folder, full disk) the same lines naming the file, 1; anything else a bug: one line saying
    where the details were saved, 2."""
    from mlspec.runtime.errors import environment_error

    refused = environment_error(exc)
    if refused is not None and not isinstance(exc, MlspecError):
        from mlspec.cli.environment import describe

        what, todo = describe(refused)
        exc = MlspecError(what, hint=todo)
    if isinstance(exc, MlspecError):
        notes = "".join(f"\n    {note}" for note in exc.notes())
        click.echo(f"mlspec: {exc.message}{notes}" + (f"\n  help: {exc.hint}" if exc.hint else ""), err=True)
        return exc.exit_code
    try:
        fd, path = tempfile.mkstemp(prefix="mlspec-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"mlspec {__version__}\nargv: {sys.argv!r}\n\n" + "".join(traceback.format_exception(exc)))
        where = f"details saved to {path}"
    except OSError as problem:  # a full or read-only temporary folder: say so rather than show a traceback
        where = f"the details could not be saved ({problem.strerror})"
    click.echo(f"mlspec: internal error ({type(exc).__name__}); {where}", err=True)
    return EXIT_USAGE
