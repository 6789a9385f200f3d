#!/usr/bin/env bash
# Load test of `herald serve`'s click redirect (GET /c/{token}) with wrk, on loopback, for a bounded time.
# Builds Release, starts the server on a free port over a temp store, runs wrk --latency, stops the server
# (SIGTERM flushes the buffer), then checks that the store holds exactly as many clicks as the server redirected.
# Usage: bench/tracking-load.sh            (env: DURATION=10s THREADS=1 CONNECTIONS=32; a second wrk thread competes with the server for the 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is not installed (apt-get install sqlite3)" >&2; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
    if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== build (Release)"
dotnet build -c Release src/Herald.Cli -o "$work/bin" -nologo -v q >/dev/null
export HERALD_SECRET="bench-$(date +%s%N)-secret"
token=$(dotnet run bench/tracking-seed.cs -- "$work/herald.db" | tail -1)

echo "== start herald serve"
dotnet "$work/bin/herald.dll" serve --db "$work/herald.db" --urls "http://127.0.0.1:0" >"$work/serve.log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 300); do
    url=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/serve.log" | head -1)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "server did not start" >&2; cat "$work/serve.log"; exit 1; }
echo "server: $url"
test "$(curl -s -o /dev/null -w '%{http_code}' "$url/c/$token")" = 302

WARMUP=${WARMUP:-3s}
echo "== warm-up ($WARMUP, not measured: the JIT's tiering settles)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$url/c/$token" >/dev/null

echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url/c/$token" | tee "$work/wrk.txt"

echo "== server-side handling time of the redirects (histogram from /metrics, cumulative)"
curl -s "$url/metrics" | grep '^herald_redirect_duration_seconds' || true
served=$(curl -s "$url/metrics" | sed -n 's/^herald_tracking_requests_total{endpoint="click",outcome="ok"} \([0-9]*\)$/\1/p')
rejected=$(curl -s "$url/metrics" | sed -n 's/^herald_tracking_requests_total{endpoint="click",outcome="rejected"} \([0-9]*\)$/\1/p')
non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$work/wrk.txt")
measured=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.txt")

echo "== stop (SIGTERM: the journal is moved to the store, then deleted)"
kill -TERM "$pid"
wait "$pid" || true
pid=""
stored=$(sqlite3 "$work/herald.db" "SELECT COUNT(*) FROM tracking_events WHERE kind = 2;")
left=0
[ -d "$work/herald.db.journal" ] && left=$(find "$work/herald.db.journal" -name '*.events' -exec cat {} + | wc -l)

echo "redirects served (server metric, incl. probe + warm-up): $served"
echo "rejected: ${rejected:-0}   non-3xx seen by wrk: ${non2xx:-0}"
echo "requests completed in the measured run (wrk): $measured"
echo "clicks in the store after stop: $stored   (left in the journal: $left)"
if [ "$stored" = "$served" ] && [ "$left" = 0 ]; then
    echo "OK: every redirect was recorded exactly once"
else
    echo "MISMATCH: served $served, stored $stored, left in the journal $left" >&2
    exit 1
fi
