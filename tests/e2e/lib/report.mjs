// Checks and tables over viewer reports and the origin's access log.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { readOriginLog, summarizeOriginLog } from "../../support/origin-log.mjs";

const MB = 1024 * 1024;
const fmtMB = (b) => (b / MB).toFixed(2);

/** Longest wait in one of hls.js's own seeks (a jump over a gap at the start of its
 * buffer; the pages never seek) that is not a stall. */
export const SEEK_WAIT_MAX_MS = 250;

/** Asserts a viewer's report shows no stall after its first frame: no 'waiting' outside
 * a seek, and every wait inside one (tests/e2e/recorder.mjs counts those apart) ended
 * within SEEK_WAIT_MAX_MS. */
export function assertNoStalls(report, label) {
  assert.equal(report.stalls?.count ?? 0, 0, `${label}: stalled after start-up: ${JSON.stringify(report.stalls?.events)}`);
  const seeks = report.seekWaits ?? { events: [] };
  const long = seeks.events.filter((e) => e.ms > SEEK_WAIT_MAX_MS);
  assert.ok(
    long.length === 0 && !seeks.openMs,
    `${label}: waited in hls.js's seek for over ${SEEK_WAIT_MAX_MS} ms: ${JSON.stringify(seeks)}`,
  );
}

/**
 * Compare every fragment every viewer loaded with the file the origin has on
 * disk (URL path /media/X -> mediaDir/X). Returns a list of problems (empty = all
 * byte-identical) and the number of fragments checked.
 */
export async function verifyFragments(reports, { mediaDir, urlPrefix = "/media/" }) {
  const cache = new Map(); // path -> Promise<{sha256, size}>
  const fileHash = (path) => {
    if (!cache.has(path)) {
      cache.set(
        path,
        readFile(path).then(
          (buf) => ({ sha256: createHash("sha256").update(buf).digest("hex"), size: buf.length }),
          (err) => ({ error: err.code ?? String(err) }),
        ),
      );
    }
    return cache.get(path);
  };
  const problems = [];
  let checked = 0;
  for (const r of reports) {
    for (const f of r.fragments ?? []) {
      const { pathname } = new URL(f.url);
      if (!pathname.startsWith(urlPrefix)) {
        problems.push(`${r.id}: fragment outside ${urlPrefix}: ${f.url}`);
        continue;
      }
      const path = join(mediaDir, decodeURIComponent(pathname.slice(urlPrefix.length)));
      const want = await fileHash(path);
      checked += 1;
      if (want.error) problems.push(`${r.id}: ${pathname}: cannot read ${path}: ${want.error}`);
      else if (!f.sha256) problems.push(`${r.id}: ${pathname} sn ${f.sn}: no payload captured (${f.bytes} bytes)`);
      else if (f.bytes !== want.size || f.sha256 !== want.sha256)
        problems.push(`${r.id}: ${pathname} sn ${f.sn}: got ${f.bytes} bytes sha256 ${f.sha256.slice(0, 12)}…, file has ${want.size} bytes ${want.sha256.slice(0, 12)}…`);
    }
  }
  return { problems, checked };
}

/** Segment bytes the viewers' players loaded, in total and per viewer. */
export function playerBytes(reports) {
  const per = {};
  let total = 0;
  // Each distinct fragment once (by path: the same file through two CDN hosts is one
  // fragment): what the origin must serve at the least, whatever the peers do.
  const once = new Map();
  for (const r of reports) {
    let b = 0;
    for (const f of r.fragments ?? []) {
      b += f.bytes ?? 0;
      // The largest size seen: a copy recorded without its payload counts 0.
      const path = new URL(f.url, "http://fragment.invalid/").pathname;
      once.set(path, Math.max(once.get(path) ?? 0, f.bytes ?? 0));
    }
    per[r.id] = b;
    total += b;
  }
  let distinct = 0;
  for (const b of once.values()) distinct += b;
  return { total, per, distinct };
}

/** CDN bytes from the access log: .ts bytes under `prefix` the origin served. */
export async function originBytes(accessLog, { prefix = "/media/" } = {}) {
  return summarizeOriginLog(await readOriginLog(accessLog), { prefix });
}

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows
    .map((r, i) => {
      const line = r.map((v, c) => (c === 0 ? String(v).padEnd(widths[c]) : String(v).padStart(widths[c]))).join("  ");
      return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}

/** A Markdown table (first row = header); reads as a plain table in a terminal too. */
export function markdownTable(rows) {
  const line = (r) => `| ${r.join(" | ")} |`;
  return [line(rows[0]), line(rows[0].map(() => "---")), ...rows.slice(1).map(line)].join("\n");
}

/** Human-readable summary: one row per viewer plus totals. */
export function summaryTable(reports, { origin, players }) {
  const rows = [["viewer", "ttff ms", "frags", "player MB", "origin MB", "p2p MB", "up MB", "cdn/peer/cache", "stalls", "stall s", "errors f/nf", "levels", "latency s"]];
  for (const r of reports) {
    const seg = r.mesh?.segments;
    const stats = r.mesh?.stats;
    const o = origin.byViewer?.[r.id];
    const fatal = (r.errors ?? []).filter((e) => e.fatal).length;
    const levels = [...new Set((r.fragments ?? []).map((f) => f.level))].sort().join(",");
    rows.push([
      r.id,
      r.ttffMs ?? "-",
      (r.fragments ?? []).length,
      fmtMB(players.per[r.id] ?? 0),
      o ? fmtMB(o.segmentBytes) : "-",
      !r.p2p ? "-" : stats ? fmtMB(stats.peerBytes ?? 0) : seg ? fmtMB(seg.peer.bytes) : "-",
      stats ? fmtMB(stats.uploadedBytes ?? 0) : "-",
      seg && r.p2p ? `${seg.cdn.count}/${seg.peer.count}/${seg.cache.count}` : "-",
      r.stalls?.count ?? "-",
      r.stalls ? ((r.stalls.totalMs + (r.stalls.openMs ?? 0)) / 1000).toFixed(1) : "-",
      `${fatal}/${(r.errors ?? []).length - fatal}`,
      levels || "-",
      r.playback?.latencyS ?? "-",
    ]);
  }
  return table(rows);
}

export { fmtMB };
