#!/usr/bin/env bash
# What BDAT (RFC 3030 CHUNKING) costs per email compared with DATA, end to end: the standard campaign sent by
# `herald send` to one sink that offers CHUNKING (bench/Herald.BenchSink: Postfix's smtp-sink offers no CHUNKING and the
# SmtpServer package has no BDAT), once with the relay's `chunking: false` (DATA) and once with the default (BDAT).
# Same sink, same messages, same connections; the modes alternate for --rounds rounds so a noisy machine hits both.
#
#   bench/chunking.sh [--recipients N] [--connections C] [--rounds R] [--work DIR] [--keep]
#
# Default: 200,000 recipients, 32 connections, 1 round. Prints, per mode: emails/s, CPU per email (herald's process,
# user+sys), peak RSS; then the BDAT/DATA ratios. Exits non-zero when a send fails or the sink did not receive every
# message by the expected command. Loopback only; every step bounded in time; every process it starts is stopped.
set -euo pipefail
export LC_ALL=C
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

recipients=200000
connections=32
rounds=1
work=
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --recipients) recipients=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
for v in recipients connections rounds; do
    [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -ge 1 ]] || { echo "--$v must be a positive integer" >&2; exit 2; }
done

log() { printf '[chunking %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$keep" = 0 ] && [ -n "${made_work:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "/usr/bin/time is needed (Debian package: time)" >&2; exit 2; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log "building Release"
timeout 900 dotnet build -c Release src/Herald.Cli -v q -nologo >/dev/null
timeout 900 dotnet build -c Release bench/Herald.BenchSink -v q -nologo >/dev/null
herald=(dotnet "$repo/src/Herald.Cli/bin/Release/net10.0/herald.dll")
sink_dll="$repo/bench/Herald.BenchSink/bin/Release/net10.0/Herald.BenchSink.dll"

if [ -z "$work" ]; then work=$(mktemp -d /tmp/herald-chunking.XXXXXX); made_work=1; else mkdir -p "$work"; fi
export HERALD_SECRET=herald-benchmark-signing-key-not-a-secret
unset HERALD_DB

# --- the sink, offering CHUNKING; bounded in time whatever happens ---
send_timeout=$(( 300 + recipients / 300 ))
timeout $(( (send_timeout + 120) * 2 * rounds )) dotnet "$sink_dll" --port 0 --chunking >"$work/sink.out" 2>&1 &
sink_pid=$!; pids+=("$sink_pid")
for _ in $(seq 100); do grep -q '^listening on' "$work/sink.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/sink.out" | head -1)
[ -n "$port" ] || { echo "the bench sink did not start:" >&2; cat "$work/sink.out" >&2; exit 1; }
log "bench sink (CHUNKING offered) on 127.0.0.1:$port"

log "generating the standard campaign: $recipients recipients"
timeout 1200 bench/gen-campaign.sh "$work/base" "$recipients" "smtp://127.0.0.1:$port" "$connections"

results="$work/results.tsv"
: >"$results"
for round in $(seq "$rounds"); do
    for mode in data bdat; do
        dir="$work/$mode-$round"
        rm -rf "$dir"; cp -r "$work/base" "$dir"
        if [ "$mode" = data ]; then
            sed -i 's/^    starttls: none$/    starttls: none\n    chunking: false/' "$dir/campaign.yml"
            grep -q '^    chunking: false$' "$dir/campaign.yml" || { echo "could not turn chunking off" >&2; exit 1; }
        fi
        timeout 1800 "${herald[@]}" prepare "$dir/campaign.yml" --db "$dir/herald.db" >"$dir/prepare.out" 2>&1 \
            || { echo "prepare failed:" >&2; tail -20 "$dir/prepare.out" >&2; exit 1; }
        log "round $round: herald send by ${mode^^}"
        set +e
        timeout "$send_timeout" "$TIME" -v -o "$dir/send.time" "${herald[@]}" send "$dir/campaign.yml" --db "$dir/herald.db" >"$dir/send.out" 2>&1
        rc=$?
        set -e
        sent=$(timeout 120 "${herald[@]}" status "$dir/campaign.yml" --db "$dir/herald.db" --json 2>/dev/null | sed -n 's/.*"sent": *\([0-9]*\).*/\1/p')
        if [ "$rc" != 0 ] || [ "${sent:-0}" != "$recipients" ]; then
            echo "herald send ($mode) failed: exit $rc, ${sent:-0} of $recipients sent" >&2; tail -20 "$dir/send.out" >&2; exit 1
        fi
        send_s=$(sed -n 's/^this run: [0-9]* sent in \([0-9.]*\)s.*/\1/p' "$dir/send.out" | tail -1)
        cpu_s=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$dir/send.time")
        rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/send.time")
        printf '%s\t%s\t%s\t%s\n' "$mode" "$send_s" "$cpu_s" "$rss_kb" >>"$results"
    done
done

# The sink must have received every message, each by the command of its mode.
kill -TERM "$sink_pid" 2>/dev/null || true
wait "$sink_pid" 2>/dev/null || true
received=$(sed -n 's/^received \([0-9]*\) messages (\([0-9]*\) by DATA, \([0-9]*\) by BDAT)$/\1 \2 \3/p' "$work/sink.out")
read -r total by_data by_bdat <<<"${received:-0 0 0}"
expected=$(( recipients * rounds ))
if [ "$by_data" -lt "$expected" ] || [ "$by_bdat" -lt "$expected" ]; then
    echo "the sink received $by_data by DATA and $by_bdat by BDAT; expected at least $expected of each" >&2; exit 1
fi

load=$(cut -d' ' -f1-3 /proc/loadavg)
awk -F'\t' -v n="$recipients" -v c="$connections" -v load="$load" -v cores="$(nproc)" '
    { s[$1] += $2; cpu[$1] += $3; if ($4 > rss[$1]) rss[$1] = $4; runs[$1]++ }
    END {
        printf "recipients=%d connections=%d rounds=%d cores=%d load=%s (bench sink offering CHUNKING, same for both)\n", n, c, runs["data"], cores, load
        for (m in runs) {
            rate[m] = n * runs[m] / s[m]; us[m] = cpu[m] / (n * runs[m]) * 1e6
        }
        printf "DATA: %.0f emails/s, %.0f us CPU/email, peak RSS %.0f MB\n", rate["data"], us["data"], rss["data"] / 1024
        printf "BDAT: %.0f emails/s, %.0f us CPU/email, peak RSS %.0f MB\n", rate["bdat"], us["bdat"], rss["bdat"] / 1024
        printf "BDAT/DATA: rate %.2f, CPU per email %.2f (%+.0f us/email)\n", rate["bdat"] / rate["data"], us["bdat"] / us["data"], us["bdat"] - us["data"]
    }' "$results"
