#!/usr/bin/env bash
# Sourced by the benchmark scripts: perf_doc_section HEADING FILE replaces the section "## HEADING" of
# docs/PERFORMANCE.md (up to the next "## ") by FILE's content, or appends it when there is none; other sections stay.
perf_doc_section() {
    local heading=$1 section=$2 doc=docs/PERFORMANCE.md
    [ -f "$doc" ] || printf '# Performance\n\n' >"$doc"
    awk -v heading="## $heading" -v section="$section" '
        $0 == heading { while ((getline line < section) > 0) print line; skip = 1; done = 1; next }
        skip && /^## / { skip = 0 }
        !skip { print }
        END { if (!done) { print ""; while ((getline line < section) > 0) print line } }
    ' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
}
