// The systems the benchmarks compare (make bench, make bench-ttff): each one's viewer page,
// whether it uses peers, the hls.js configuration, and the files it adds to a page.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../e2e/lib/stack.mjs";

// hls.js runs with the same configuration under every system: its defaults, with
// transmuxing on the main thread (no worker), which is what its ES module build does when
// no workerPath is given (`import Hls from "hls.js"` in a bundler). With the worker,
// hls.js transfers each fragment's ArrayBuffer to it, and p2p-media-loader 2.3.1 keeps
// and shares that same buffer: every segment the player has consumed is left detached
// (0 bytes) in its cache, so it can share only what it prefetched and the player has not
// yet used. The optional system p2pml-worker measures that case.
export const HLS_CONFIG = { enableWorker: false };

// What each system's viewer page is, and which files it adds to a page (hls.js not counted:
// every system needs it).
const P2PML_FILES = ["node_modules/p2p-media-loader-core/dist/p2p-media-loader-core.es.min.js", "node_modules/p2p-media-loader-hlsjs/dist/p2p-media-loader-hlsjs.es.min.js"];
export const SYSTEMS = {
  plain: { label: "hls.js only (CDN)", page: "/tests/e2e/viewer.html", p2p: false, ships: [] },
  p2pml: { label: "p2p-media-loader 2.3.1", page: "/tests/bench/p2pml.html", p2p: true, ships: P2PML_FILES },
  "p2pml-worker": { label: "p2p-media-loader 2.3.1, hls.js worker", page: "/tests/bench/p2pml.html", p2p: true, ships: P2PML_FILES, hls: {} },
  hlsmesh: { label: "hlsmesh", page: "/tests/e2e/viewer.html", p2p: true, ships: ["js/dist/hlsmesh_wasm_bg.wasm", "js/dist/hlsmesh.js"] },
};
export const systems = (process.env.BENCH_SYSTEMS ?? "plain,p2pml,hlsmesh").split(",");
for (const s of systems) if (!SYSTEMS[s]) throw new Error(`bench: unknown system ${s} (BENCH_SYSTEMS)`);
export const MODES = (process.env.BENCH_MODES ?? "live,vod").split(",");
for (const m of MODES) if (m !== "live" && m !== "vod") throw new Error(`bench: unknown mode ${m} (BENCH_MODES)`);

/** Gzipped size of `files` (GNU gzip -9 from stdin, so no file name inside, as `make size`). */
export function shippedBytes(files) {
  let total = 0;
  for (const f of files) total += execFileSync("gzip", ["-9"], { input: readFileSync(join(ROOT, f)), maxBuffer: 64 << 20 }).length;
  return total;
}

// Of a sorted list; with an even count, the lower of the two middle values.
export const median = (xs) => (xs.length ? xs[Math.floor((xs.length - 1) / 2)] : null);
