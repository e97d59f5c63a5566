// The demo page: hls.js with hlsmesh, and what it is doing.
//   ?src=<playlist URL>&tracker=<ws URL>   (both default to the demo origin/tracker)
import Hls from "/node_modules/hls.js/dist/hls.mjs";
import { HlsMesh } from "/js/dist/hlsmesh.js";

const params = new URL(location.href).searchParams;
const src = params.get("src") ?? `${location.origin}/media/live/master.m3u8`;
const tracker = params.get("tracker") ?? `ws://${location.hostname}:8000`;
const $ = (id) => document.getElementById(id);
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;

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
mesh.on("peer-connected", (e) => log(`peer connected ${e.peer.slice(0, 12)}`));
mesh.on("peer-disconnected", (e) => log(`peer left ${e.peer.slice(0, 12)}: ${e.reason}`));
mesh.on("tracker-connected", (e) => log(`tracker connected ${e.url}`));
mesh.on("tracker-error", (e) => log(`tracker: ${e.reason}`));
mesh.on("fallback", (e) => log(`P2P off: ${e.reason}`));

function render() {
  const s = mesh.stats();
  const total = s.cdnBytes + s.peerBytes;
  $("offload").textContent = total ? `${((100 * s.peerBytes) / total).toFixed(1)} %` : "–";
  $("cdn").textContent = mb(s.cdnBytes);
  $("peer").textContent = mb(s.peerBytes);
  $("up").textContent = mb(s.uploadedBytes);
  $("peers").textContent = s.peers;
  $("swarm").textContent = s.swarmSize;
  $("mode").textContent = mesh.enabled ? "on" : "off (hls.js loader)";
}
setInterval(render, 1000);

// For the headless viewers of `make demo VIEWERS=N`.
window.hlsmeshStats = () => ({ ...mesh.stats(), enabled: mesh.enabled, currentTime: $("video").currentTime });
