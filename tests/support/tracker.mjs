#!/usr/bin/env node
// WebTorrent (WebSocket) tracker for tests and the demo, on loopback only.
//
//   node tests/support/tracker.mjs --port P [--host 127.0.0.1] [--interval S] [--quiet]
//
// Uses the bittorrent-tracker npm package, server side only (its client needs a
// native module that is not built here). Prints `tracker listening ws://HOST:P`
// once ready (P is the real port when --port 0), then at most one summary line
// every 5 s when something changed: swarms, peers per swarm, announces, offers,
// answers. --interval is the announce interval sent to clients, in seconds
// (bittorrent-tracker tells WebSocket clients interval/5; we undo that).
// Exits 0 on SIGTERM/SIGINT, closing open client sockets.
import Server from "bittorrent-tracker/server";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    interval: { type: "string", default: "30" },
    quiet: { type: "boolean", default: false },
  },
});
if (opts.port === undefined || !/^\d+$/.test(opts.port)) {
  console.error("usage: tracker.mjs --port P [--host 127.0.0.1] [--interval S] [--quiet]");
  process.exit(2);
}
const intervalS = Number(opts.interval);

const server = new Server({
  udp: false,
  http: false,
  ws: true,
  stats: false,
  interval: intervalS * 5 * 1000,
});

// Upgraded WebSocket connections are not closed by http.close(); track them.
const sockets = new Set();
const counts = { announces: 0, offers: 0, answers: 0, warnings: 0, connections: 0 };

server.on("error", (err) => {
  console.error(`tracker: error: ${err.message}`);
  process.exit(1);
});
server.on("warning", (err) => {
  counts.warnings += 1;
  if (!opts.quiet) console.error(`tracker: warning: ${err.message}`);
});
for (const ev of ["start", "update", "complete", "stop"]) {
  server.on(ev, (_peerId, params) => {
    counts.announces += 1;
    if (Array.isArray(params?.offers)) counts.offers += params.offers.length;
    if (params?.answer) counts.answers += 1;
  });
}

server.http.on("connection", (s) => {
  counts.connections += 1;
  sockets.add(s);
  s.on("close", () => sockets.delete(s));
});
server.listen(Number(opts.port), opts.host, () => {
  const { port } = server.ws.address();
  console.log(`tracker listening ws://${opts.host}:${port}`);
});

let last = "";
const summary = setInterval(() => {
  if (opts.quiet) return;
  const swarms = Object.values(server.torrents);
  const peers = swarms.map((s) => s.peers.length);
  const line =
    `tracker: ${sockets.size} sockets, ${swarms.length} swarms, peers/swarm [${peers.join(",")}], ` +
    `announces ${counts.announces}, offers ${counts.offers}, answers ${counts.answers}, warnings ${counts.warnings}`;
  if (line !== last) console.log(line);
  last = line;
}, 5000);
summary.unref();

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  clearInterval(summary);
  for (const s of sockets) s.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
  if (!opts.quiet) console.log(`tracker: ${signal}, closing`);
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
