"""The console entry point: for `mlspec run`, start a training process before importing the CLI.

Importing the CLI (click, pydantic, the spec modules) takes about 0.2 s before the `run` command's
own code starts. A training process started first spends that time importing scikit-learn too, so
training can begin sooner (see `mlspec.runtime.trainers`). Only the subcommand's name is looked at
here; click parses the command line. If the process is not claimed, it is killed at exit.
"""

from __future__ import annotations

import sys

_GLOBAL_OPTIONS_WITH_VALUE = ("-C", "--project")
# Commands that run models need the `runtime` extra; the default install is the compiler alone.
RUNTIME_COMMANDS = frozenset({"run", "monitor", "score", "registry", "serve"})
RUNTIME_MODULES = ("numpy", "pandas", "pyarrow", "sklearn", "sqlalchemy", "skops", "pandera", "threadpoolctl")


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


def missing_runtime() -> list[str]:
    """The runtime's modules that cannot be imported here (found without importing them)."""
    from importlib.util import find_spec

    return [name for name in RUNTIME_MODULES if find_spec(name) is None]


def main() -> None:
    """Start the training process for `run`, then hand over to the CLI; exit without tearing down pandas.

    A command that runs models, in an environment with only the default install, ends with what to
    install (exit 1) instead of an import error."""
    command = subcommand(sys.argv[1:])
    if command in RUNTIME_COMMANDS and not {"-h", "--help"} & set(sys.argv[1:]):
        missing = missing_runtime()
        if missing:
            sys.stderr.write(f"mlspec: `mlspec {command}` needs mlspec's runtime, which is not installed here "
                             f"(missing: {', '.join(missing)})\n  help: pip install 'mlspec-gitops[runtime]' "
                             "(add postgres or objectstore when the project uses them)\n")
            sys.exit(1)
    if command == "run":
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
