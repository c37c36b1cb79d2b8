"""Work measured in steps instead of seconds.

A test that bounds how long a call takes fails on a loaded machine. The number of Python lines a call
executes is the same on every machine and under any load, and it still tells bounded work from a
blow-up (a backtracking parser, an exponential retry, an enumeration far larger than intended) by
orders of magnitude. How fast things are is measured in benchmarks/, not asserted in tests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def lines_executed(call: Callable[[], object]) -> int:
    """How many lines of Python `call()` executes, in every function it calls (C code counts as none).

    An exception from `call` propagates; catch inside `call` to count a call that raises."""
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    previous = sys.gettrace()
    sys.settrace(lambda frame, event, arg: local)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count
