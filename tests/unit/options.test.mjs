// The page's options as the shim hands them to the core (js/src/index.ts, coreOptions):
// absent and null members take the defaults, a member of the wrong type is refused by
// name (the agent then does not start, and hls.js loads everything itself).
import test from "node:test";
import assert from "node:assert/strict";
import { coreOptions, forwardBufferCap, FORWARD_BUFFER_S } from "../../target/unit/index.mjs";

test("every option is read and the rest default", () => {
  const o = coreOptions({
    trackers: ["ws://a", "ws://b"],
    swarmId: "s",
    maxPeers: 5,
    cacheBytes: 1024,
    iceServers: [{ urls: "stun:x" }],
    integrity: true,
    uploadBytesPerSec: 9,
    downloadOnly: false,
  });
  assert.deepEqual(o, { trackers: ["ws://a", "ws://b"], swarmId: "s", maxPeers: 5, cacheBytes: 1024, integrity: true, uploadBytesPerSec: 9, downloadOnly: false });
  assert.deepEqual(coreOptions({ trackers: null, swarmId: null }), {
    trackers: [],
    swarmId: undefined,
    maxPeers: undefined,
    cacheBytes: undefined,
    integrity: false,
    uploadBytesPerSec: undefined,
    downloadOnly: false,
  });
  // A swarm-naming function stays with the shim; the core names the swarm later.
  assert.equal(coreOptions({ trackers: [], swarmId: (u) => u }).swarmId, undefined);
});

test("mistyped options are refused by name", () => {
  for (const [bad, name] of [
    [{ maxPeers: 1.5 }, "maxPeers"],
    [{ maxPeers: "many" }, "maxPeers"],
    [{ cacheBytes: -1 }, "cacheBytes"],
    [{ trackers: "ws://a" }, "trackers"],
    [{ trackers: [1] }, "trackers"],
    [{ trackers: ["ws://a\nws://b"] }, "trackers"],
    [{ integrity: "yes" }, "integrity"],
    [{ downloadOnly: 1 }, "downloadOnly"],
    [{ swarmId: 42 }, "swarmId"],
  ]) {
    assert.throws(() => coreOptions({ trackers: [], ...bad }), new RegExp(`^Error: invalid option ${name}$`), JSON.stringify(bad));
  }
});

test("hls.js's forward buffer is capped unless the page sets its length", () => {
  assert.deepEqual(forwardBufferCap(undefined), { maxMaxBufferLength: FORWARD_BUFFER_S });
  assert.deepEqual(forwardBufferCap({ enableWorker: false }), { maxMaxBufferLength: FORWARD_BUFFER_S });
  assert.deepEqual(forwardBufferCap({ maxBufferLength: 10 }), {});
  assert.deepEqual(forwardBufferCap({ maxMaxBufferLength: 100 }), {});
  assert.equal(FORWARD_BUFFER_S, 30);
});
