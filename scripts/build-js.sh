#!/usr/bin/env bash
# Bundles the npm package: js/src (TypeScript) + js/pkg (wasm-bindgen output) -> js/dist
# (scripts/bundle-js.mjs: esbuild bundles, terser minifies), and the drop-in script tag.
# hls.js stays external: it is the page's, a peer dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
rm -rf js/dist && mkdir -p js/dist
node scripts/bundle-js.mjs
cp js/pkg/hlsmesh_wasm_bg.wasm js/dist/
"$bin/tsc" -p js/tsconfig.json
js=$(gzip -9 -c js/dist/hlsmesh.js | wc -c)
wasm=$(gzip -9 -c js/dist/hlsmesh_wasm_bg.wasm | wc -c)
dropin=$(gzip -9 -c js/dist/hlsmesh.drop-in.js | wc -c)
echo "js/dist: hlsmesh.drop-in.js $(stat -c %s js/dist/hlsmesh.drop-in.js) bytes ($dropin gzipped)"
echo "js/dist: hlsmesh.js $(stat -c %s js/dist/hlsmesh.js) bytes ($js gzipped), wasm $(stat -c %s js/dist/hlsmesh_wasm_bg.wasm) bytes ($wasm gzipped), total $((js + wasm)) gzipped"
