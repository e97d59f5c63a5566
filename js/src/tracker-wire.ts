// WebTorrent tracker frames, read and written for the core, which sees only typed
// messages (crates/core/src/tracker/messages.rs). Tracker frames are JSON text; ids
// (`info_hash`, `peer_id`, `to_peer_id`, `offer_id`) are 20-character strings whose
// characters are bytes (U+0000–U+00FF), handed to the core as 20-byte arrays.
//
// Only the members the protocol defines are read: trackers differ in what else they send
// and in message order, and nothing here depends on that. A defined member of the wrong
// type, or an id that is not 20 byte-characters, makes the frame unreadable: the core
// reports it to the page and carries on.

/** Largest frame read (SDP offers are a few KiB): crates/core, `MAX_TRACKER_MESSAGE`. */
export const MAX_TRACKER_MESSAGE = 256 * 1024;

/** What a frame said: crates/wasm/src/lib.rs, `mod tracker`. */
export const ANNOUNCED = 0;
export const OFFER = 1;
export const ANSWER = 2;
export const FAILURE = 3;
export const WARNING = 4;
export const UNREADABLE = 5;

/**
 * One message for the core's `tracker` call: kind, the frame's `info_hash` (20 bytes,
 * absent when it has none), the peer id and offer id end to end (offers and answers),
 * `interval`, `complete` and `incomplete` (-1 when absent), and the SDP or reason.
 */
export type TrackerInput = [
  kind: number,
  hash: Uint8Array | undefined,
  ids: Uint8Array | undefined,
  interval: number,
  complete: number,
  incomplete: number,
  text: string | undefined,
];

/** An id's 20 bytes, or null when `s` is not 20 byte-characters. */
export function idBytes(s: string): Uint8Array | null {
  if (s.length !== 20) return null;
  const id = new Uint8Array(20);
  for (let i = 0; i < 20; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return null;
    id[i] = c;
  }
  return id;
}

/** An id's string form on the wire. */
export function idString(id: Uint8Array): string {
  return String.fromCharCode(...id);
}

function message(kind: number, text?: string, hash?: Uint8Array, ids?: Uint8Array): TrackerInput {
  return [kind, hash, ids, -1, -1, -1, text];
}

/** Reads one text frame into the messages it carries, a warning first. */
export function readTrackerFrame(text: string): TrackerInput[] {
  let msg: Record<string, unknown> | null = null;
  if (text.length <= MAX_TRACKER_MESSAGE) {
    try {
      msg = JSON.parse(text);
    } catch {
      /* not JSON: unreadable, below */
    }
  }
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
    return [message(UNREADABLE, text.length > MAX_TRACKER_MESSAGE ? "tracker message over 256 KiB" : "tracker message is not a JSON object")];
  }
  const m = msg;
  let bad = "";
  /** A member: absent (also when null or of the wrong type, which makes the frame unreadable). */
  const field = <T>(key: string, ok: (v: any) => boolean): T | undefined => {
    const v = m[key];
    if (v == null) return undefined;
    if (ok(v)) return v as T;
    bad ||= `invalid ${key} in tracker message`;
    return undefined;
  };
  const str = (key: string) => field<string>(key, (v) => typeof v === "string");
  const count = (key: string) => field<number>(key, (v) => Number.isSafeInteger(v) && v >= 0) ?? -1;
  const sdpOf = (key: string) => field<{ sdp: string }>(key, (v) => typeof v === "object" && typeof v.type === "string" && typeof v.sdp === "string")?.sdp;
  const id = (s: string | undefined, key: string) => {
    const b = s === undefined ? null : idBytes(s);
    if (!b) bad = `invalid ${key} in tracker message`;
    return b;
  };

  const [action, infoHash, peerId, offerId] = [str("action"), str("info_hash"), str("peer_id"), str("offer_id")];
  const [interval, complete, incomplete] = [count("interval"), count("complete"), count("incomplete")];
  const sdp = sdpOf("offer") ?? sdpOf("answer");
  const failure = str("failure reason");
  const warning = str("warning message");
  if (bad) return [message(UNREADABLE, bad)];
  if (failure !== undefined) return [message(FAILURE, failure)];
  const out = warning === undefined ? [] : [message(WARNING, warning)];
  const hash = infoHash === undefined ? undefined : idBytes(infoHash);
  // An info_hash that is not an id at all names no swarm of ours; other actions (scrape)
  // say nothing the agent uses.
  if (hash === null || (action !== undefined && action !== "announce")) return out;
  if (sdp !== undefined) {
    const ids = new Uint8Array(40);
    const [peer, oid] = [id(peerId, "peer_id"), id(offerId, "offer_id")];
    if (!peer || !oid) return [message(UNREADABLE, bad)];
    ids.set(peer);
    ids.set(oid, 20);
    out.push(message(m.offer != null ? OFFER : ANSWER, sdp, hash, ids));
  } else if (interval >= 0 || complete >= 0 || incomplete >= 0) {
    out.push([ANNOUNCED, hash, undefined, interval, complete, incomplete, undefined]);
  }
  return out;
}

const EVENTS = [undefined, "started", "stopped"];

/**
 * An announce: `event` 0 (none), 1 (`started`) or 2 (`stopped`); one offer per SDP, its id
 * the matching 20 bytes of `offerIds`. `numwant` is the number of offers and `left` 0: a
 * streaming viewer never completes, and trackers count a peer without `left` as
 * incomplete forever.
 */
export function announceFrame(
  infoHash: Uint8Array,
  peerId: Uint8Array,
  event: number,
  uploaded: number,
  downloaded: number,
  offerIds: Uint8Array,
  sdps: string[],
): string {
  return JSON.stringify({
    action: "announce",
    info_hash: idString(infoHash),
    peer_id: idString(peerId),
    numwant: sdps.length,
    uploaded,
    downloaded,
    left: 0,
    event: EVENTS[event],
    offers: sdps.length
      ? sdps.map((sdp, i) => ({ offer: { type: "offer", sdp }, offer_id: idString(offerIds.subarray(i * 20, i * 20 + 20)) }))
      : undefined,
  });
}

/** The announce that carries our answer to `toPeer`'s offer `offerId`. */
export function answerFrame(infoHash: Uint8Array, peerId: Uint8Array, toPeer: Uint8Array, offerId: Uint8Array, sdp: string): string {
  return JSON.stringify({
    action: "announce",
    info_hash: idString(infoHash),
    peer_id: idString(peerId),
    to_peer_id: idString(toPeer),
    offer_id: idString(offerId),
    answer: { type: "answer", sdp },
  });
}
