#!/usr/bin/env bash
# Sourced by the ledger benchmarks (bench/ledger.sh, bench/ledger-indexes.sh) after $work (a folder of their own) and
# $db (a PostgreSQL address, or empty) are set: starts a private cluster (.ci/postgres.sh) when $db is empty, sets
# $server (the address without its database) and $base (the database's name), and on exit drops the scratch database
# named by $scratch (when set), stops the private cluster and removes $work.
scratch=
cleanup() {
    if [ -n "$scratch" ]; then
        psql "$server/postgres" -qAtc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    declare -F herald_pg_stop >/dev/null && herald_pg_stop
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$db" ]; then
    # shellcheck source=../.ci/postgres.sh
    source .ci/postgres.sh
    db=$HERALD_TEST_PG
fi
command -v psql >/dev/null || { echo "psql is needed (Debian's postgresql-client)" >&2; exit 1; }
server=${db%/*}
base=${db##*/}; base=${base%%\?*}
