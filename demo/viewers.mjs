// Headless viewers for `make demo VIEWERS=N`: opens the demo page N times in Debian's
// Chromium, 3 s apart, and prints every 5 s what each viewer took from peers and from
// the CDN, plus what the origin's own log says it served.
import { chromium } from "playwright-core";
import { parseArgs } from "node:util";
import { readOriginLog, summarizeOriginLog } from "../tests/support/origin-log.mjs";

const { values: o } = parseArgs({
  options: {
    page: { type: "string" },
    tracker: { type: "string" },
    viewers: { type: "string", default: "4" },
    seconds: { type: "string", default: "0" },
    "access-log": { type: "string" },
  },
});
const n = Number(o.viewers);
const stopAfter = Number(o.seconds) * 1000;
const ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
  "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--autoplay-policy=no-user-gesture-required", "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding", "--allow-loopback-in-peer-connection", "--use-fake-ui-for-media-stream",
];

const browsers = [];
const pages = [];
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled(browsers.map((b) => b.close()));
  process.exit(code);
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

async function originSegmentBytes() {
  return summarizeOriginLog(await readOriginLog(o["access-log"])).segmentBytes;
}

const mb = (x) => (x / 1e6).toFixed(2).padStart(7);
async function printStats() {
  const rows = await Promise.all(
    pages.map((p) => p.evaluate(() => window.hlsmeshStats?.() ?? null).catch(() => null)),
  );
  let cdn = 0, peer = 0;
  const t = new Date().toLocaleTimeString();
  console.log(`\n${t}  viewer   from peers   from CDN   uploaded  peers  P2P share`);
  rows.forEach((s, i) => {
    if (!s) return console.log(`          v${i + 1}      (starting)`);
    cdn += s.cdnBytes;
    peer += s.peerBytes;
    const share = s.cdnBytes + s.peerBytes ? ((100 * s.peerBytes) / (s.cdnBytes + s.peerBytes)).toFixed(1) : "-";
    console.log(`          v${i + 1}  ${mb(s.peerBytes)} MB ${mb(s.cdnBytes)} MB ${mb(s.uploadedBytes)} MB  ${String(s.peers).padStart(5)}  ${share.padStart(8)} %`);
  });
  const origin = await originSegmentBytes();
  const played = cdn + peer;
  console.log(`          all  ${mb(peer)} MB ${mb(cdn)} MB; origin served ${mb(origin)} MB of segments = ${played ? ((100 * origin) / played).toFixed(1) : "-"} % of what viewers loaded`);
}

for (let i = 0; i < n; i++) {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
  browsers.push(browser);
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error(`v${i + 1} page error: ${e.message}`));
  await page.goto(`${o.page}?tracker=${encodeURIComponent(o.tracker)}`);
  pages.push(page);
  console.log(`v${i + 1} joined`);
  if (i < n - 1) await new Promise((r) => setTimeout(r, 3000));
}
const started = Date.now();
const timer = setInterval(async () => {
  await printStats();
  if (stopAfter && Date.now() - started >= stopAfter) {
    clearInterval(timer);
    await stop(0);
  }
}, 5000);
