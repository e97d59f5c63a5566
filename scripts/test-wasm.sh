#!/usr/bin/env bash
# `wasm-pack test --headless --chrome` for crates/wasm: the wasm surface the TypeScript
# shim drives, in a real browser. It opens no sockets (the shim's edges are tested by
# tests/e2e), so it needs no tracker, origin or network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-60}
wasm-pack --log-level warn test --headless --chrome --mode no-install crates/wasm
