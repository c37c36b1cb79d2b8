"""The console entry point: run the CLI, then end the process without tearing down pandas (the one fast exit).

Kept apart from `cli.main` and free of imports at the top: a training worker re-runs the console
script it was started from (multiprocessing does, to rebuild `__main__`), and here that costs nothing.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line (`mlspec.cli.main`), then exit through `fast_exit`."""
    from mlspec.cli.main import main as cli_main

    try:
        cli_main()
    except SystemExit as exc:
        fast_exit(exc.code)
    fast_exit(0)


def fast_exit(code: str | int | None) -> None:
    """Exit with `code`; once pandas is loaded, skip the interpreter's teardown (as mypy's fast exit does).

    Freeing pandas, pandera and scikit-learn module by module takes a noticeable time after the work is done
    (benchmarks/README.md § Figures behind code comments).
    Exit handlers still run (they close what libraries opened, multiprocessing stops its processes,
    coverage tools hook there), the output is flushed, and only then does the process end without the
    teardown. Commands that never loaded pandas (validate, compile, a no-op run) exit normally.
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
