#!/usr/bin/env bash
# Bundles the npm package: js/src (TypeScript) + js/pkg (wasm-bindgen output) -> js/dist
# (esbuild bundles, terser minifies).
# hls.js stays external: it is the page's, a peer dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
rm -rf js/dist && mkdir -p js/dist
# Members whose names start with one underscore and a letter are the shim's own (private
# or @internal, never read by hls.js, the page or the wasm glue, whose names start with
# two): esbuild renames them to short names. Keep that convention for such members only.
private='^_[A-Za-z]'
"$bin/esbuild" js/src/index.ts --bundle --format=esm --target=es2020 --minify --mangle-props="$private" \
  --external:hls.js --outfile=js/dist/hlsmesh.js --log-level=warning
# The drop-in script tag (js/src/drop-in.ts): one classic script that installs the loaders
# into the page's window.Hls. It passes the .wasm URL (beside the script) explicitly, so
# wasm-bindgen's import.meta.url default is never used.
"$bin/esbuild" js/src/drop-in.ts --bundle --format=iife --target=es2020 --minify --mangle-props="$private" \
  --define:import.meta.url=undefined --external:hls.js --outfile=js/dist/hlsmesh.drop-in.js --log-level=warning
# A second pass over esbuild's output: terser's compressor and mangler (names by
# frequency) take about 4% more off the gzipped bundles. Property names are kept.
for f in js/dist/hlsmesh.js js/dist/hlsmesh.drop-in.js; do
  module=(); [[ $f == js/dist/hlsmesh.js ]] && module=(--module)
  "$bin/terser" "$f" "${module[@]}" --ecma 2020 --compress passes=2 --mangle -o "$f.tmp"
  mv "$f.tmp" "$f"
done
cp js/pkg/hlsmesh_wasm_bg.wasm js/dist/
"$bin/tsc" -p js/tsconfig.json
js=$(gzip -9 -c js/dist/hlsmesh.js | wc -c)
wasm=$(gzip -9 -c js/dist/hlsmesh_wasm_bg.wasm | wc -c)
dropin=$(gzip -9 -c js/dist/hlsmesh.drop-in.js | wc -c)
echo "js/dist: hlsmesh.drop-in.js $(stat -c %s js/dist/hlsmesh.drop-in.js) bytes ($dropin gzipped)"
echo "js/dist: hlsmesh.js $(stat -c %s js/dist/hlsmesh.js) bytes ($js gzipped), wasm $(stat -c %s js/dist/hlsmesh_wasm_bg.wasm) bytes ($wasm gzipped), total $((js + wasm)) gzipped"
