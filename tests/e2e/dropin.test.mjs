// The drop-in script tag: a page with hls.js's classic build and one
// <script src="hlsmesh.drop-in.js" data-tracker="..."> (dropin.html), three viewers of the
// VOD. Asserts what every scenario does (lib/scenario.mjs: plays, no stall, no fatal
// error, every fragment byte-identical to the origin's file, CDN share bound) and that
// segments came from peers.
//
//   tests/e2e/run.sh tests/e2e/dropin.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { P2P, runScenario } from "./lib/scenario.mjs";

const VIEWERS = 3;
const WATCH_S = Number(process.env.DROPIN_WATCH_S ?? 30);

test(`drop-in script tag: ${VIEWERS} viewers of the VOD, ${WATCH_S} s each`, { skip: !P2P && "P2P=0", timeout: 240_000 }, async () => {
  const { reports } = await runScenario("vod", {
    name: "dropin",
    page: "/tests/e2e/dropin.html",
    viewers: VIEWERS,
    watchS: WATCH_S,
    // The first viewer has no one to fetch from; with three, peers can serve two thirds.
    maxShare: 0.75,
  });
  const peerBytes = reports.map((r) => r.mesh?.stats?.peerBytes ?? 0);
  const peerSegments = reports.reduce((n, r) => n + (r.mesh?.segments?.peer?.count ?? 0), 0);
  console.log(`dropin: peer bytes per viewer ${peerBytes.join(", ")}; peer segments ${peerSegments}`);
  assert.ok(peerSegments > 0 && peerBytes.some((b) => b > 0), "no segment came from a peer");
});
