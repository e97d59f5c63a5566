// Parse the origin's access log (demo/origin/nginx.conf.template, format
// "hlsmesh": one JSON object per line) and total what it served.
//
//   import { readOriginLog, summarizeOriginLog } from "./origin-log.mjs";
//   const s = summarizeOriginLog(await readOriginLog(file));
//   s.segmentBytes   // $body_bytes_sent of /media/ *.ts requests = CDN bytes
//
// CLI: node tests/support/origin-log.mjs LOGFILE [--prefix /media/live/]  -> JSON summary
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";

/**
 * @typedef {object} LogEntry
 * @property {number} t       request end, seconds since the epoch ($msec)
 * @property {string} uri     normalised path ($uri)
 * @property {string} req     raw request URI with query ($request_uri)
 * @property {string} m       method
 * @property {number} s       status
 * @property {number} b       $body_bytes_sent
 * @property {number} rt      $request_time, seconds
 * @property {string} range   Range request header ("" when none)
 * @property {string} ref     Referer (the viewer page URL)
 * @property {number} conn    connection serial number
 */

/** Parse log text into entries; skips blank and malformed lines. */
export function parseOriginLog(text) {
  const entries = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line));
    } catch {
      // A line cut off mid-write while the server still runs: ignore.
    }
  }
  return entries;
}

/** Read and parse a log file (missing file = no entries). */
export async function readOriginLog(file) {
  try {
    return parseOriginLog(await readFile(file, "utf8"));
  } catch (err) {
    if (err.code === "ENOENT") return [];
    throw err;
  }
}

/** The viewer id from a Referer carrying `?id=...` (viewer.html), or "". */
export function viewerOf(entry) {
  if (!entry.ref) return "";
  try {
    return new URL(entry.ref).searchParams.get("id") ?? "";
  } catch {
    return "";
  }
}

/**
 * Totals over entries.
 * @param {LogEntry[]} entries
 * @param {object} [opts]
 * @param {string} [opts.prefix="/media/"]  only paths under this count as media
 * @param {string} [opts.ext=".ts"]         segment file extension
 * @param {number} [opts.since]             ignore entries before this time (s since epoch)
 * @param {number} [opts.until]             ignore entries after this time
 */
export function summarizeOriginLog(entries, opts = {}) {
  const { prefix = "/media/", ext = ".ts", since = -Infinity, until = Infinity } = opts;
  const out = {
    requests: 0,
    bytes: 0,
    segmentRequests: 0,
    segmentBytes: 0,
    playlistRequests: 0,
    playlistBytes: 0,
    rangeRequests: 0,
    errors: 0, // status >= 400 under prefix
    byStatus: {},
    byPath: {}, // segment path -> {requests, bytes}
    byViewer: {}, // viewer id -> {segmentRequests, segmentBytes, playlistRequests}
  };
  for (const e of entries) {
    if (e.t < since || e.t > until) continue;
    out.requests += 1;
    out.bytes += e.b;
    out.byStatus[e.s] = (out.byStatus[e.s] ?? 0) + 1;
    if (!e.uri.startsWith(prefix)) continue;
    if (e.s >= 400) out.errors += 1;
    const v = (out.byViewer[viewerOf(e)] ??= { segmentRequests: 0, segmentBytes: 0, playlistRequests: 0 });
    if (e.m !== "GET") continue;
    if (e.uri.endsWith(ext)) {
      out.segmentRequests += 1;
      out.segmentBytes += e.b;
      if (e.range) out.rangeRequests += 1;
      const p = (out.byPath[e.uri] ??= { requests: 0, bytes: 0 });
      p.requests += 1;
      p.bytes += e.b;
      v.segmentRequests += 1;
      v.segmentBytes += e.b;
    } else if (e.uri.endsWith(".m3u8")) {
      out.playlistRequests += 1;
      out.playlistBytes += e.b;
      v.playlistRequests += 1;
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const file = args[0];
  if (!file) {
    console.error("usage: origin-log.mjs LOGFILE [--prefix /media/] [--paths]");
    process.exit(2);
  }
  const i = args.indexOf("--prefix");
  const summary = summarizeOriginLog(await readOriginLog(file), i > 0 ? { prefix: args[i + 1] } : {});
  if (!args.includes("--paths")) summary.byPath = `${Object.keys(summary.byPath).length} paths (--paths to list)`;
  console.log(JSON.stringify(summary, null, 2));
}
