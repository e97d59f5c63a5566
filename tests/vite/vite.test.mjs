// The npm package in a Vite-built page, no Node polyfills: `npm pack`s js/, installs the
// tarball into a copy of tests/vite/app (target/vite/app, with hls.js beside it as the
// peer dependency), builds it with Vite, checks the build (the .wasm emitted as an asset,
// no Node built-in externalized, hls.js not inside hlsmesh), then serves the built page
// from the e2e origin to two headless Chromium viewers of the VOD: both play, the agent
// starts in each (the wasm loads from the Vite asset URL) and segments come from a peer.
//
//   make test-vite        (tests/support/netns-run node --test tests/vite/vite.test.mjs)
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, readdir, readFile, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "../e2e/lib/stack.mjs";
import { runScenario } from "../e2e/lib/scenario.mjs";

const run = promisify(execFile);
const WORK = join(ROOT, "target/vite");
const APP = join(WORK, "app");

async function buildApp() {
  await rm(WORK, { recursive: true, force: true });
  await mkdir(join(APP, "node_modules"), { recursive: true });
  await cp(join(ROOT, "tests/vite/app"), APP, { recursive: true });

  // The package as npm would publish it.
  const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", WORK], { cwd: join(ROOT, "js") });
  const tarball = join(WORK, JSON.parse(stdout)[0].filename);
  const pkgDir = join(APP, "node_modules/hlsmesh");
  await mkdir(pkgDir);
  await run("tar", ["-xzf", tarball, "-C", pkgDir, "--strip-components=1"]);
  await symlink(join(ROOT, "node_modules/hls.js"), join(APP, "node_modules/hls.js"));

  const { build, createLogger } = await import("vite");
  const logger = createLogger("warn");
  const warnings = [];
  const warn = logger.warn.bind(logger);
  logger.warn = (msg, opts) => {
    warnings.push(msg);
    warn(msg, opts);
  };
  const t0 = Date.now();
  await build({
    root: APP,
    base: "./",
    configFile: false,
    logLevel: "warn",
    customLogger: logger,
    resolve: { alias: { "@e2e": join(ROOT, "tests/e2e") } },
    build: { outDir: join(APP, "dist"), emptyOutDir: true, target: "es2022", reportCompressedSize: false, chunkSizeWarningLimit: 4096 },
  });
  const assets = await readdir(join(APP, "dist/assets"));
  console.log(`# vite build ${Date.now() - t0} ms: ${assets.join(", ")}`);
  return { warnings, assets };
}

test("npm package in a Vite-built page: builds without Node polyfills, plays, shares", { timeout: 240_000 }, async () => {
  const { warnings, assets } = await buildApp();
  const node = warnings.filter((w) => /externalized for browser compatibility|node:|polyfill/i.test(w));
  assert.deepEqual(node, [], "Vite had to externalize Node built-ins");
  assert.ok(assets.some((a) => a.endsWith(".wasm")), `no .wasm asset emitted: ${assets}`);
  const js = assets.filter((a) => a.endsWith(".js"));
  const text = (await Promise.all(js.map((a) => readFile(join(APP, "dist/assets", a), "utf8")))).join("\n");
  assert.match(text, /hlsmesh_wasm_bg-[\w-]+\.wasm/, "the bundle does not reference the emitted .wasm");

  const { reports } = await runScenario("vod", {
    name: "vite",
    page: "/target/vite/app/dist/index.html",
    viewers: 2,
    watchS: Number(process.env.VITE_WATCH_S ?? 20),
    maxShare: 0.9,
  });
  for (const r of reports) assert.ok(r.mesh?.stats, `${r.id}: no agent stats (agent did not start)`);
  const peerBytes = reports.map((r) => r.mesh.stats.peerBytes ?? 0);
  console.log(`vite: peer bytes per viewer ${peerBytes.join(", ")}`);
  assert.ok(peerBytes.some((b) => b > 0), "no viewer got bytes from a peer");
});
