// Honest ABR: hls.js's bandwidth estimator reads the loader's timings. Peers on
// loopback and cache hits are far faster than the CDN; if hls.js saw those timings it
// would climb to a rendition the CDN cannot sustain. The origin here serves each
// response at 80 KB/s (640 kb/s): enough for the 437 kb/s rendition, not for the
// 768 kb/s one. With most segments from peers and the cache, no player may load the
// top rendition.
//
// The CDN share is held to the floor (each distinct fragment once from the origin, about
// 33% here) plus 20 points, not to the live and VOD runs' 6: with the origin this slow,
// a viewer whose buffer is short fetches a fragment a neighbour is still fetching (no
// `Have` is sent before a segment is complete), and five runs of 2026-12-07 came out
// 4.6 to 14.1 points over the floor (38.1 to 47.6%).
//
//   tests/e2e/run.sh tests/e2e/abr.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { P2P, STAGGER_S, TIMEOUT_MS, runScenario } from "./lib/scenario.mjs";

const LIMIT = 80_000; // bytes per second per response at the origin
const TOP_LEVEL = 2; // 768 kb/s: more than the origin's 640 kb/s can carry

test(`abr: CDN at ${(LIMIT * 8) / 1000} kb/s, 3 viewers, ${STAGGER_S} s apart, p2p=${P2P ? 1 : 0}`, { timeout: TIMEOUT_MS }, async () => {
  const { reports } = await runScenario("vod", { name: "abr", limitRate: LIMIT, viewers: 3, watchS: 40, pointsOverFloor: 20 });
  const fromPeers = reports.reduce((n, r) => n + (r.mesh?.segments?.peer?.count ?? 0) + (r.mesh?.segments?.cache?.count ?? 0), 0);
  const top = reports.map((r) => ({ id: r.id, top: (r.fragments ?? []).filter((f) => f.level === TOP_LEVEL).length }));
  console.log(`abr: fragments from peers or cache ${fromPeers}; fragments at the top level per viewer ${JSON.stringify(top)}`);
  if (P2P) assert.ok(fromPeers > 20, `too few peer/cache deliveries (${fromPeers}) for the test to mean anything`);
  for (const { id, top: n } of top) {
    assert.equal(n, 0, `${id} loaded ${n} fragments of a rendition the CDN cannot sustain`);
  }
});
