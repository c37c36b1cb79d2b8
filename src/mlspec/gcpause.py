"""Pause the cyclic garbage collector while a command that runs models reads the project.

The process-wide setting is made once, at the CLI (`mlspec.cli.main.collector_off`): commands that run no
models have the collector off for their whole run. Commands that run models keep it on (pandas and
scikit-learn, and `mlspec serve`, which runs for days), and pause it only while they read the project:
the specs (`api.load`) or the manifest (`Manifest.read_json`, what `mlspec node` reads in every generated
job). Both build hundreds of thousands of small objects and no reference cycles; the collector frees
nothing there, but its passes walk every tracked object and make reading much slower on large projects
(benchmarks/README.md § Figures behind code comments). Reference counting still frees everything.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Disable the cyclic collector for the block; restore its previous state afterwards (nesting is fine)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
