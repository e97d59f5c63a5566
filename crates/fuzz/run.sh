#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, on the stable toolchain.
#
#   crates/fuzz/run.sh SECONDS [TARGET...]
#
# cargo-fuzz with `--sanitizer none`: the sanitizer flags are the only part of cargo-fuzz
# that needs nightly (-Zsanitizer); the coverage instrumentation libFuzzer feeds on
# (-Cpasses=sancov-module and -Cllvm-args=-sanitizer-coverage-*) is stable. Our crates
# forbid unsafe code, so AddressSanitizer would add little; overflow checks and debug
# assertions stay on (cargo-fuzz builds with -Cdebug-assertions).
#
# Seeds come from crates/fuzz/corpus/<target>/ (read-only; regenerate with
# make-corpus.py); what the fuzzer finds goes to target/fuzz-corpus/<target>/, crashes to
# target/fuzz-artifacts/<target>/. Reproducers of known bugs in crates/fuzz/regressions/
# (named <target>-<bug>) are replayed first. Exits non-zero on any crash.
# FUZZ_SEED=N fixes libFuzzer's seed (make test-fuzz uses 1, so CI runs alike).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
seconds=${1:?usage: crates/fuzz/run.sh SECONDS [TARGET...]}
shift
all=(proto_decode playlist_bytes playlist_m3u8 url_resolve integrity_parse agent)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")

fuzz=(cargo fuzz run --fuzz-dir crates/fuzz --target-dir target/fuzz --sanitizer none --debug-assertions)
cargo fuzz build --fuzz-dir crates/fuzz --target-dir target/fuzz --sanitizer none --debug-assertions

for t in "${targets[@]}"; do
  for r in crates/fuzz/regressions/"$t"-*; do
    [[ -e $r ]] || continue
    "${fuzz[@]}" "$t" "$r" -- -runs=1 >/dev/null 2>target/fuzz-regression.log \
      || { cat target/fuzz-regression.log >&2; echo "fuzz: regression $r fails" >&2; exit 1; }
  done
done

summary=()
for t in "${targets[@]}"; do
  work=target/fuzz-corpus/$t
  artifacts=target/fuzz-artifacts/$t/
  log=target/fuzz-logs/$t.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  if ! "${fuzz[@]}" "$t" "$work" "crates/fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts" -print_final_stats=1 ${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
      >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: $t crashed; reproducer in $artifacts (replay: cargo fuzz run --fuzz-dir crates/fuzz --sanitizer none $t <file>)" >&2
    exit 1
  fi
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
  secs=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  summary+=("$(printf '%-15s %10s runs %8s exec/s  %s' "$t" "${runs:-?}" "${secs:-?}" "${cov:-}")")
done
printf 'fuzz: %s\n' "${summary[@]}"
echo "fuzz: ${#targets[@]} passed, 0 failed"
