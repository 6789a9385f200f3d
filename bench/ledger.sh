#!/usr/bin/env bash
# The ledger's capacity: recipients per second that one store takes through claim → `sending` mark → outcome with the
# group commits Herald makes, for 1, 2, 4 and 8 simulated senders on PostgreSQL and one sender on SQLite, in the same
# run (bench/Herald.LedgerLoad). Answers "how many senders at ~3,000 emails/s can one PostgreSQL feed".
#
#   bench/ledger.sh [--recipients N] [--batch B] [--senders "1 2 4 8"] [--db postgresql://USER@HOST:PORT/DB] [--doc]
#
# Without --db it starts a private PostgreSQL cluster (.ci/postgres.sh: Debian's package, a free loopback port, default
# durability settings) and stops it at the end. With --db it creates a scratch database named DB_ledger_<pid> on that
# server (through its `postgres` database; PGPASSWORD / PGPASSFILE for the password) and drops it at the end. --doc writes the figures into
# docs/PERFORMANCE.md ("Ledger capacity"). Loopback only, bounded in time.
set -euo pipefail
export LC_ALL=C
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

recipients=200000
batch=128
senders_list="1 2 4 8"
db=
write_doc=0
while [ $# -gt 0 ]; do
    case "$1" in
        --recipients) recipients=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --senders) senders_list=$2; shift 2 ;;
        --db) db=$2; shift 2 ;;
        --doc) write_doc=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
log() { printf '[ledger %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

work=$(mktemp -d /tmp/herald-ledger.XXXXXX)
# shellcheck source=pg-scratch.sh
source bench/pg-scratch.sh
scratch="${base}_ledger_$$"
psql "$server/postgres" -qAtc "CREATE DATABASE $scratch" >/dev/null
pg="$server/$scratch"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log "building Release"
timeout 900 dotnet build -c Release bench/Herald.LedgerLoad -v q -nologo >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
load=(dotnet bench/Herald.LedgerLoad/bin/Release/net10.0/Herald.LedgerLoad.dll)
seconds=$(( 60 + recipients / 500 ))

results=()
log "SQLite, 1 sender, $recipients recipients, batch $batch"
results+=("$(timeout $(( seconds * 2 )) "${load[@]}" --db "$work/ledger.db" --recipients "$recipients" --senders 1 --batch "$batch" --seconds "$seconds")")
for s in $senders_list; do
    log "PostgreSQL, $s sender(s), $recipients recipients, batch $batch"
    results+=("$(timeout $(( seconds * 2 )) "${load[@]}" --db "$pg" --recipients "$recipients" --senders "$s" --batch "$batch" --seconds "$seconds")")
done

summary=$(printf '%s\n' "${results[@]}")
echo "$summary"
best=$(printf '%s\n' "${results[@]}" | awk '/backend=postgresql/ { for (i = 1; i <= NF; i++) if ($i ~ /^rate=/) { r = substr($i, 6) + 0; if (r > best) best = r } } END { printf "%d", best }')
echo "PostgreSQL ledger capacity: $best recipients/s at best, i.e. $(( best / 3000 )) senders at 3,000 emails/s (goal >= 30,000/s)"
load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average: $load_avg"

if [ "$write_doc" = 1 ]; then
    source bench/perf-doc.sh
    section=$(mktemp)
    {
        echo "## Ledger capacity (PostgreSQL and SQLite)"
        echo
        echo "\`bench/ledger.sh --recipients $recipients --batch $batch\` on $(date -u +%Y-%m-%d): $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),"
        echo "load average $load_avg at the end; PostgreSQL $(psql "$server/postgres" -qAtc 'SHOW server_version') with default durability (synchronous_commit on)."
        echo "Each simulated sender claims a batch, then commits the \`sending\` marks of that batch together with the outcomes of the"
        echo "previous one (Herald's group commit); PostgreSQL senders have their own connection pools, as separate processes would."
        echo
        echo '```'
        echo "$summary"
        echo "PostgreSQL ledger capacity: $best recipients/s at best, i.e. $(( best / 3000 )) senders at 3,000 emails/s"
        echo '```'
        echo
    } >"$section"
    perf_doc_section "Ledger capacity (PostgreSQL and SQLite)" "$section"
    rm -f "$section"
    log "wrote the figures to docs/PERFORMANCE.md"
fi
