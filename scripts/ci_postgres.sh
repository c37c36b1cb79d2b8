#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the test suite, listening only on 127.0.0.1, and print the
# environment that points the tests at it:
#
#     eval "$(bash scripts/ci_postgres.sh)"
#
# stdout carries only `export` lines; progress goes to stderr. Installs Debian's `postgresql` package
# when no server binaries are present. The cluster lives in $MLSPEC_PG_DIR (default
# /tmp/mlspec-pg-$PORT), owned by the `postgres` user when run as root (PostgreSQL refuses to run as
# root), with peer authentication on its private Unix socket and scram-sha-256 password authentication
# over TCP. Idempotent: when the server is already up it is reused (same password); when its folder is
# left over from a stopped server, a fresh cluster replaces it.
set -euo pipefail

PORT="${MLSPEC_PG_PORT:-54329}"
BASE="${MLSPEC_PG_DIR:-/tmp/mlspec-pg-${PORT}}"
DATA="$BASE/data"
RUN="$BASE/run"
LOG="$BASE/server.log"
PWFILE="$BASE/password"
ROLE=mlspec
DATABASE=mlspec_test

log() { echo "ci_postgres: $*" >&2; }

find_bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
        echo "$dir"
    elif command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
    fi
}

as_root() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

BIN="$(find_bindir)"
if [[ -z "$BIN" ]]; then
    log "installing PostgreSQL from Debian"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
    BIN="$(find_bindir)"
    [[ -n "$BIN" ]] || { log "no pg_ctl/initdb after installing postgresql"; exit 1; }
fi

# The server's OS user (and the cluster's superuser name, so peer authentication maps 1:1).
if [[ "$(id -u)" == 0 ]]; then
    OWNER=postgres
    as_owner() {
        if command -v runuser >/dev/null; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    }
else
    OWNER="$(id -un)"
    as_owner() { "$@"; }
fi

psql_admin() {
    as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U "$OWNER" -d postgres "$@"
}

if as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 && [[ -s "$PWFILE" ]]; then
    log "reusing the server already running in $BASE (port $PORT)"
    PASSWORD="$(cat "$PWFILE")"
else
    if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
        log "port $PORT is taken by another server; set MLSPEC_PG_PORT to a free port"
        exit 1
    fi
    if [[ -e "$BASE" && ! -e "$BASE/.mlspec-ci-postgres" ]] && [[ -n "$(ls -A "$BASE")" ]]; then
        log "$BASE exists and was not made by this script; refusing to replace it"
        exit 1
    fi
    log "creating a fresh cluster in $BASE ($("$BIN/postgres" --version))"
    rm -rf "$BASE"
    mkdir -p "$BASE"
    touch "$BASE/.mlspec-ci-postgres"
    chmod 755 "$BASE"
    # The password never appears on a command line: generated here, kept in a file only we can read.
    PASSWORD="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    (umask 077 && printf '%s' "$PASSWORD" > "$PWFILE")
    mkdir -p "$RUN"
    chmod 700 "$RUN"
    [[ "$OWNER" == "$(id -un)" ]] || chown "$OWNER": "$BASE" "$RUN"
    as_owner "$BIN/initdb" -D "$DATA" -U "$OWNER" -E UTF8 --no-locale \
        --auth-local=peer --auth-host=scram-sha-256 >&2
    cat <<EOF | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
# added by scripts/ci_postgres.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
password_encryption = 'scram-sha-256'
max_connections = 100
EOF
    cat <<EOF | as_owner tee "$DATA/pg_hba.conf" >/dev/null
# written by scripts/ci_postgres.sh: peer on the private socket, passwords over loopback TCP, nothing else
local all all                 peer
host  all all 127.0.0.1/32    scram-sha-256
EOF
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >&2
fi

# Role and database (idempotent). The SQL goes through stdin, so the password is not in `ps`.
psql_admin <<EOF
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN;
    END IF;
END
\$\$;
-- CREATEROLE: the tests make a read-only role, as a team gives pull requests a read-only credential
ALTER ROLE $ROLE WITH LOGIN CREATEROLE PASSWORD '$PASSWORD';
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE') \gexec
EOF

"$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 30
log "PostgreSQL is up on 127.0.0.1:$PORT (database $DATABASE, role $ROLE)"
printf 'export TEST_PG_PASSWORD=%s\n' "$PASSWORD"
# single quotes: ${env:...} is for mlspec to expand, not the shell
printf "export MLSPEC_TEST_PG_URL='postgresql://%s:\${env:TEST_PG_PASSWORD}@127.0.0.1:%s/%s'\n" \
    "$ROLE" "$PORT" "$DATABASE"
