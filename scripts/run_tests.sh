#!/usr/bin/env bash
# The whole test suite in two pytest streams at once, so both of CI's cores work and `make test` stays
# well under `.ci/run`'s 30 minutes: one runs the tests not marked slow, then the act end-to-end tests of
# tests/e2e/test_act.py (GitHub Actions workflows run for real); the other runs the remaining tests marked
# slow (serving, PostgreSQL, kill -9 trials, monitoring soundness), then the act tests of
# tests/e2e/test_act_user_repo.py. The parts before the act tests take about as long (9.9 and 10.8 minutes
# in one run, 13.6 and 14.5 in a more loaded one), and so do the two act files (4.9 and 5.3 minutes side by
# side), so the streams end close together: 16.9 minutes in all (2026-12-06, benchmarks/README.md's "Test
# suite time"). With every act test after the tests not marked slow, that stream was the long pole (13.6 +
# 8.1 minutes while the other was done at 14.5). Each pytest has its own temporary folder; the second
# stream's output is printed when both are done. Exit status: non-zero when any part failed. Extra
# arguments go to every pytest.
set -uo pipefail
python="${PYTHON:-.venv/bin/python}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mlspec-tests.XXXXXX")"
trap 'rm -rf "$work"' EXIT
act_fast=tests/e2e/test_act.py            # after the tests not marked slow
act_slow=tests/e2e/test_act_user_repo.py  # after the other tests marked slow

# no tests selected (pytest exit 5) is not a failure: `-k` may leave a part with nothing to run
status() { local code="$1"; [ "$code" -eq 5 ] && code=0; echo "$code"; }

(
    "$python" -m pytest -m slow --basetemp "$work/slow" --ignore="$act_fast" --ignore="$act_slow" "$@"
    slow=$(status $?)
    echo "---- the act end-to-end tests of $act_slow ----"
    "$python" -m pytest -m slow --basetemp "$work/act-slow" "$@" "$act_slow"
    act=$(status $?)
    echo "$slow $act" > "$work/slow.status"
) > "$work/slow.log" 2>&1 &
slow_pid=$!
"$python" -m pytest -m "not slow" --basetemp "$work/fast" "$@"
fast_status=$(status $?)
echo "---- the act end-to-end tests of $act_fast ----"
"$python" -m pytest -m slow --basetemp "$work/act-fast" "$@" "$act_fast"
act_status=$(status $?)
wait "$slow_pid"
read -r slow_status act_slow_status < "$work/slow.status" || { slow_status=1; act_slow_status=1; }
echo "---- the other tests marked slow, then $act_slow (run beside the above) ----"
cat "$work/slow.log"
if [ "$fast_status" -ne 0 ] || [ "$act_status" -ne 0 ] || [ "$slow_status" -ne 0 ] || [ "$act_slow_status" -ne 0 ]; then
    echo "tests failed: not slow exited $fast_status, $act_fast $act_status, other slow $slow_status," \
         "$act_slow $act_slow_status" >&2
    exit 1
fi
