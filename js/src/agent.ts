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

/** Event kinds: crates/wasm/src/lib.rs, `mod event`, and what they carry. */
const EVENTS: [type: string, ...members: string[]][] = [
  ["segment-loaded", "url", "source", "bytes", "ms"],
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

/** One RTCPeerConnection with its pre-negotiated data channel (`negotiated: true, id: 0`
 * on both sides, so no `datachannel` event is needed). Offers and answers are complete
 * (non-trickle): the SDP is read once ICE gathering has finished, as the tracker protocol
 * carries one SDP per offer. */
/** Least `bufferedAmount` reported after a send for the channel's drain to be reported too. */
const DRAIN_REPORT_MIN = 64 * 1024;

class PeerLink {
  private readonly pc: RTCPeerConnection;
  private readonly dc: RTCDataChannel;
  private gathered: Promise<void>;
  /** The `bufferedAmount` last reported to the agent. */
  private reported = 0;

  constructor(
    private readonly id: number,
    iceServers: RTCIceServer[],
    private readonly submit: (input: Input) => void,
  ) {
    this.pc = new RTCPeerConnection({ iceServers });
    const dc = (this.dc = this.pc.createDataChannel("hlsmesh", { negotiated: true, id: 0, ordered: true }));
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
      if (this.reported < DRAIN_REPORT_MIN) return;
      this.reported = 0;
      submit([In.ChannelBuffered, id, dc.bufferedAmount]);
    };
    this.pc.onconnectionstatechange = () => {
      const s = this.pc.connectionState;
      if (s === "failed" || s === "closed") submit([In.ConnClosed, id, 0, "connection failed"]);
    };
    this.gathered = new Promise((resolve) => {
      this.pc.onicegatheringstatechange = () => {
        if (this.pc.iceGatheringState === "complete") resolve();
      };
    });
  }

  /** Makes our offer (or, given the remote offer, our answer) and reports its SDP. */
  async describe(remoteOffer?: string): Promise<void> {
    try {
      if (remoteOffer !== undefined) {
        await this.pc.setRemoteDescription({ type: "offer", sdp: remoteOffer });
        await this.pc.setLocalDescription(await this.pc.createAnswer());
      } else {
        await this.pc.setLocalDescription(await this.pc.createOffer());
      }
      if (this.pc.iceGatheringState !== "complete") await this.gathered;
      const sdp = this.pc.localDescription?.sdp;
      if (!sdp) throw new Error("no local description");
      this.submit([remoteOffer !== undefined ? In.AnswerCreated : In.OfferCreated, this.id, 0, sdp]);
    } catch (e) {
      this.submit([In.ConnClosed, this.id, 0, describe(e)]);
    }
  }

  /** Applies the remote answer to our offer. */
  accept(sdp: string): void {
    this.pc.setRemoteDescription({ type: "answer", sdp }).catch((e) => this.submit([In.ConnClosed, this.id, 0, describe(e)]));
  }

  /** Sends one frame; returns the channel's `bufferedAmount` after it. */
  send(data: Uint8Array): number {
    this.dc.send(data as Uint8Array<ArrayBuffer>);
    return (this.reported = this.dc.bufferedAmount);
  }

  close(): void {
    const { pc, dc } = this;
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
  private core: Core | null;
  private readonly epoch = performance.now();
  private readonly queue: Step[] = [];
  private pumping = false;
  private panicMessage: string | null = null;
  private readonly loads = new Map<number, LoadCallback>();
  private nextLoad = 1;
  private readonly fetches = new Map<number, AbortController>();
  private readonly trackers = new Map<number, WebSocket>();
  private readonly conns = new Map<number, PeerLink>();
  private timer: { at: number; handle: ReturnType<typeof setTimeout> } | null = null;
  /** Queues an edge event (releasing the resource whose end it reports) and pumps. */
  private readonly submit = (input: Input) => {
    this.settle(input);
    const [kind, id, n, text, data] = input;
    this.step((c, now) => c.input(now, kind, id, n, text, data));
  };
  /** Queues what a tracker frame said and pumps. */
  private readonly heard = (id: number, [kind, hash, ids, interval, complete, incomplete, text]: TrackerInput) => {
    // The numbers, then the info_hash and the ids when present (the core tells which by length).
    this.submit([In.Tracker, id, kind, text, packed([interval, complete, incomplete], hash, ids)]);
  };

  /** `onEvent` receives each event, and `{type: "panic", message}` if the core fails. */
  constructor(
    o: CoreOptions,
    private readonly iceServers: RTCIceServer[],
    private readonly onEvent: (ev: AgentEvent) => void,
  ) {
    const seed = Math.random() * 2 ** 53;
    this.core = new Core(
      o.trackers.join("\n"),
      o.swarmId,
      o.maxPeers ?? -1,
      o.cacheBytes ?? -1,
      o.integrity,
      o.uploadBytesPerSec ?? -1,
      o.downloadOnly,
      seed,
      (message: string) => (this.panicMessage = message),
    );
    this.submit([In.Timeout, 0, 0]);
  }

  /** Queues a step and pumps (a step queued while the pump runs waits for it). */
  private step(f: Step): void {
    this.queue.push(f);
    this.pump();
  }

  private now(): number {
    return performance.now() - this.epoch;
  }

  /** Runs `f` against the core; a throw (a panic traps the module) stops the agent. */
  private call<T>(f: (core: Core) => T): T | undefined {
    const core = this.core;
    if (!core) return undefined;
    try {
      return f(core);
    } catch (e) {
      this.fail(this.panicMessage ?? describe(e));
      return undefined;
    }
  }

  private fail(message: string): void {
    this.stop();
    this.core = null; // never called again: its state is undefined after a trap
    this.onEvent({ type: "panic", message });
  }

  /** Feeds queued inputs to the core and carries out its outputs, until the queue is empty. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let f = this.queue.shift(); f && this.core; f = this.queue.shift()) {
        this.call((c) => f(c, this.now()));
        this.drain();
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Releases the resource whose end an input reports. */
  private settle([kind, id]: Input): void {
    if (kind === In.HttpDone || kind === In.HttpFailed || kind === In.Hashes) this.dropFetch(id);
    else if (kind === In.TrackerClosed) this.dropTracker(id);
    else if (kind === In.ConnClosed) this.dropConn(id);
  }

  /** Aborts (a no-op once it finished) and forgets fetch `id`. */
  private dropFetch(id: number): void {
    this.fetches.get(id)?.abort();
    this.fetches.delete(id);
  }

  /** Unhooks, closes and forgets tracker socket `id`. */
  private dropTracker(id: number): void {
    const ws = this.trackers.get(id);
    this.trackers.delete(id);
    if (ws) closeTracker(ws);
  }

  /** Closes and forgets connection `id`. */
  private dropConn(id: number): void {
    this.conns.get(id)?.close();
    this.conns.delete(id);
  }

  /** Carries out outputs until the core asks to be woken. */
  private drain(): void {
    for (;;) {
      const out = this.call((c) => c.poll());
      if (!out) return;
      const kind = out[0] as Out;
      const id = out[1] as number;
      switch (kind) {
        case Out.Timeout:
          return this.arm(id);
        case Out.Deliver:
          this.finish(id, null, out[2] as Uint8Array, SOURCES[out[3] as number] ?? "cdn", out[4] as number);
          break;
        case Out.Fail:
          this.finish(id, out[2] as string, null, "", 0);
          break;
        case Out.Fetch:
          this.fetch(id, out[2] as string, out[3] as number, out[4] as number, out[5] as number);
          break;
        case Out.FetchHashes:
          this.fetch(id, out[2] as string, -1, -1, -1, true);
          break;
        case Out.CancelFetch:
          this.dropFetch(id);
          break;
        case Out.TrackerConnect:
          this.dropTracker(id);
          try {
            this.trackers.set(id, openTracker(id, out[2] as string, this.submit, this.heard));
          } catch (e) {
            this.submit([In.TrackerClosed, id, 0, describe(e)]);
          }
          break;
        case Out.TrackerAnnounce:
        case Out.TrackerAnswer: {
          const ws = this.trackers.get(id);
          try {
            const [hash, peer] = [out[2] as Uint8Array, out[3] as Uint8Array];
            ws?.send(
              kind === Out.TrackerAnnounce
                ? announceFrame(hash, peer, out[4] as number, out[5] as number, out[6] as number, out[7] as Uint8Array, out.slice(8) as string[])
                : answerFrame(hash, peer, out[4] as Uint8Array, out[5] as Uint8Array, out[6] as string),
            );
          } catch (e) {
            this.submit([In.TrackerClosed, id, 0, describe(e)]);
          }
          break;
        }
        case Out.TrackerClose:
          this.dropTracker(id);
          break;
        case Out.CreateOffer:
        case Out.AcceptOffer:
          this.open(id, kind === Out.AcceptOffer ? (out[2] as string) : undefined);
          break;
        case Out.AcceptAnswer:
          this.conns.get(id)?.accept(out[2] as string);
          break;
        case Out.Transmit: {
          const link = this.conns.get(id);
          if (!link) break;
          try {
            this.submit([In.ChannelBuffered, id, link.send(out[2] as Uint8Array)]);
          } catch (e) {
            this.submit([In.ConnClosed, id, 0, describe(e)]);
          }
          break;
        }
        case Out.CloseConn:
          this.dropConn(id);
          break;
        case Out.Event: {
          const shape = id === 0 ? EVENTS[out[2] as number] : undefined;
          if (!shape) break;
          const ev: AgentEvent = { type: shape[0] };
          for (let i = 1; i < shape.length; i++) ev[shape[i]] = out[i + 2];
          if (ev.type === "segment-loaded") {
            ev.source = SOURCES[ev.source as number] ?? "cdn";
            ev.ms = Math.round(ev.ms as number);
          }
          this.onEvent(ev);
          break;
        }
      }
    }
  }

  private open(id: number, remoteOffer?: string): void {
    this.dropConn(id);
    try {
      const link = new PeerLink(id, this.iceServers, this.submit);
      this.conns.set(id, link);
      void link.describe(remoteOffer);
    } catch (e) {
      this.submit([In.ConnClosed, id, 0, describe(e)]);
    }
  }

  /**
   * `GET url`, with a Range header for `start..end` (end exclusive) or `from..`; a
   * `sidecar` is read here (js/src/hashlist.ts) and answered as an `In.Hashes` input.
   */
  private fetch(id: number, url: string, start: number, end: number, from: number, sidecar = false): void {
    const controller = new AbortController();
    this.fetches.set(id, controller);
    const headers: Record<string, string> = {};
    if (start >= 0 && end > start) headers.Range = `bytes=${start}-${end - 1}`;
    else if (from >= 0) headers.Range = `bytes=${from}-`;
    const mine = () => this.fetches.get(id) === controller;
    fetch(url, { headers, signal: controller.signal })
      .then(async (resp) => {
        const body = new Uint8Array(await resp.arrayBuffer());
        if (!mine()) return;
        if (!sidecar) this.submit([In.HttpDone, id, resp.status, undefined, body]);
        else this.hashes(id, resp.ok ? readHashList(body) : `HTTP status ${resp.status}`);
      })
      .catch((e) => {
        if (mine()) sidecar ? this.hashes(id, describe(e)) : this.submit([In.HttpFailed, id, 0, describe(e)]);
      });
  }

  /** Hands the core a sidecar the shim read, or why there is none. */
  private hashes(id: number, list: HashList | string): void {
    if (typeof list === "string") return this.submit([In.Hashes, id, -1, list]);
    const data = packed(list.sns.flatMap((sn, i) => [sn, list.sizes[i]]), list.digests);
    this.submit([In.Hashes, id, list.sns.length, list.uris.join("\n"), data]);
  }

  /** One timer, re-armed only when the deadline moves; `at` is ms since start, -1 never. */
  private arm(at: number): void {
    if (this.timer?.at === at) return;
    if (this.timer) clearTimeout(this.timer.handle);
    this.timer = null;
    if (at < 0) return;
    const delay = Math.min(Math.max(0, at - this.now()), 2 ** 30);
    this.timer = {
      at,
      handle: setTimeout(() => {
        this.timer = null;
        this.submit([In.Timeout, 0, 0]);
      }, delay),
    };
  }

  /** Calls a load's callback once. */
  private finish(load: number, err: string | null, data: Uint8Array | null, source: string, ms: number): void {
    const cb = this.loads.get(load);
    this.loads.delete(load);
    cb?.(err, data, source, ms);
  }

  /**
   * hls.js loaded a playlist from `url` (after redirects): read here (js/src/playlist.ts)
   * and handed to the core, or reported as a `playlist-error`.
   */
  playlist(url: string, text: string): void {
    const base = normalUrl(url);
    const p = readPlaylist(text, base);
    if (typeof p === "string") {
      this.onEvent({ type: "playlist-error", url: base, reason: p });
    } else if (p.master) {
      const lines = [base, ...p.variants, ...p.renditions].join("\n");
      this.submit([In.Master, 0, p.variants.length, lines, f64s(p.bandwidths)]);
    } else {
      const lines = [base, p.hashes ?? "", ...p.urls].join("\n");
      const numbers = [p.targetDuration, +p.endList, p.firstSn];
      p.durations.forEach((d, i) => numbers.push(d, p.ranges[2 * i], p.ranges[2 * i + 1]));
      this.submit([In.Media, 0, p.urls.length, lines, f64s(numbers)]);
    }
  }

  /** Names the swarm before the first playlist; ignored once it is named. */
  nameSwarm(name: string): void {
    this.submit([In.NameSwarm, 0, 0, name]);
  }

  /**
   * hls.js asks for a segment: `callback` is called once, with an error (then load it
   * another way) or the bytes, where they came from, and how long the player's bandwidth
   * estimator should see the load take. Returns the id for {@link Agent.abort}.
   */
  load(url: string, rangeStart: number | undefined, rangeEnd: number | undefined, position: number, bufferedEnd: number, rate: number, callback: LoadCallback): number {
    const id = this.nextLoad++;
    this.loads.set(id, callback);
    // As the playlist reader writes segment URLs: through the page's URL parser.
    const numbers = f64s([rangeStart ?? -1, rangeEnd ?? -1, position, bufferedEnd, rate]);
    this.submit([In.Load, id, 0, normalUrl(url), numbers]);
    return id;
  }

  /** hls.js gave up a load; its callback will not be called. */
  abort(id: number): void {
    this.loads.delete(id);
    this.submit([In.Abort, id, 0]);
  }

  /** Totals so far; null once the agent stopped. */
  stats(): Totals | null {
    const n = this.call((c) => c.stats());
    if (!n) return null;
    const t = {} as Totals;
    STATS.forEach((name, i) => (t[name] = n[i]));
    return t;
  }

  /** The connected peers. */
  peers(): PeerTotals[] {
    const flat = this.call((c) => c.peers()) ?? [];
    const out: PeerTotals[] = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      out.push({ peer: flat[i], bytesFrom: flat[i + 1], bytesTo: flat[i + 2], bytesPerSec: Math.round(flat[i + 3]) });
    }
    return out;
  }

  /** Our peer id, hex. */
  peerId(): string {
    return this.call((c) => c.peerId()) ?? "";
  }

  private stop(): void {
    for (const link of this.conns.values()) link.close();
    for (const ws of this.trackers.values()) closeTracker(ws);
    for (const c of this.fetches.values()) c.abort();
    this.conns.clear();
    this.trackers.clear();
    this.fetches.clear();
    if (this.timer) clearTimeout(this.timer.handle);
    this.timer = null;
    this.queue.length = 0;
  }

  /** Stops the agent: closes every connection and socket, aborts fetches, and fails the
   * loads still waiting so the player loads them another way. */
  destroy(): void {
    this.stop();
    const core = this.core;
    this.core = null;
    core?.free();
    const pending = [...this.loads.values()];
    this.loads.clear();
    for (const cb of pending) cb("agent destroyed", null, "", 0);
  }

  /** Test hook: panics inside the core, as a bug would, to prove the page survives. */
  debugPanic(): void {
    this.call((c) => c.debugPanic());
  }
}
