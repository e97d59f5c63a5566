#!/usr/bin/env bash
# Builds the browser artefacts from the settings in wasm-pack.toml:
# cargo (wasm32) -> wasm-bindgen (pinned to Cargo.lock) -> wasm-opt (npm binaryen).
set -euo pipefail
cd "$(dirname "$0")/.."

read_setting() { python3 -c '
import sys, tomllib
cfg = tomllib.load(open("wasm-pack.toml", "rb"))
v = cfg
for k in sys.argv[1].split("."):
    v = v[k]
print(" ".join(v) if isinstance(v, list) else str(v).lower() if isinstance(v, bool) else v)
' "$1"; }

crate=$(read_setting build.crate)
profile=$(read_setting build.profile)
target=$(read_setting build.target)
out_dir=$(read_setting build.out-dir)
out_name=$(read_setting build.out-name)
opt_enabled=$(read_setting wasm-opt.enabled)
opt_args=$(read_setting wasm-opt.args)

pkg=$(python3 -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1]+"/Cargo.toml","rb"))["package"]["name"])' "$crate")
lib=${pkg//-/_}

# The shipped build recompiles std with panics that trap at once (`-Cpanic=immediate-abort`
# with `-Zbuild-std`, allowed on the stable toolchain by RUSTC_BOOTSTRAP; needs the
# rust-src component, which ensure-tools adds): no panic messages, locations or
# formatter in the wasm, about 11 KB gzipped less. A panic still traps and the shim still
# falls back to hls.js; it names the trap instead of the message. HLSMESH_PANIC_MESSAGES=1
# builds with the standard panic runtime, whose hook reports the message (for debugging).
# `-Zlocation-detail=none` drops the file/line/column that `#[track_caller]` code (indexing,
# Vec::insert/remove, unwrap, expect) still embeds for panic locations although the abort
# never reads them: about 300 bytes gzipped of source paths in the data section.
if [ "${HLSMESH_PANIC_MESSAGES:-0}" = "1" ]; then
  cargo build -p "$pkg" --target wasm32-unknown-unknown --profile "$profile"
else
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
    cargo build -p "$pkg" --target wasm32-unknown-unknown --profile "$profile" \
    -Zbuild-std=std,panic_abort
fi
mkdir -p "$out_dir"
rm -f "$out_dir/$out_name.names.json" # written again below, when wasm-opt runs
wasm-bindgen "target/wasm32-unknown-unknown/$profile/$lib.wasm" \
  --target "$target" --out-dir "$out_dir" --out-name "$out_name"
wasm="$out_dir/${out_name}_bg.wasm"
if [ "$opt_enabled" = "true" ]; then
  # shellcheck disable=SC2086
  node_modules/.bin/wasm-opt $opt_args "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
  # The names the wasm and the glue meet by, shortened in both (and unread exports gone).
  node scripts/wasm-names.mjs "$out_dir" "$out_name"
fi
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
echo "wasm: $wasm $raw bytes, $gz gzipped"
