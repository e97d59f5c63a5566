// Side-by-side benchmark (issue 6): plain hls.js (CDN only), p2p-media-loader 2.3.1 and
// hlsmesh, one after another on the same origin, tracker and stream, N headless viewers
// each joining STAGGER_S apart and watching WATCH_S. Run it with `make bench` (inside the
// loopback-only namespace: tests/bench/run.sh).
//
// Knobs (env): VIEWERS (8), BENCH_MODES (live,vod), BENCH_SYSTEMS (plain,p2pml,hlsmesh;
// also p2pml-worker, see HLS_CONFIG), STAGGER_S (3), WATCH_S (60), LIVE_WINDOW (6: the
// live playlist's sliding window in 2-s segments; the first viewer joins once it is full).
//
// Per system and mode it reports: CDN bytes (segments + playlists under /media/<mode>/ in
// the origin's own access log, attributed to a system by the viewer page in the Referer)
// per second of media played (video.played, summed over viewers); offload = 1 - that
// rate / plain hls.js's rate; stalls after start-up (count, total seconds: 'waiting' with
// no seek under way; the pages never seek, so a wait while seeking is hls.js jumping a gap
// in the buffer, counted beside them as "in hls.js's seeks"); time to first
// frame (navigation start to the first 'playing'; median, worst); CPU seconds per viewer
// (its Chromium's processes, user + system); and the gzipped bytes the system adds to a
// page. Two columns for context: segment bytes the players loaded per second played (hls.js
// buffers ahead: loaded exceeds played), and CDN bytes ÷ loaded bytes (the e2e tests' CDN
// share). Tables go to stdout (Markdown), everything to target/bench/bench-<time>.json.
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ProcessGroup } from "../e2e/lib/procs.mjs";
import { ROOT, cpuSampler, ensureMedia, inLoopbackNetns, runDir, startLive, startOrigin, startTracker } from "../e2e/lib/stack.mjs";
import { runViewers } from "../e2e/lib/viewers.mjs";
import { markdownTable, playerBytes, verifyFragments } from "../e2e/lib/report.mjs";
import { readOriginLog, summarizeOriginLog } from "../support/origin-log.mjs";
import { HLS_CONFIG, MODES, SYSTEMS, median, shippedBytes, systems } from "./systems.mjs";

const env = process.env;
const VIEWERS = Number(env.VIEWERS ?? 8);
const STAGGER_S = Number(env.STAGGER_S ?? 3);
const WATCH_S = Number(env.WATCH_S ?? 60);
const LIVE_WINDOW = Number(env.LIVE_WINDOW ?? 6); // read by demo/media/live.sh too
const OUT = join(ROOT, "target/bench");

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const systemOf = (entry) => {
  try {
    return new URL(entry.ref).searchParams.get("sys") ?? "";
  } catch {
    return "";
  }
};

/** One mode: origin, tracker and stream started once; each system's viewers in turn. */
async function runMode(kind, t0) {
  const dir = await runDir(`bench-${kind}`, 3, OUT);
  const mediaDir = join(dir, "media");
  const accessLog = join(dir, "origin-access.log");
  const group = new ProcessGroup(dir);
  const reports = {};
  const windows = {};
  try {
    const origin = await startOrigin(group, { mediaDir, accessLog });
    const tracker = await startTracker(group);
    if (kind === "live") await startLive(group, { mediaDir, minSegments: LIVE_WINDOW, timeoutMs: LIVE_WINDOW * 2000 + 30000 });
    else await symlink(join(await ensureMedia(), "vod"), join(mediaDir, "vod"));
    console.log(`# ${kind}: run dir ${dir}; origin ${origin.base}; tracker ${tracker.url}`);
    for (const sys of systems) {
      const cpu = await cpuSampler();
      const from = Date.now();
      reports[sys] = await runViewers({
        originBase: origin.base,
        src: `${origin.base}/media/${kind}/master.m3u8`,
        tracker: tracker.url,
        p2p: SYSTEMS[sys].p2p,
        count: VIEWERS,
        staggerMs: STAGGER_S * 1000,
        watchMs: WATCH_S * 1000,
        logDir: dir,
        page: SYSTEMS[sys].page,
        hls: SYSTEMS[sys].hls ?? HLS_CONFIG,
        params: { sys },
        idPrefix: `${sys}-v`,
      });
      windows[sys] = { from, to: Date.now(), hostCpuBusy: await cpu() };
      console.log(`# ${kind} ${sys}: ${VIEWERS} viewers done at +${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    await group.stopAll();
  }

  const entries = await readOriginLog(accessLog);
  const prefix = `/media/${kind}/`;
  const unattributed = summarizeOriginLog(entries.filter((e) => !systems.includes(systemOf(e))), { prefix });
  const results = {};
  for (const sys of systems) {
    const rs = reports[sys];
    const origin = summarizeOriginLog(entries.filter((e) => systemOf(e) === sys), { prefix });
    const cdnBytes = origin.segmentBytes + origin.playlistBytes;
    const playedS = sum(rs.map((r) => r.playback?.playedS ?? 0));
    const ttff = rs.map((r) => r.ttffMs).filter((t) => t !== null).sort((a, b) => a - b);
    const cpu = rs.map((r) => r.harness?.cpuS).filter((c) => c !== null && c !== undefined);
    const { problems, checked } = await verifyFragments(rs, { mediaDir });
    results[sys] = {
      system: SYSTEMS[sys].label,
      cdnBytes,
      cdnSegmentBytes: origin.segmentBytes,
      cdnSegmentRequests: origin.segmentRequests,
      cdnRangeRequests: origin.rangeRequests,
      cdnPlaylistBytes: origin.playlistBytes,
      playedS,
      cdnBytesPerPlayedS: playedS > 0 ? cdnBytes / playedS : null,
      playerBytes: playerBytes(rs).total,
      peerBytes: sum(rs.map((r) => r.mesh?.stats?.peerBytes ?? 0)),
      // p2p-media-loader: connections opened over the session; hlsmesh: peers at the end
      peersPerViewer: SYSTEMS[sys].p2p ? sum(rs.map((r) => r.mesh?.stats?.peerConnects ?? r.mesh?.stats?.peers ?? 0)) / rs.length : null,
      // The recorder counts waits in hls.js's seeks apart from stalls (tests/e2e/recorder.mjs).
      stalls: sum(rs.map((r) => r.stalls?.count ?? 0)),
      stallS: sum(rs.map((r) => (r.stalls?.totalMs ?? 0) + (r.stalls?.openMs ?? 0))) / 1000,
      seekWaits: sum(rs.map((r) => r.seekWaits?.count ?? 0)),
      seekWaitS: sum(rs.map((r) => (r.seekWaits?.totalMs ?? 0) + (r.seekWaits?.openMs ?? 0))) / 1000,
      ttffMedianMs: median(ttff),
      ttffWorstMs: ttff.at(-1) ?? null,
      neverStarted: rs.length - ttff.length,
      cpuSPerViewer: cpu.length ? sum(cpu) / cpu.length : null,
      fatalErrors: sum(rs.map((r) => (r.errors ?? []).filter((e) => e.fatal).length)),
      fragmentsChecked: checked,
      fragmentMismatches: problems.length,
      hostCpuBusy: windows[sys].hostCpuBusy,
      wallS: (windows[sys].to - windows[sys].from) / 1000,
      shippedGzBytes: shippedBytes(SYSTEMS[sys].ships),
    };
  }
  const base = results.plain?.cdnBytesPerPlayedS;
  for (const r of Object.values(results)) r.offload = base && r.cdnBytesPerPlayedS !== null ? 1 - r.cdnBytesPerPlayedS / base : null;
  await writeFile(join(dir, "reports.json"), JSON.stringify({ kind, reports, windows }, null, 2));
  return { kind, dir, results, unattributedCdnBytes: unattributed.segmentBytes + unattributed.playlistBytes };
}

function printMode({ kind, results, unattributedCdnBytes }) {
  const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
  const rows = [["system", "CDN bytes/s played", "offload vs plain", "stalls (count, total s)", "TTFF median / worst ms", "CPU s per viewer", "shipped KB gz", "loaded kb/s played", "CDN ÷ loaded"]];
  for (const r of Object.values(results)) {
    rows.push([
      r.system,
      r.cdnBytesPerPlayedS === null ? "—" : Math.round(r.cdnBytesPerPlayedS).toLocaleString("en"),
      pct(r.offload),
      `${r.stalls}, ${r.stallS.toFixed(1)}` + (r.seekWaits ? ` (+${r.seekWaits}, ${r.seekWaitS.toFixed(3)} in hls.js's seeks)` : ""),
      `${r.ttffMedianMs ?? "—"} / ${r.ttffWorstMs ?? "—"}` + (r.neverStarted ? ` (${r.neverStarted} never started)` : ""),
      r.cpuSPerViewer === null ? "—" : r.cpuSPerViewer.toFixed(1),
      (r.shippedGzBytes / 1024).toFixed(1),
      r.playedS > 0 ? Math.round((r.playerBytes * 8) / r.playedS / 1000) : "—",
      pct(r.playerBytes ? r.cdnBytes / r.playerBytes : null),
    ]);
  }
  const stream = kind === "live" ? `live, ${LIVE_WINDOW} × 2 s window` : "VOD, 120 s";
  console.log(`\n## ${stream}: ${VIEWERS} viewers, ${STAGGER_S} s apart, ${WATCH_S} s each\n\n${markdownTable(rows)}\n`);
  for (const r of Object.values(results)) {
    if (r.peersPerViewer === null) continue;
    const what = r.system.startsWith("p2p-media-loader") ? "peer connections opened" : "peers connected at the end";
    console.log(`${r.system}: ${pct(r.peerBytes / r.playerBytes)} of loaded bytes came from peers (its own count); ${r.peersPerViewer.toFixed(1)} ${what} per viewer`);
  }
  for (const r of Object.values(results)) {
    const notes = [];
    if (r.fatalErrors) notes.push(`${r.fatalErrors} fatal errors`);
    if (r.fragmentMismatches) notes.push(`${r.fragmentMismatches} of ${r.fragmentsChecked} fragments differ from the origin's files`);
    if (notes.length) console.log(`WARNING ${kind} ${r.system}: ${notes.join("; ")}`);
  }
  if (unattributedCdnBytes) console.log(`WARNING ${kind}: ${unattributedCdnBytes} CDN bytes without a system in the Referer`);
  const { plain, p2pml, hlsmesh } = results;
  if (plain && p2pml && hlsmesh) {
    const points = (hlsmesh.offload - p2pml.offload) * 100;
    console.log(
      `targets (${kind}): offload hlsmesh − p2p-media-loader = ${points.toFixed(1)} points (target ≥ 20): ${points >= 20 ? "met" : "NOT met"}; ` +
        `stalls ${hlsmesh.stalls} vs plain ${plain.stalls}: ${hlsmesh.stalls <= plain.stalls ? "met" : "NOT met"}; ` +
        `TTFF median ${hlsmesh.ttffMedianMs} vs plain ${plain.ttffMedianMs} ms: ${hlsmesh.ttffMedianMs <= plain.ttffMedianMs ? "met" : "NOT met"}`,
    );
  }
}

if (!(await inLoopbackNetns()) && env.E2E_ALLOW_HOST_NET !== "1") {
  console.error("bench: not in a loopback-only network namespace: run tests/bench/run.sh (make bench)");
  process.exit(1);
}
const t0 = Date.now();
const started = new Date().toISOString();
const modes = [];
for (const kind of MODES) {
  const m = await runMode(kind, t0);
  printMode(m);
  modes.push(m);
}
const wallS = (Date.now() - t0) / 1000;
await mkdir(OUT, { recursive: true });
const file = join(OUT, `bench-${started.replace(/[:.]/g, "-")}.json`);
const json = JSON.stringify({ started, wallS, viewers: VIEWERS, staggerS: STAGGER_S, watchS: WATCH_S, liveWindow: LIVE_WINDOW, hlsConfig: HLS_CONFIG, systems, modes }, null, 2);
await writeFile(file, json);
await writeFile(join(OUT, "latest.json"), json);
console.log(`bench: ${MODES.join(", ")} with ${VIEWERS} viewers in ${(wallS / 60).toFixed(1)} min; JSON ${file}`);
