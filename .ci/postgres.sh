#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests and benchmarks: Debian's `postgresql` package (installed when missing,
# its own service never started), a cluster in a temporary folder owned by the `postgres` user (initdb refuses root),
# listening on a free loopback port with password (scram-sha-256) authentication, superuser role `herald`.
#
#   source .ci/postgres.sh          # starts it and exports HERALD_TEST_PG, PGPASSWORD, HERALD_PG_BIN, HERALD_PG_DATA,
#                                   # HERALD_PG_PORT; `herald_pg_stop` stops it and deletes the folder
#
# It never touches a cluster already running on this machine (it picks a port nobody listens on, default 55432 is
# skipped) and works as root on a fresh Debian machine (CI) as well as for a developer.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "source this file: 'source .ci/postgres.sh' (it exports HERALD_TEST_PG and PGPASSWORD into your shell)" >&2
    exit 2
fi

herald_pg_log() { printf '[postgres %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

herald_pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

herald_pg_install() {
    herald_pg_log "installing Debian's postgresql (its service is not started)"
    local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    local policy=/usr/sbin/policy-rc.d added=0
    # policy-rc.d 101: the package scripts may not start the distribution's own cluster.
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && added=1
    fi
    timeout 300 $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive timeout 900 $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    local rc=$?
    [ "$added" = 0 ] || $sudo rm -f "$policy"
    return $rc
}

herald_pg_free_port() {
    local port
    for _ in $(seq 100); do
        port=$(( 20000 + RANDOM % 30000 ))
        [ "$port" = 55432 ] && continue
        if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then echo "$port"; return 0; fi
    done
    return 1
}

herald_pg_start() {
    local bin dir port password as=()
    bin=$(herald_pg_bindir) || { herald_pg_install && bin=$(herald_pg_bindir); } || { herald_pg_log "no PostgreSQL binaries after installing"; return 1; }
    dir=$(mktemp -d /tmp/herald-pg.XXXXXX) || return 1
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
        chown postgres: "$dir"
        as=(runuser -u postgres --)
    fi
    password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
    printf '%s\n' "$password" >"$dir/pwfile"
    [ "${#as[@]}" = 0 ] || chown postgres: "$dir/pwfile"
    chmod 600 "$dir/pwfile"
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U herald --pwfile="$dir/pwfile" --auth=scram-sha-256 -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    rm -f "$dir/pwfile"
    for _ in 1 2 3 4 5; do
        port=$(herald_pg_free_port) || return 1
        if "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c shared_buffers=256MB" start >/dev/null; then
            break
        fi
        port=
    done
    [ -n "$port" ] || { herald_pg_log "the cluster did not start"; cat "$dir/server.log" >&2; return 1; }
    export HERALD_PG_BIN="$bin" HERALD_PG_DATA="$dir/data" HERALD_PG_PORT="$port" HERALD_PG_DIR="$dir"
    export HERALD_TEST_PG="postgresql://herald@127.0.0.1:$port/postgres" PGPASSWORD="$password"
    herald_pg_log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir/data)"
}

herald_pg_stop() {
    [ -n "${HERALD_PG_DIR:-}" ] && [ -d "$HERALD_PG_DIR" ] || return 0
    local as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$HERALD_PG_BIN/pg_ctl" -D "$HERALD_PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    rm -rf "$HERALD_PG_DIR"
    unset HERALD_PG_DIR
}

herald_pg_start
