#!/usr/bin/env bash
# The whole test suite as two pytest processes at once: the tests marked slow (act, serving, PostgreSQL,
# kill -9 trials; mostly waiting on subprocesses) beside the rest. On CI's two cores this keeps `make test`
# well under `.ci/run`'s 30 minutes. Each process has its own temporary folder; the slow half's output is
# printed when both are done. Exit status: non-zero when either half failed. Extra arguments go to both.
set -uo pipefail
python="${PYTHON:-.venv/bin/python}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mlspec-tests.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$python" -m pytest -m slow --basetemp "$work/slow" "$@" > "$work/slow.log" 2>&1 &
slow_pid=$!
"$python" -m pytest -m "not slow" --basetemp "$work/fast" "$@"
fast_status=$?
wait "$slow_pid"
slow_status=$?
echo "---- the tests marked slow (run beside the others) ----"
cat "$work/slow.log"
if [ "$fast_status" -ne 0 ] || [ "$slow_status" -ne 0 ]; then
    echo "tests failed: not slow exited $fast_status, slow exited $slow_status" >&2
    exit 1
fi
