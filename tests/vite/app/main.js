// A tiny app as a user would write it: hls.js and hlsmesh from npm, bundled by Vite.
// The recorder (@e2e, aliased to tests/e2e) is the test's instrument, not the app's.
import Hls from "hls.js";
import { HlsMesh } from "hlsmesh";
import { createRecorder } from "@e2e/recorder.mjs";

const params = new URL(location.href).searchParams;
const src = params.get("src");
const id = params.get("id") ?? "";
const tracker = params.get("tracker");
const video = document.getElementById("video");
const rec = createRecorder({ Hls, video, id, src, p2p: true, statusEl: document.getElementById("status") });

try {
  const mesh = await HlsMesh.create({ trackers: tracker ? [tracker] : [], debug: params.get("debug") === "1" });
  if (!mesh.enabled) throw new Error("hlsmesh agent did not start (wasm not loaded?)");
  mesh.on("segment", rec.segment);
  rec.setStats(() => mesh.stats());
  const config = mesh.hlsConfig({});
  config.fLoader = rec.recordingLoader(config.fLoader);
  const hls = new Hls(config);
  mesh.attach(hls);
  rec.watch(hls);
  hls.loadSource(src);
  hls.attachMedia(video);
} catch (err) {
  rec.fail(err, { mesh: true });
}
