#!/usr/bin/env bash
# Reports at campaign scale (issue 12): builds a store of N recipients and E events (opens, Apple MPP prefetches, clicks on
# static and personalized links, security scanners, unsubscribes, one recipient flooding one link with a fifth of the
# events) with bench/Herald.ReportBench, then measures on it
#   - `herald report --json`: wall time and peak RSS (/usr/bin/time -v), twice (the first pays JIT and a cold cache);
#   - the dashboard: `herald serve` on a loopback dynamic port, log in, then the campaign page (/) and its data endpoint
#     (/api/campaigns/ID, the same JSON as report --json) and the overview (/api/campaigns): the first request (which may
#     wait for the report computed at start) and five more.
# SQLite always; PostgreSQL too with --db: a scratch database DB_report_<pid> on that server (created through its
# `postgres` database, PGPASSWORD for the password), dropped at the end.
#
#   bench/report.sh [--recipients 1000000] [--events 5000000] [--db postgresql://USER@HOST:PORT/DB] [--no-sqlite] [--keep DIR]
#
# --keep DIR keeps the stores (DIR/report.db, database DB_report_kept) and reuses them on the next run with the same DIR
# (the measurement again without the generation).
#
# Goals: report --json <= 5 s and <= 500 MB, campaign page <= 1 s. Loopback only; every step bounded by `timeout`.
set -euo pipefail
export LC_ALL=C
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

recipients=1000000
events=5000000
db=
sqlite=1
keep=
while [ $# -gt 0 ]; do
    case "$1" in
        --recipients) recipients=$2; shift 2 ;;
        --events) events=$2; shift 2 ;;
        --db) db=$2; shift 2 ;;
        --no-sqlite) sqlite=0; shift ;;
        --keep) keep=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
log() { printf '[report %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

work=${keep:-$(mktemp -d /tmp/herald-report.XXXXXX)}
mkdir -p "$work"
scratch=
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    if [ -n "$scratch" ] && [ -z "$keep" ]; then
        psql "$server/postgres" -qAtc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log "building Release (herald, bench/Herald.ReportBench)"
for project in src/Herald.Cli bench/Herald.ReportBench; do
    timeout 900 dotnet build -c Release "$project" -v q -nologo >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done
herald=(dotnet "$repo/src/Herald.Cli/bin/Release/net10.0/herald.dll")
bench=(dotnet "$repo/bench/Herald.ReportBench/bin/Release/net10.0/Herald.ReportBench.dll")
# Generous bounds: generation is ~1 min per million events on this 2-core machine.
generate_limit=$(( 300 + events / 5000 ))
export HERALD_SECRET=report-bench-secret-0123456789 HERALD_DASHBOARD_TOKEN=report-bench-dashboard-token
unset HERALD_METRICS_TOKEN HERALD_DB

# `/usr/bin/time -v` of one `herald report --json` (more arguments passed on): "seconds max_rss_mb cpu_seconds".
time_report() {
    local address=$1 out=$2
    shift 2
    timeout 600 /usr/bin/time -v -o "$work/time.txt" "${herald[@]}" report "$work/campaign/campaign.yml" --db "$address" --json --timeout 10m "$@" >"$out"
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
                /Maximum resident set size/ { rss = $2 / 1024 }
                /User time|System time/ { cpu += $2 }
                END { printf "%.2f %.0f %.2f\n", s, rss, cpu }' "$work/time.txt"
}

# One GET with the session cookie: "seconds http_code bytes".
get() {
    curl -sS -o "$work/body" -b "$work/cookies" --max-time 120 -w '%{time_total} %{http_code} %{size_download}' "$base$1"
}

measure() {
    local backend=$1 address=$2
    log "$backend: herald report --json (twice)"
    read -r t1 rss1 cpu1 < <(time_report "$address" "$work/report-$backend.json")
    read -r t2 rss2 cpu2 < <(time_report "$address" "$work/report-$backend.json")
    local opens clicks human_unique_clicks bots
    opens=$(jq '.raw.opens' "$work/report-$backend.json")
    clicks=$(jq '.raw.clicks' "$work/report-$backend.json")
    human_unique_clicks=$(jq '.human.unique_clicks' "$work/report-$backend.json")
    bots=$(jq '.bots.volume_recipients' "$work/report-$backend.json")
    echo "$backend report --json: run 1 ${t1} s (${cpu1} s CPU) ${rss1} MB peak RSS, run 2 ${t2} s (${cpu2} s CPU) ${rss2} MB (raw opens $opens, raw clicks $clicks, human unique clicks $human_unique_clicks, volume bots $bots)"

    # The same report by event scan (a date window holding every event reads the events, not the rollups): the
    # reference for the rollups' numbers, and the cost before them.
    log "$backend: herald report --json over a window holding every event (the event scan)"
    read -r t3 rss3 cpu3 < <(time_report "$address" "$work/report-$backend-scan.json" --from 2000-01-01T00:00:00Z --to 2100-01-01T00:00:00Z)
    local same=differ
    if cmp -s <(jq -S 'del(.generated_at, .range)' "$work/report-$backend.json") <(jq -S 'del(.generated_at, .range)' "$work/report-$backend-scan.json"); then
        same=equal
    fi
    echo "$backend report --json by event scan: ${t3} s (${cpu3} s CPU) ${rss3} MB peak RSS; rollup report and event-scan report $same"

    log "$backend: herald serve on a dynamic loopback port"
    "${herald[@]}" serve --db "$address" --urls http://127.0.0.1:0 --journal "$work/serve.journal" >"$work/serve.log" 2>&1 &
    server_pid=$!
    base=
    for _ in $(seq 1 600); do
        base=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/serve.log" | head -1)
        [ -n "$base" ] && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$base" ] || { echo "herald serve did not listen within 60 s" >&2; cat "$work/serve.log" >&2; exit 1; }
    rm -f "$work/cookies"
    curl -sS -o /dev/null -c "$work/cookies" --max-time 30 --data-urlencode "token=$HERALD_DASHBOARD_TOKEN" "$base/login"
    local page_first api_first overview page api overview_all api_all page_all
    page_first=$(get /)
    # Until the first report is computed the endpoint answers 503 ("still being computed") past its time limit.
    local started=$SECONDS tries=0
    api_first=$(get /api/campaigns/bench)
    while [ "$(cut -d' ' -f2 <<<"$api_first")" = 503 ] && [ $(( SECONDS - started )) -lt 600 ]; do
        tries=$(( tries + 1 ))
        api_first=$(get /api/campaigns/bench)
    done
    local first_report=$(( SECONDS - started ))
    [ "$(cut -d' ' -f2 <<<"$api_first")" = 200 ] || { echo "campaign endpoint answered: $api_first" >&2; cat "$work/body" >&2; exit 1; }
    # The page shows the report --json numbers: the same raw counts from both.
    [ "$(jq '.raw.clicks' "$work/body")" = "$clicks" ] || { echo "dashboard raw clicks $(jq '.raw.clicks' "$work/body") != report $clicks" >&2; exit 1; }
    overview=$(get /api/campaigns)
    page_all=() api_all=() overview_all=()
    for _ in 1 2 3 4 5; do
        page=$(get /); page_all+=("${page%% *}")
        api=$(get /api/campaigns/bench); api_all+=("${api%% *}")
        overview=$(get /api/campaigns); overview_all+=("${overview%% *}")
    done
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
    echo "$backend dashboard: first request: page ${page_first%% *} s, campaign data ready ${first_report} s after the first request ($tries answers 503 before), last request ${api_first%% *} s ($(cut -d' ' -f3 <<<"$api_first") bytes); then 5 each: page ${page_all[*]} s; campaign data ${api_all[*]} s; overview ${overview_all[*]} s"
}

if [ "$sqlite" = 1 ]; then
    if [ -n "$keep" ] && [ -f "$work/report.db" ] && [ -f "$work/campaign/campaign.yml" ]; then
        log "SQLite: reusing $work/report.db"
    else
        log "SQLite: generating $recipients recipients, $events events"
        timeout "$generate_limit" "${bench[@]}" generate --db "$work/report.db" --out "$work/campaign" --recipients "$recipients" --events "$events" >&2
    fi
    echo "SQLite store: $(du -m "$work/report.db" | cut -f1) MB"
    measure sqlite "$work/report.db"
fi

if [ -n "$db" ]; then
    command -v psql >/dev/null || { echo "psql is needed (Debian's postgresql-client)" >&2; exit 1; }
    server=${db%/*}
    base_name=${db##*/}; base_name=${base_name%%\?*}
    if [ -n "$keep" ]; then scratch="${base_name}_report_kept"; else scratch="${base_name}_report_$$"; fi
    if [ -n "$keep" ] && [ -f "$work/postgres.generated" ]; then
        log "PostgreSQL: reusing $scratch"
    else
        psql "$server/postgres" -qAtc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null
        psql "$server/postgres" -qAtc "CREATE DATABASE $scratch" >/dev/null
        log "PostgreSQL ($scratch): generating $recipients recipients, $events events"
        timeout "$generate_limit" "${bench[@]}" generate --db "$server/$scratch" --out "$work/campaign" --recipients "$recipients" --events "$events" >&2
        [ -z "$keep" ] || touch "$work/postgres.generated"
    fi
    echo "PostgreSQL store: $(psql "$server/$scratch" -qAtc "SELECT pg_database_size(current_database()) / 1048576") MB, server $(psql "$server/postgres" -qAtc 'SHOW server_version')"
    measure postgresql "$server/$scratch"
fi

echo "machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/ { print $2 }') GB RAM; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
