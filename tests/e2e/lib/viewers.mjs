// Headless Chromium viewers: one browser process per viewer (Debian's
// /usr/bin/chromium through playwright-core, a fresh profile each), joining
// with a stagger, each watching for a fixed time, then reporting.
import { chromium } from "playwright-core";
import { appendFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { pidByMarker, processTreeCpuS } from "./procs.mjs";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--allow-loopback-in-peer-connection",
  "--use-fake-ui-for-media-stream",
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The viewer page URL for `origin` (base URL) with the given query parameters; `page`
 * picks another page taking the same parameters (default the API viewer, viewer.html);
 * `params` adds further query parameters (they also reach the origin's log in the Referer).
 */
export function viewerUrl(originBase, { src, tracker, p2p = true, id, hls, mesh, debug, params = {}, page = "/tests/e2e/viewer.html" }) {
  const u = new URL(page, originBase);
  u.searchParams.set("src", src);
  if (tracker) u.searchParams.set("tracker", tracker);
  u.searchParams.set("p2p", p2p ? "1" : "0");
  if (id) u.searchParams.set("id", id);
  if (hls) u.searchParams.set("hls", JSON.stringify(hls));
  if (mesh) u.searchParams.set("mesh", JSON.stringify(mesh));
  if (debug) u.searchParams.set("debug", "1");
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.href;
}

/**
 * Launch one viewer: its own browser process, one page at `url`.
 * Console output and page errors go to `consoleLog`; `init`, a function, runs in the
 * page before its scripts.
 */
export async function launchViewer({ id, url, consoleLog, init }) {
  // Playwright's Browser does not expose its process: a switch Chromium ignores marks the
  // command line, to find the browser's pid (for its CPU time) in /proc.
  const marker = `--hlsmesh-viewer=${randomUUID()}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, marker],
    timeout: 30000,
  });
  const pid = await pidByMarker(marker);
  const page = await browser.newPage();
  const log = (line) => appendFile(consoleLog, `${new Date().toISOString()} ${line}\n`).catch(() => {});
  page.on("console", (m) => log(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => log(`[pageerror] ${e.stack ?? e}`));
  page.on("crash", () => log("[crash] page crashed"));
  // A script to run in the page before its own (e.g. to make a hostile viewer).
  if (init) await page.addInitScript(init);
  const launchedAt = Date.now();
  await page.goto(url, { waitUntil: "load", timeout: 30000 });
  return { id, url, browser, page, pid, launchedAt };
}

/** Collect `window.__report()` from a viewer (null + error if the page is gone). */
export async function collectReport(viewer) {
  try {
    return await viewer.page.evaluate(() => window.__report());
  } catch (err) {
    return { id: viewer.id, collectError: String(err), fragments: [], errors: [{ fatal: true, type: "harness", details: String(err) }] };
  }
}

export async function closeViewer(viewer) {
  try {
    await viewer.browser.close();
  } catch {
    // already gone
  }
}

/**
 * Run `count` viewers of `src`: viewer i (id `${idPrefix}${i + 1}`) joins at i*staggerMs,
 * watches for watchMs, then its report is collected, with the CPU time its browser's
 * processes used (report.harness.cpuS), and its browser closed.
 * Returns the reports in viewer order. Browsers are closed even on failure.
 */
export async function runViewers({ originBase, src, tracker, p2p, count, staggerMs, watchMs, logDir, hls, onJoin, page, params, idPrefix = "v" }) {
  const viewers = [];
  const closeAll = () => Promise.allSettled(viewers.map(closeViewer));
  try {
    const runs = [];
    for (let i = 0; i < count; i++) {
      if (i > 0) await sleep(staggerMs);
      const id = `${idPrefix}${i + 1}`;
      const url = viewerUrl(originBase, { src, tracker, p2p, id, hls, page, params });
      const viewer = await launchViewer({ id, url, consoleLog: `${logDir}/viewer-${id}.console.log` });
      viewers.push(viewer);
      onJoin?.(viewer);
      runs.push(
        (async () => {
          await sleep(Math.max(0, watchMs - (Date.now() - viewer.launchedAt)));
          const report = await collectReport(viewer);
          const cpuS = viewer.pid ? await processTreeCpuS(viewer.pid) : null;
          report.harness = { launchedAt: viewer.launchedAt, collectedAt: Date.now(), pid: viewer.pid, cpuS };
          await closeViewer(viewer);
          return report;
        })(),
      );
    }
    return await Promise.all(runs);
  } finally {
    await closeAll();
  }
}
