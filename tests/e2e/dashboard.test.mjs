// The demo dashboard (demo/index.html + app.mjs) in real headless Chromium: two viewers
// of the VOD, the second joining 3 s after the first; ~20 s later the second viewer's
// page is screenshotted (target/e2e/dashboard-<time>/dashboard.png, and the first's as
// dashboard-v1.png) and must show an offload above 0 %, at least one peer in the peer
// list, and both charts drawn.
//
//   tests/e2e/run.sh tests/e2e/dashboard.test.mjs
import assert from "node:assert/strict";
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { ProcessGroup } from "./lib/procs.mjs";
import { ensureMedia, inLoopbackNetns, runDir, startOrigin, startTracker } from "./lib/stack.mjs";
import { closeViewer, launchViewer } from "./lib/viewers.mjs";
import { P2P } from "./lib/scenario.mjs";

const WAIT_S = Number(process.env.DASHBOARD_WAIT_S ?? 20);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What the dashboard shows, read from the DOM. */
const readDashboard = (page) =>
  page.evaluate(() => ({
    offload: document.getElementById("offload").textContent,
    peers: [...document.querySelectorAll("#peerlist tbody tr.peer")].map((tr) => [...tr.cells].map((c) => c.textContent)),
    chartLines: [...document.querySelectorAll("svg.chart polyline")].length,
    stats: window.hlsmeshStats?.() ?? null,
  }));

test(`demo dashboard: 2 viewers, screenshot after ${WAIT_S} s`, { skip: !P2P && "P2P=0", timeout: 180_000 }, async () => {
  if (!(await inLoopbackNetns()) && process.env.E2E_ALLOW_HOST_NET !== "1") {
    assert.fail("not in a loopback-only network namespace: run tests/e2e/run.sh");
  }
  const mediaRoot = await ensureMedia();
  const dir = await runDir("dashboard");
  const mediaDir = join(dir, "media");
  const group = new ProcessGroup(dir);
  const viewers = [];
  try {
    const origin = await startOrigin(group, { mediaDir, accessLog: join(dir, "origin-access.log") });
    const tracker = await startTracker(group);
    await symlink(join(mediaRoot, "vod"), join(mediaDir, "vod"));
    const url = new URL("/demo/index.html", origin.base);
    url.searchParams.set("src", `${origin.base}/media/vod/master.m3u8`);
    url.searchParams.set("tracker", tracker.url);
    console.log(`# run dir ${dir}\n# page ${url.href}`);
    for (const id of ["v1", "v2"]) {
      if (viewers.length) await sleep(3000);
      viewers.push(await launchViewer({ id, url: url.href, consoleLog: join(dir, `viewer-${id}.console.log`) }));
    }
    // Wait up to WAIT_S, but leave as soon as the second viewer shows a peer and offload.
    let seen = null;
    for (let waited = 0; waited < WAIT_S; waited++) {
      await sleep(1000);
      seen = await readDashboard(viewers[1].page);
      if (waited >= 15 && seen.peers.length && parseFloat(seen.offload) > 0) break;
    }
    for (const v of viewers) await v.page.setViewportSize({ width: 1320, height: 900 });
    await sleep(1200); // one more render at the new size
    const shot = join(dir, "dashboard.png");
    await viewers[1].page.screenshot({ path: shot, fullPage: true });
    await viewers[0].page.screenshot({ path: join(dir, "dashboard-v1.png"), fullPage: true });
    const v2 = await readDashboard(viewers[1].page);
    const v1 = await readDashboard(viewers[0].page);
    console.log(`dashboard: v2 offload ${v2.offload}, peers ${JSON.stringify(v2.peers)}, chart lines ${v2.chartLines}`);
    console.log(`dashboard: v1 offload ${v1.offload}, peers ${JSON.stringify(v1.peers)}`);
    console.log(`dashboard: screenshot ${shot}`);
    assert.ok(parseFloat(v2.offload) > 0, `offload shown: ${v2.offload}`);
    assert.ok(v2.peers.length >= 1, "the peer list shows no peer");
    assert.ok(v2.chartLines >= 4, `charts drew ${v2.chartLines} lines`);
    assert.ok(v2.stats?.peerBytes > 0, "stats: no peer bytes");
  } finally {
    await Promise.allSettled(viewers.map(closeViewer));
    await group.stopAll();
  }
});
