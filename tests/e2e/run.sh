#!/usr/bin/env bash
# Run the end-to-end tests inside a loopback-only network namespace.
#
#   tests/e2e/run.sh [TEST_FILE...]      default: tests/e2e/*.test.mjs
#   P2P=0 tests/e2e/run.sh               plain hls.js baseline
#   VIEWERS=6 WATCH_S=90 tests/e2e/run.sh
#
# Needs root (network namespace), ffmpeg, nginx, /usr/bin/chromium and
# node_modules (scripts/ensure-tools.sh); with P2P on, js/dist/hlsmesh.js.
# Media is generated into target/media on first use; each run's logs, live
# segments and report.json are kept under target/e2e/ (last 3 runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if [[ ${P2P:-1} != 0 && ! -f js/dist/hlsmesh.js ]]; then
  echo "e2e: js/dist/hlsmesh.js not built (build the JS package first, or run with P2P=0)" >&2
  exit 1
fi
[[ -d node_modules/playwright-core ]] || { echo "e2e: node_modules missing (scripts/ensure-tools.sh)" >&2; exit 1; }

if [[ $# -eq 0 ]]; then
  set -- tests/e2e/*.test.mjs
fi
# --test-force-exit: a timed-out test never reaches its finally; exiting runs the
# harness's exit hook, which kills what it started by pid.
exec tests/support/netns-run node --test --test-concurrency=1 --test-force-exit --test-reporter=spec "$@"
