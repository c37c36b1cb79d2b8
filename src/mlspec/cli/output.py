"""Run output: dbt-like progress lines on stderr; colour only on a terminal and without NO_COLOR."""

from __future__ import annotations

import os
import sys
import time

import click

_STATUS = {"success": ("OK", "green"), "skipped": ("SKIP", "yellow"), "fail": ("FAIL", "red"),
           "error": ("ERROR", "red")}
_WIDTH = 72


def _color() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


def _style(text: str, color: str) -> str:
    return click.style(text, fg=color, bold=True) if _color() else text


def _event(kind: str, index: int, total: int, node_id: str, action: str, result) -> None:
    stamp = time.strftime("%H:%M:%S")
    width = len(str(total))
    head = f"{stamp}  {index:>{width}} of {total}"
    if kind == "start":
        if sys.stderr.isatty():  # a live status line only on a terminal; logs stay clean
            click.echo(f"\r{head} RUN   {action} {node_id} ...", nl=False, err=True)
        return
    word, color = _STATUS[result.status]
    label = f"{action} {node_id} "
    dots = "." * max(3, _WIDTH - len(label) - len(head))
    line = f"{head} {_style(f'{word:<5}', color)} {label}{dots} [{word} in {result.duration:.2f}s] {result.message}"
    click.echo(("\r\x1b[K" if sys.stderr.isatty() else "") + line, err=True)


def echo_error(exc) -> None:
    """Print a RunError the user can act on, as every command does: `mlspec: MESSAGE` and its help line."""
    click.echo(f"mlspec: {exc.message}" + (f"\n  help: {exc.hint}" if exc.hint else ""), err=True)
