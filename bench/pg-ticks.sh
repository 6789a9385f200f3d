#!/usr/bin/env bash
# Sourced by the benchmarks that read the PostgreSQL server's CPU time (bench/ledger-indexes.sh, bench/run.sh --db):
# pg_ticks prints the CPU time in clock ticks (getconf CLK_TCK) of every `postgres` process on this machine, plus that
# of the backends that have exited (the postmaster's children). Only meaningful when the server runs on this machine
# and no other PostgreSQL on it is busy (its time would count too).
pg_ticks() {
    local total=0 pid fields parent utime stime cutime cstime
    for pid in $(pgrep -x postgres); do
        fields=$(cut -d' ' -f4,14-17 "/proc/$pid/stat" 2>/dev/null) || continue
        read -r parent utime stime cutime cstime <<<"$fields"
        total=$(( total + utime + stime ))
        if [ "$(cat "/proc/$parent/comm" 2>/dev/null)" != postgres ]; then
            total=$(( total + cutime + cstime ))
        fi
    done
    echo "$total"
}
