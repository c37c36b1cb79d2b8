"""The console entry point: for `mlspec run`, start a training process before importing the CLI.

Importing the CLI (click, pydantic, the spec modules) takes about 0.2 s before the `run` command's
own code starts. A training process started first spends that time importing scikit-learn too, so
training can begin sooner (see `mlspec.runtime.trainers`). Only the subcommand's name is looked at
here; click parses the command line. If the process is not claimed, it is killed at exit.
"""

from __future__ import annotations

import sys

_GLOBAL_OPTIONS_WITH_VALUE = ("-C", "--project")


def subcommand(argv: list[str]) -> str | None:
    """The first argument that is neither a global option nor its value."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _GLOBAL_OPTIONS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main() -> None:
    """Start the training process for `run`, then hand over to the CLI; exit without tearing down pandas."""
    if subcommand(sys.argv[1:]) == "run":
        from mlspec.runtime import trainers

        trainers.start_early()
    from mlspec.cli.main import main as cli_main

    try:
        cli_main()
    except SystemExit as exc:
        _exit(exc.code)
    _exit(0)


def _exit(code: object) -> None:
    """Exit with `code`; once pandas is loaded, skip the interpreter's teardown (as mypy's fast exit does).

    Freeing pandas, pandera and scikit-learn module by module takes 0.1-0.3 s after the work is done.
    Exit handlers still run (they close what libraries opened, and coverage tools hook there), the
    output is flushed, and only then does the process end without the teardown.
    """
    if "pandas" not in sys.modules:
        sys.exit(code)
    import atexit
    import contextlib
    import os

    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be said
            stream.flush()
    os._exit(code)
