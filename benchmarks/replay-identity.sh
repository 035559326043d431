#!/usr/bin/env bash
# Seed-exact replay check for a speed change: prints, for one build, every scenario's deterministic seed-1 outcome
# (exit code, trace hash, violations kept) and, for a few wrong scenarios, what `explore` finds (first violating
# seed, schedules to it, its trace hash). Run it on the build before and the build after and diff the two files:
# they must be identical.
#
#   benchmarks/replay-identity.sh BUILD_DIR OUT_FILE [SCENARIO_DIR]
#   diff before.txt after.txt
# RUNS=0 skips the per-scenario runs; EXPLORE_WRONG and EXPLORE_SEEDS choose the explored scenarios (--all).
#
# BUILD_DIR holds HvIommu.Actors.dll (e.g. src/Actors/bin/Release/net10.0). Runs one process at a time.
set -u
bin=${1:?usage: replay-identity.sh BUILD_DIR OUT_FILE [SCENARIO_DIR]}
out=${2:?usage: replay-identity.sh BUILD_DIR OUT_FILE [SCENARIO_DIR]}
dir=${3:-$(dirname "$0")/../config/scenarios}
explore_wrong=${EXPLORE_WRONG:-"h1-free-tables-wrong h2-free-iova-wrong h17-input-page-wrong h3-lazy-window-wrong h4-devtlb-first-wrong"}
runs=${RUNS:-1}
explore_seeds=${EXPLORE_SEEDS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$out"
for f in $( [ "$runs" = 1 ] && ls "$dir"/*.conf ); do
  n=$(basename "$f" .conf)
  dotnet "$bin/HvIommu.Actors.dll" run --config "$f" --mode deterministic --seed 1 --report "$tmp/r.json" --plain > /dev/null 2>&1
  rc=$?
  h=$(python3 -c "import json,sys;r=json.load(open(sys.argv[1]));print(r.get('traceHash'), len(r.get('violations',[])), r.get('stats',{}).get('steps'))" "$tmp/r.json" 2>/dev/null)
  echo "run $n rc=$rc ${h:-no-report}" >> "$out"
  rm -f "$tmp/r.json"
done
for n in $explore_wrong; do
  f="$dir/$n.conf"
  [ -f "$f" ] || { echo "explore $n: no such scenario" >> "$out"; continue; }
  # Every schedule (--all), so schedules after the first on one actor system are compared too: the first
  # violation (seed, schedules to it, trace hash) and per kind how many schedules found it and the first seed.
  dotnet "$bin/HvIommu.Actors.dll" explore --config "$f" --seeds "$explore_seeds" --all --plain > "$tmp/e.txt" 2>&1
  echo "explore $n seeds=$explore_seeds rc=$?" >> "$out"
  grep -E '^first violation:|^  [A-Za-z]+: [0-9,]+ schedule\(s\), first seed|^result:' "$tmp/e.txt" | sed -E 's/ after [0-9.]+ s and / /; s/^/  /' >> "$out"
done
