// The demo page: hls.js with hlsmesh, and a dashboard of what it is doing: offload,
// cumulative bytes and receive rate from peers vs CDN over time (hand-drawn SVG), and
// the connected peers with their throughput.
//   ?src=<playlist URL>&tracker=<ws URL>   (both default to the demo origin/tracker)
import Hls from "/node_modules/hls.js/dist/hls.mjs";
import { HlsMesh } from "/js/dist/hlsmesh.js";

const params = new URL(location.href).searchParams;
const src = params.get("src") ?? `${location.origin}/media/live/master.m3u8`;
const tracker = params.get("tracker") ?? `ws://${location.hostname}:8000`;
const $ = (id) => document.getElementById(id);
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
const SVG = "http://www.w3.org/2000/svg";
const COLORS = { peer: "#1a7f4b", cdn: "#d9822b", up: "#7a5cc7" };
const WINDOW_S = 120; // the charts show the last two minutes

function log(line) {
  const el = $("log");
  el.textContent = `${new Date().toLocaleTimeString()} ${line}\n${el.textContent}`.slice(0, 8000);
}

const mesh = await HlsMesh.create({ trackers: [tracker] });
const hls = new Hls(mesh.hlsConfig({ liveSyncDurationCount: 3 }));
mesh.attach(hls);
hls.loadSource(src);
hls.attachMedia($("video"));
hls.on(Hls.Events.ERROR, (_e, d) => d.fatal && log(`hls.js fatal error: ${d.details}`));

mesh.on("segment", (e) => log(`${e.source.padEnd(5)} ${(e.bytes / 1e3).toFixed(0).padStart(5)} kB ${e.ms.toFixed(0).padStart(5)} ms ${e.url.split("/").slice(-2).join("/")}`));
mesh.on("peer-connected", (e) => log(`peer connected …${e.peer.slice(-12)}`));
mesh.on("peer-disconnected", (e) => log(`peer left …${e.peer.slice(-12)}: ${e.reason}`));
mesh.on("tracker-connected", (e) => log(`tracker connected ${e.url}`));
mesh.on("tracker-error", (e) => log(`tracker: ${e.reason}`));
mesh.on("fallback", (e) => log(`P2P off: ${e.reason}`));

// --- SVG charts ---

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  parent?.appendChild(node);
  return node;
}

/** A nice round step for about `n` gridlines up to `max`. */
function niceStep(max, n) {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

/**
 * Draws `series` ([{ color, values, fill }], values aligned with `times` in s) into `svg`:
 * y axis from 0 with gridlines, x axis the last WINDOW_S seconds.
 */
function chart(svg, times, series, { unit = "" } = {}) {
  const [, , W, H] = svg.getAttribute("viewBox").split(" ").map(Number);
  const pad = { l: 40, r: 8, t: 8, b: 18 };
  const w = W - pad.l - pad.r;
  const h = H - pad.t - pad.b;
  svg.replaceChildren();
  const tEnd = Math.max(WINDOW_S, times.at(-1) ?? 0);
  const tStart = tEnd - WINDOW_S;
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values));
  const step = niceStep(max, 4);
  const top = Math.ceil(max / step) * step;
  const x = (t) => pad.l + ((t - tStart) / WINDOW_S) * w;
  const y = (v) => pad.t + h - (v / top) * h;
  for (let v = 0; v <= top + step / 2; v += step) {
    el("line", { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), stroke: v ? "#eef" : "#99a", "stroke-width": 1 }, svg);
    const label = el("text", { x: pad.l - 4, y: y(v) + 4, "text-anchor": "end" }, svg);
    label.textContent = `${+v.toFixed(2)}${unit}`;
  }
  for (let t = Math.ceil(tStart / 30) * 30; t <= tEnd; t += 30) {
    if (t < 0) continue;
    const label = el("text", { x: x(t), y: H - 4, "text-anchor": x(t) > W - 20 ? "end" : "middle" }, svg);
    label.textContent = `${t}s`;
  }
  for (const s of series) {
    const pts = [];
    for (let i = 0; i < times.length; i++) if (times[i] >= tStart) pts.push(`${x(times[i]).toFixed(1)},${y(s.values[i]).toFixed(1)}`);
    if (pts.length < 2) continue;
    if (s.fill) {
      const first = pts[0].split(",")[0];
      const last = pts.at(-1).split(",")[0];
      el("polygon", { points: `${first},${y(0)} ${pts.join(" ")} ${last},${y(0)}`, fill: s.color, "fill-opacity": 0.15 }, svg);
    }
    el("polyline", { points: pts.join(" "), fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round" }, svg);
  }
}

// --- sampling and rendering ---

const t0 = performance.now();
const samples = []; // { t, cdn, peer, up }

function rate(key, i) {
  // bytes/s over the last 2 s, in Mbit/s
  const j = Math.max(0, i - 2);
  const dt = samples[i].t - samples[j].t;
  return dt > 0 ? ((samples[i][key] - samples[j][key]) * 8) / dt / 1e6 : 0;
}

function renderPeers() {
  const peers = mesh.peers().sort((a, b) => b.bytesFrom + b.bytesTo - (a.bytesFrom + a.bytesTo));
  const body = $("peerlist").tBodies[0];
  body.replaceChildren();
  if (!peers.length) {
    const row = body.insertRow();
    row.className = "empty";
    const cell = row.insertCell();
    cell.colSpan = 5;
    cell.className = "muted";
    cell.textContent = mesh.enabled ? "no peer connected yet" : "P2P off";
    return;
  }
  const fastest = Math.max(1, ...peers.map((p) => p.bytesPerSec));
  for (const p of peers) {
    const row = body.insertRow();
    row.className = "peer";
    row.insertCell().textContent = `…${p.peer.slice(-12)}`; // the tail: the head is the client tag
    for (const v of [mb(p.bytesFrom), mb(p.bytesTo), p.bytesPerSec ? `${((p.bytesPerSec * 8) / 1e6).toFixed(1)} Mbit/s` : "–"]) {
      const c = row.insertCell();
      c.className = "n";
      c.textContent = v;
    }
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${(100 * p.bytesPerSec) / fastest}%`;
    row.insertCell().appendChild(bar);
  }
}

function render() {
  const s = mesh.stats();
  samples.push({ t: (performance.now() - t0) / 1000, cdn: s.cdnBytes, peer: s.peerBytes, up: s.uploadedBytes });
  while (samples.length > 2 && samples[1].t < samples.at(-1).t - WINDOW_S - 5) samples.shift();
  const total = s.cdnBytes + s.peerBytes;
  $("offload").textContent = total ? `${((100 * s.peerBytes) / total).toFixed(1)} %` : "–";
  $("cdn").textContent = mb(s.cdnBytes);
  $("peer").textContent = mb(s.peerBytes);
  $("up").textContent = mb(s.uploadedBytes);
  $("peers").textContent = s.peers;
  $("swarm").textContent = s.swarmSize;
  $("mode").textContent = mesh.enabled ? "on" : "off (hls.js loader)";

  const times = samples.map((x) => x.t);
  chart($("chart-total"), times, [
    { color: COLORS.cdn, values: samples.map((x) => x.cdn / 1e6), fill: true },
    { color: COLORS.peer, values: samples.map((x) => x.peer / 1e6), fill: true },
    { color: COLORS.up, values: samples.map((x) => x.up / 1e6) },
  ]);
  const i = samples.length - 1;
  const rates = { peer: samples.map((_, k) => rate("peer", k)), cdn: samples.map((_, k) => rate("cdn", k)) };
  chart($("chart-rate"), times, [
    { color: COLORS.cdn, values: rates.cdn, fill: true },
    { color: COLORS.peer, values: rates.peer, fill: true },
  ]);
  $("rates").textContent = `now (Mbit/s): peers ${rates.peer[i].toFixed(1)} · CDN ${rates.cdn[i].toFixed(1)}`;
  renderPeers();
}
render();
setInterval(render, 1000);

// For the headless viewers of `make demo VIEWERS=N` and tests/e2e/dashboard.test.mjs.
window.hlsmeshStats = () => ({ ...mesh.stats(), enabled: mesh.enabled, currentTime: $("video").currentTime });
window.hlsmeshPeers = () => mesh.peers();
