// hlsmesh drop-in: one script tag after hls.js, no other change to the page.
//
//   <script src="hls.min.js"></script>
//   <script src="hlsmesh.drop-in.js" data-tracker="wss://tracker.example"></script>
//
// Built as an IIFE (js/dist/hlsmesh.drop-in.js). At load it finds the page's `window.Hls`
// and installs hlsmesh's loaders as hls.js's defaults (`Hls.DefaultConfig.fLoader` and
// `pLoader`), so every `new Hls(...)` the page makes uses them unless that config names
// loaders of its own.
//
// One agent per Hls instance: loaders receive their Hls instance's config object, which
// keys the instance's agent. The agent starts on the instance's first loadSource()/
// attachMedia() (or its first load) and stops in its destroy(). Starting is async (the
// wasm is fetched at script load and compiled once; each agent then starts at once):
// until an agent is ready, fragments load through hls.js's own loader (nothing waits),
// and playlists seen meanwhile are handed to the agent when it is.
//
// Options: `window.hlsmeshConfig` (same names as HlsMesh.create's options) set before the
// script, then the tag's data attributes, which win: data-tracker (comma-separated),
// data-swarm-id, data-cache-bytes, data-max-peers, data-debug, data-wasm (default: the
// .wasm beside this script). `window.hlsmesh` gives the page stats(), peers(), on()/off()
// over all its agents.

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
import { DelegatingLoader, emptyStats, forwardBufferCap, HlsMesh, PlaylistTap, type HlsMeshEvents, type HlsMeshOptions, type HlsMeshPeer, type HlsMeshStats } from "./index";

type LoaderClass = new (config: HlsConfig) => Loader<LoaderContext>;
type AnyHandler = (e: never) => void;

interface HlsInstance {
  config: HlsConfig;
  /** What the page passed to the constructor (hls.js keeps it beside the merged config). */
  userConfig?: Partial<HlsConfig>;
  media: HTMLMediaElement | null;
}

interface HlsStatic {
  new (config?: Partial<HlsConfig>): HlsInstance;
  DefaultConfig: HlsConfig;
  prototype: HlsInstance & Record<string, unknown>;
}

/** What the drop-in puts on `window.hlsmesh`. */
export interface HlsMeshDropIn {
  /** False when the drop-in did nothing (no hls.js, no tracker). */
  readonly installed: boolean;
  /** The options in use (global config merged with the script tag's data attributes). */
  readonly options: Readonly<Partial<HlsMeshOptions>>;
  /** Totals over every running agent (one per Hls instance). */
  stats(): HlsMeshStats;
  /** Connected peers over every running agent. */
  peers(): HlsMeshPeer[];
  /** Subscribe to every agent's events, present and future. */
  on<K extends keyof HlsMeshEvents>(type: K, handler: (e: HlsMeshEvents[K]) => void): void;
  off<K extends keyof HlsMeshEvents>(type: K, handler: (e: HlsMeshEvents[K]) => void): void;
  /** The agents running now. */
  meshes(): HlsMesh[];
  /** The agent of one Hls instance (null until it has started, or after destroy()). */
  meshFor(hls: HlsInstance): HlsMesh | null;
}

declare global {
  interface Window {
    Hls?: HlsStatic;
    hlsmeshConfig?: Partial<HlsMeshOptions> & { trackers?: string[] | string };
    hlsmesh?: HlsMeshDropIn;
  }
}

const EVENTS: (keyof HlsMeshEvents)[] = [
  "segment",
  "peer-connected",
  "peer-disconnected",
  "tracker-connected",
  "tracker-error",
  "playlist-error",
  "fallback",
];
const PENDING_PLAYLISTS = 32;

const script = document.currentScript as HTMLScriptElement | null;
const handlers = new Map<keyof HlsMeshEvents, Set<AnyHandler>>();
const slots = new WeakMap<object, Slot>();
const running = new Set<Slot>();

function emit(type: keyof HlsMeshEvents, payload: unknown): void {
  for (const h of handlers.get(type) ?? []) {
    try {
      (h as (e: unknown) => void)(payload);
    } catch (e) {
      console.error("[hlsmesh] event handler failed", e);
    }
  }
}

function readOptions(): Partial<HlsMeshOptions> {
  const global = window.hlsmeshConfig ?? {};
  const opts: Partial<HlsMeshOptions> = { ...global } as Partial<HlsMeshOptions>;
  const list = (v: string | string[] | undefined) =>
    (Array.isArray(v) ? v : (v ?? "").split(",")).map((s) => s.trim()).filter(Boolean);
  if (global.trackers !== undefined) opts.trackers = list(global.trackers);
  const d = script?.dataset ?? {};
  if (d.tracker !== undefined) opts.trackers = list(d.tracker);
  if (d.swarmId) opts.swarmId = d.swarmId;
  const num = (v: string | undefined) => (v && Number.isFinite(Number(v)) ? Number(v) : undefined);
  if (num(d.cacheBytes) !== undefined) opts.cacheBytes = num(d.cacheBytes);
  if (num(d.maxPeers) !== undefined) opts.maxPeers = num(d.maxPeers);
  if (d.debug !== undefined) opts.debug = d.debug !== "false" && d.debug !== "0";
  if (d.wasm) opts.wasmUrl = new URL(d.wasm, document.baseURI).href;
  if (!opts.wasmUrl && script?.src) opts.wasmUrl = new URL("hlsmesh_wasm_bg.wasm", script.src).href;
  return opts;
}

/** One Hls instance's agent, keyed by the instance's config object. */
class Slot {
  _hls: HlsInstance | null = null;
  _mesh: HlsMesh | null = null;
  _fLoader: LoaderClass | null = null;
  private _pending: [string, string][] = [];
  private _destroyed = false;

  constructor(options: HlsMeshOptions) {
    HlsMesh.create(options).then((mesh) => this._started(mesh));
  }

  private _started(mesh: HlsMesh): void {
    if (this._destroyed) {
      mesh.destroy();
      return;
    }
    this._mesh = mesh;
    running.add(this);
    for (const type of EVENTS) mesh.on(type, (e) => emit(type, e));
    if (!mesh.enabled) {
      emit("fallback", { reason: "agent could not start" });
      return;
    }
    if (this._hls) mesh.attach(this._hls);
    this._fLoader = mesh.hlsConfig().fLoader as unknown as LoaderClass;
    const pending = this._pending;
    this._pending = [];
    for (const [url, text] of pending) this._playlist(url, text);
  }

  _attach(hls: HlsInstance): void {
    this._hls = hls;
    this._mesh?.attach(hls);
  }

  /** A playlist hls.js loaded: to the agent now, or once it has started. */
  _playlist(url: string, text: string): void {
    const mesh = this._mesh;
    if (!mesh) {
      if (!this._destroyed) this._pending.push([url, text]);
      if (this._pending.length > PENDING_PLAYLISTS) this._pending.splice(1, 1); // keep the first (master)
      return;
    }
    // Through HlsMesh's own tap: it names the swarm by a `swarmId` function first.
    mesh._tapPlaylist(url, text);
  }

  /** The fragment loader class to use now: the agent's once it runs, else null. */
  _fragmentLoader(): LoaderClass | null {
    return this._mesh?.enabled ? this._fLoader : null;
  }

  _destroy(): void {
    this._destroyed = true;
    this._pending = [];
    running.delete(this);
    this._mesh?.destroy();
    this._mesh = null;
    this._fLoader = null;
  }
}

function install(): HlsMeshDropIn {
  const options = readOptions();
  const Hls = window.Hls;
  let installed = false;
  if (!Hls || typeof Hls !== "function" || !Hls.DefaultConfig) {
    console.warn(
      "[hlsmesh] window.Hls not found: load hls.js (classic build) before hlsmesh.drop-in.js. P2P is off.",
    );
  } else if (!options.trackers?.length) {
    console.warn("[hlsmesh] no tracker: set data-tracker on the script tag (or window.hlsmeshConfig.trackers). P2P is off.");
  } else {
    installed = true;
    patch(Hls, options as HlsMeshOptions);
  }
  return {
    installed,
    options,
    stats() {
      const total = emptyStats();
      for (const slot of running) {
        const s = slot._mesh?.stats();
        if (!s) continue;
        for (const k of Object.keys(total) as (keyof HlsMeshStats)[]) {
          total[k] = k === "swarmSize" || k === "uplinkKbps" ? Math.max(total[k], s[k] ?? 0) : total[k] + (s[k] ?? 0);
        }
      }
      return total;
    },
    peers() {
      return [...running].flatMap((slot) => slot._mesh?.peers() ?? []);
    },
    on(type, handler) {
      let set = handlers.get(type);
      if (!set) handlers.set(type, (set = new Set()));
      set.add(handler as AnyHandler);
    },
    off(type, handler) {
      handlers.get(type)?.delete(handler as AnyHandler);
    },
    meshes() {
      return [...running].flatMap((slot) => (slot._mesh ? [slot._mesh] : []));
    },
    meshFor(hls) {
      return slots.get(hls.config)?._mesh ?? null;
    },
  };
}

function patch(Hls: HlsStatic, options: HlsMeshOptions): void {
  if (options.wasmUrl) void HlsMesh.preload(options.wasmUrl);

  const slotFor = (config: object): Slot => {
    let slot = slots.get(config);
    if (!slot) slots.set(config, (slot = new Slot(options)));
    return slot;
  };

  /** Segments: the agent's loader once this instance's agent runs, hls.js's until then. */
  class DropInFragmentLoader extends DelegatingLoader<FragmentLoaderContext> {
    constructor(config: HlsConfig) {
      const Mesh = slotFor(config)._fragmentLoader();
      const Base = config.loader as unknown as LoaderClass;
      super(Mesh ? new Mesh(config) : new Base(config));
    }
  }

  /** Playlists: hls.js's loader loads; the agent reads what it got (now or once started). */
  class DropInPlaylistLoader extends PlaylistTap {
    constructor(config: HlsConfig) {
      // A config with a fragment loader of its own gets no agent: nothing would use it.
      const slot = usesMesh(config) ? slotFor(config) : null;
      super(config, slot ? (url, text) => slot._playlist(url, text) : null);
    }
  }

  const defaults = Hls.DefaultConfig as HlsConfig & Record<string, unknown>;
  defaults.fLoader = DropInFragmentLoader as unknown as HlsConfig["fLoader"];
  defaults.pLoader = DropInPlaylistLoader as unknown as HlsConfig["pLoader"];

  // Per instance: start its agent early and give it the player's position; stop it with
  // the instance.
  const proto = Hls.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ["loadSource", "attachMedia"]) {
    const orig = proto[name];
    if (typeof orig !== "function") continue;
    proto[name] = function (this: HlsInstance, ...args: unknown[]) {
      if (usesMesh(this.config)) {
        slotFor(this.config)._attach(this);
        if (this.userConfig) Object.assign(this.config, forwardBufferCap(this.userConfig));
      }
      return orig.apply(this, args);
    };
  }
  const destroy = proto.destroy;
  if (typeof destroy === "function") {
    proto.destroy = function (this: HlsInstance, ...args: unknown[]) {
      const slot = this.config && slots.get(this.config);
      if (slot) {
        slots.delete(this.config);
        slot._destroy();
      }
      return destroy.apply(this, args);
    };
  }

  /** Whether this instance's config still uses the drop-in's loaders (or subclasses of them). */
  function usesMesh(config: HlsConfig | undefined): boolean {
    const f = config?.fLoader as unknown;
    return typeof f === "function" && (f === DropInFragmentLoader || f.prototype instanceof DropInFragmentLoader);
  }
}

window.hlsmesh = install();
