#!/usr/bin/env bash
# Install the MLflow tracking server the tests start (tests/e2e/conftest.py, mlflow_server) into a virtualenv of
# its own, and print the environment that points the tests at it:
#
#     eval "$(bash scripts/ci_mlflow.sh)"
#
# stdout carries only `export` lines; progress goes to stderr. The server is pinned by
# requirements/mlflow-server.txt and never shares an environment with mlspec (the full `mlflow` package pins
# versions mlspec's own resolution must not inherit). The virtualenv lives in
# ${MLSPEC_MLFLOW_VENV:-$XDG_CACHE_HOME/mlspec/mlflow-server-<hash of the pins>} and is reused while the pins are
# the same, so only the first run on a machine installs (about 30 s from the package index); a marker written
# last tells a complete install from an interrupted one, which is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."

PINS=requirements/mlflow-server.txt
PYTHON="${PYTHON3:-python3}"
log() { echo "ci_mlflow: $*" >&2; }

hash="$( { "$PYTHON" --version 2>&1; cat "$PINS"; } | sha256sum | cut -c1-12)"
VENV="${MLSPEC_MLFLOW_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mlspec/mlflow-server-$hash}"

if [[ -x "$VENV/bin/mlflow" && -e "$VENV/.mlspec-complete" ]]; then
    log "reusing the MLflow server in $VENV"
else
    started=$(date +%s)
    log "installing the MLflow server ($(grep -m1 '^mlflow==' "$PINS")) into $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$PINS" >&2
    "$VENV/bin/python" -m pip check >&2
    touch "$VENV/.mlspec-complete"  # last: a folder without it (an interrupted install) is rebuilt next time
    log "installed in $(( $(date +%s) - started )) s"
fi
"$VENV/bin/mlflow" --version >&2
printf 'export MLSPEC_TEST_MLFLOW=%q\n' "$VENV/bin/mlflow"
