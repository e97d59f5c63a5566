// A VOD viewer moving to the next stretch's swarm (docs/PROTOCOL.md), against both
// trackers the tests use, started as the end-to-end tests start them, on loopback:
// bittorrent-tracker's server (tests/support/tracker.mjs) and aquatic_ws (installed by
// scripts/ensure-tools.sh). After our `stopped` for the swarm we left, offers made there
// no longer reach us, and offers made in the swarm we joined do. Frames are the shim's (js/src/tracker-wire.ts, bundled by `make test-js`).
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { ProcessGroup } from "../e2e/lib/procs.mjs";
import { startAquatic, startBittorrentTracker } from "../e2e/lib/stack.mjs";
import * as wire from "../../target/unit/tracker-wire.mjs";

const id = (fill) => new Uint8Array(20).fill(fill);
const STARTED = 1;
const STOPPED = 2;

/** A tracker client socket that keeps every frame it receives. */
async function client(url) {
  const ws = new WebSocket(url);
  const frames = [];
  ws.on("message", (data) => frames.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return { ws, frames };
}

/** Waits until `frames` holds one for which `pred` is true, or fails after 2 s. */
async function frame(frames, pred, what) {
  for (let i = 0; i < 200; i++) {
    const f = frames.find(pred);
    if (f) return f;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`no ${what}`);
}

const announced = (hash) => (f) => f.action === "announce" && f.info_hash === wire.idString(hash) && "complete" in f;

for (const [name, start] of [
  ["bittorrent-tracker", startBittorrentTracker],
  ["aquatic_ws", startAquatic],
]) {
  test(`${name}: after \`stopped\`, the swarm left relays nothing to us; the swarm joined does`, (t) => moveBetweenStretches(t, start));
}

async function moveBetweenStretches(t, start) {
  const logDir = await mkdtemp(join(tmpdir(), "hlsmesh-tracker-stretch-"));
  const group = new ProcessGroup(logDir);
  const sockets = [];
  t.after(async () => {
    for (const s of sockets) s.ws.terminate();
    await group.stopAll();
    await rm(logDir, { recursive: true, force: true });
  });
  const { url } = await start(group);
  const [s0, s1] = [id(0x10), id(0x11)];
  const [me, behind, ahead] = [id(1), id(2), id(3)];
  const none = new Uint8Array(0);

  // We join stretch 0, then move to stretch 1: `stopped` for 0, `started` in 1.
  const us = await client(url);
  sockets.push(us);
  us.ws.send(wire.announceFrame(s0, me, STARTED, 0, 0, none, []));
  await frame(us.frames, announced(s0), "answer to our announce in stretch 0");
  us.ws.send(wire.announceFrame(s0, me, STOPPED, 0, 100, none, []));
  us.ws.send(wire.announceFrame(s1, me, STARTED, 0, 100, none, []));
  const joined = await frame(us.frames, announced(s1), "answer to our announce in stretch 1");
  assert.equal(joined.complete, 1, "we are in stretch 1's swarm");

  // A viewer behind us announces in stretch 0 with an offer: nobody is left there.
  const b = await client(url);
  sockets.push(b);
  b.ws.send(wire.announceFrame(s0, behind, STARTED, 0, 0, id(0xb0), ["v=0 behind"]));
  const there = await frame(b.frames, announced(s0), "answer in stretch 0");
  assert.equal(there.complete, 1, "only the viewer behind is in stretch 0's swarm");

  // A viewer in stretch 1 announces with an offer: it reaches us, in stretch 1's swarm.
  const a = await client(url);
  sockets.push(a);
  a.ws.send(wire.announceFrame(s1, ahead, STARTED, 0, 0, id(0xa0), ["v=0 ahead"]));
  const offer = await frame(us.frames, (f) => f.offer, "offer from stretch 1");
  assert.equal(offer.info_hash, wire.idString(s1));
  assert.equal(offer.offer.sdp, "v=0 ahead");
  assert.equal(us.frames.filter((f) => f.offer).length, 1, "no offer from the stretch we left");
}
