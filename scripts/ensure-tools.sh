#!/usr/bin/env bash
# Install whatever the build and the tests need and is missing. Idempotent and
# quiet when there is nothing to do; used by the Makefile, safe to run by hand.
#
#   scripts/ensure-tools.sh
#
# Only package registries are used: apt (Debian), crates.io (cargo install),
# npm. Browsers come from Debian (chromium, chromium-driver); no tool may
# download its own.
#
#   apt:   chromium chromium-driver ffmpeg nginx (+ iproute2 for tests/support/netns-run)
#   rust:  target wasm32-unknown-unknown, rustfmt, clippy, rust-src (the shipped wasm
#          rebuilds std: scripts/build-wasm.sh); wasm-bindgen-cli at the
#          version of the wasm-bindgen crate in Cargo.lock; wasm-pack 0.15.1;
#          aquatic_ws 0.9.0 (a second tracker for the tests); cargo-fuzz 0.13.2
#   npm:   `npm ci` when node_modules is missing or older than package-lock.json
#
# wasm-opt: we use node_modules/.bin/wasm-opt (npm binaryen). Debian's binaryen
# (108) produces wasm that fails at start-up, so it is never installed here, and
# a warning is printed if it is found on PATH.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

log() { echo "ensure-tools: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- apt ---------------------------------------------------------------------
declare -A apt_for=(
  [chromium]=chromium
  [chromedriver]=chromium-driver
  [ffmpeg]=ffmpeg
  [nginx]=nginx
  [ip]=iproute2
  [unshare]=util-linux
)
missing=()
for cmd in chromium chromedriver ffmpeg nginx ip unshare; do
  # nginx lives in /usr/sbin, which is not always on PATH for non-root shells
  command -v "$cmd" >/dev/null || [[ -x /usr/sbin/$cmd ]] || missing+=("${apt_for[$cmd]}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  log "installing ${missing[*]} (apt)"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install ${missing[*]}"
    sudo=sudo
  fi
  # Keep package scripts from starting services (nginx would bind :80):
  # a policy-rc.d that denies every action, only for the duration of the install.
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    added_policy=1
  fi
  trap '[[ $added_policy == 1 ]] && $sudo rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # fonts-dejavu-core: the font make-stream.sh burns the frame counter in with
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
  if [[ $added_policy == 1 ]]; then $sudo rm -f "$policy"; added_policy=0; fi
fi

# --- rust --------------------------------------------------------------------
if [[ -f Cargo.toml ]]; then
  command -v cargo >/dev/null || die "cargo not found; install Rust with rustup first"
  if command -v rustup >/dev/null; then
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
      log "adding rust target wasm32-unknown-unknown"
      rustup target add wasm32-unknown-unknown >/dev/null
    fi
    for component in rustfmt clippy rust-src; do
      if ! rustup component list --installed | grep -q "^$component"; then
        log "adding rust component $component"
        rustup component add "$component" >/dev/null
      fi
    done
  fi

  # wasm-bindgen-cli must match the wasm-bindgen crate exactly: the version in
  # Cargo.lock, or (fresh checkout, no lock yet) an exact "=X" pin in Cargo.toml.
  want=""
  if [[ -f Cargo.lock ]]; then
    want=$(awk '/^\[\[package\]\]/ {n=""} /^name = / {n=$3} n=="\"wasm-bindgen\"" && /^version = / {gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
  fi
  if [[ -z $want ]]; then
    want=$(sed -nE 's/^wasm-bindgen[[:space:]]*=[[:space:]]*(\{[^}]*version[[:space:]]*=[[:space:]]*)?"=([0-9][^"]*)".*/\2/p' Cargo.toml | head -1)
  fi
  if [[ -n $want ]]; then
    have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
    if [[ $have != "$want" ]]; then
      log "installing wasm-bindgen-cli $want (have: ${have:-none})"
      # never --locked: it fails against this registry
      cargo install --quiet --force wasm-bindgen-cli --version "$want"
    fi
  else
    log "warning: wasm-bindgen version not found in Cargo.lock or Cargo.toml; wasm-bindgen-cli not checked"
  fi

  # aquatic_ws: the second WebTorrent tracker the tests run against (make test-aquatic).
  aquatic_version=0.9.0
  if ! command -v aquatic_ws >/dev/null; then
    log "installing aquatic_ws $aquatic_version (a few minutes)"
    cargo install --quiet aquatic_ws --version "$aquatic_version"
  fi

  wasm_pack_version=0.15.1
  if [[ $(wasm-pack --version 2>/dev/null | awk '{print $2}') != "$wasm_pack_version" ]]; then
    log "installing wasm-pack $wasm_pack_version"
    cargo install --quiet --force wasm-pack --version "$wasm_pack_version"
  fi

  # cargo-fuzz, for `make fuzz` / `make test-fuzz` (run on stable with --sanitizer none;
  # see crates/fuzz/run.sh). Never --locked.
  cargo_fuzz_version=0.13.2
  if [[ $(cargo fuzz --version 2>/dev/null | awk '{print $2}') != "$cargo_fuzz_version" ]]; then
    log "installing cargo-fuzz $cargo_fuzz_version"
    cargo install --quiet --force cargo-fuzz --version "$cargo_fuzz_version"
  fi
fi

# --- npm ---------------------------------------------------------------------
if [[ -f package-lock.json ]]; then
  marker=node_modules/.package-lock.json # written by npm at the end of every install
  if [[ ! -f $marker || package-lock.json -nt $marker ]]; then
    log "npm ci"
    mkdir -p "$root/target"
    # npm ci refuses a lock that lacks optional platform packages the registry does not
    # serve (it has only some of rollup's prebuilt binaries); npm install from the same
    # lock skips what it cannot get, as optional dependencies allow, and changes nothing.
    if ! npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null 2>"$root/target/npm-ci.log"; then
      log "npm ci refused the lock (see target/npm-ci.log); installing from it with npm install --no-save"
      npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
    fi
  fi
fi

# --- wasm-opt ----------------------------------------------------------------
if [[ -d node_modules/binaryen ]] && ! node_modules/.bin/wasm-opt --version >/dev/null 2>&1; then
  die "node_modules/.bin/wasm-opt (npm binaryen) does not run"
fi
if sys=$(command -v wasm-opt) && [[ $sys != "$root/node_modules/.bin/wasm-opt" ]]; then
  log "warning: $sys ($($sys --version 2>/dev/null || echo '?')) is on PATH; builds must use node_modules/.bin/wasm-opt (Debian's binaryen breaks the wasm)"
fi
exit 0
