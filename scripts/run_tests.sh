#!/usr/bin/env bash
# The whole test suite in two pytest processes at once, so both of CI's cores work and `make test` stays
# well under `.ci/run`'s 30 minutes: one runs the tests not marked slow, then the act end-to-end tests
# (GitHub Actions workflows run for real); the other runs the remaining tests marked slow (serving,
# PostgreSQL, kill -9 trials, monitoring soundness), which take about as long. Each pytest has its own
# temporary folder; the second process's output is printed when both are done. Exit status: non-zero when
# any part failed. Extra arguments go to every pytest.
set -uo pipefail
python="${PYTHON:-.venv/bin/python}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mlspec-tests.XXXXXX")"
trap 'rm -rf "$work"' EXIT
act_tests=(tests/e2e/test_act.py tests/e2e/test_act_user_repo.py)

"$python" -m pytest -m slow --basetemp "$work/slow" "${act_tests[@]/#/--ignore=}" "$@" > "$work/slow.log" 2>&1 &
slow_pid=$!
"$python" -m pytest -m "not slow" --basetemp "$work/fast" "$@"
fast_status=$?
echo "---- the act end-to-end tests ----"
"$python" -m pytest -m slow --basetemp "$work/act" "$@" "${act_tests[@]}"
act_status=$?
# no tests selected (pytest exit 5) is not a failure: `-k` may leave one part with nothing to run
[ "$act_status" -eq 5 ] && act_status=0
wait "$slow_pid"
slow_status=$?
[ "$slow_status" -eq 5 ] && slow_status=0
echo "---- the other tests marked slow (run beside the above) ----"
cat "$work/slow.log"
if [ "$fast_status" -ne 0 ] || [ "$act_status" -ne 0 ] || [ "$slow_status" -ne 0 ]; then
    echo "tests failed: not slow exited $fast_status, act $act_status, other slow $slow_status" >&2
    exit 1
fi
