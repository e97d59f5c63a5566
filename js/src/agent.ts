// The agent's browser edges: the wasm core (crates/wasm) decides, this file does what it
// asks. It feeds the core every event (a fetch finished, a tracker message, a data
// channel frame, the timer) and carries out every output (start a fetch, open a
// connection, send a frame, arm the timer), owning each JS resource until the core
// closes it or the agent is destroyed.
//
// Inputs arrive from JS callbacks; a callback that fires while outputs are being carried
// out (a page handler calling back in, a send reporting its buffered amount) only queues,
// and the running pump takes it next. If the core throws (a panic traps the module),
// the agent stops for good: every resource is released and `onEvent` hears a `panic`.

import { Core } from "../pkg/hlsmesh_wasm.js";
import { type HashList, readHashList } from "./hashlist.js";
import { normalUrl, readPlaylist } from "./playlist.js";
import { answerFrame, announceFrame, readTrackerFrame, type TrackerInput } from "./tracker-wire.js";

/** Input kinds: crates/wasm/src/lib.rs, `mod input`. */
const enum In {
  Timeout = 0,
  HttpDone = 1,
  HttpFailed = 2,
  TrackerOpen = 3,
  TrackerClosed = 5,
  OfferCreated = 6,
  AnswerCreated = 7,
  ChannelOpen = 8,
  ChannelMessage = 9,
  ChannelBuffered = 10,
  ConnClosed = 11,
  Master = 12,
  Media = 13,
  Hashes = 14,
  Load = 15,
  Abort = 16,
  NameSwarm = 17,
  Tracker = 18,
}

/** Numbers as the core reads them: a `Float64Array`'s bytes (little-endian, as every browser is). */
const f64s = (numbers: number[]): Uint8Array => new Uint8Array(new Float64Array(numbers).buffer);

/** `numbers` as {@link f64s} writes them, then the byte arrays given, end to end. */
function packed(numbers: number[], ...bytes: (Uint8Array | undefined)[]): Uint8Array {
  const parts = [f64s(numbers), ...bytes.filter((b) => b !== undefined)];
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** What `Core.query` answers: crates/wasm/src/lib.rs, `mod query`. */
const enum Query {
  Stats = 0,
  Peers = 1,
  PeerId = 2,
  Panic = 3,
}

/** Output kinds: crates/wasm/src/lib.rs, `mod output`. */
const enum Out {
  Timeout = 0,
  Deliver = 1,
  Fail = 2,
  Fetch = 3,
  CancelFetch = 4,
  TrackerConnect = 5,
  TrackerAnnounce = 6,
  TrackerClose = 7,
  CreateOffer = 8,
  AcceptOffer = 9,
  AcceptAnswer = 10,
  Transmit = 11,
  CloseConn = 12,
  Event = 13,
  TrackerAnswer = 14,
  FetchHashes = 15,
}

/** Event kinds: crates/wasm/src/lib.rs, `mod event`, and what they carry, named as the
 * page's events are (`HlsMeshEvents`, index.ts). */
const EVENTS: [type: string, ...members: string[]][] = [
  ["segment", "url", "source", "bytes", "ms"],
  ["peer-connected", "peer"],
  ["peer-disconnected", "peer", "reason"],
  ["tracker-connected", "url"],
  ["tracker-error", "url", "reason"],
  ["playlist-error", "url", "reason"],
];

/** The totals of `Core.stats`, in its order. */
const STATS = [
  "cdnBytes",
  "peerBytes",
  "uploadedBytes",
  "cacheHits",
  "segmentsDelivered",
  "peerFallbacks",
  "rejectedSegments",
  "peersDemoted",
  "peers",
  "swarmSize",
  "uplinkKbps",
] as const;

/** The agent's totals. */
export type Totals = Record<(typeof STATS)[number], number>;

/** One connected peer. */
export interface PeerTotals {
  peer: string;
  bytesFrom: number;
  bytesTo: number;
  bytesPerSec: number;
}

/** An event for the page: its `type` and members (crates/wasm, `mod event`), or a panic. */
export type AgentEvent = { type: string; [member: string]: unknown };

/** What the core is created with; the page's options, checked (see index.ts). */
export interface CoreOptions {
  trackers: string[];
  swarmId?: string;
  maxPeers?: number;
  cacheBytes?: number;
  integrity: boolean;
  uploadBytesPerSec?: number;
  downloadOnly: boolean;
}

const SOURCES = ["cache", "peer", "cdn"];

/** `(error, bytes, source, timingMs)`: a load's answer, called once. */
export type LoadCallback = (err: string | null, data: Uint8Array | null, source: string, timingMs: number) => void;

/** An edge event: kind, id, number, text, bytes (what each kind carries is in `In`'s source). */
type Input = [kind: In, id: number, n: number, text?: string, data?: Uint8Array];
/** One step of the pump: an input applied to the core at `now` (ms since its start). */
type Step = (core: Core, now: number) => void;

/** A readable message from anything thrown. */
function describe(e: unknown): string {
  if (typeof e === "string") return e;
  const m = (e as { message?: unknown } | null)?.message;
  return typeof m === "string" ? m : "unknown error";
}

/** Least `bufferedAmount` reported after a send for the channel's drain to be reported too.
 * At most the core's `UPLOAD_TAIL`: a channel holding that much keeps the upload slot until
 * its drain is reported. */
const DRAIN_REPORT_MIN = 64 * 1024;

/** One RTCPeerConnection with its pre-negotiated data channel (`negotiated: true, id: 0`
 * on both sides, so no `datachannel` event is needed). Offers and answers are complete
 * (non-trickle): the SDP is read once ICE gathering has finished, as the tracker protocol
 * carries one SDP per offer. */
class PeerLink {
  private readonly _pc: RTCPeerConnection;
  private readonly _dc: RTCDataChannel;
  private _gathered: Promise<void>;
  private readonly _id: number;
  private readonly _submit: (input: Input) => void;
  /** The `bufferedAmount` last reported to the agent. */
  private _reported = 0;

  constructor(id: number, iceServers: RTCIceServer[], submit: (input: Input) => void) {
    this._id = id;
    this._submit = submit;
    this._pc = new RTCPeerConnection({ iceServers });
    const dc = (this._dc = this._pc.createDataChannel("hlsmesh", { negotiated: true, id: 0, ordered: true }));
    dc.binaryType = "arraybuffer";
    // The threshold stays at its default, 0: the report comes when the channel has
    // drained, which is when the agent resumes an upload it paused at its low-water mark
    // (256 KB queued) and how it times its upload rate. At 256 KB, an upload under that
    // (a 2 s segment below 1 Mb/s) or its tail never reported its drain: the next report
    // came with the next send, seconds later, and the rate measured was the send rate.
    // A drain after a report under DRAIN_REPORT_MIN (control frames only) is not reported:
    // it neither holds an upload back nor measures the uplink.
    dc.onopen = () => submit([In.ChannelOpen, id, 0]);
    dc.onmessage = (e: MessageEvent) =>
      submit(
        e.data instanceof ArrayBuffer
          ? [In.ChannelMessage, id, 0, undefined, new Uint8Array(e.data)]
          : // Text frames are not part of the protocol.
            [In.ConnClosed, id, 0, "peer sent a text frame"],
      );
    dc.onclose = () => submit([In.ConnClosed, id, 0, "channel closed"]);
    dc.onbufferedamountlow = () => {
      if (this._reported < DRAIN_REPORT_MIN) return;
      this._reported = 0;
      submit([In.ChannelBuffered, id, dc.bufferedAmount]);
    };
    this._pc.onconnectionstatechange = () => {
      const s = this._pc.connectionState;
      if (s === "failed" || s === "closed") submit([In.ConnClosed, id, 0, "connection failed"]);
    };
    this._gathered = new Promise((resolve) => {
      this._pc.onicegatheringstatechange = () => {
        if (this._pc.iceGatheringState === "complete") resolve();
      };
    });
  }

  /** Makes our offer (or, given the remote offer, our answer) and reports its SDP. */
  async _describe(remoteOffer?: string): Promise<void> {
    try {
      if (remoteOffer !== undefined) {
        await this._pc.setRemoteDescription({ type: "offer", sdp: remoteOffer });
        await this._pc.setLocalDescription(await this._pc.createAnswer());
      } else {
        await this._pc.setLocalDescription(await this._pc.createOffer());
      }
      if (this._pc.iceGatheringState !== "complete") await this._gathered;
      const sdp = this._pc.localDescription?.sdp;
      if (!sdp) throw new Error("no local description");
      this._submit([remoteOffer !== undefined ? In.AnswerCreated : In.OfferCreated, this._id, 0, sdp]);
    } catch (e) {
      this._submit([In.ConnClosed, this._id, 0, describe(e)]);
    }
  }

  /** Applies the remote answer to our offer. */
  _accept(sdp: string): void {
    this._pc.setRemoteDescription({ type: "answer", sdp }).catch((e) => this._submit([In.ConnClosed, this._id, 0, describe(e)]));
  }

  /** Sends one frame; returns the channel's `bufferedAmount` after it. */
  _send(data: Uint8Array): number {
    this._dc.send(data as Uint8Array<ArrayBuffer>);
    return (this._reported = this._dc.bufferedAmount);
  }

  _close(): void {
    const { _pc: pc, _dc: dc } = this;
    dc.onopen = dc.onmessage = dc.onclose = dc.onbufferedamountlow = null;
    pc.onconnectionstatechange = pc.onicegatheringstatechange = null;
    dc.close();
    pc.close();
  }
}

/** One tracker WebSocket; each text frame's messages go to `heard`. */
function openTracker(id: number, url: string, submit: (input: Input) => void, heard: (id: number, m: TrackerInput) => void): WebSocket {
  const ws = new WebSocket(url);
  ws.onopen = () => submit([In.TrackerOpen, id, 0]);
  ws.onmessage = (e: MessageEvent) => {
    if (typeof e.data === "string") for (const m of readTrackerFrame(e.data)) heard(id, m);
  };
  ws.onclose = (e: CloseEvent) => submit([In.TrackerClosed, id, 0, `closed (${e.code})`]);
  ws.onerror = () => submit([In.TrackerClosed, id, 0, "connection error"]);
  return ws;
}

function closeTracker(ws: WebSocket): void {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  ws.close();
}

/** One viewer's agent: the wasm core and the browser resources it asked for. */
export class Agent {
  private _core: Core | null;
  private readonly _epoch = performance.now();
  private readonly _queue: Step[] = [];
  private _pumping = false;
  private _panicMessage: string | null = null;
  private readonly _loads = new Map<number, LoadCallback>();
  private _nextLoad = 1;
  private readonly _fetches = new Map<number, AbortController>();
  private readonly _trackers = new Map<number, WebSocket>();
  /** Tracker connections the core asked for while the page is starting (null: none held). */
  private _heldTrackers: Map<number, string> | null = new Map();
  private readonly _conns = new Map<number, PeerLink>();
  private _timer: { at: number; handle: ReturnType<typeof setTimeout> } | null = null;
  /** Queues an edge event (releasing the resource whose end it reports) and pumps. */
  private readonly _submit = (input: Input) => {
    this._settle(input);
    const [kind, id, n, text, data] = input;
    this._step((c, now) => c.input(now, kind, id, n, text, data));
  };
  /** Queues what a tracker frame said and pumps. */
  private readonly _heard = (id: number, [kind, hash, ids, interval, complete, incomplete, text]: TrackerInput) => {
    // The numbers, then the info_hash and the ids when present (the core tells which by length).
    this._submit([In.Tracker, id, kind, text, packed([interval, complete, incomplete], hash, ids)]);
  };

  private readonly _iceServers: RTCIceServer[];
  private readonly _onEvent: (ev: AgentEvent) => void;

  /** `onEvent` receives each event, and `{type: "panic", message}` if the core fails. */
  constructor(o: CoreOptions, iceServers: RTCIceServer[], onEvent: (ev: AgentEvent) => void) {
    this._iceServers = iceServers;
    this._onEvent = onEvent;
    const seed = Math.random() * 2 ** 53;
    this._core = new Core(
      o.trackers.join("\n"),
      o.maxPeers ?? -1,
      o.cacheBytes ?? -1,
      o.integrity,
      o.uploadBytesPerSec ?? -1,
      o.downloadOnly,
      seed,
      (message: string) => (this._panicMessage = message),
    );
    if (o.swarmId !== undefined) this._nameSwarm(o.swarmId);
    this._submit([In.Timeout, 0, 0]);
  }

  /** Queues a step and pumps (a step queued while the pump runs waits for it). */
  private _step(f: Step): void {
    this._queue.push(f);
    this._pump();
  }

  private _now(): number {
    return performance.now() - this._epoch;
  }

  /** Runs `f` against the core; a throw (a panic traps the module) stops the agent. */
  private _call<T>(f: (core: Core) => T): T | undefined {
    const core = this._core;
    if (!core) return undefined;
    try {
      return f(core);
    } catch (e) {
      this._fail(this._panicMessage ?? describe(e));
      return undefined;
    }
  }

  private _fail(message: string): void {
    this._stop();
    this._core = null; // never called again: its state is undefined after a trap
    this._onEvent({ type: "panic", message });
  }

  /** Feeds queued inputs to the core and carries out its outputs, until the queue is empty. */
  private _pump(): void {
    if (this._pumping) return;
    this._pumping = true;
    try {
      for (let f = this._queue.shift(); f && this._core; f = this._queue.shift()) {
        this._call((c) => f(c, this._now()));
        this._drain();
      }
    } finally {
      this._pumping = false;
    }
  }

  /** Releases the resource whose end an input reports. */
  private _settle([kind, id]: Input): void {
    if (kind === In.HttpDone || kind === In.HttpFailed || kind === In.Hashes) this._dropFetch(id);
    else if (kind === In.TrackerClosed) this._dropTracker(id);
    else if (kind === In.ConnClosed) this._dropConn(id);
  }

  /** Aborts (a no-op once it finished) and forgets fetch `id`. */
  private _dropFetch(id: number): void {
    this._fetches.get(id)?.abort();
    this._fetches.delete(id);
  }

  /** Unhooks, closes and forgets tracker socket `id`. */
  private _dropTracker(id: number): void {
    const ws = this._trackers.get(id);
    this._trackers.delete(id);
    if (ws) closeTracker(ws);
  }

  /** Closes and forgets connection `id`. */
  private _dropConn(id: number): void {
    this._conns.get(id)?._close();
    this._conns.delete(id);
  }

  /** Carries out outputs until the core asks to be woken. */
  private _drain(): void {
    for (;;) {
      const out = this._call((c) => c.poll());
      if (!out) return;
      const kind = out[0] as Out;
      const id = out[1] as number;
      switch (kind) {
        case Out.Timeout:
          return this._arm(id);
        case Out.Deliver:
          this._finish(id, null, out[2] as Uint8Array, SOURCES[out[3] as number] ?? "cdn", out[4] as number);
          break;
        case Out.Fail:
          this._finish(id, out[2] as string, null, "", 0);
          break;
        case Out.Fetch:
          this._fetch(id, out[2] as string, out[3] as number, out[4] as number, out[5] as number);
          break;
        case Out.FetchHashes:
          this._fetch(id, out[2] as string, -1, -1, -1, true);
          break;
        case Out.CancelFetch:
          this._dropFetch(id);
          break;
        case Out.TrackerConnect:
          this._dropTracker(id);
          if (this._heldTrackers) this._heldTrackers.set(id, out[2] as string);
          else this._openTracker(id, out[2] as string);
          break;
        case Out.TrackerAnnounce:
        case Out.TrackerAnswer: {
          const ws = this._trackers.get(id);
          try {
            const [hash, peer] = [out[2] as Uint8Array, out[3] as Uint8Array];
            ws?.send(
              kind === Out.TrackerAnnounce
                ? announceFrame(hash, peer, out[4] as number, out[5] as number, out[6] as number, out[7] as Uint8Array, out.slice(8) as string[])
                : answerFrame(hash, peer, out[4] as Uint8Array, out[5] as Uint8Array, out[6] as string),
            );
          } catch (e) {
            this._submit([In.TrackerClosed, id, 0, describe(e)]);
          }
          break;
        }
        case Out.TrackerClose:
          this._heldTrackers?.delete(id);
          this._dropTracker(id);
          break;
        case Out.CreateOffer:
        case Out.AcceptOffer:
          this._open(id, kind === Out.AcceptOffer ? (out[2] as string) : undefined);
          break;
        case Out.AcceptAnswer:
          this._conns.get(id)?._accept(out[2] as string);
          break;
        case Out.Transmit: {
          const link = this._conns.get(id);
          if (!link) break;
          try {
            this._submit([In.ChannelBuffered, id, link._send(out[2] as Uint8Array)]);
          } catch (e) {
            this._submit([In.ConnClosed, id, 0, describe(e)]);
          }
          break;
        }
        case Out.CloseConn:
          this._dropConn(id);
          break;
        case Out.Event: {
          const shape = id === 0 ? EVENTS[out[2] as number] : undefined;
          if (!shape) break;
          const ev: AgentEvent = { type: shape[0] };
          for (let i = 1; i < shape.length; i++) ev[shape[i]] = out[i + 2];
          if (ev.type === "segment") {
            ev.source = SOURCES[ev.source as number] ?? "cdn";
            ev.ms = Math.round(ev.ms as number);
          }
          this._onEvent(ev);
          break;
        }
      }
    }
  }

  private _openTracker(id: number, url: string): void {
    try {
      this._trackers.set(id, openTracker(id, url, this._submit, this._heard));
    } catch (e) {
      this._submit([In.TrackerClosed, id, 0, describe(e)]);
    }
  }

  /**
   * Opens the tracker connections held while the page started (and every later one at
   * once). Until then the core's sockets wait: announcing means five WebRTC offers and the
   * handshakes that follow, work that would otherwise share the page's first second with
   * hls.js's start-up, when no peer could deliver the first segment in time anyway.
   */
  _releaseTrackers(): void {
    const held = this._heldTrackers;
    if (!held || !this._core) return;
    this._heldTrackers = null;
    for (const [id, url] of held) this._openTracker(id, url);
  }

  private _open(id: number, remoteOffer?: string): void {
    this._dropConn(id);
    try {
      const link = new PeerLink(id, this._iceServers, this._submit);
      this._conns.set(id, link);
      void link._describe(remoteOffer);
    } catch (e) {
      this._submit([In.ConnClosed, id, 0, describe(e)]);
    }
  }

  /**
   * `GET url`, with a Range header for `start..end` (end exclusive) or `from..`; a
   * `sidecar` is read here (js/src/hashlist.ts) and answered as an `In.Hashes` input.
   */
  private _fetch(id: number, url: string, start: number, end: number, from: number, sidecar = false): void {
    const controller = new AbortController();
    this._fetches.set(id, controller);
    const headers: Record<string, string> = {};
    if (start >= 0 && end > start) headers.Range = `bytes=${start}-${end - 1}`;
    else if (from >= 0) headers.Range = `bytes=${from}-`;
    const mine = () => this._fetches.get(id) === controller;
    fetch(url, { headers, signal: controller.signal })
      .then(async (resp) => {
        const body = new Uint8Array(await resp.arrayBuffer());
        if (!mine()) return;
        if (!sidecar) this._submit([In.HttpDone, id, resp.status, undefined, body]);
        else this._hashes(id, resp.ok ? readHashList(body) : `HTTP status ${resp.status}`);
      })
      .catch((e) => {
        if (mine()) sidecar ? this._hashes(id, describe(e)) : this._submit([In.HttpFailed, id, 0, describe(e)]);
      });
  }

  /** Hands the core a sidecar the shim read, or why there is none. */
  private _hashes(id: number, list: HashList | string): void {
    if (typeof list === "string") return this._submit([In.Hashes, id, -1, list]);
    const data = packed(list.sns.flatMap((sn, i) => [sn, list.sizes[i]]), list.digests);
    this._submit([In.Hashes, id, list.sns.length, list.uris.join("\n"), data]);
  }

  /** One timer, re-armed only when the deadline moves; `at` is ms since start, -1 never. */
  private _arm(at: number): void {
    if (this._timer?.at === at) return;
    if (this._timer) clearTimeout(this._timer.handle);
    this._timer = null;
    if (at < 0) return;
    const delay = Math.min(Math.max(0, at - this._now()), 2 ** 30);
    this._timer = {
      at,
      handle: setTimeout(() => {
        this._timer = null;
        this._submit([In.Timeout, 0, 0]);
      }, delay),
    };
  }

  /** Calls a load's callback once. */
  private _finish(load: number, err: string | null, data: Uint8Array | null, source: string, ms: number): void {
    const cb = this._loads.get(load);
    this._loads.delete(load);
    cb?.(err, data, source, ms);
  }

  /**
   * hls.js loaded a playlist from `url` (after redirects): read here (js/src/playlist.ts)
   * and handed to the core, or reported as a `playlist-error`.
   */
  _playlist(url: string, text: string): void {
    const base = normalUrl(url);
    const p = readPlaylist(text, base);
    if (typeof p === "string") {
      this._onEvent({ type: "playlist-error", url: base, reason: p });
    } else if (p.master) {
      const lines = [base, ...p.variants, ...p.renditions].join("\n");
      this._submit([In.Master, 0, p.variants.length, lines, f64s(p.bandwidths)]);
    } else {
      const lines = [base, p.hashes ?? "", ...p.urls].join("\n");
      const numbers = [p.targetDuration, +p.endList, p.firstSn];
      p.durations.forEach((d, i) => numbers.push(d, p.ranges[2 * i], p.ranges[2 * i + 1]));
      this._submit([In.Media, 0, p.urls.length, lines, f64s(numbers)]);
    }
  }

  /** Names the swarm before the first playlist; ignored once it is named. */
  _nameSwarm(name: string): void {
    this._submit([In.NameSwarm, 0, 0, name]);
  }

  /**
   * hls.js asks for a segment: `callback` is called once, with an error (then load it
   * another way) or the bytes, where they came from, and how long the player's bandwidth
   * estimator should see the load take. Returns the id for {@link Agent._abort}.
   */
  _load(url: string, rangeStart: number | undefined, rangeEnd: number | undefined, position: number, bufferedEnd: number, rate: number, callback: LoadCallback): number {
    const id = this._nextLoad++;
    this._loads.set(id, callback);
    // As the playlist reader writes segment URLs: through the page's URL parser.
    const numbers = f64s([rangeStart ?? -1, rangeEnd ?? -1, position, bufferedEnd, rate]);
    this._submit([In.Load, id, 0, normalUrl(url), numbers]);
    return id;
  }

  /** hls.js gave up a load; its callback will not be called. */
  _abort(id: number): void {
    this._loads.delete(id);
    this._submit([In.Abort, id, 0]);
  }

  /** Totals so far; null once the agent stopped. */
  stats(): Totals | null {
    const n = this._call((c) => c.query(Query.Stats));
    if (!n) return null;
    const t = {} as Totals;
    STATS.forEach((name, i) => (t[name] = n[i]));
    return t;
  }

  /** The connected peers. */
  peers(): PeerTotals[] {
    const flat = this._call((c) => c.query(Query.Peers)) ?? [];
    const out: PeerTotals[] = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      out.push({ peer: flat[i], bytesFrom: flat[i + 1], bytesTo: flat[i + 2], bytesPerSec: Math.round(flat[i + 3]) });
    }
    return out;
  }

  /** Our peer id, hex. */
  peerId(): string {
    return this._call((c) => c.query(Query.PeerId))?.[0] ?? "";
  }

  private _stop(): void {
    for (const link of this._conns.values()) link._close();
    for (const ws of this._trackers.values()) closeTracker(ws);
    for (const c of this._fetches.values()) c.abort();
    this._conns.clear();
    this._trackers.clear();
    this._fetches.clear();
    if (this._timer) clearTimeout(this._timer.handle);
    this._timer = null;
    this._queue.length = 0;
  }

  /** Stops the agent: closes every connection and socket, aborts fetches, and fails the
   * loads still waiting so the player loads them another way. */
  destroy(): void {
    this._stop();
    const core = this._core;
    this._core = null;
    core?.free();
    const pending = [...this._loads.values()];
    this._loads.clear();
    for (const cb of pending) cb("agent destroyed", null, "", 0);
  }

  /** Test hook: panics inside the core, as a bug would, to prove the page survives. */
  debugPanic(): void {
    this._call((c) => c.query(Query.Panic));
  }
}
