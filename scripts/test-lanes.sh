#!/usr/bin/env bash
# make test's suites after the lints, in two lanes at once:
#
#   CPU lane       test-rust, test-fuzz: builds and runs that keep the cores busy, at the
#                  lowest priority (nice 19, in a session of its own whose autogroup is
#                  niced too: Chromium starts in sessions of its own, and the kernel
#                  shares the CPU between sessions before it looks at nice values)
#   browser lane   test-js, test-wasm, test-aquatic, test-e2e, test-vite, size: real
#                  playback in real time, which leaves most of the CPU idle
#
# The browser lane runs in the foreground; the CPU lane's output goes to
# target/test-logs/cpu-lane.log and is printed once both lanes end. Either lane failing
# fails the run. Run alone, one after the other, the two lanes took 258 s and 850 s of
# a 1,216 s `make test` (docs/BENCHMARKS.md, "Test wall time").
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
mkdir -p target/test-logs
log=target/test-logs/cpu-lane.log

# Its own build directory: cargo locks one per build, and the browser lane's cargo runs
# (build-wasm.sh before each suite, wasm-pack test) would wait on the lane's, at nice 19.
# The lane nices its autogroup from inside, once setsid has given it one of its own
# (written from here, the write could reach this script's autogroup before the setsid).
CARGO_TARGET_DIR=$PWD/target/cpu-lane setsid bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null ||
    echo "test-lanes: could not nice the CPU lane autogroup; it runs at nice 19 only" >&2
  exec nice -n 19 "$@"' cpu-lane "$make" --no-print-directory test-rust test-fuzz >"$log" 2>&1 &
cpu=$!
# Ours to end if this script is stopped: the lane's session leader and its group.
trap 'kill -- -"$cpu" 2>/dev/null; exit 130' INT TERM
echo "test-lanes: test-rust and test-fuzz run beside the browser suites (pid $cpu, log $log)"

"$make" --no-print-directory test-js test-wasm test-aquatic test-e2e test-vite size
browser=$?

echo "test-lanes: browser suites done (exit $browser); waiting for test-rust and test-fuzz"
wait "$cpu"
lane=$?
trap - INT TERM
echo "---- test-rust, test-fuzz ($log) ----"
cat "$log"
echo "---- end of test-rust, test-fuzz ----"
if [[ $lane -ne 0 ]]; then
  echo "test-lanes: test-rust or test-fuzz failed (exit $lane): see above" >&2
fi
if [[ $browser -ne 0 ]]; then
  echo "test-lanes: a browser-lane suite failed (exit $browser): see above" >&2
fi
[[ $lane -eq 0 && $browser -eq 0 ]]
