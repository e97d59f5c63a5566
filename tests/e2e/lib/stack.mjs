// The services an end-to-end run needs: media, origin (nginx), tracker, live
// encoder. Each start* returns what the test needs to talk to it; every process
// belongs to the given ProcessGroup, which stops them by pid.
import { connect, createServer } from "node:net";
import { execFile } from "node:child_process";
import { mkdir, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** Where make-stream.sh writes (source + VOD); override with E2E_MEDIA. */
export const MEDIA = resolve(ROOT, process.env.E2E_MEDIA ?? "target/media");
const RUNS = resolve(ROOT, "target/e2e");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** True when this process runs in a network namespace with only loopback. */
export async function inLoopbackNetns() {
  try {
    const { stdout } = await promisify(execFile)("ip", ["-o", "link", "show"]);
    return stdout.trim().split("\n").every((l) => /^\d+: lo:/.test(l));
  } catch {
    return false;
  }
}

/**
 * A fresh directory for this run's logs and live media, <base>/<name>-<time> (base:
 * target/e2e). Keeps the `keep` most recent runs, removes older ones.
 */
export async function runDir(name, keep = 3, base = RUNS) {
  await mkdir(base, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const dir = join(base, `${name}-${stamp}`);
  await mkdir(dir, { recursive: true });
  // Only this test's runs ("live-<time>", not "live-p2p0-<time>"), oldest first by the
  // timestamp in the name; never the one just made.
  const ours = new RegExp(`^${name}-\\d{4}-\\d{2}-\\d{2}T`);
  const old = (await readdir(base)).filter((d) => ours.test(d)).sort((a, b) => a.slice(-24).localeCompare(b.slice(-24)));
  for (const d of old.slice(0, Math.max(0, old.length - keep))) {
    if (join(base, d) !== dir) await rm(join(base, d), { recursive: true, force: true });
  }
  return dir;
}

/** Run demo/media/make-stream.sh (a no-op when the media is up to date). */
export async function ensureMedia() {
  const { stdout, stderr } = await promisify(execFile)(join(ROOT, "demo/media/make-stream.sh"), [MEDIA], {
    maxBuffer: 1 << 20,
  });
  const out = (stdout + stderr).trim();
  if (out) console.log(out);
  return MEDIA;
}

/** nginx on a free port serving `mediaDir` at /media/ and the repository at /. */
export async function startOrigin(group, { mediaDir, accessLog, limitRate = 0 }) {
  const port = await freePort();
  await group.start(
    "origin",
    join(ROOT, "demo/origin/run.sh"),
    ["--port", String(port), "--media", mediaDir, "--root", ROOT, "--log", accessLog, "--limit-rate", String(limitRate)],
    { ready: /^origin listening/ },
  );
  return { port, base: `http://127.0.0.1:${port}`, accessLog };
}

/** The WebSocket tracker on a free port. */
export async function startTracker(group, { interval = 30 } = {}) {
  if (process.env.E2E_TRACKER === "aquatic") return startAquatic(group);
  return startBittorrentTracker(group, { interval });
}

/** The bittorrent-tracker package's server (tests/support/tracker.mjs) on a free loopback port. */
export async function startBittorrentTracker(group, { interval = 30 } = {}) {
  const port = await freePort();
  const { match } = await group.start(
    "tracker",
    process.execPath,
    [join(ROOT, "tests/support/tracker.mjs"), "--port", String(port), "--interval", String(interval)],
    { ready: /^tracker listening (ws:\/\/\S+)/ },
  );
  return { port, url: match[1] };
}

/**
 * The live encoder into `mediaDir`/live (mediaDir/source links to the shared
 * pre-encoded source). Resolves once every rendition has `minSegments` segments.
 */
export async function startLive(group, { mediaDir, minSegments = 3, timeoutMs = 30000 }) {
  await mkdir(mediaDir, { recursive: true });
  await rm(join(mediaDir, "source"), { force: true, recursive: true });
  await symlink(join(MEDIA, "source"), join(mediaDir, "source"));
  const { proc } = await group.start("live", join(ROOT, "demo/media/live.sh"), [mediaDir]);
  const master = await readFile(join(MEDIA, "source/master.m3u8"), "utf8");
  const variants = master.split("\n").filter((l) => l && !l.startsWith("#"));
  const t0 = Date.now();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`live encoder exited (code ${proc.exitCode}):\n${proc.tail.join("\n")}`);
    const counts = await Promise.all(
      variants.map(async (v) => {
        try {
          const text = await readFile(join(mediaDir, "live", v), "utf8");
          return text.split("\n").filter((l) => l.startsWith("#EXTINF")).length;
        } catch {
          return 0;
        }
      }),
    );
    if (counts.every((c) => c >= minSegments)) break;
    if (Date.now() - t0 > timeoutMs) throw new Error(`live: only ${counts} segments after ${timeoutMs} ms`);
    await sleep(250);
  }
  return { proc, liveDir: join(mediaDir, "live"), variants, waitedMs: Date.now() - t0 };
}

/** Busy share of all CPUs between two calls, from /proc/stat. */
export async function cpuSampler() {
  const read = async () => {
    const line = (await readFile("/proc/stat", "utf8")).split("\n")[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = v[3] + (v[4] ?? 0);
    return { idle, total: v.reduce((a, b) => a + b, 0) };
  };
  const a = await read();
  return async () => {
    const b = await read();
    const total = b.total - a.total;
    return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
  };
}

export async function fileSize(path) {
  return (await stat(path)).size;
}

/**
 * aquatic_ws (crates.io) instead of the bittorrent-tracker package, for
 * E2E_TRACKER=aquatic: its own defaults, with the address set to a free loopback port.
 */
export async function startAquatic(group) {
  const port = await freePort();
  const { stdout } = await promisify(execFile)("aquatic_ws", ["-p"]);
  const config = stdout.replace(/^address = .*$/m, `address = "127.0.0.1:${port}"`);
  if (!config.includes(`127.0.0.1:${port}`)) throw new Error("aquatic_ws: could not set the address");
  const file = join(group.logDir, "aquatic.toml");
  await writeFile(file, config);
  await group.start("tracker", "aquatic_ws", ["-c", file]);
  const deadline = Date.now() + 15000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const sock = connect(port, "127.0.0.1", () => {
        sock.destroy();
        resolve(true);
      });
      sock.on("error", () => resolve(false));
    });
    if (up) return { port, url: `ws://127.0.0.1:${port}` };
    if (Date.now() > deadline) throw new Error("aquatic_ws did not start listening");
    await new Promise((r) => setTimeout(r, 100));
  }
}
