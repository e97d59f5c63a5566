// The drop-in test page's player: what any page with hls.js does (new Hls, loadSource,
// attachMedia), nothing of hlsmesh's. The only addition is the test's recorder, which
// subclasses whatever fragment loader hls.js has by default (the drop-in's) to hash
// what it delivers, and reads window.hlsmesh for the report.
import { createRecorder } from "./recorder.mjs";

const params = new URL(location.href).searchParams;
const src = params.get("src");
const id = params.get("id") ?? "";
const Hls = window.Hls;
const video = document.getElementById("video");
const rec = createRecorder({ Hls, video, id, src, p2p: true, statusEl: document.getElementById("status") });

try {
  if (!window.hlsmesh?.installed) throw new Error("hlsmesh drop-in not installed");
  window.hlsmesh.on("segment", rec.segment);
  rec.setStats(() => window.hlsmesh.stats());
  const hls = new Hls({ fLoader: rec.recordingLoader(Hls.DefaultConfig.fLoader) });
  window.__hls = hls;
  rec.watch(hls);
  hls.loadSource(src);
  hls.attachMedia(video);
} catch (err) {
  rec.fail(err, { mesh: true });
}
