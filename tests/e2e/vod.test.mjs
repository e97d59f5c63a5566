// VOD (120 s, three renditions), real Chromium viewers joining in turn, a real tracker
// and origin. See lib/scenario.mjs for the knobs and what is asserted.
//
//   tests/e2e/run.sh tests/e2e/vod.test.mjs
//   P2P=0 tests/e2e/run.sh tests/e2e/vod.test.mjs      plain hls.js baseline
import { test } from "node:test";
import { P2P, STAGGER_S, TIMEOUT_MS, VIEWERS, WATCH_S, runScenario } from "./lib/scenario.mjs";

test(`vod: ${VIEWERS} viewers, ${STAGGER_S} s apart, ${WATCH_S} s each, p2p=${P2P ? 1 : 0}`, { timeout: TIMEOUT_MS }, () =>
  runScenario("vod"),
);
