// One end-to-end scenario: origin, tracker, a stream (live or VOD), N real Chromium
// viewers joining in turn; then the measurements and the assertions every scenario
// shares. live.test.mjs and vod.test.mjs are thin wrappers around it.
//
// Knobs (env): P2P (1; 0 = plain hls.js, share printed not asserted), VIEWERS (4),
// STAGGER_S (3), WATCH_S (60), MAX_POINTS_OVER_FLOOR (6), MAX_CDN_SHARE (unset).
//
// Asserts: no fatal hls.js error; every viewer plays; no stall after start-up; every
// fragment every player received is byte-identical to the origin's file; with P2P, the
// origin served (its own access log) at most MAX_POINTS_OVER_FLOOR points more of the
// segment bytes the players loaded than the run's floor (each distinct fragment served
// once), or at most MAX_CDN_SHARE of them when that is set.
import assert from "node:assert/strict";
import { symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ProcessGroup } from "./procs.mjs";
import { cpuSampler, ensureMedia, inLoopbackNetns, runDir, startLive, startOrigin, startTracker } from "./stack.mjs";
import { runViewers } from "./viewers.mjs";
import { assertNoStalls, fmtMB, originBytes, playerBytes, summaryTable, verifyFragments } from "./report.mjs";

const env = process.env;
export const P2P = env.P2P !== "0";
export const VIEWERS = Number(env.VIEWERS ?? 4);
export const STAGGER_S = Number(env.STAGGER_S ?? 3);
export const WATCH_S = Number(env.WATCH_S ?? 60);
/** hlsmesh's cap on hls.js's forward buffer, seconds (`FORWARD_BUFFER_S`, js/src/index.ts). */
const FORWARD_BUFFER_S = 30;
/** Least upload rate a viewer may measure on loopback, kb/s (ten times the top rendition). */
const MIN_LOOPBACK_UPLINK_KBPS = 8000;
/**
 * How far over its floor (each distinct fragment once from the origin) a run's CDN share
 * may be, in points. The floor moves with how long the viewers overlap (30.0–30.8% in the
 * live run, 25.0–25.7% in the VOD run), and a fixed 35% left the live run 0.2 points of
 * room on one of seven runs of 2026-12-07 (34.8%, floor 30.8%; 0.8–4.0 points over it).
 */
export const MAX_POINTS_OVER_FLOOR = Number(env.MAX_POINTS_OVER_FLOOR ?? 6);
/** A fixed ceiling on the CDN share instead, when set (the aquatic run's). */
export const MAX_CDN_SHARE = env.MAX_CDN_SHARE === undefined ? undefined : Number(env.MAX_CDN_SHARE);
export const TIMEOUT_MS = (60 + VIEWERS * (STAGGER_S + 10) + WATCH_S + 60) * 1000;

/**
 * Runs the scenario `kind` ("live" or "vod") and asserts what every scenario promises.
 * Options: `name` (run directory name), `limitRate` (origin bytes/s per response, 0 =
 * unlimited), `viewers`, `watchS`, `maxShare` (a fixed ceiling on the CDN share instead
 * of the floor's margin; overrides the env knobs), `pointsOverFloor` (the floor's margin
 * for this scenario, in place of MAX_POINTS_OVER_FLOOR), `page` (viewer
 * page path, default viewer.html; see lib/viewers.mjs).
 */
export async function runScenario(kind, opts = {}) {
  const name = opts.name ?? kind;
  const viewers = opts.viewers ?? VIEWERS;
  const watchS = opts.watchS ?? WATCH_S;
  const fixedShare = opts.maxShare ?? MAX_CDN_SHARE;
  if (!(await inLoopbackNetns()) && env.E2E_ALLOW_HOST_NET !== "1") {
    assert.fail("not in a loopback-only network namespace: run tests/e2e/run.sh (or set E2E_ALLOW_HOST_NET=1)");
  }
  const t0 = Date.now();
  const cpu = await cpuSampler();
  const mediaRoot = await ensureMedia();
  const dir = await runDir(P2P ? name : `${name}-p2p0`);
  const mediaDir = join(dir, "media");
  const accessLog = join(dir, "origin-access.log");
  const group = new ProcessGroup(dir);
  let reports;
  try {
    const origin = await startOrigin(group, { mediaDir, accessLog, limitRate: opts.limitRate ?? 0 });
    const tracker = P2P ? await startTracker(group) : null;
    let ready = "";
    if (kind === "live") {
      const live = await startLive(group, { mediaDir });
      ready = `; live ready after ${(live.waitedMs / 1000).toFixed(1)} s`;
    } else {
      await symlink(join(mediaRoot, "vod"), join(mediaDir, "vod"));
    }
    console.log(`# run dir ${dir}\n# media ${mediaRoot}; origin ${origin.base}; tracker ${tracker?.url ?? "-"}${ready}`);
    reports = await runViewers({
      originBase: origin.base,
      src: `${origin.base}/media/${kind}/master.m3u8`,
      tracker: tracker?.url,
      p2p: P2P,
      count: viewers,
      staggerMs: STAGGER_S * 1000,
      watchMs: watchS * 1000,
      logDir: dir,
      page: opts.page,
      onJoin: (v) => console.log(`# ${v.id} joined at +${((Date.now() - t0) / 1000).toFixed(1)} s`),
    });
  } finally {
    await group.stopAll();
  }

  // --- measure ---
  const origin = await originBytes(accessLog, { prefix: `/media/${kind}/` });
  const players = playerBytes(reports);
  const share = players.total > 0 ? origin.segmentBytes / players.total : NaN;
  // The share had the origin served each distinct fragment once and peers the rest.
  const floor = players.total > 0 ? players.distinct / players.total : NaN;
  const overFloor = opts.pointsOverFloor ?? MAX_POINTS_OVER_FLOOR;
  const maxShare = fixedShare ?? floor + overFloor / 100;
  const limit =
    fixedShare === undefined
      ? `limit ${(maxShare * 100).toFixed(1)}%: the floor + ${overFloor} points`
      : `limit ${(maxShare * 100).toFixed(0)}%`;
  const { problems, checked } = await verifyFragments(reports, { mediaDir });
  const cpuBusy = await cpu();
  const wallS = (Date.now() - t0) / 1000;
  const ttff = reports.map((r) => r.ttffMs).filter((t) => t !== null).sort((a, b) => a - b);
  const stalls = reports.reduce((n, r) => n + (r.stalls?.count ?? 0), 0);

  console.log(
    [
      "",
      summaryTable(reports, { origin, players }),
      "",
      `${name}: CDN share: origin served ${fmtMB(origin.segmentBytes)} MB of .ts (${origin.segmentRequests} requests) / players loaded ${fmtMB(players.total)} MB = ${(share * 100).toFixed(1)}%` +
        (P2P ? ` (${limit})` : " (p2p=0 baseline, not asserted)"),
      `${name}: each fragment once from the origin would be ${(floor * 100).toFixed(1)}%: ${((share - floor) * 100).toFixed(1)} points over that`,
      `${name}: stalls after start-up: ${stalls}; time to first frame median ${ttff[Math.floor(ttff.length / 2)] ?? "-"} ms, worst ${ttff.at(-1) ?? "-"} ms`,
      `fragments checked against origin files: ${checked}, mismatches: ${problems.length}`,
      `wall ${wallS.toFixed(1)} s; host CPU busy ${(cpuBusy * 100).toFixed(0)}% of all cores (avg over the run)`,
      `logs and report.json: ${dir}`,
      "",
    ].join("\n"),
  );
  await writeFile(join(dir, "report.json"), JSON.stringify({ kind, p2p: P2P, share, floor, origin, players, problems, wallS, cpuBusy, reports }, null, 2));

  // --- assert ---
  for (const r of reports) {
    const fatal = (r.errors ?? []).filter((e) => e.fatal);
    assert.equal(fatal.length, 0, `${r.id}: fatal errors: ${JSON.stringify(fatal)}`);
    if (P2P) assert.equal(r.mesh?.error ?? null, null, `${r.id}: hlsmesh failed: ${r.mesh?.error}`);
    assert.notEqual(r.ttffMs, null, `${r.id}: never started playing`);
    assert.ok((r.fragments ?? []).length > 0, `${r.id}: loaded no fragments`);
    assertNoStalls(r, r.id);
    if (P2P) {
      // The tracker (and the WebRTC offers its announce carries) waits for the first frame,
      // or for 2 s after the agent started, whichever comes first (js/src/index.ts). It polls
      // the video's readyState, which changes just before 'loadeddata' is dispatched: 100 ms
      // of slack (without the wait, the socket opens some 300 ms before the first frame).
      const { trackerSocket, loadeddata } = r.startup?.stages ?? {};
      assert.ok(trackerSocket !== undefined, `${r.id}: never opened a tracker socket`);
      assert.ok(
        trackerSocket + 100 >= loadeddata || trackerSocket >= 2000,
        `${r.id}: tracker socket opened at ${trackerSocket} ms, before the first frame (${loadeddata} ms)`,
      );
    }
  }
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} fragments differ from the origin's files`);
  // A viewer that uploaded measures its upload rate from how fast its channels drain
  // (js/src/agent.ts reports each drain): on loopback that is tens of Mb/s. Timed by the
  // next send instead, it came out near the stream's own rate (0.3-4 Mb/s), and peers
  // told so never asked it for anything.
  if (P2P) {
    for (const r of reports) {
      const s = r.mesh?.stats;
      if ((s?.uploadedBytes ?? 0) < 1e6) continue;
      assert.ok(s.uplinkKbps >= MIN_LOOPBACK_UPLINK_KBPS, `${r.id}: uploaded ${s.uploadedBytes} bytes but measured its uplink at ${s.uplinkKbps} kb/s`);
    }
  }
  // hlsmesh caps hls.js's forward buffer (FORWARD_BUFFER_S in js/src/index.ts) unless the
  // page sets it: hls.js alone loads up to 600 s of a low-rate title ahead. It may pass the
  // cap by the fragment it loads when under it: two target durations of slack.
  if (P2P && kind === "vod") {
    for (const r of reports) {
      assert.ok(r.maxBufferAheadS <= FORWARD_BUFFER_S + 4, `${r.id}: ${r.maxBufferAheadS} s buffered ahead, over ${FORWARD_BUFFER_S} s`);
    }
  }
  if (P2P) {
    assert.ok(share <= maxShare, `CDN share ${(share * 100).toFixed(1)}% over the ${limit}`);
  }
  return { share, stalls, ttff, reports };
}
