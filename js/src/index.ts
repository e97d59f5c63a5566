// hlsmesh: peer-to-peer segment delivery for hls.js.
//
// This file only adapts hls.js's loader contract to the wasm agent; every decision
// (cache, peer or CDN, and when) is the agent's. If the agent cannot start, panics, or
// stops answering, loads go back to hls.js's own loader and playback goes on.

import initWasm from "../pkg/hlsmesh_wasm.js";
import { Agent, type AgentEvent, type CoreOptions } from "./agent.js";
import type {
  FragmentLoaderContext,
  HlsConfig,
  Loader,
  LoaderCallbacks,
  LoaderConfiguration,
  LoaderContext,
  LoaderStats,
  PlaylistLoaderContext,
} from "hls.js";

/** Options for {@link HlsMesh.create}. */
export interface HlsMeshOptions {
  /** WebTorrent tracker URLs (`wss://…`). */
  trackers: string[];
  /**
   * Names the swarm: viewers share segments only within one swarm. Default: the master
   * playlist URL without its query string. Give a string, or a function of the master
   * playlist URL for URLs that carry per-viewer tokens in the path or differ per CDN
   * (e.g. `(url) => new URL(url).pathname`).
   */
  swarmId?: string | ((masterUrl: string) => string);
  /** Most peers connected at once (default 12); a viewer that measures its upload at 3 × the stream's bit rate or more makes up to half again as many offers (18) and accepts up to two and a half times as many (30). */
  maxPeers?: number;
  /** Segment cache bound in bytes (default by device memory: 16 MiB at 1 GiB up to 128 MiB above 4 GiB; 64 MiB when unknown). */
  cacheBytes?: number;
  /** ICE servers for RTCPeerConnection (default none: host candidates only). */
  iceServers?: RTCIceServer[];
  /**
   * Check every segment from a peer against the publisher's hash list (a sidecar beside
   * each media playlist, see docs/SECURITY.md); a peer whose bytes differ is banned.
   */
  integrity?: boolean;
  /** Upload rate cap in bytes per second (default: none). */
  uploadBytesPerSec?: number;
  /** Take segments from peers but upload nothing (default: false). */
  downloadOnly?: boolean;
  /**
   * Upload on metered connections: when false (the default), a browser that reports a
   * cellular connection or Save-Data through the Network Information API runs download
   * only.
   */
  uploadOnMetered?: boolean;
  /** Where the .wasm file is (default: beside this module). */
  wasmUrl?: string | URL;
  /** Log events to the console. */
  debug?: boolean;
}

/** Where a segment came from. */
export type SegmentSource = "cache" | "peer" | "cdn";

/** Events {@link HlsMesh.on} delivers. */
export interface HlsMeshEvents {
  segment: { url: string; source: SegmentSource; bytes: number; ms: number };
  "peer-connected": { peer: string };
  "peer-disconnected": { peer: string; reason: string };
  "tracker-connected": { url: string };
  "tracker-error": { url: string; reason: string };
  "playlist-error": { url: string; reason: string };
  /** The agent stopped; loads now go through hls.js's own loader. */
  fallback: { reason: string };
}

/** Totals from {@link HlsMesh.stats}. */
export interface HlsMeshStats {
  cdnBytes: number;
  peerBytes: number;
  uploadedBytes: number;
  cacheHits: number;
  segmentsDelivered: number;
  peerFallbacks: number;
  /** Segments from peers refused by the integrity or structure check. */
  rejectedSegments: number;
  /** Times a peer was demoted (not asked for segments for a while) after failing. */
  peersDemoted: number;
  peers: number;
  /** Viewers in our swarm as the tracker last counted them (for a VOD title, in the
   * swarm of the 2-minute stretch the playhead is in). */
  swarmSize: number;
  /** Our upload rate as the agent last measured it and told peers, kb/s (0 until measured). */
  uplinkKbps: number;
}

/** One connected peer, from {@link HlsMesh.peers}. */
export interface HlsMeshPeer {
  /** Peer id, hex. */
  peer: string;
  /** Bytes received from it. */
  bytesFrom: number;
  /** Bytes sent to it. */
  bytesTo: number;
  /** Measured segment throughput, bytes per second (0 until measured). */
  bytesPerSec: number;
}

type Handler<K extends keyof HlsMeshEvents> = (e: HlsMeshEvents[K]) => void;
type LoaderClass = new (config: HlsConfig) => Loader<LoaderContext>;

interface HlsLike {
  media: HTMLMediaElement | null;
  config: HlsConfig;
}

/**
 * How far ahead of the playhead hls.js loads, in seconds, unless the page sets
 * `maxBufferLength` or `maxMaxBufferLength`. hls.js's own rule keeps up to 60 MB ahead
 * (`maxBufferSize`), capped at 600 s: ten minutes of a 768 kb/s title, loaded from the CDN
 * by the first viewer of each part of it whether or not anyone watches that far. 30 s is
 * hls.js's own `maxBufferLength`; peers prefetch ahead of it anyway (docs/POLICY.md).
 */
export const FORWARD_BUFFER_S = 30;

/** `{ maxMaxBufferLength: FORWARD_BUFFER_S }`, or nothing when `config` sets either buffer length. */
export function forwardBufferCap(config: object | undefined): Partial<HlsConfig> {
  const c = (config ?? {}) as Partial<HlsConfig>;
  return c.maxBufferLength === undefined && c.maxMaxBufferLength === undefined ? { maxMaxBufferLength: FORWARD_BUFFER_S } : {};
}

let wasmReady: Promise<unknown> | null = null;

/** Whether the browser reports a cellular or data-saving connection (Network Information API). */
function onMeteredConnection(): boolean {
  const c = (navigator as Navigator & { connection?: { type?: string; saveData?: boolean } }).connection;
  return !!c && (c.type === "cellular" || c.saveData === true);
}

/** Cache bound by device class (`navigator.deviceMemory`, in GiB, where the browser tells). */
function defaultCacheBytes(): number {
  const gib = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  const mib = gib === undefined ? 64 : gib <= 1 ? 16 : gib <= 2 ? 32 : gib <= 4 ? 64 : 128;
  return mib * 1024 * 1024;
}

function newStats(): LoaderStats {
  return {
    aborted: false,
    loaded: 0,
    retry: 0,
    total: 0,
    chunkCount: 0,
    bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 },
    parsing: { start: 0, end: 0 },
    buffering: { start: 0, first: 0, end: 0 },
  };
}

/** @internal All-zero totals: what {@link HlsMesh.stats} reports before or without an agent. */
export function emptyStats(): HlsMeshStats {
  return {
    cdnBytes: 0,
    peerBytes: 0,
    uploadedBytes: 0,
    cacheHits: 0,
    segmentsDelivered: 0,
    peerFallbacks: 0,
    rejectedSegments: 0,
    peersDemoted: 0,
    peers: 0,
    swarmSize: 0,
    uplinkKbps: 0,
  };
}

/**
 * @internal The page's options as the core takes them; throws `invalid option <name>` for
 * a member of the wrong type (absent and `null` members take the defaults).
 */
export function coreOptions(o: HlsMeshOptions): CoreOptions {
  const given = (key: keyof HlsMeshOptions, ok: (v: unknown) => boolean) => {
    const v = o[key];
    if (v == null) return undefined;
    if (!ok(v)) throw new Error(`invalid option ${key}`);
    return v;
  };
  const count = (key: keyof HlsMeshOptions) => given(key, (v) => Number.isSafeInteger(v) && (v as number) >= 0) as number | undefined;
  const flag = (key: keyof HlsMeshOptions) => given(key, (v) => typeof v === "boolean") as boolean | undefined;
  const trackers = given("trackers", (v) => Array.isArray(v) && v.every((t) => typeof t === "string" && t !== "" && !t.includes("\n")));
  const swarmId = given("swarmId", (v) => typeof v === "string" || typeof v === "function");
  return {
    trackers: (trackers as string[] | undefined) ?? [],
    swarmId: typeof swarmId === "string" ? swarmId : undefined,
    maxPeers: count("maxPeers"),
    cacheBytes: count("cacheBytes"),
    integrity: flag("integrity") ?? false,
    uploadBytesPerSec: count("uploadBytesPerSec"),
    downloadOnly: flag("downloadOnly") ?? false,
  };
}

/** One player's peer-to-peer agent. */
export class HlsMesh {
  private _agent: Agent | null;
  private _hls: HlsLike | null = null;
  private _handlers = new Map<keyof HlsMeshEvents, Set<Handler<never>>>();
  private _active = new Set<MeshFragmentLoader>();
  private readonly _debug: boolean;
  private _fellBack = false;
  private _destroyed = false;
  /** `swarmId` as a function, until the first playlist names the swarm with it. */
  private _swarmNamer: ((masterUrl: string) => string) | null = null;

  /** Playlists hls.js loaded before the agent ran, for it (null once it runs or failed). */
  private _early: Array<[string, string]> | null = [];
  /** Resolves once the agent runs or hlsmesh has stepped aside; never rejects. */
  readonly ready: Promise<void>;

  private constructor(options: HlsMeshOptions) {
    this._agent = null;
    this._debug = !!options.debug;
    this.ready = this._boot(options);
  }

  /**
   * Starts an agent without waiting for the wasm: hls.js can be created and start loading
   * at once. Until the agent runs, segments load through hls.js's own loader and the
   * playlists it loads are kept for the agent; `ready` resolves when it runs. Never throws
   * for a browser that cannot run it (no WebAssembly, no WebRTC): every load then goes to
   * hls.js.
   */
  static start(options: HlsMeshOptions): HlsMesh {
    return new HlsMesh(options);
  }

  /**
   * Loads the wasm and starts an agent, resolving once it runs ({@link HlsMesh.start},
   * awaited). Never rejects for a browser that cannot run it (no WebAssembly, no
   * WebRTC): the result then passes every load to hls.js.
   */
  static async create(options: HlsMeshOptions): Promise<HlsMesh> {
    const mesh = new HlsMesh(options);
    await mesh.ready;
    return mesh;
  }

  private async _boot(options: HlsMeshOptions): Promise<void> {
    try {
      if (typeof RTCPeerConnection === "undefined") throw new Error("WebRTC unavailable");
      wasmReady ??= options.wasmUrl ? initWasm({ module_or_path: options.wasmUrl }) : initWasm();
      await wasmReady;
      if (this._destroyed || this._fellBack) return; // gone while the wasm loaded
      const core = coreOptions(options);
      core.cacheBytes ??= defaultCacheBytes();
      if (options.downloadOnly == null) core.downloadOnly = !options.uploadOnMetered && onMeteredConnection();
      const agent = (this._agent = new Agent(core, options.iceServers ?? [], (ev) => this._onAgentEvent(ev)));
      this._releaseWhenPlaying(agent);
      if (typeof options.swarmId === "function") this._swarmNamer = options.swarmId;
      const early = this._early ?? [];
      this._early = null;
      for (const [url, text] of early) this._tapPlaylist(url, text);
    } catch (e) {
      this._fallback(`agent could not start: ${String(e)}`);
    }
  }

  /** Releases the agent's trackers once the player shows its first frame (or after 2 s, or at once in a hidden page). */
  private _releaseWhenPlaying(agent: Agent, until = performance.now() + 2000): void {
    if (this._agent !== agent) return;
    // A hidden page has no start-up to protect (and its timers may wake once a minute).
    if ((this._hls?.media?.readyState ?? 0) >= 2 || document.hidden || performance.now() >= until) agent._releaseTrackers();
    else setTimeout(() => this._releaseWhenPlaying(agent, until), 50);
  }

  /**
   * Starts fetching and compiling the wasm ahead of {@link HlsMesh.create}, which then
   * awaits the same load. Optional; resolves whether or not the load worked.
   */
  static preload(wasmUrl?: string | URL): Promise<void> {
    wasmReady ??= wasmUrl ? initWasm({ module_or_path: wasmUrl }) : initWasm();
    return wasmReady.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Whether segments go through the agent (false after a failure or destroy()). */
  get enabled(): boolean {
    return this._agent !== null;
  }

  /** hls.js config with the hlsmesh loaders installed, merged over `extra`. */
  hlsConfig<T extends object>(extra?: T): T & Pick<HlsConfig, "fLoader" | "pLoader"> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const mesh = this;
    class FLoader extends MeshFragmentLoader {
      constructor(config: HlsConfig) {
        super(config, mesh);
      }
    }
    class PLoader extends MeshPlaylistLoader {
      constructor(config: HlsConfig) {
        super(config, mesh);
      }
    }
    return {
      ...forwardBufferCap(extra),
      ...(extra ?? ({} as T)),
      fLoader: FLoader as unknown as HlsConfig["fLoader"],
      pLoader: PLoader as unknown as HlsConfig["pLoader"],
    };
  }

  /** Lets the agent read the player's position (call once the Hls instance exists). */
  attach(hls: HlsLike): void {
    this._hls = hls;
  }

  on<K extends keyof HlsMeshEvents>(type: K, handler: Handler<K>): void {
    let set = this._handlers.get(type);
    if (!set) this._handlers.set(type, (set = new Set()));
    set.add(handler as Handler<never>);
  }

  off<K extends keyof HlsMeshEvents>(type: K, handler: Handler<K>): void {
    this._handlers.get(type)?.delete(handler as Handler<never>);
  }

  /** Totals so far. */
  stats(): HlsMeshStats {
    const empty = emptyStats();
    if (!this._agent) return empty;
    try {
      return { ...empty, ...this._agent.stats() };
    } catch (e) {
      this._fallback(`agent failed: ${String(e)}`);
      return empty;
    }
  }

  /** Connected peers: what moved each way and their measured throughput. */
  peers(): HlsMeshPeer[] {
    if (!this._agent) return [];
    try {
      return this._agent.peers();
    } catch (e) {
      this._fallback(`agent failed: ${String(e)}`);
      return [];
    }
  }

  /** Stops the agent and closes every connection; hls.js keeps playing on its own loader. */
  destroy(): void {
    const agent = this._agent;
    this._agent = null;
    this._early = null;
    this._destroyed = true;
    if (agent) {
      try {
        agent.destroy();
      } catch {
        /* already broken: nothing left to release */
      }
    }
  }

  /** @internal */
  _playback(): { _position: number; _bufferedEnd: number; _rate: number } {
    const media = this._hls?.media;
    if (!media) return { _position: 0, _bufferedEnd: 0, _rate: 1 };
    const t = media.currentTime;
    let end = t;
    const b = media.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= t + 0.1 && b.end(i) > end) end = b.end(i);
    }
    return { _position: t, _bufferedEnd: end, _rate: media.paused ? 0 : media.playbackRate };
  }

  /** @internal Hands a playlist hls.js loaded to the agent. */
  _tapPlaylist(url: string, text: string): void {
    const agent = this._agent;
    if (!agent) {
      // Not running yet: keep the first playlist (the master) and the latest ones.
      if (this._early) {
        if (this._early.length >= 32) this._early.splice(1, 1);
        this._early.push([url, text]);
      }
      return;
    }
    const namer = this._swarmNamer;
    if (namer) {
      this._swarmNamer = null;
      let name: unknown;
      try {
        name = namer(url);
      } catch (e) {
        console.warn("[hlsmesh] swarmId function failed; naming the swarm by the playlist URL", e);
      }
      if (typeof name === "string" && name) agent._nameSwarm(name);
      else if (name !== undefined) console.warn("[hlsmesh] swarmId function returned no name; naming the swarm by the playlist URL");
    }
    try {
      agent._playlist(url, text);
    } catch (e) {
      this._fallback(`agent failed: ${String(e)}`);
    }
  }

  /** @internal The agent, or null once it failed. */
  get agentOrNull(): Agent | null {
    return this._agent;
  }

  /** @internal Stops using the agent after an error; active loads move to hls.js's loader. */
  _fallback(reason: string): void {
    const agent = this._agent;
    this._agent = null;
    this._early = null;
    for (const loader of [...this._active]) loader._switchToFallback();
    // Its sockets and peers too: nothing reads them any more.
    try {
      agent?.destroy();
    } catch {
      /* already broken: nothing left to release */
    }
    if (this._fellBack) return;
    this._fellBack = true;
    if (this._debug) console.warn("[hlsmesh] falling back to hls.js loader:", reason);
    this._emit("fallback", { reason });
  }

  /** @internal */
  _track(loader: MeshFragmentLoader, on: boolean): void {
    if (on) this._active.add(loader);
    else this._active.delete(loader);
  }

  private _onAgentEvent(ev: AgentEvent): void {
    if (this._debug) console.debug("[hlsmesh]", ev);
    if (ev.type === "panic") {
      // The module traps right after this; never call into it again.
      queueMicrotask(() => this._fallback(`agent panicked: ${String(ev.message)}`));
      this._agent = null;
      return;
    }
    // Every other event is one of the page's (agent.ts names them as HlsMeshEvents does).
    const { type, ...payload } = ev;
    this._emit(type as keyof HlsMeshEvents, payload as never);
  }

  private _emit<K extends keyof HlsMeshEvents>(type: K, payload: HlsMeshEvents[K]): void {
    for (const h of this._handlers.get(type) ?? []) {
      try {
        (h as Handler<K>)(payload);
      } catch (e) {
        console.error("[hlsmesh] event handler failed", e);
      }
    }
  }
}

/** Segments: asks the agent; falls back to hls.js's own loader when it cannot answer. */
class MeshFragmentLoader implements Loader<FragmentLoaderContext> {
  context: FragmentLoaderContext | null = null;
  // Created once and mutated in place: hls.js keeps a reference to it for ABR.
  stats: LoaderStats = newStats();
  private _callbacks: LoaderCallbacks<FragmentLoaderContext> | null = null;
  private _loaderConfig: LoaderConfiguration | null = null;
  private _loadId: number | null = null;
  private _inner: Loader<LoaderContext> | null = null;
  private _watchdog: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly _hlsConfig: HlsConfig,
    private readonly _mesh: HlsMesh,
  ) {}

  load(
    context: FragmentLoaderContext,
    config: LoaderConfiguration,
    callbacks: LoaderCallbacks<FragmentLoaderContext>,
  ): void {
    this.context = context;
    this._loaderConfig = config;
    this._callbacks = callbacks;
    this.stats.loading.start = performance.now();
    const agent = this._mesh.agentOrNull;
    if (!agent) return this._switchToFallback();
    const p = this._mesh._playback();
    try {
      this._mesh._track(this, true);
      this._loadId = agent._load(
        context.url,
        context.rangeEnd ? context.rangeStart : undefined,
        context.rangeEnd ? context.rangeEnd : undefined,
        p._position,
        p._bufferedEnd,
        p._rate,
        (err: string | null, data: Uint8Array | null, source: string, timingMs: number) => {
          try {
            this._onAgentResult(err, data, source, timingMs);
          } catch (e) {
            // An exception here would unwind into the agent; report it instead.
            console.error("[hlsmesh] delivering a segment to hls.js failed", e);
          }
        },
      );
    } catch (e) {
      this._mesh._fallback(`agent failed: ${String(e)}`);
      return;
    }
    // Backstop for an agent that stops answering: never let a load hang.
    const policy = config.loadPolicy;
    const aheadMs = Math.max(0, (p._bufferedEnd - p._position) * 1000);
    const limit = Math.min(policy?.maxLoadTimeMs ?? 20000, Math.max(aheadMs, 4000));
    this._watchdog = setTimeout(() => this._onWatchdog(), limit);
  }

  private _onAgentResult(
    err: string | null,
    data: Uint8Array | null,
    _source: string,
    timingMs: number,
  ): void {
    this._loadId = null;
    clearTimeout(this._watchdog);
    this._mesh._track(this, false);
    const callbacks = this._callbacks;
    const context = this.context;
    if (!callbacks || !context) return;
    if (err !== null || !data) {
      // The agent could not get it; hls.js's loader tries with its own retry policy.
      return this._switchToFallback();
    }
    // hls.js's bandwidth estimator samples (parsing end - loading start). The agent says
    // how long this load should count for: the CDN path's measured time for these bytes
    // (or the real fetch time when it came from the CDN), so cache hits and fast peers
    // do not push ABR above what the CDN sustains, and slow peers do not drag it down.
    const now = performance.now();
    const stats = this.stats;
    const took = Number.isFinite(timingMs) && timingMs > 0 ? timingMs : now - stats.loading.start;
    stats.loading.start = now - took;
    stats.loading.first = stats.loading.start;
    stats.loading.end = now;
    stats.loaded = stats.total = data.byteLength;
    stats.chunkCount = 1;
    const buffer =
      data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
        ? (data.buffer as ArrayBuffer)
        : (data.slice().buffer as ArrayBuffer);
    this._callbacks = null;
    callbacks.onSuccess({ url: context.url, data: buffer, code: 200 }, stats, context, null);
  }

  private _onWatchdog(): void {
    if (this._loadId === null) return;
    try {
      this._mesh.agentOrNull?._abort(this._loadId);
    } catch {
      /* the agent is broken; the fallback below still loads */
    }
    this._loadId = null;
    this._switchToFallback();
  }

  /** @internal Loads the current context with hls.js's own loader. */
  _switchToFallback(): void {
    clearTimeout(this._watchdog);
    this._mesh._track(this, false);
    this._loadId = null;
    const { context, _loaderConfig: loaderConfig, _callbacks: callbacks } = this;
    if (!context || !loaderConfig || !callbacks || this._inner) return;
    const Base = this._hlsConfig.loader as unknown as LoaderClass;
    const inner = new Base(this._hlsConfig);
    this._inner = inner;
    const stats = this.stats;
    inner.load(context, loaderConfig, {
      ...callbacks,
      onSuccess: (response, innerStats, ctx, details) => {
        Object.assign(stats.loading, innerStats.loading);
        stats.loaded = innerStats.loaded;
        stats.total = innerStats.total;
        stats.bwEstimate = innerStats.bwEstimate;
        this._callbacks = null;
        callbacks.onSuccess(response, stats, ctx as FragmentLoaderContext, details);
      },
    } as LoaderCallbacks<LoaderContext>);
  }

  abort(): void {
    clearTimeout(this._watchdog);
    this._mesh._track(this, false);
    if (this._inner) {
      // hls.js's own loader has the load and reports the abort itself.
      this._inner.abort();
      return;
    }
    if (this._loadId === null) return;
    try {
      this._mesh.agentOrNull?._abort(this._loadId);
    } catch {
      /* nothing to abort in a broken agent */
    }
    this._loadId = null;
    this.stats.aborted = true;
    const { _callbacks: callbacks, context } = this;
    this._callbacks = null;
    if (callbacks?.onAbort && context) callbacks.onAbort(this.stats, context, null);
  }

  destroy(): void {
    // Like hls.js's own loaders: forget the callbacks first and report nothing, since
    // hls.js destroys loaders from inside its own callbacks (an abort reported from here
    // would recurse).
    this._callbacks = null;
    clearTimeout(this._watchdog);
    this._mesh._track(this, false);
    if (this._loadId !== null) {
      try {
        this._mesh.agentOrNull?._abort(this._loadId);
      } catch {
        /* nothing to abort in a broken agent */
      }
      this._loadId = null;
    }
    this._inner?.destroy();
    this._inner = null;
    this.context = null;
  }
}

/** A loader that hands everything to another loader. @internal */
export class DelegatingLoader<C extends LoaderContext> implements Loader<C> {
  constructor(protected readonly _inner: Loader<LoaderContext>) {}

  get context(): C | null {
    return this._inner.context as C | null;
  }

  // hls.js takes this object before load() and reads it after: the inner loader's.
  get stats(): LoaderStats {
    return this._inner.stats;
  }

  load(context: C, config: LoaderConfiguration, callbacks: LoaderCallbacks<C>): void {
    this._inner.load(context, config, callbacks as unknown as LoaderCallbacks<LoaderContext>);
  }

  abort(): void {
    this._inner.abort();
  }

  destroy(): void {
    this._inner.destroy();
  }
}

/**
 * Playlists: hls.js's own loader does the loading; every playlist it loads is also handed
 * to `sink` (the agent reads it there), unchanged for hls.js. @internal
 */
export class PlaylistTap extends DelegatingLoader<PlaylistLoaderContext> {
  constructor(
    hlsConfig: HlsConfig,
    private readonly _sink: ((url: string, text: string) => void) | null,
  ) {
    super(new (hlsConfig.loader as unknown as LoaderClass)(hlsConfig));
  }

  load(
    context: PlaylistLoaderContext,
    config: LoaderConfiguration,
    callbacks: LoaderCallbacks<PlaylistLoaderContext>,
  ): void {
    this._inner.load(context, config, {
      ...callbacks,
      onSuccess: (response, stats, ctx, details) => {
        if (this._sink && typeof response.data === "string") this._sink(response.url || context.url, response.data);
        callbacks.onSuccess(response, stats, ctx as PlaylistLoaderContext, details);
      },
    } as LoaderCallbacks<LoaderContext>);
  }
}

/** Playlists for one {@link HlsMesh}. */
class MeshPlaylistLoader extends PlaylistTap {
  constructor(hlsConfig: HlsConfig, mesh: HlsMesh) {
    super(hlsConfig, (url, text) => mesh._tapPlaylist(url, text));
  }
}

export default HlsMesh;
