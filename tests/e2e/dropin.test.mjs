// The drop-in script tag: a page with hls.js's classic build and one
// <script src="hlsmesh.drop-in.js" data-tracker="..."> (dropin.html), three viewers of the
// VOD. Asserts what every scenario does (lib/scenario.mjs: plays, no stall, no fatal
// error, every fragment byte-identical to the origin's file, CDN share bound) and that
// segments came from peers. Then two misconfigured pages (no hls.js; no tracker): the
// drop-in warns and installs nothing.
//
//   tests/e2e/run.sh tests/e2e/dropin.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { ProcessGroup } from "./lib/procs.mjs";
import { P2P, runScenario } from "./lib/scenario.mjs";
import { runDir, startOrigin } from "./lib/stack.mjs";
import { CHROMIUM, CHROMIUM_ARGS } from "./lib/viewers.mjs";

const VIEWERS = 3;
const WATCH_S = Number(process.env.DROPIN_WATCH_S ?? 30);

test(`drop-in script tag: ${VIEWERS} viewers of the VOD, ${WATCH_S} s each`, { skip: !P2P && "P2P=0", timeout: 240_000 }, async () => {
  const { reports } = await runScenario("vod", {
    name: "dropin",
    page: "/tests/e2e/dropin.html",
    viewers: VIEWERS,
    watchS: WATCH_S,
    // The first viewer has no one to fetch from; with three, peers can serve two thirds.
    maxShare: 0.75,
  });
  const peerBytes = reports.map((r) => r.mesh?.stats?.peerBytes ?? 0);
  const peerSegments = reports.reduce((n, r) => n + (r.mesh?.segments?.peer?.count ?? 0), 0);
  console.log(`dropin: peer bytes per viewer ${peerBytes.join(", ")}; peer segments ${peerSegments}`);
  assert.ok(peerSegments > 0 && peerBytes.some((b) => b > 0), "no segment came from a peer");
});

// Misconfigured pages: the drop-in warns and does nothing (the page plays as before).
test("drop-in script tag: no hls.js or no tracker -> a warning, nothing installed", { skip: !P2P && "P2P=0", timeout: 90_000 }, async () => {
  const dir = await runDir("dropin-misconfigured");
  const group = new ProcessGroup(dir);
  let browser;
  try {
    const origin = await startOrigin(group, { mediaDir: dir, accessLog: `${dir}/origin-access.log` });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const warnings = [];
    page.on("console", (m) => m.type() === "warning" && warnings.push(m.text()));
    const tag = (attrs) => `<script src="${origin.base}/js/dist/hlsmesh.drop-in.js" ${attrs}></script>`;

    // Each case a fresh navigation (a fresh window) to a page the test serves on the origin.
    let n = 0;
    const open = async (body) => {
      const url = `${origin.base}/__dropin-case-${++n}.html`;
      await page.route(url, (r) => r.fulfill({ contentType: "text/html", body: `<!doctype html><body>${body}</body>` }));
      await page.goto(url, { waitUntil: "load" });
    };
    await open(tag('data-tracker="ws://127.0.0.1:9"'));
    assert.equal(await page.evaluate(() => window.hlsmesh?.installed), false, "installed without hls.js");
    assert.ok(warnings.some((w) => /window\.Hls not found/.test(w)), `no warning about hls.js: ${warnings}`);

    warnings.length = 0;
    await open(`<script src="${origin.base}/node_modules/hls.js/dist/hls.min.js"></script>${tag("")}`);
    assert.equal(await page.evaluate(() => window.hlsmesh?.installed), false, "installed without a tracker");
    assert.equal(await page.evaluate(() => typeof window.Hls.DefaultConfig.fLoader), "undefined", "loaders installed without a tracker");
    assert.ok(warnings.some((w) => /no tracker/.test(w)), `no warning about the tracker: ${warnings}`);
    assert.deepEqual(await page.evaluate(() => window.hlsmesh.peers()), []);
  } finally {
    await browser?.close();
    await group.stopAll();
  }
});
