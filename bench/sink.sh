#!/usr/bin/env bash
# Measures the capture sink (`herald sink`) with Postfix's smtp-source:
# MESSAGES messages of SIZE bytes over SESSIONS parallel connections, on a free loopback port.
# Usage: bench/sink.sh [MESSAGES=20000] [SESSIONS=20] [SIZE=51200] [extra sink options, e.g. --out /tmp/eml]
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES=${1:-20000}
SESSIONS=${2:-20}
SIZE=${3:-51200}
shift $(( $# < 3 ? $# : 3 ))
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
[ -x "$SMTP_SOURCE" ] || { echo "smtp-source not found (Debian package: postfix)" >&2; exit 2; }

dotnet build -c Release src/Herald.Cli -v q -nologo >/dev/null
work=$(mktemp -d)
trap 'kill "$sink_pid" 2>/dev/null || true; wait "$sink_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# Bounded: the sink dies after 5 minutes whatever happens.
timeout 300 dotnet src/Herald.Cli/bin/Release/net10.0/herald.dll sink --port 0 --log "$work/sink.log" "$@" >"$work/sink.out" 2>&1 &
sink_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on' "$work/sink.out" 2>/dev/null && break
    sleep 0.1
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/sink.out" | head -1)
[ -n "$port" ] || { echo "sink did not start:" >&2; cat "$work/sink.out" >&2; exit 1; }

# A short warm-up so the JIT does not count against the measured run.
timeout 60 "$SMTP_SOURCE" -s 4 -m 200 -l "$SIZE" -f a@b.example -t c@d.example "127.0.0.1:$port"

start=$(date +%s.%N)
timeout 240 "$SMTP_SOURCE" -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f a@b.example -t c@d.example "127.0.0.1:$port"
end=$(date +%s.%N)

logged=$(wc -l <"$work/sink.log")
awk -v m="$MESSAGES" -v s="$SIZE" -v c="$SESSIONS" -v t0="$start" -v t1="$end" -v logged="$logged" 'BEGIN {
    t = t1 - t0
    printf "capture sink: %d messages of %d bytes over %d connections in %.2f s: %.0f msgs/s, %.1f MB/s (log lines: %d incl. warm-up)\n",
        m, s, c, t, m / t, m * s / t / 1e6, logged
}'
