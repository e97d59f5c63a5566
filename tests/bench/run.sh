#!/usr/bin/env bash
# The side-by-side benchmark (make bench): plain hls.js, p2p-media-loader and hlsmesh on
# the same origin, tracker and stream, inside a loopback-only network namespace.
#
#   tests/bench/run.sh                              8 viewers, live then VOD
#   VIEWERS=4 BENCH_MODES=vod tests/bench/run.sh
#   tests/bench/run.sh tests/bench/ttff.mjs         start-up only, paired rounds (make bench-ttff)
#
# See the script (tests/bench/bench.mjs, ttff.mjs) for the knobs and what is measured;
# results in target/bench/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
for f in js/dist/hlsmesh.js node_modules/playwright-core node_modules/p2p-media-loader-core/dist node_modules/p2p-media-loader-hlsjs/dist; do
  [[ -e $f ]] || { echo "bench: $f missing (make build; scripts/ensure-tools.sh)" >&2; exit 1; }
done
exec tests/support/netns-run node "${1:-tests/bench/bench.mjs}"
