#!/usr/bin/env bash
# `wasm-pack test --headless --chrome` for crates/wasm, against a real tracker and origin.
# Runs itself inside a loopback-only network namespace (WebRTC between agents needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [[ ${HLSMESH_IN_NETNS:-} != 1 ]]; then
  demo/media/make-stream.sh target/media >/dev/null
  cargo fetch -q
  exec env HLSMESH_IN_NETNS=1 tests/support/netns-run "$0" "$@"
fi

run=$(mktemp -d /tmp/hlsmesh-wasm-test.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT

wait_for_line() { # file pattern seconds
  for _ in $(seq $(($3 * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "test-wasm: timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

node tests/support/tracker.mjs --port 18000 --quiet >"$run/tracker.log" 2>&1 &
pids+=($!)
demo/origin/run.sh --port 18080 --media target/media --root "$root" --log "$run/access.log" >"$run/origin.log" 2>&1 &
pids+=($!)
wait_for_line "$run/tracker.log" "tracker listening" 20
wait_for_line "$run/origin.log" "origin listening" 20

export HLSMESH_TEST_TRACKER=ws://127.0.0.1:18000
export HLSMESH_TEST_ORIGIN=http://127.0.0.1:18080
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-60}
wasm-pack --log-level warn test --headless --chrome --mode no-install crates/wasm
