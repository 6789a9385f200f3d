#!/usr/bin/env bash
# What the recipients table's index layout costs the ledger on PostgreSQL: the same load as bench/ledger.sh (one
# simulated sender: claim a batch, then commit its `sending` marks with the previous batch's outcomes), on three
# layouts, interleaved in rounds so that the shared machine's noise falls on each alike:
#   current      the schema as migrated (ix_recipients_work, ix_recipients_recipient, ix_recipients_lease, ix_recipients_pending)
#   no-lease     without ix_recipients_lease, fillfactor 70 (the claim, which only sets the lease, can then be a HOT update)
#   no-work      without ix_recipients_work and ix_recipients_lease, fillfactor 70 (marks and outcomes update one index fewer)
# It reports the rate and the PostgreSQL server's CPU time per recipient during the load phase (the planning COPY
# excluded), read from /proc for every `postgres` process: the server must run on this machine, and no other PostgreSQL
# should be busy on it (its time would count too). An experiment, not a schema: the variants drop indexes that counts,
# recovery and the workers' list read (docs/PERFORMANCE.md).
#
#   bench/ledger-indexes.sh [--recipients N] [--rounds R] [--batch B] [--db postgresql://USER@HOST:PORT/DB] [--doc]
#
# Without --db it starts a private PostgreSQL cluster (.ci/postgres.sh) and stops it at the end. With --db it creates
# scratch databases named DB_idx_<pid>_<n> on that server and drops each after its run. --doc writes the figures into
# docs/PERFORMANCE.md ("Ledger index layout"). Loopback only, bounded in time.
set -euo pipefail
export LC_ALL=C
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

recipients=60000
rounds=3
batch=128
db=
write_doc=0
while [ $# -gt 0 ]; do
    case "$1" in
        --recipients) recipients=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --db) db=$2; shift 2 ;;
        --doc) write_doc=1; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
log() { printf '[ledger-indexes %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

work=$(mktemp -d /tmp/herald-ledger-indexes.XXXXXX)
# shellcheck source=pg-scratch.sh
source bench/pg-scratch.sh
pgrep -x postgres >/dev/null || { echo "no postgres process on this machine: the server's CPU time cannot be read" >&2; exit 1; }

# shellcheck source=pg-ticks.sh
source bench/pg-ticks.sh

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log "building Release"
timeout 900 dotnet build -c Release bench/Herald.LedgerLoad -v q -nologo >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
load=(dotnet bench/Herald.LedgerLoad/bin/Release/net10.0/Herald.LedgerLoad.dll)
seconds=$(( 60 + recipients / 500 ))
tick=$(getconf CLK_TCK)

declare -A variant_sql=(
    [current]=""
    [no-lease]="DROP INDEX ix_recipients_lease; ALTER TABLE recipients SET (fillfactor = 70);"
    [no-work]="DROP INDEX ix_recipients_work; DROP INDEX ix_recipients_lease; ALTER TABLE recipients SET (fillfactor = 70);"
)
variants=(current no-lease no-work)
results=()
n=0
for round in $(seq 1 "$rounds"); do
    for v in "${variants[@]}"; do
        n=$(( n + 1 ))
        scratch="${base}_idx_$$_$n"
        psql "$server/postgres" -qAtc "CREATE DATABASE $scratch" >/dev/null
        pg="$server/$scratch"
        timeout 120 "${load[@]}" --db "$pg" --recipients 10 --senders 1 --seconds 60 >/dev/null 2>"$work/migrate.log" || { cat "$work/migrate.log" >&2; exit 1; }
        [ -n "${variant_sql[$v]}" ] && psql "$pg" -qAtc "${variant_sql[$v]}" >/dev/null
        log "round $round: $v, $recipients recipients, batch $batch"
        timeout $(( seconds * 2 )) "${load[@]}" --db "$pg" --recipients "$recipients" --senders 1 --batch "$batch" --seconds "$seconds" \
            >"$work/load.out" 2>"$work/load.err" &
        pid=$!
        # The load phase starts when the plan is written; a bounded wait (the plan of 1M rows takes under a minute),
        # and no figure at all if the plan was not seen, since the server's time would then include its COPY.
        for _ in $(seq 1 1200); do
            grep -q '^planned' "$work/load.err" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        grep -q '^planned' "$work/load.err" || { kill "$pid" 2>/dev/null; cat "$work/load.err" >&2; echo "$v: the plan was not written within 120 s" >&2; exit 1; }
        before=$(pg_ticks)
        wait "$pid" || { cat "$work/load.err" >&2; exit 1; }
        after=$(pg_ticks)
        us=$(( (after - before) * 1000000 / tick / recipients ))
        results+=("layout=$v round=$round $(sed 's/^backend=postgresql //; s/ claims=[0-9]* commits=[0-9]*//; s/ lost=.*//' "$work/load.out") pg_cpu_us_per_recipient=$us")
        echo "${results[-1]}"
        psql "$server/postgres" -qAtc "DROP DATABASE $scratch WITH (FORCE)" >/dev/null
        scratch=
    done
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { printf '%s\n' "${results[@]}" | awk -v layout="layout=$1" -v key="$2=" '$1 == layout { for (i = 1; i <= NF; i++) if (index($i, key) == 1) { s = substr($i, length(key) + 1); sub(/\/s$/, "", s); print s + 0 } }'; }
summary=()
base_cpu=$(field current pg_cpu_us_per_recipient | median)
base_rate=$(field current rate | median)
for v in "${variants[@]}"; do
    cpu=$(field "$v" pg_cpu_us_per_recipient | median)
    rate=$(field "$v" rate | median)
    summary+=("$(printf '%-9s median rate %5d/s (%.2fx current), PostgreSQL CPU %4d us per recipient (%.2fx current)' \
        "$v" "$rate" "$(echo "$rate $base_rate" | awk '{ print $1 / $2 }')" "$cpu" "$(echo "$cpu $base_cpu" | awk '{ print $1 / $2 }')")")
done
printf '%s\n' "${summary[@]}"
load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average: $load_avg"

if [ "$write_doc" = 1 ]; then
    source bench/perf-doc.sh
    section=$(mktemp)
    {
        echo "## Ledger index layout (PostgreSQL)"
        echo
        echo "\`bench/ledger-indexes.sh --recipients $recipients --rounds $rounds --batch $batch\` on $(date -u +%Y-%m-%d): $(nproc) cores"
        echo "($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load average $load_avg at the end; PostgreSQL $(psql "$server/postgres" -qAtc 'SHOW server_version')."
        echo "One simulated sender per run, the layouts interleaved; the server's CPU time is read from /proc over the load phase."
        echo
        echo '```'
        printf '%s\n' "${results[@]}" "${summary[@]}"
        echo '```'
        echo
    } >"$section"
    perf_doc_section "Ledger index layout (PostgreSQL)" "$section"
    rm -f "$section"
    log "wrote the figures to docs/PERFORMANCE.md"
fi
