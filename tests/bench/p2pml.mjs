// p2p-media-loader 2.3.1 on hls.js, for the side-by-side benchmark (make bench).
//
// Configuration: p2p-media-loader's defaults, except what this sandbox needs: the local
// tracker instead of its public ones, and no STUN servers (loopback only). Wiring:
// HlsJsP2PEngine + getConfigForHlsJs() + bindHls(), which is what its injectMixin does
// inside the Hls constructor; done by hand here only so that the recorder can wrap the
// fragment loader (as tests/e2e/viewer.mjs wraps hlsmesh's), to hash what hls.js gets.
import Hls from "/node_modules/hls.js/dist/hls.mjs";
import { HlsJsP2PEngine } from "p2p-media-loader-hlsjs";
import { createRecorder } from "/tests/e2e/recorder.mjs";

const params = new URL(location.href).searchParams;
const src = params.get("src");
const trackerUrl = params.get("tracker");
const id = params.get("id") ?? "";
const extraConfig = JSON.parse(params.get("hls") ?? "{}");

const video = document.getElementById("video");
const rec = createRecorder({ Hls, video, id, src, p2p: true, statusEl: document.getElementById("status") });

function start() {
  if (!src) throw new Error("viewer: missing ?src=");
  if (!trackerUrl) throw new Error("viewer: missing ?tracker=");
  let engine;
  const stats = { cdnBytes: 0, peerBytes: 0, uploadedBytes: 0, peerConnects: 0, peerCloses: 0, peerErrors: 0, trackerErrors: 0, segmentErrors: 0 };
  try {
    engine = new HlsJsP2PEngine({ core: { announceTrackers: [trackerUrl], rtcConfig: { iceServers: [] } } });
    engine.addEventListener("onSegmentLoaded", (d) =>
      rec.segment({ source: d.downloadSource === "p2p" ? "peer" : "cdn", bytes: d.bytesLength }),
    );
    engine.addEventListener("onChunkDownloaded", (n, source) => (stats[source === "p2p" ? "peerBytes" : "cdnBytes"] += n));
    engine.addEventListener("onChunkUploaded", (n) => (stats.uploadedBytes += n));
    engine.addEventListener("onPeerConnect", () => (stats.peerConnects += 1));
    engine.addEventListener("onPeerClose", () => (stats.peerCloses += 1));
    engine.addEventListener("onPeerError", () => (stats.peerErrors += 1));
    engine.addEventListener("onTrackerError", () => (stats.trackerErrors += 1));
    engine.addEventListener("onSegmentError", () => (stats.segmentErrors += 1));
    rec.setStats(() => ({ ...stats }));
  } catch (err) {
    rec.fail(err, { mesh: true });
    return;
  }
  const config = { workerPath: "/node_modules/hls.js/dist/hls.worker.js", ...extraConfig, ...engine.getConfigForHlsJs() };
  config.fLoader = rec.recordingLoader(config.fLoader);
  const hls = new Hls(config);
  engine.bindHls(hls);
  window.__hls = hls;
  window.__engine = engine;
  rec.watch(hls);
  hls.loadSource(src);
  hls.attachMedia(video);
}

try {
  start();
} catch (err) {
  rec.fail(err);
}
