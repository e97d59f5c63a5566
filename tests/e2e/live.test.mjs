// Live stream, several real Chromium viewers, a real tracker and a real origin.
//
//   tests/e2e/run.sh                 (runs this inside a loopback-only netns)
//   P2P=0 tests/e2e/run.sh           plain hls.js baseline: share printed, not asserted
//
// Knobs (env): VIEWERS (4), STAGGER_S (3), WATCH_S (60), MAX_CDN_SHARE (0.5).
//
// Asserts: no fatal hls.js error on any viewer; every viewer plays; every
// fragment every player received is byte-identical to the origin's file; with
// P2P, the origin served (its access log: .ts bytes under /media/live/) at most
// MAX_CDN_SHARE of the segment bytes the players loaded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ProcessGroup } from "./lib/procs.mjs";
import { cpuSampler, ensureMedia, inLoopbackNetns, runDir, startLive, startOrigin, startTracker } from "./lib/stack.mjs";
import { runViewers } from "./lib/viewers.mjs";
import { fmtMB, originBytes, playerBytes, summaryTable, verifyFragments } from "./lib/report.mjs";

const env = process.env;
const P2P = env.P2P !== "0";
const VIEWERS = Number(env.VIEWERS ?? 4);
const STAGGER_S = Number(env.STAGGER_S ?? 3);
const WATCH_S = Number(env.WATCH_S ?? 60);
const MAX_CDN_SHARE = Number(env.MAX_CDN_SHARE ?? 0.5);
const TIMEOUT_MS = (60 + VIEWERS * (STAGGER_S + 10) + WATCH_S + 60) * 1000;

test(`live: ${VIEWERS} viewers, ${STAGGER_S} s apart, ${WATCH_S} s each, p2p=${P2P ? 1 : 0}`, { timeout: TIMEOUT_MS }, async () => {
  if (!(await inLoopbackNetns()) && env.E2E_ALLOW_HOST_NET !== "1") {
    assert.fail("not in a loopback-only network namespace: run tests/e2e/run.sh (or set E2E_ALLOW_HOST_NET=1)");
  }
  const t0 = Date.now();
  const cpu = await cpuSampler();
  const mediaRoot = await ensureMedia();
  const dir = await runDir(P2P ? "live" : "live-p2p0");
  const mediaDir = join(dir, "media");
  const accessLog = join(dir, "origin-access.log");
  const group = new ProcessGroup(dir);
  let reports;
  let liveInfo;
  try {
    const origin = await startOrigin(group, { mediaDir, accessLog });
    const tracker = P2P ? await startTracker(group) : null;
    liveInfo = await startLive(group, { mediaDir });
    console.log(
      `# run dir ${dir}\n# media ${mediaRoot}; origin ${origin.base}; tracker ${tracker?.url ?? "-"}; ` +
        `live ready after ${(liveInfo.waitedMs / 1000).toFixed(1)} s`,
    );
    reports = await runViewers({
      originBase: origin.base,
      src: `${origin.base}/media/live/master.m3u8`,
      tracker: tracker?.url,
      p2p: P2P,
      count: VIEWERS,
      staggerMs: STAGGER_S * 1000,
      watchMs: WATCH_S * 1000,
      logDir: dir,
      onJoin: (v) => console.log(`# ${v.id} joined at +${((Date.now() - t0) / 1000).toFixed(1)} s`),
    });
  } finally {
    await group.stopAll();
  }

  // --- measure ---
  const origin = await originBytes(accessLog, { prefix: "/media/live/" });
  const players = playerBytes(reports);
  const share = players.total > 0 ? origin.segmentBytes / players.total : NaN;
  const { problems, checked } = await verifyFragments(reports, { mediaDir });
  const cpuBusy = await cpu();
  const wallS = (Date.now() - t0) / 1000;

  const lines = [
    "",
    summaryTable(reports, { origin, players }),
    "",
    `CDN share: origin served ${fmtMB(origin.segmentBytes)} MB of .ts (${origin.segmentRequests} requests) / players loaded ${fmtMB(players.total)} MB = ${(share * 100).toFixed(1)}%` +
      (P2P ? ` (limit ${(MAX_CDN_SHARE * 100).toFixed(0)}%)` : " (p2p=0 baseline, not asserted)"),
    `fragments checked against origin files: ${checked}, mismatches: ${problems.length}`,
    `wall ${wallS.toFixed(1)} s; host CPU busy ${(cpuBusy * 100).toFixed(0)}% of all cores (avg over the run)`,
    `logs and report.json: ${dir}`,
    "",
  ];
  console.log(lines.join("\n"));
  await writeFile(join(dir, "report.json"), JSON.stringify({ p2p: P2P, share, origin, players, problems, wallS, cpuBusy, reports }, null, 2));

  // --- assert ---
  for (const r of reports) {
    const fatal = (r.errors ?? []).filter((e) => e.fatal);
    assert.equal(fatal.length, 0, `${r.id}: fatal errors: ${JSON.stringify(fatal)}`);
    if (P2P) assert.equal(r.mesh?.error ?? null, null, `${r.id}: hlsmesh failed: ${r.mesh?.error}`);
    assert.notEqual(r.ttffMs, null, `${r.id}: never started playing`);
    assert.ok((r.fragments ?? []).length > 0, `${r.id}: loaded no fragments`);
  }
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} fragments differ from the origin's files`);
  if (P2P) {
    assert.ok(share <= MAX_CDN_SHARE, `CDN share ${(share * 100).toFixed(1)}% > ${(MAX_CDN_SHARE * 100).toFixed(0)}%`);
  }
});
