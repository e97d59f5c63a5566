// One stream reached through two "CDNs" (the same origin as http://127.0.0.1:PORT and
// http://localhost:PORT): by default the swarm is named by the master playlist URL, so
// the two viewers are in different swarms and share nothing; with `swarmId` given as a
// function of that URL (here: its path), they share one swarm and the second viewer gets
// segments from the first; the same through the drop-in tag, with the function in
// window.hlsmeshConfig.
//
//   tests/e2e/run.sh tests/e2e/swarmid.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { ProcessGroup } from "./lib/procs.mjs";
import { P2P } from "./lib/scenario.mjs";
import { ensureMedia, inLoopbackNetns, runDir, startOrigin, startTracker } from "./lib/stack.mjs";
import { closeViewer, collectReport, launchViewer, viewerUrl } from "./lib/viewers.mjs";
import { symlink } from "node:fs/promises";
import { join } from "node:path";

const WATCH_S = Number(process.env.SWARMID_WATCH_S ?? 20);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Two viewers, one per host name; returns their reports. */
async function twoCdns(name, swarm, page) {
  assert.ok(await inLoopbackNetns(), "not in a loopback-only network namespace: run tests/e2e/run.sh");
  const dir = await runDir(name);
  const mediaDir = join(dir, "media");
  const group = new ProcessGroup(dir);
  const viewers = [];
  try {
    const origin = await startOrigin(group, { mediaDir, accessLog: join(dir, "origin-access.log") });
    await symlink(join(await ensureMedia(), "vod"), join(mediaDir, "vod"));
    const tracker = await startTracker(group);
    const hosts = ["127.0.0.1", "localhost"];
    for (const [i, host] of hosts.entries()) {
      if (i > 0) await sleep(5000);
      const id = `v${i + 1}`;
      const src = `http://${host}:${origin.port}/media/vod/master.m3u8`;
      const url = new URL(viewerUrl(origin.base, { src, tracker: tracker.url, id, page }));
      if (swarm) url.searchParams.set("swarm", swarm);
      viewers.push(await launchViewer({ id, url: url.href, consoleLog: join(dir, `viewer-${id}.console.log`) }));
    }
    await sleep(WATCH_S * 1000);
    const reports = [];
    for (const v of viewers) reports.push(await collectReport(v));
    for (const r of reports) {
      assert.deepEqual(r.errors.filter((e) => e.fatal), [], `${r.id}: fatal error`);
      assert.ok(r.fragments.length > 0, `${r.id} played nothing`);
    }
    const peer = reports.map((r) => r.mesh?.stats?.peerBytes ?? 0);
    console.log(`${name}: peer bytes per viewer ${peer.join(", ")} (swarm=${swarm ?? "default"})`);
    return peer;
  } finally {
    await Promise.allSettled(viewers.map(closeViewer));
    await group.stopAll();
  }
}

test("swarmId as a function: viewers of one stream through two CDN hosts share one swarm", { skip: !P2P && "P2P=0", timeout: 120_000 }, async () => {
  const peer = await twoCdns("swarmid-path", "path");
  assert.ok(peer[1] > 0, "the second viewer got nothing from the first");
});

test("swarmId as a function in window.hlsmeshConfig: the drop-in tag's viewers through two CDN hosts share one swarm", { skip: !P2P && "P2P=0", timeout: 120_000 }, async () => {
  const peer = await twoCdns("swarmid-dropin", "path", "/tests/e2e/dropin.html");
  assert.ok(peer[1] > 0, "the second viewer got nothing from the first");
});

test("default swarm id: the same stream through two CDN hosts makes two swarms", { skip: !P2P && "P2P=0", timeout: 120_000 }, async () => {
  const peer = await twoCdns("swarmid-default", null);
  assert.deepEqual(peer, [0, 0]);
});
