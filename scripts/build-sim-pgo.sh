#!/usr/bin/env bash
# Build the simulator (crates/sim) for benchmarks with profile-guided optimisation, and
# put the binary at target/sim-pgo/hlsmesh-sim (used by `make bench-sim`, `make sim-pgo`).
#
#   scripts/build-sim-pgo.sh            PGO build (falls back to the plain sim-release build)
#   SIM_NATIVE=1 scripts/build-sim-pgo.sh   also -C target-cpu=native: only for a binary
#                                       run on this machine (it may not start elsewhere);
#                                       no consistent gain measured (BENCHMARKS.md)
#
# Steps: an instrumented build (-Cprofile-generate), a training run of a few short
# scenarios (every kind of event: live, churn, VOD, flash crowd, a starved uplink), the
# profiles merged with llvm-profdata, then the build that uses them (-Cprofile-use).
# PGO changes no semantics: the runs' results are the same as the plain build's. About 8%
# less user time at 10,000 viewers (docs/BENCHMARKS.md, "Simulator speed, seventh round").
#
# llvm-profdata comes from rustup's llvm-tools component (it must match rustc's LLVM),
# installed here if missing. Without it (no rustup, or no network), the script says so
# and copies the plain `cargo build --profile sim-release` binary to the same place.
#
# Both builds use their own target directories under target/pgo/ and name the target
# (--target): RUSTFLAGS then apply to the simulator and its dependencies only, not to
# build scripts, and the normal build cache in target/ is left alone.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

log() { echo "build-sim-pgo: $*" >&2; }

out=target/sim-pgo
mkdir -p "$out"

plain() {
  log "$1"
  log "falling back to the plain sim-release build (no PGO)"
  cargo build -p hlsmesh-sim --profile sim-release
  cp target/sim-release/hlsmesh-sim "$out/hlsmesh-sim"
  log "built $out/hlsmesh-sim (plain sim-release)"
  exit 0
}

command -v rustc >/dev/null || { echo "build-sim-pgo: rustc not found" >&2; exit 1; }
host=$(rustc -vV | sed -n 's/^host: //p')
profdata=$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata
if [[ ! -x $profdata ]]; then
  command -v rustup >/dev/null || plain "llvm-profdata not found and no rustup to install llvm-tools"
  log "adding rust component llvm-tools (for llvm-profdata)"
  rustup component add llvm-tools >/dev/null 2>&1 || plain "could not install rustup component llvm-tools"
  [[ -x $profdata ]] || plain "llvm-tools installed but $profdata is missing"
fi

flags=()
if [[ ${SIM_NATIVE:-0} == 1 ]]; then
  flags+=(-Ctarget-cpu=native)
  log "SIM_NATIVE=1: -C target-cpu=native (this machine only)"
fi

pgo=$root/target/pgo
raw=$pgo/raw
rm -rf "$raw"
mkdir -p "$raw"

log "instrumented build (target/pgo/gen)"
RUSTFLAGS="-Cprofile-generate=$raw ${flags[*]}" \
  cargo build -p hlsmesh-sim --profile sim-release --target "$host" --target-dir "$pgo/gen"

log "training runs"
gen=$pgo/gen/$host/sim-release/hlsmesh-sim
train=$pgo/train
rm -rf "$train"
# %p: the binary runs itself again with its allocator settings; each process its file.
export LLVM_PROFILE_FILE=$raw/sim-%p-%m.profraw
"$gen" steady-live viewers=1000 duration=300 --out "$train" --quiet >/dev/null
"$gen" heavy-churn viewers=300 duration=300 --out "$train" --quiet >/dev/null
"$gen" vod-long-tail viewers=300 duration=300 --out "$train" --quiet >/dev/null
"$gen" flash-crowd viewers=300 duration=120 --out "$train" --quiet >/dev/null
"$gen" upload-starved viewers=300 duration=120 --out "$train" --quiet >/dev/null
unset LLVM_PROFILE_FILE

"$profdata" merge -o "$pgo/merged.profdata" "$raw"/*.profraw

log "optimised build (target/pgo/use)"
RUSTFLAGS="-Cprofile-use=$pgo/merged.profdata ${flags[*]}" \
  cargo build -p hlsmesh-sim --profile sim-release --target "$host" --target-dir "$pgo/use"

cp "$pgo/use/$host/sim-release/hlsmesh-sim" "$out/hlsmesh-sim"
log "built $out/hlsmesh-sim (PGO${flags[*]:+, ${flags[*]}})"
