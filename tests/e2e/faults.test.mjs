// Faults in real browsers: a hostile viewer, viewers vanishing, the tracker going away,
// the agent panicking. Each prints what it observed. Runs inside the loopback-only
// network namespace (tests/e2e/run.sh).
//
//   tests/e2e/run.sh tests/e2e/faults.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { symlink } from "node:fs/promises";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { ProcessGroup } from "./lib/procs.mjs";
import { ensureMedia, inLoopbackNetns, runDir, startLive, startOrigin, startTracker, ROOT } from "./lib/stack.mjs";
import { closeViewer, collectReport, launchViewer, viewerUrl } from "./lib/viewers.mjs";
import { assertNoStalls, verifyFragments } from "./lib/report.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Origin (+ tracker, + live stream or VOD) for one fault scenario. */
async function stack(name, { live }) {
  if (!(await inLoopbackNetns()) && process.env.E2E_ALLOW_HOST_NET !== "1") {
    assert.fail("not in a loopback-only network namespace: run tests/e2e/run.sh");
  }
  const mediaRoot = await ensureMedia();
  const dir = await runDir(`faults-${name}`);
  const mediaDir = join(dir, "media");
  const group = new ProcessGroup(dir);
  const origin = await startOrigin(group, { mediaDir, accessLog: join(dir, "origin-access.log") });
  const tracker = await startTracker(group);
  if (live) await startLive(group, { mediaDir });
  else await symlink(join(mediaRoot, "vod"), join(mediaDir, "vod"));
  const src = `${origin.base}/media/${live ? "live" : "vod"}/master.m3u8`;
  const viewers = [];
  const join_ = async (id, { mesh, init } = {}) => {
    const url = viewerUrl(origin.base, { src, tracker: tracker.url, id, mesh });
    const v = await launchViewer({ id, url, consoleLog: join(dir, `${id}.console.log`), init });
    viewers.push(v);
    return v;
  };
  const close = async () => {
    await Promise.allSettled(viewers.map(closeViewer));
    await group.stopAll();
  };
  return { dir, mediaDir, group, origin, tracker, join: join_, viewers, close };
}

/** Keeps the viewer's hlsmesh events, with page times, in `window.__events`. */
async function recordEvents(v) {
  await v.page.waitForFunction(() => window.__mesh, { timeout: 10_000 });
  await v.page.evaluate(() => {
    window.__events = [];
    for (const k of ["segment", "peer-connected", "peer-disconnected", "tracker-connected", "tracker-error", "fallback"]) {
      window.__mesh.on(k, (e) => window.__events.push([Math.round(performance.now()), k, e]));
    }
  });
}

/** A viewer's peers and its event log, one line each, for a failure's diagnosis. */
async function describeViewer(v, label) {
  const { peers, events } = await v.page.evaluate(() => ({ peers: window.__mesh?.peers() ?? [], events: window.__events ?? [] }));
  console.log(`# ${label} peers ${JSON.stringify(peers.map((p) => [p.peer.slice(0, 12), p.bytesFrom, p.bytesTo]))}`);
  for (const [t, k, e] of events) {
    const what = k === "segment" ? `${e.url.split("/").slice(-2).join("/")} ${e.source} ${e.bytes} B ${e.ms} ms` : JSON.stringify(e);
    console.log(`# ${label} ${t} ms ${k} ${what}`);
  }
}

function assertPlayedCleanly(report, { label }) {
  const fatal = (report.errors ?? []).filter((e) => e.fatal);
  assert.equal(fatal.length, 0, `${label}: fatal errors ${JSON.stringify(fatal)}`);
  assert.notEqual(report.ttffMs, null, `${label}: never played`);
  assertNoStalls(report, label);
}

// A viewer whose uploads are corrupted in flight (its data channel flips the first data
// byte of every chunk frame): with the publisher's hash list, no corrupted segment may
// reach any player and the liar must be banned.
const CORRUPT_UPLOADS = () => {
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
    if (bytes && bytes[0] === 6 && bytes.length > 17) {
      const copy = new Uint8Array(bytes);
      copy[17] ^= 0xff;
      return send.call(this, copy);
    }
    return send.call(this, data);
  };
};

test("faults: a hostile viewer serving corrupted bytes is banned; no corrupted segment reaches a player", { timeout: 150_000 }, async () => {
  const hashes = join(ROOT, "target/media/vod/v0/index.m3u8.hashes");
  await access(hashes).catch(() => assert.fail(`no hash lists (${hashes}): run make hashes`));
  const s = await stack("hostile", { live: false });
  try {
    const hostile = await s.join("hostile", { mesh: { integrity: true }, init: CORRUPT_UPLOADS });
    await sleep(5000);
    const honest = [];
    for (const id of ["h1", "h2"]) {
      honest.push(await s.join(id, { mesh: { integrity: true } }));
      await sleep(3000);
    }
    await sleep(30_000);
    const reports = await Promise.all(honest.map(collectReport));
    const meshStats = await Promise.all(honest.map((v) => v.page.evaluate(() => window.__mesh?.stats())));
    const { problems, checked } = await verifyFragments(reports, { mediaDir: s.mediaDir });
    const rejected = meshStats.reduce((n, m) => n + (m?.rejectedSegments ?? 0), 0);
    const fromPeers = meshStats.reduce((n, m) => n + (m?.peerBytes ?? 0), 0);
    console.log(
      `# hostile: honest viewers checked ${checked} fragments, ${problems.length} differ from the origin; ` +
        `segments refused by the integrity check ${rejected}; bytes from honest peers ${fromPeers}`,
    );
    // Every honest viewer that caught the liar must have banned it (no longer connected).
    const hostileId = await hostile.page.evaluate(() => window.__mesh?.agentOrNull?.peerId() ?? null);
    const stillConnected = await Promise.all(
      honest.map((v, i) =>
        (meshStats[i]?.rejectedSegments ?? 0) > 0
          ? v.page.evaluate((id) => (window.__mesh?.peers() ?? []).some((p) => p.peer === id), hostileId)
          : false,
      ),
    );
    console.log(`# hostile: peer ${hostileId?.slice(0, 16)}…; still connected to a viewer that caught it: ${JSON.stringify(stillConnected)}`);
    await collectReport(hostile);
    assert.deepEqual(problems, [], "a corrupted segment reached a player");
    assert.ok(rejected >= 1, "the hostile peer's bytes were never refused (was it asked at all?)");
    assert.ok(hostileId, "could not read the hostile viewer's peer id");
    assert.ok(!stillConnected.some(Boolean), "a viewer that caught the hostile peer is still connected to it");
    reports.forEach((r, i) => assertPlayedCleanly(r, { label: honest[i].id }));
  } finally {
    await s.close();
  }
});

test("faults: half the viewers vanish mid-stream; the rest play on without a stall", { timeout: 150_000 }, async () => {
  const s = await stack("half", { live: true });
  try {
    const all = [];
    for (let i = 1; i <= 4; i++) {
      all.push(await s.join(`v${i}`));
      await sleep(3000);
    }
    await sleep(20_000);
    const [gone1, gone2, ...rest] = all;
    await Promise.all([closeViewer(gone1), closeViewer(gone2)]);
    const killedAt = Date.now();
    await sleep(25_000);
    const reports = await Promise.all(rest.map(collectReport));
    const stallsAfter = reports.map((r) => (r.stalls?.events ?? []).filter((e) => e.at >= killedAt - r.startedAt).length);
    console.log(`# half: closed ${gone1.id}, ${gone2.id}; survivors' stalls after that: ${JSON.stringify(stallsAfter)}; fragments ${reports.map((r) => r.fragments.length)}`);
    reports.forEach((r, i) => assertPlayedCleanly(r, { label: rest[i].id }));
    const { problems } = await verifyFragments(reports, { mediaDir: s.mediaDir });
    assert.deepEqual(problems, []);
  } finally {
    await s.close();
  }
});

test("faults: the tracker stops and comes back; playback goes on, P2P resumes", { timeout: 150_000 }, async () => {
  const s = await stack("tracker", { live: true });
  try {
    const first = [await s.join("v1")];
    await sleep(3000);
    first.push(await s.join("v2"));
    await sleep(12_000);
    const trackerProc = s.group.procs.find((p) => p.name === "tracker");
    await s.group.stop(trackerProc);
    console.log("# tracker: stopped");
    await sleep(12_000);
    const { proc } = await s.group.start(
      "tracker-again",
      process.execPath,
      [join(ROOT, "tests/support/tracker.mjs"), "--port", String(s.tracker.port), "--interval", "30"],
      { ready: /^tracker listening/ },
    );
    assert.ok(proc.pid);
    console.log("# tracker: restarted on the same port");
    // Reconnect backoff tops out at 60 s; give the agents time to come back, then a
    // newcomer must find peers through the restarted tracker.
    await sleep(8_000);
    for (const v of first) await recordEvents(v);
    const late = await s.join("v3");
    await recordEvents(late);
    await sleep(20_000);
    const reports = await Promise.all([...first, late].map(collectReport));
    const lateStats = await late.page.evaluate(() => window.__mesh?.stats());
    console.log(`# tracker: newcomer after restart: peers ${lateStats?.peers}, bytes from peers ${lateStats?.peerBytes}`);
    // Everyone's totals, so that a failure says who fetched what.
    for (const [i, v] of [...first, late].entries()) {
      console.log(`# tracker: v${i + 1} stats ${JSON.stringify(await v.page.evaluate(() => window.__mesh?.stats()))}`);
    }
    if (!((lateStats?.peerBytes ?? 0) > 0)) {
      for (const [i, v] of [...first, late].entries()) await describeViewer(v, `tracker: v${i + 1}`);
    }
    reports.forEach((r, i) => assertPlayedCleanly(r, { label: ["v1", "v2", "v3"][i] }));
    assert.ok((lateStats?.peerBytes ?? 0) > 0, "P2P did not resume after the tracker came back");
  } finally {
    await s.close();
  }
});

test("faults: the agent panics mid-stream; hls.js's own loader takes over with no fatal error", { timeout: 120_000 }, async () => {
  const s = await stack("panic", { live: true });
  try {
    const v = await s.join("v1");
    await sleep(10_000);
    const before = (await collectReport(v)).fragments.length;
    const outcome = await v.page.evaluate(() => {
      try {
        window.__mesh.agentOrNull.debugPanic();
        return "returned";
      } catch (e) {
        return `threw: ${String(e).slice(0, 80)}`;
      }
    });
    await sleep(20_000);
    const report = await collectReport(v);
    const enabled = await v.page.evaluate(() => window.__mesh.enabled);
    console.log(`# panic: debugPanic ${outcome}; agent enabled afterwards: ${enabled}; fragments ${before} before, ${report.fragments.length} after`);
    assert.equal(enabled, false, "the shim kept using a panicked agent");
    assert.ok(report.fragments.length > before, "no fragment loaded after the panic");
    assertPlayedCleanly(report, { label: "v1" });
  } finally {
    await s.close();
  }
});
