#!/usr/bin/env bash
# Prepare benchmark: 1,000,000 recipients joined with 8,000,000 recommendation rows, in CSV, JSONL and Parquet.
# Prints wall time and peak RSS of `herald prepare` per format (GNU time). Not part of the test suite.
# Usage: bench/prepare.sh [DATA_DIR] [RECIPIENTS]   (data is generated once into DATA_DIR, default /tmp/herald-prepare-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-/tmp/herald-prepare-bench}"
recipients="${2:-1000000}"
budget="${MEMORY_BUDGET:-512MB}"

dotnet build -c Release -v q -nologo src/Herald.Cli/Herald.Cli.csproj >/dev/null
dotnet build -c Release -v q -nologo bench/Herald.PrepareData/Herald.PrepareData.csproj >/dev/null
if [ ! -f "$data/.done-$recipients" ]; then
    rm -rf "$data"
    dotnet bench/Herald.PrepareData/bin/Release/net10.0/Herald.PrepareData.dll "$data" --recipients "$recipients" --per 8
    touch "$data/.done-$recipients"
fi
ls -lh "$data" | awk 'NR>1 {print "  " $5 "\t" $9}'

herald=src/Herald.Cli/bin/Release/net10.0/herald.dll
printf "%-8s %8s %8s %12s %s\n" format wall_s cpu_s peak_rss_MB result
for format in csv jsonl parquet; do
    db="$data/bench-$format.db"
    rm -f "$db" "$db-wal" "$db-shm"
    log="$data/time-$format.txt"
    /usr/bin/time -v dotnet "$herald" prepare "$data/campaign-$format.yml" --db "$db" --json --memory-budget "$budget" \
        >"$data/manifest-$format.json" 2>"$log"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
    cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {printf "%.1f", s}' "$log")
    result=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1])); d=m['data_sets'][0]; print(f\"deliverable={m['deliverable']} skipped={m['skipped_total']} matched={d['rows_matched']} spilled_runs={d['spilled_runs']}\")" "$data/manifest-$format.json")
    printf '%-8s %8s %8s %12s %s\n' "$format" "$wall" "$cpu" "$rss" "$result"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; wall time stretches with load, CPU time less so)"
