// End-to-end test viewer (see viewer.html for the query parameters): hls.js as an ES
// module, hlsmesh through its API (HlsMesh.start + hlsConfig + attach). What it
// measures and reports (`await window.__report()`) is recorder.mjs's.
import Hls from "/node_modules/hls.js/dist/hls.mjs";
import { createRecorder } from "./recorder.mjs";

const params = new URL(location.href).searchParams;
const src = params.get("src");
const trackerUrl = params.get("tracker");
const p2p = params.get("p2p") !== "0";
const id = params.get("id") ?? "";
const debug = params.get("debug") === "1";
const extraConfig = JSON.parse(params.get("hls") ?? "{}");

const video = document.getElementById("video");
const rec = createRecorder({ Hls, video, id, src, p2p, statusEl: document.getElementById("status") });

async function start() {
  if (!src) throw new Error("viewer: missing ?src=");
  if (!Hls.isSupported()) throw new Error("viewer: hls.js reports MSE unsupported");

  let config = {
    workerPath: "/node_modules/hls.js/dist/hls.worker.js",
    ...extraConfig,
  };
  let mesh = null;
  if (p2p) {
    try {
      const { HlsMesh } = await import("/js/dist/hlsmesh.js");
      // ?mesh={...}: further HlsMesh options (e.g. {"integrity":true}).
      const meshOptions = JSON.parse(params.get("mesh") ?? "{}");
      // ?swarm=path: name the swarm by the master playlist's path (any host).
      if (params.get("swarm") === "path") meshOptions.swarmId = (u) => new URL(u).pathname;
      // start(), not create(): hls.js starts at once while the wasm loads.
      mesh = HlsMesh.start({ ...meshOptions, trackers: trackerUrl ? [trackerUrl] : [], debug });
      config = mesh.hlsConfig(config);
      mesh.on("segment", rec.segment);
      rec.setStats(() => mesh.stats());
    } catch (err) {
      rec.fail(err, { mesh: true });
      return;
    }
  }
  config.fLoader = rec.recordingLoader(config.fLoader ?? config.loader ?? Hls.DefaultConfig.loader);

  const hls = new Hls(config);
  window.__hls = hls;
  window.__mesh = mesh;
  if (mesh) mesh.attach(hls);
  rec.watch(hls);
  hls.loadSource(src);
  hls.attachMedia(video);
}

start().catch((err) => rec.fail(err));
