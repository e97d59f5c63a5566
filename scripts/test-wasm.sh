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


# TRACKER=aquatic runs the same tests against aquatic_ws (crates.io) instead of the
# bittorrent-tracker package: the client must depend on neither's quirks.
case ${TRACKER:-bittorrent-tracker} in
  aquatic)
    command -v aquatic_ws >/dev/null || { echo "test-wasm: aquatic_ws not installed (make tools-aquatic)" >&2; exit 1; }
    # Its own defaults, with the address set to loopback.
    aquatic_ws -p | python3 -c '
import re, sys
text = sys.stdin.read()
text = re.sub(r"(?m)^address = .*$", "address = \"127.0.0.1:18000\"", text, count=1)
sys.stdout.write(text)' >"$run/aquatic.toml"
    grep -q '^address = "127.0.0.1:18000"' "$run/aquatic.toml" || { echo "test-wasm: could not set aquatic_ws's address" >&2; exit 1; }
    aquatic_ws -c "$run/aquatic.toml" >"$run/tracker.log" 2>&1 &
    pids+=($!)
    up=0
    for _ in $(seq 100); do
      if (exec 3<>/dev/tcp/127.0.0.1/18000) 2>/dev/null; then up=1; break; fi
      sleep 0.1
    done
    [[ $up == 1 ]] || { echo "test-wasm: aquatic_ws did not start:" >&2; cat "$run/tracker.log" >&2; exit 1; }
    echo "tracker listening (aquatic_ws)" >>"$run/tracker.log"
    ;;
  *)
    node tests/support/tracker.mjs --port 18000 --quiet >"$run/tracker.log" 2>&1 &
    pids+=($!)
    ;;
esac
demo/origin/run.sh --port 18080 --media target/media --root "$root" --log "$run/access.log" >"$run/origin.log" 2>&1 &
pids+=($!)
tests/support/wait-for-line "$run/tracker.log" "tracker listening" 20
tests/support/wait-for-line "$run/origin.log" "origin listening" 20

export HLSMESH_TEST_TRACKER=ws://127.0.0.1:18000
export HLSMESH_TEST_ORIGIN=http://127.0.0.1:18080
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-60}
wasm-pack --log-level warn test --headless --chrome --mode no-install crates/wasm
