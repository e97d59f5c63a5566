// The shim's tracker codec (js/src/tracker-wire.ts): what it reads from tracker frames
// for the core, and the frames it writes, checked against bittorrent-tracker's own
// server-side parser. Run by `make test-js` on an esbuild bundle of the module.
import test from "node:test";
import assert from "node:assert/strict";
import parseWebSocketRequest from "../../node_modules/bittorrent-tracker/lib/server/parse-websocket.js";
import * as wire from "../../target/unit/tracker-wire.mjs";

const { ANNOUNCED, OFFER, ANSWER, FAILURE, WARNING, UNREADABLE } = wire;
const bytes = (fill) => new Uint8Array(20).fill(fill);
const str = (b) => String.fromCharCode(...b);
const HASH = bytes(0xab);
const H = str(HASH);
const PEER = new Uint8Array(20).map((_, i) => i * 13); // controls, ASCII and high bytes
const OID = bytes(0xe9);

test("an announce response, an offer, an answer", () => {
  const resp = wire.readTrackerFrame(JSON.stringify({ action: "announce", info_hash: H, interval: 120, complete: 3, incomplete: 0 }));
  assert.deepEqual(resp, [[ANNOUNCED, HASH, undefined, 120, 3, 0, undefined]]);
  const offer = { action: "announce", info_hash: H, peer_id: str(PEER), offer_id: str(OID), offer: { type: "offer", sdp: "v=0" } };
  const [[kind, hash, ids, , , , sdp]] = wire.readTrackerFrame(JSON.stringify(offer));
  assert.equal(kind, OFFER);
  assert.deepEqual(hash, HASH);
  assert.deepEqual(ids, Uint8Array.from([...PEER, ...OID]));
  assert.equal(sdp, "v=0");
  const { offer: o, ...rest } = offer;
  const [[akind, , , , , , asdp]] = wire.readTrackerFrame(JSON.stringify({ ...rest, answer: { ...o, type: "answer" } }));
  assert.equal(akind, ANSWER);
  assert.equal(asdp, "v=0");
});

test("failures win, warnings come first, other actions and swarms that are not ids say nothing more", () => {
  assert.deepEqual(wire.readTrackerFrame(JSON.stringify({ "failure reason": "Invalid request", interval: 5 })), [
    [FAILURE, undefined, undefined, -1, -1, -1, "Invalid request"],
  ]);
  const warned = wire.readTrackerFrame(JSON.stringify({ "warning message": "slow down", info_hash: H, interval: 5 }));
  assert.deepEqual(
    warned.map((m) => m[0]),
    [WARNING, ANNOUNCED],
  );
  assert.deepEqual(wire.readTrackerFrame(JSON.stringify({ action: "scrape", files: {} })), []);
  assert.deepEqual(wire.readTrackerFrame(JSON.stringify({ action: "announce", info_hash: "short", interval: 5 })), []);
  // Another swarm's valid hash is passed on: the core compares it with its own.
  const [[, other]] = wire.readTrackerFrame(JSON.stringify({ info_hash: str(bytes(1)), interval: 5 }));
  assert.deepEqual(other, bytes(1));
});

test("null members are absent; mistyped members, bad ids, non-objects and huge frames are unreadable", () => {
  assert.deepEqual(wire.readTrackerFrame(JSON.stringify({ action: null, info_hash: H, interval: 7, offer: null, x: [{}] })), [
    [ANNOUNCED, HASH, undefined, 7, -1, -1, undefined],
  ]);
  for (const bad of [
    { interval: "7" },
    { interval: -1 },
    { complete: 1.5 },
    { peer_id: 5 },
    { offer: { type: "offer" } },
    { "failure reason": {} },
    { info_hash: H, peer_id: "x", offer_id: str(OID), offer: { type: "offer", sdp: "" } },
    { info_hash: H, peer_id: str(PEER), offer_id: "€".repeat(20), answer: { type: "answer", sdp: "" } },
  ]) {
    const out = wire.readTrackerFrame(JSON.stringify(bad));
    assert.equal(out.length, 1, JSON.stringify(bad));
    assert.equal(out[0][0], UNREADABLE, JSON.stringify(bad));
    assert.match(out[0][6], /tracker message/);
  }
  for (const text of ["not json", "[1,2]", "null", "7", " ".repeat(wire.MAX_TRACKER_MESSAGE + 1)]) {
    assert.equal(wire.readTrackerFrame(text)[0][0], UNREADABLE, text.slice(0, 10));
  }
});

test("ids round-trip for every byte value, and only byte values", () => {
  for (let start = 0; start < 256; start += 20) {
    const id = new Uint8Array(20).map((_, i) => (start + i) % 256);
    const back = JSON.parse(JSON.stringify(wire.idString(id)));
    assert.deepEqual(wire.idBytes(back), id);
  }
  assert.equal(wire.idBytes("short"), null);
  assert.equal(wire.idBytes("é".repeat(19)), null);
  assert.equal(wire.idBytes("€".repeat(20)), null);
});

test("announces and answers are what bittorrent-tracker's server accepts", () => {
  const sdps = ["v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n", "v=0\r\n"];
  const ids = Uint8Array.from([...OID, ...bytes(0x00)]);
  const text = wire.announceFrame(HASH, PEER, 1, 5, 7, ids, sdps);
  const v = JSON.parse(text);
  assert.equal(v.left, 0);
  assert.equal(v.event, "started");
  assert.deepEqual(v.offers.map((o) => o.offer), sdps.map((sdp) => ({ type: "offer", sdp })));
  assert.deepEqual(v.offers.map((o) => wire.idBytes(o.offer_id)), [OID, bytes(0)]);
  const parsed = parseWebSocketRequest({}, {}, text);
  assert.equal(parsed.info_hash, Buffer.from(HASH).toString("hex"));
  assert.equal(parsed.peer_id, Buffer.from(PEER).toString("hex"));
  assert.equal(parsed.numwant, 2);
  assert.equal(parsed.uploaded, 5);
  assert.equal(parsed.downloaded, 7);
  const quiet = JSON.parse(wire.announceFrame(HASH, PEER, 0, 0, 0, new Uint8Array(0), []));
  assert.equal("event" in quiet || "offers" in quiet, false);
  assert.equal(quiet.numwant, 0);
  // Leaving a swarm (a VOD viewer moving to the next stretch's): `stopped`, no offers.
  const left = parseWebSocketRequest({}, {}, wire.announceFrame(HASH, PEER, 2, 5, 7, new Uint8Array(0), []));
  assert.equal(left.event, "stopped");
  assert.equal(left.numwant, 0);
  assert.equal(left.info_hash, Buffer.from(HASH).toString("hex"));
  assert.equal(left.downloaded, 7);
  const answer = wire.answerFrame(HASH, PEER, bytes(0x62), OID, "v=0");
  const a = parseWebSocketRequest({}, {}, answer);
  assert.equal(a.to_peer_id, Buffer.from(bytes(0x62)).toString("hex"));
  assert.deepEqual(a.answer, { type: "answer", sdp: "v=0" });
  assert.deepEqual(wire.idBytes(JSON.parse(answer).offer_id), OID);
});

test("random frames never throw and always give well-formed messages", () => {
  let seed = 7;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const values = [null, 0, -3, 2.5, 1e300, "", "x", H, str(PEER), {}, [], { type: "offer", sdp: "v" }, { sdp: 1 }, true];
  const keys = ["action", "info_hash", "peer_id", "offer_id", "offer", "answer", "interval", "complete", "incomplete", "failure reason", "warning message"];
  for (let i = 0; i < 3000; i++) {
    const msg = { action: "announce", info_hash: H };
    for (let k = rnd(5); k > 0; k--) msg[keys[rnd(keys.length)]] = values[rnd(values.length)];
    let text = JSON.stringify(msg);
    if (rnd(10) === 0) text = text.slice(0, rnd(text.length));
    const out = wire.readTrackerFrame(text);
    assert.ok(Array.isArray(out) && out.length <= 2, text);
    for (const [kind, hash, ids, interval, complete, incomplete, t] of out) {
      assert.ok(kind >= ANNOUNCED && kind <= UNREADABLE, text);
      assert.ok(hash === undefined || hash.length === 20, text);
      assert.ok(ids === undefined || ids.length === 40, text);
      assert.equal(ids !== undefined, kind === OFFER || kind === ANSWER, text);
      for (const n of [interval, complete, incomplete]) assert.ok(Number.isSafeInteger(n) && n >= -1, text);
      assert.equal(typeof t === "string", kind !== ANNOUNCED, text);
    }
  }
});
