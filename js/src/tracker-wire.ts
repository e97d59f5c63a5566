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

class Unreadable extends Error {}

function message(kind: number, text?: string, hash?: Uint8Array, ids?: Uint8Array): TrackerInput {
  return [kind, hash, ids, -1, -1, -1, text];
}

/** Reads one text frame into the messages it carries, a warning first. */
export function readTrackerFrame(text: string): TrackerInput[] {
  if (text.length > MAX_TRACKER_MESSAGE) {
    return [message(UNREADABLE, `tracker message of ${text.length} bytes is over the limit`)];
  }
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return [message(UNREADABLE, "tracker message is not JSON")];
  }
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
    return [message(UNREADABLE, "tracker message is not a JSON object")];
  }
  try {
    return read(msg as Record<string, unknown>);
  } catch (e) {
    if (e instanceof Unreadable) return [message(UNREADABLE, e.message)];
    throw e;
  }
}

function read(msg: Record<string, unknown>): TrackerInput[] {
  /** A member that must be absent, `null`, or pass `ok`. */
  const field = <T>(key: string, ok: (v: unknown) => v is T): T | undefined => {
    const v = msg[key];
    if (v === undefined || v === null) return undefined;
    if (!ok(v)) throw new Unreadable(`invalid type for ${key} in tracker message`);
    return v;
  };
  const str = (key: string) => field(key, (v): v is string => typeof v === "string");
  const count = (key: string) => field(key, (v): v is number => Number.isSafeInteger(v) && (v as number) >= 0) ?? -1;
  const sdpOf = (key: string) =>
    field(key, (v): v is { type: string; sdp: string } => {
      const o = v as { type?: unknown; sdp?: unknown } | null;
      return typeof o === "object" && o !== null && typeof o.type === "string" && typeof o.sdp === "string";
    })?.sdp;

  const [action, infoHash, peerId, offerId] = [str("action"), str("info_hash"), str("peer_id"), str("offer_id")];
  const [interval, complete, incomplete] = [count("interval"), count("complete"), count("incomplete")];
  const [offer, answer] = [sdpOf("offer"), sdpOf("answer")];
  const failure = str("failure reason");
  if (failure !== undefined) return [message(FAILURE, failure)];
  const out: TrackerInput[] = [];
  const warning = str("warning message");
  if (warning !== undefined) out.push(message(WARNING, warning));
  let hash: Uint8Array | undefined;
  if (infoHash !== undefined) {
    const h = idBytes(infoHash);
    // Not an id at all: no swarm of ours.
    if (!h) return out;
    hash = h;
  }
  if (action !== undefined && action !== "announce") return out;
  const sdp = offer ?? answer;
  if (sdp !== undefined) {
    const peer = peerId === undefined ? null : idBytes(peerId);
    if (!peer) throw new Unreadable("invalid peer_id in tracker message");
    const oid = offerId === undefined ? null : idBytes(offerId);
    if (!oid) throw new Unreadable("invalid offer_id in tracker message");
    const ids = new Uint8Array(40);
    ids.set(peer);
    ids.set(oid, 20);
    out.push(message(offer !== undefined ? OFFER : ANSWER, sdp, hash, ids));
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
