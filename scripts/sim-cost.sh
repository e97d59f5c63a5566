#!/usr/bin/env bash
# What one event of the simulator costs, and why (docs/BENCHMARKS.md, "Simulator speed,
# ninth round"). Both use the benchmark build, target/sim-pgo/hlsmesh-sim (`make sim-pgo`).
#
#   scripts/sim-cost.sh scaling [N ...]   steady-live (seed 1) at each swarm size, one
#                                         after the other: CPU per event and per agent
#                                         input (default 100 300 1000 3000 10000). The
#                                         same work per event at every size: what grows
#                                         with the swarm is time spent waiting on memory.
#   scripts/sim-cost.sh instructions      steady-live, 300 viewers, 120 s, under
#                                         cachegrind: instructions per event and the
#                                         functions they are spent in. The same to
#                                         0.02% from run to run (hash tables' random
#                                         keys), where CPU time on a shared machine
#                                         moves by 10-30%; a change that leaves the
#                                         run's results alone should lower it.
#
# Runs go to target/sim-cost/. `instructions` needs valgrind (Debian: apt-get install
# valgrind); it takes about a minute.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sim=target/sim-pgo/hlsmesh-sim
out=target/sim-cost
[[ -x $sim ]] || { echo "sim-cost: $sim missing (make sim-pgo)" >&2; exit 1; }
mkdir -p "$out"

# The run's one record, from its JSON: field names as in crates/sim/src/report.rs.
field() {
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).runs[0];
           console.log(process.argv.slice(2).map((k) => r[k]).join(" "));' "$@"
}

# The simulator sets its allocator's options by running itself again unless they are
# set (crates/sim/src/main.rs): set here, so that cachegrind sees the run itself.
export MIMALLOC_ALLOW_LARGE_OS_PAGES=1 MIMALLOC_PURGE_DELAY=-1

case "${1:-}" in
  scaling)
    shift
    sizes=("$@")
    [[ ${#sizes[@]} -gt 0 ]] || sizes=(100 300 1000 3000 10000)
    printf '%8s %12s %12s %9s %14s %14s %9s\n' viewers events inputs "CPU s" "µs per event" "µs per input" "RSS MiB"
    for n in "${sizes[@]}"; do
      "$sim" steady-live "viewers=$n" seed=1 --out "$out/scaling-$n" --quiet >/dev/null
      read -r events inputs cpu rss < <(field "$out/scaling-$n/steady-live-$n.json" events agent_inputs cpu_s rss_mib)
      awk -v n="$n" -v e="$events" -v i="$inputs" -v c="$cpu" -v r="$rss" \
        'BEGIN { printf "%8d %12d %12d %9.1f %14.2f %14.2f %9.0f\n", n, e, i, c, c * 1e6 / e, c * 1e6 / i, r }'
    done
    ;;
  instructions)
    command -v valgrind >/dev/null || { echo "sim-cost: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out/cachegrind.out" \
      "$sim" steady-live viewers=300 duration=120 seed=1 --out "$out/instructions" --quiet \
      >/dev/null 2>"$out/cachegrind.log"
    ir=$(sed -n 's/.*I *refs: *//p' "$out/cachegrind.log" | tr -d ,)
    read -r events inputs cdn < <(field "$out/instructions/steady-live-300.json" events agent_inputs cdn_share)
    awk -v ir="$ir" -v e="$events" -v i="$inputs" -v c="$cdn" 'BEGIN {
      printf "%d instructions, %d events, %d agent inputs (CDN share %.4f%%)\n", ir, e, i, c * 100
      printf "%.0f instructions per event, %.0f per agent input\n", ir / e, ir / i }'
    cg_annotate "$out/cachegrind.out" 2>/dev/null | sed -n '/file:function/,/^$/p' | sed -n '3,22p'
    ;;
  *)
    # This file's opening comment, whatever its length.
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 2
    ;;
esac
