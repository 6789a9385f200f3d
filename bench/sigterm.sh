#!/usr/bin/env bash
# How long each herald command takes to stop after a real SIGTERM while it is busy (issue 11: within 2 s).
# Builds Release, writes the standard campaign with N recipients (default 300,000), prepares and sends part of it to
# Postfix's smtp-sink, then starts each command on that input, sends SIGTERM once it is working (its first output
# line, plus WARM seconds), and measures the time to exit. Loopback only; every wait bounded.
# Usage: bench/sigterm.sh [RECIPIENTS]        (env: WARM=1.0 seconds after the first line before the signal)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
recipients=${1:-300000}
WARM=${WARM:-1.0}
export PATH="$PATH:/usr/sbin"
command -v smtp-sink >/dev/null || { echo "smtp-sink is not installed (apt-get install postfix)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== build (Release)" >&2
dotnet build -c Release src/Herald.Cli -o "$work/bin" -nologo -v q >/dev/null
herald() { dotnet "$work/bin/herald.dll" "$@"; }
export HERALD_SECRET="sigterm-$(date +%s%N)-secret"
export XDG_DATA_HOME="$work/xdg"

sink_port=$(free_port)
smtp-sink -c -u "$(id -un)" "127.0.0.1:$sink_port" 256 &
pids+=($!)
bash bench/gen-campaign.sh "$work/c" "$recipients" "smtp://127.0.0.1:$sink_port" 8 >/dev/null
campaign="$work/c/campaign.yml"
db="$work/herald.db"
echo "== prepare $recipients recipients" >&2
timeout 600 dotnet "$work/bin/herald.dll" prepare "$campaign" --db "$db" >/dev/null
# An address list for suppress import to read.
{ echo email; awk -F, 'NR>1 && NR<=200001 {print $1}' "$work/c/recipients.csv"; } > "$work/suppress.csv"

# measure NAME -- ARGS...: start, wait for the first line (bounded 120 s) + WARM, SIGTERM, time to exit (bounded 30 s).
measure() {
    local name=$1; shift; shift
    local out="$work/$name.out"
    : > "$out"
    dotnet "$work/bin/herald.dll" "$@" >"$out" 2>&1 &
    local pid=$!
    pids+=("$pid")
    local waited=0
    while [ ! -s "$out" ] && kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 1200 ]; do sleep 0.1; waited=$((waited + 1)); done
    sleep "$WARM"
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" && rc=0 || rc=$?
        printf '%-16s finished before the signal (exit %s)\n' "$name" "$rc"
        return
    fi
    local start end rc
    start=$(date +%s%N)
    kill -TERM "$pid"
    local bound=300
    while kill -0 "$pid" 2>/dev/null && [ "$bound" -gt 0 ]; do sleep 0.01; bound=$((bound - 1)); done
    end=$(date +%s%N)
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"; printf '%-16s DID NOT STOP within 3 s\n' "$name"; wait "$pid" 2>/dev/null || true; return
    fi
    wait "$pid" && rc=0 || rc=$?
    printf '%-16s stopped %5d ms after SIGTERM (exit %s)\n' "$name" $(( (end - start) / 1000000 )) "$rc"
}

port=$(free_port)
{
    echo "sigterm.sh: $recipients recipients, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start"
    measure validate -- validate "$campaign" --all --db "$db"
    measure preview -- preview "$campaign" --out "$work/preview" --db "$db"
    measure send -- send "$campaign" --db "$db"
    measure report -- report "$campaign" --json --db "$db"
    measure events-export -- events export "$campaign" --db "$db"
    measure status -- status "$campaign" --db "$db"
    measure suppress-import -- suppress import "$work/suppress.csv" --db "$db"
    measure serve -- serve --db "$db" --urls "http://127.0.0.1:$port"
    measure sink -- sink --port 0
    measure bounces-listen -- bounces listen --listen "127.0.0.1:$(free_port)" --db "$db"
    measure prepare -- prepare "$campaign" --db "$work/other.db"
    echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
}
