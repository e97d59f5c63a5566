// What an end-to-end test page measures, shared by viewer.html (ES module hls.js +
// HlsMesh API) and dropin.html (classic hls.js + the drop-in script tag).
//
// Measures playback independently of hlsmesh, from hls.js events and the video
// element, and exposes it as `await window.__report()`:
//   fragments  one entry per hls.js FRAG_LOADED: url, sn, level, bytes, sha256
//   errors     every hls.js ERROR event (fatal or not), page errors
//   ttffMs     ms from navigation start to the first 'playing' event
//   stalls     after the first 'playing': 'waiting' until the next 'playing'
//   playback   at report time: position, buffer, level, latency, playedS (seconds of
//              media played, from video.played)
//   mesh       hlsmesh's own view: segment events by source, stats()
//
// Fragment bytes: hls.js hands the payload to its transmux worker as a
// transferable right after loading, so by FRAG_LOADED the ArrayBuffer is often
// detached. The fragment loader in use (hlsmesh's, or hls.js's default) is
// therefore subclassed to copy the payload the moment the loader delivers it;
// the copy is what FRAG_LOADED's entry hashes. The subclass changes nothing else.

const now = () => Math.round(performance.now()); // ms since navigation start

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

function copyOf(data) {
  if (data instanceof ArrayBuffer) return data.byteLength ? data.slice(0) : null;
  if (ArrayBuffer.isView(data)) {
    return data.byteLength ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : null;
  }
  return null;
}

/**
 * A recorder for one page: `{ Hls, video, id, src, p2p }`. Call `recordingLoader(Base)`
 * for the fLoader, `watch(hls)` once the Hls instance exists, `setStats(fn)` for
 * hlsmesh's stats(), and feed hlsmesh "segment" events to `segment(e)`. Installs
 * `window.__report` and a once-a-second status line into `statusEl`.
 */
export function createRecorder({ Hls, video, id, src, p2p, statusEl }) {
  const report = {
    id,
    src,
    p2p,
    userAgent: navigator.userAgent,
    hlsVersion: Hls.version,
    startedAt: Date.now(),
    ttffMs: null,
    // Start-up, ms since navigation start: the first time each hls.js stage happened
    // (plus "hls": the Hls instance handed to watch()), and at the first 'playing' the
    // page's resource timings (path, start, end); bench-ttff prints their medians.
    startup: { stages: {}, resources: null },
    playing: false,
    ended: false,
    // A 'waiting' after the first frame is a stall, unless a seek is under way: the pages
    // never seek, so that is hls.js jumping a gap at the start of its buffer (counted
    // apart, in seekWaits). An open one at report time is in the count, with openMs.
    stalls: { count: 0, totalMs: 0, events: [] },
    seekWaits: { count: 0, totalMs: 0, events: [] },
    fragments: [],
    fragLoadedEvents: 0,
    errors: [],
    pageErrors: [],
    levelSwitches: [],
    mesh: {
      enabled: p2p,
      error: null,
      segments: { cdn: { count: 0, bytes: 0, ms: 0 }, peer: { count: 0, bytes: 0, ms: 0 }, cache: { count: 0, bytes: 0, ms: 0 } },
      otherSources: {},
      stats: null,
    },
    playback: null,
    // The most media buffered ahead of the playhead, sampled every 500 ms (seconds).
    maxBufferAheadS: 0,
    reportAt: null,
  };
  const pendingHashes = [];
  const captured = new WeakMap(); // frag -> { chunks: ArrayBuffer[], data: ArrayBuffer|null }
  let hls = null;
  let statsFn = null;

  window.addEventListener("error", (e) => report.pageErrors.push({ t: now(), message: String(e.message ?? e) }));
  window.addEventListener("unhandledrejection", (e) => report.pageErrors.push({ t: now(), message: String(e.reason?.stack ?? e.reason) }));

  /** Subclass of the fragment loader that copies what it delivers. */
  function recordingLoader(Base) {
    return class RecordingFragmentLoader extends Base {
      load(context, config, callbacks) {
        const frag = context.frag;
        const rec = { chunks: [], data: null };
        if (frag) captured.set(context.part ?? frag, rec);
        const wrapped = { ...callbacks };
        if (callbacks.onProgress) {
          wrapped.onProgress = (stats, ctx, data, details) => {
            const c = copyOf(data);
            if (c) rec.chunks.push(c);
            return callbacks.onProgress(stats, ctx, data, details);
          };
        }
        wrapped.onSuccess = (response, stats, ctx, details) => {
          const c = copyOf(response?.data);
          if (c) rec.data = c;
          return callbacks.onSuccess(response, stats, ctx, details);
        };
        return super.load(context, config, wrapped);
      }
    };
  }

  function payloadFor(frag, part) {
    const rec = captured.get(part ?? frag);
    if (!rec) return null;
    if (rec.data) return rec.data;
    if (!rec.chunks.length) return null;
    const total = rec.chunks.reduce((n, c) => n + c.byteLength, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of rec.chunks) {
      out.set(new Uint8Array(c), off);
      off += c.byteLength;
    }
    return out.buffer;
  }

  function segment(e) {
    const s = report.mesh.segments[e.source] ?? (report.mesh.otherSources[e.source] ??= { count: 0, bytes: 0, ms: 0 });
    s.count += 1;
    s.bytes += e.bytes ?? 0;
    s.ms += e.ms ?? 0;
  }

  function playbackState() {
    const q = video.getVideoPlaybackQuality?.();
    const b = video.buffered;
    let ahead = 0;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= video.currentTime + 0.1 && b.end(i) > video.currentTime) ahead = b.end(i) - video.currentTime;
    }
    let played = 0;
    for (let i = 0; i < video.played.length; i++) played += video.played.end(i) - video.played.start(i);
    return {
      currentTime: video.currentTime,
      paused: video.paused,
      readyState: video.readyState,
      bufferAheadS: Math.round(ahead * 100) / 100,
      playedS: Math.round(played * 100) / 100,
      droppedFrames: q?.droppedVideoFrames ?? null,
      totalFrames: q?.totalVideoFrames ?? null,
      latencyS: hls && Number.isFinite(hls.latency) ? Math.round(hls.latency * 100) / 100 : null,
      level: hls ? hls.currentLevel : null,
    };
  }

  // --- video element: time to first frame, stalls ---
  // The first WebSocket the page opens (hlsmesh's tracker): when, against the first frame.
  const PageSocket = window.WebSocket;
  window.WebSocket = class extends PageSocket {
    constructor(...args) {
      super(...args);
      report.startup.stages.trackerSocket ??= now();
    }
  };

  let stallStart = null;
  // Where a wait is tallied: with the stalls, or apart when hls.js was seeking.
  const tallyOf = (wait) => (wait.seeking ? report.seekWaits : report.stalls);
  video.addEventListener("playing", () => {
    const t = now();
    if (report.ttffMs === null) {
      report.ttffMs = t;
      report.startup.resources = performance.getEntriesByType("resource").map((r) => ({
        path: new URL(r.name).pathname,
        start: Math.round(r.startTime),
        end: Math.round(r.responseEnd),
      }));
    }
    report.playing = true;
    if (stallStart !== null) {
      const ms = t - stallStart.t;
      const tally = tallyOf(stallStart);
      tally.totalMs += ms;
      tally.events.push({ at: stallStart.t, ms, seeking: stallStart.seeking, position: stallStart.position });
      stallStart = null;
    }
  });
  video.addEventListener("waiting", () => {
    if (report.ttffMs === null || stallStart !== null) return;
    stallStart = { t: now(), seeking: video.seeking, position: video.currentTime };
    tallyOf(stallStart).count += 1;
  });
  video.addEventListener("ended", () => (report.ended = true));

  /** Record what this Hls instance does. */
  function watch(instance) {
    hls = instance;
    const stages = report.startup.stages;
    stages.hls = now();
    for (const ev of ["MANIFEST_LOADING", "MANIFEST_PARSED", "LEVEL_LOADED", "FRAG_LOADING", "FRAG_LOADED", "FRAG_BUFFERED"]) {
      hls.on(Hls.Events[ev], () => (stages[ev] ??= now()));
    }
    video.addEventListener("loadeddata", () => (stages.loadeddata ??= now()), { once: true });
    hls.on(Hls.Events.FRAG_LOADED, (_ev, data) => {
      report.fragLoadedEvents += 1;
      const frag = data.frag;
      const entry = {
        t: now(),
        url: frag.url,
        sn: frag.sn,
        level: frag.level,
        part: data.part ? data.part.index : null,
        type: frag.type,
        statsLoaded: frag.stats?.loaded ?? null,
        loadMs: frag.stats ? Math.round(frag.stats.loading.end - frag.stats.loading.start) : null,
        bytes: null,
        sha256: null,
      };
      report.fragments.push(entry);
      const direct = data.payload && data.payload.byteLength ? data.payload.slice(0) : null;
      const payload = direct ?? payloadFor(frag, data.part);
      if (!payload) {
        entry.bytes = 0;
        return;
      }
      entry.bytes = payload.byteLength;
      pendingHashes.push(
        crypto.subtle.digest("SHA-256", payload).then((h) => {
          entry.sha256 = hex(h);
        }),
      );
    });
    hls.on(Hls.Events.ERROR, (_ev, data) => {
      report.errors.push({
        t: now(),
        type: data.type,
        details: data.details,
        fatal: !!data.fatal,
        url: data.frag?.url ?? data.context?.url ?? data.url ?? null,
        code: data.response?.code ?? null,
        reason: data.reason ?? data.error?.message ?? null,
      });
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_ev, data) => report.levelSwitches.push({ t: now(), level: data.level }));
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch((e) => report.pageErrors.push({ t: now(), message: `play(): ${e}` })));
  }

  /** A fatal error of the page itself (no hls.js, hlsmesh failed to load, ...). */
  function fail(err, { mesh = false } = {}) {
    if (mesh) report.mesh.error = String(err?.stack ?? err);
    report.errors.push({ t: now(), type: "viewerError", details: String(err?.message ?? err), fatal: true });
    if (statusEl) statusEl.textContent = `error: ${err?.stack ?? err}`;
  }

  window.__report = async () => {
    await Promise.allSettled(pendingHashes);
    report.reportAt = now();
    report.playback = playbackState();
    if (stallStart !== null) {
      // a stall (or seek wait) still in progress counts up to now
      tallyOf(stallStart).openMs = report.reportAt - stallStart.t;
    }
    if (statsFn) {
      try {
        report.mesh.stats = statsFn();
      } catch (err) {
        report.mesh.statsError = String(err);
      }
    }
    return JSON.parse(JSON.stringify(report));
  };

  setInterval(() => {
    report.maxBufferAheadS = Math.max(report.maxBufferAheadS, playbackState().bufferAheadS);
  }, 500);

  if (statusEl) {
    setInterval(() => {
      const p = playbackState();
      const s = report.mesh.segments;
      statusEl.textContent =
        `viewer ${id} p2p=${p2p} hls.js ${Hls.version}\n` +
        `ttff ${report.ttffMs ?? "-"} ms  t=${p.currentTime.toFixed(1)}s  buffer ${p.bufferAheadS}s  level ${p.level}  latency ${p.latencyS ?? "-"}s\n` +
        `fragments ${report.fragments.length}  stalls ${report.stalls.count} (${report.stalls.totalMs} ms)  errors ${report.errors.length}\n` +
        (p2p ? `segments cdn ${s.cdn.count} peer ${s.peer.count} cache ${s.cache.count}` : "");
    }, 1000);
  }

  return {
    report,
    recordingLoader,
    watch,
    segment,
    fail,
    setStats(fn) {
      statsFn = fn;
    },
  };
}
