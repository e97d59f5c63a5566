// Start-up benchmark (make bench-ttff): time to first frame of plain hls.js,
// p2p-media-loader 2.3.1 and hlsmesh, measured as many paired samples rather than the one
// staggered run of `make bench` (whose eight joins per system cannot separate tens of
// milliseconds on a shared machine). Run it inside the loopback-only namespace:
// `tests/bench/run.sh tests/bench/ttff.mjs`.
//
// Per mode (live, VOD): one origin, tracker and stream; RESIDENTS viewers of every system
// start first and keep playing throughout, so each joiner of a P2P system joins a swarm
// that holds the stream, and every joiner sees the same background load. Then ROUNDS
// rounds: in each, one fresh viewer per system (a new browser with an empty profile: cold
// cache, the wasm fetched and compiled) joins, in an order rotated each round, and is
// closed at its first 'playing' (or after 20 s: "never started").
//
// Reports per system: TTFF median, quartiles and worst over the rounds; and, paired by
// round against plain hls.js, the median difference with a 90% bootstrap interval, and in
// how many rounds the system started first. Knobs (env): TTFF_ROUNDS (12), TTFF_RESIDENTS
// (2), BENCH_MODES, BENCH_SYSTEMS, LIVE_WINDOW. JSON in target/bench/ttff-<time>.json.
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ProcessGroup } from "../e2e/lib/procs.mjs";
import { ROOT, ensureMedia, inLoopbackNetns, runDir, startLive, startOrigin, startTracker } from "../e2e/lib/stack.mjs";
import { closeViewer, launchViewer, viewerUrl } from "../e2e/lib/viewers.mjs";
import { markdownTable } from "../e2e/lib/report.mjs";
import { HLS_CONFIG, MODES, SYSTEMS, median, systems } from "./systems.mjs";

const env = process.env;
const ROUNDS = Number(env.TTFF_ROUNDS ?? 12);
const RESIDENTS = Number(env.TTFF_RESIDENTS ?? 2);
const LIVE_WINDOW = Number(env.LIVE_WINDOW ?? 6);
const START_TIMEOUT_MS = 20000;
const OUT = join(ROOT, "target/bench");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Value at quantile q of a sorted list (nearest rank). */
const quantile = (xs, q) => (xs.length ? xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))] : null);
const sorted = (xs) => [...xs].sort((a, b) => a - b);

/** 90% bootstrap interval of the median of `xs`, with a fixed-seed generator (repeatable). */
function bootstrapMedian(xs, draws = 2000) {
  if (xs.length < 2) return [null, null];
  let seed = 0x9e3779b9;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const medians = [];
  for (let d = 0; d < draws; d++) {
    const sample = xs.map(() => xs[Math.floor(rand() * xs.length)]);
    medians.push(median(sorted(sample)));
  }
  const s = sorted(medians);
  return [quantile(s, 0.05), quantile(s, 0.95)];
}

function url(origin, tracker, kind, sys, id) {
  return viewerUrl(origin.base, {
    src: `${origin.base}/media/${kind}/master.m3u8`,
    tracker: tracker.url,
    p2p: SYSTEMS[sys].p2p,
    id,
    hls: SYSTEMS[sys].hls ?? HLS_CONFIG,
    page: SYSTEMS[sys].page,
    params: { sys },
  });
}

/**
 * Where a start-up's time went: hls.js's stages (first time each happened) and, from the
 * page's resource timings, when the first of each kind of resource ended, all in ms since
 * navigation start.
 */
function startupMarks(startup) {
  const marks = { ...startup.stages };
  const kinds = [
    ["hls.js loaded", (p) => p.endsWith("/hls.mjs") || p.endsWith("/hls.min.js") || p.endsWith("/hls.js")],
    ["hlsmesh JS loaded", (p) => /\/hlsmesh[^/]*\.js$/.test(p) || p.includes("/p2p-media-loader")],
    ["wasm loaded", (p) => p.endsWith(".wasm")],
    ["master playlist", (p) => p.endsWith("/master.m3u8")],
    ["media playlist", (p) => p.endsWith(".m3u8") && !p.endsWith("/master.m3u8")],
    ["first segment fetched", (p) => p.endsWith(".ts") || p.endsWith(".m4s")],
  ];
  for (const [name, match] of kinds) {
    const hit = (startup.resources ?? []).filter((r) => match(r.path));
    if (hit.length) marks[name] = Math.min(...hit.map((r) => r.end));
  }
  const first = (startup.resources ?? []).filter((r) => r.path.endsWith(".ts") || r.path.endsWith(".m4s"));
  if (first.length) marks["first segment requested"] = Math.min(...first.map((r) => r.start));
  return marks;
}

/** One joiner: a fresh browser, closed at its first frame. Returns { ttff, marks }; ttff null if it never started. */
async function joinOnce(dir, origin, tracker, kind, sys, id) {
  const viewer = await launchViewer({ id, url: url(origin, tracker, kind, sys, id), consoleLog: join(dir, `viewer-${id}.console.log`) });
  try {
    // The page timestamps its first 'playing' itself; polling only decides when to stop.
    for (const until = Date.now() + START_TIMEOUT_MS; Date.now() < until; await sleep(100)) {
      const r = await viewer.page.evaluate(async () => {
        if (!window.__report) return null;
        const rep = await window.__report();
        return rep.ttffMs === null ? null : { ttff: rep.ttffMs, startup: rep.startup };
      });
      if (r) return { ttff: r.ttff, marks: startupMarks(r.startup) };
    }
    return { ttff: null, marks: {} };
  } catch {
    return { ttff: null, marks: {} };
  } finally {
    await closeViewer(viewer);
  }
}

async function runMode(kind) {
  const dir = await runDir(`ttff-${kind}`, 3, OUT);
  const mediaDir = join(dir, "media");
  const group = new ProcessGroup(dir);
  const residents = [];
  const samples = Object.fromEntries(systems.map((s) => [s, []]));
  const marks = Object.fromEntries(systems.map((s) => [s, []]));
  try {
    const origin = await startOrigin(group, { mediaDir, accessLog: join(dir, "origin-access.log") });
    const tracker = await startTracker(group);
    if (kind === "live") await startLive(group, { mediaDir, minSegments: LIVE_WINDOW, timeoutMs: LIVE_WINDOW * 2000 + 30000 });
    else await symlink(join(await ensureMedia(), "vod"), join(mediaDir, "vod"));
    console.log(`# ${kind}: run dir ${dir}; ${RESIDENTS} resident viewers per system, ${ROUNDS} rounds`);
    for (let i = 0; i < RESIDENTS; i++) {
      for (const sys of systems) {
        const id = `${sys}-r${i + 1}`;
        residents.push(await launchViewer({ id, url: url(origin, tracker, kind, sys, id), consoleLog: join(dir, `viewer-${id}.console.log`) }));
      }
      await sleep(2000);
    }
    if (RESIDENTS) await sleep(8000); // the residents hold a few segments and know each other
    for (let round = 0; round < ROUNDS; round++) {
      const order = systems.map((_, i) => systems[(i + round) % systems.length]);
      for (const sys of order) {
        const j = await joinOnce(dir, origin, tracker, kind, sys, `${sys}-j${round + 1}`);
        samples[sys].push(j.ttff);
        marks[sys].push(j.marks);
        await sleep(500);
      }
      console.log(`# ${kind} round ${round + 1}: ${systems.map((s) => `${s} ${samples[s][round] ?? "—"} ms`).join(", ")}`);
    }
  } finally {
    await Promise.allSettled(residents.map(closeViewer));
    await group.stopAll();
  }
  const results = {};
  for (const sys of systems) {
    const ok = sorted(samples[sys].filter((t) => t !== null));
    const r = { system: SYSTEMS[sys].label, samples: samples[sys], marks: marks[sys], n: ok.length, neverStarted: samples[sys].length - ok.length };
    r.markMediansMs = {};
    for (const name of new Set(marks[sys].flatMap((m) => Object.keys(m)))) {
      r.markMediansMs[name] = median(sorted(marks[sys].map((m) => m[name]).filter((t) => t !== undefined)));
    }
    r.medianMs = median(ok);
    r.p25Ms = quantile(ok, 0.25);
    r.p75Ms = quantile(ok, 0.75);
    r.worstMs = ok.at(-1) ?? null;
    if (sys !== "plain" && samples.plain) {
      const diffs = samples[sys].map((t, i) => (t !== null && samples.plain[i] !== null ? t - samples.plain[i] : null)).filter((d) => d !== null);
      r.pairedDiffMedianMs = median(sorted(diffs));
      r.pairedDiffCi90Ms = bootstrapMedian(diffs);
      r.roundsFaster = diffs.filter((d) => d < 0).length;
      r.roundsPaired = diffs.length;
    }
    results[sys] = r;
  }
  return { kind, dir, results };
}

function printMode({ kind, results }) {
  const rows = [["system", "TTFF median ms", "quartiles ms", "worst ms", "− plain, median (90% CI) ms", "rounds started first vs plain"]];
  for (const r of Object.values(results)) {
    rows.push([
      r.system + (r.neverStarted ? ` (${r.neverStarted} never started)` : ""),
      r.medianMs ?? "—",
      `${r.p25Ms ?? "—"}–${r.p75Ms ?? "—"}`,
      r.worstMs ?? "—",
      r.pairedDiffMedianMs === undefined ? "—" : `${r.pairedDiffMedianMs > 0 ? "+" : ""}${r.pairedDiffMedianMs} (${r.pairedDiffCi90Ms[0]}…${r.pairedDiffCi90Ms[1]})`,
      r.roundsPaired === undefined ? "—" : `${r.roundsFaster} of ${r.roundsPaired}`,
    ]);
  }
  const stream = kind === "live" ? `live, ${LIVE_WINDOW} × 2 s window` : "VOD, 120 s";
  console.log(`\n## ${stream}: ${ROUNDS} joiners per system, ${RESIDENTS} residents each\n\n${markdownTable(rows)}\n`);
  // Where the start-up's time went: the median of each stage, in the order plain reaches them.
  const all = Object.values(results);
  const names = [...new Set(all.flatMap((r) => Object.keys(r.markMediansMs)))];
  const ref = results.plain ?? all[0];
  // Stages plain has not (the P2P systems' own) go last, in the order of the first system that has them.
  const at = (name) => ref.markMediansMs[name] ?? 1e9 + Math.min(...all.map((r) => r.markMediansMs[name] ?? 1e9));
  names.sort((a, b) => at(a) - at(b));
  const stageRows = [["stage (median ms since navigation)", ...all.map((r) => r.system)]];
  for (const name of names) stageRows.push([name, ...all.map((r) => r.markMediansMs[name] ?? "—")]);
  stageRows.push(["first 'playing' (TTFF)", ...all.map((r) => r.medianMs ?? "—")]);
  console.log(`${markdownTable(stageRows)}\n`);
  const { hlsmesh } = results;
  if (hlsmesh?.pairedDiffCi90Ms?.[0] != null) {
    const [lo, hi] = hlsmesh.pairedDiffCi90Ms;
    const verdict = hi <= 0 ? "met (faster)" : lo > 0 ? "NOT met (slower)" : "met within noise (the interval holds 0)";
    console.log(`target (${kind}): no slower start than plain hls.js: hlsmesh − plain median ${hlsmesh.pairedDiffMedianMs} ms, 90% CI ${lo}…${hi} ms: ${verdict}`);
  }
}

if (!(await inLoopbackNetns()) && env.E2E_ALLOW_HOST_NET !== "1") {
  console.error("bench-ttff: not in a loopback-only network namespace: run tests/bench/run.sh tests/bench/ttff.mjs (make bench-ttff)");
  process.exit(1);
}
const t0 = Date.now();
const started = new Date().toISOString();
const modes = [];
for (const kind of MODES) {
  const m = await runMode(kind);
  printMode(m);
  modes.push(m);
}
const wallS = (Date.now() - t0) / 1000;
await mkdir(OUT, { recursive: true });
const file = join(OUT, `ttff-${started.replace(/[:.]/g, "-")}.json`);
await writeFile(file, JSON.stringify({ started, wallS, rounds: ROUNDS, residents: RESIDENTS, liveWindow: LIVE_WINDOW, hlsConfig: HLS_CONFIG, systems, modes }, null, 2));
console.log(`bench-ttff: ${MODES.join(", ")}, ${ROUNDS} rounds in ${(wallS / 60).toFixed(1)} min; JSON ${file}`);
