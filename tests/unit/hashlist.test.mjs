// The shim's integrity-sidecar reader (js/src/hashlist.ts): the shared fixtures the
// core's reference reader also passes (tests/fixtures/hashlists.json), its limits, and
// random bytes that must never throw. Run by `make test-js` on an esbuild bundle.
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { MAX_BYTES, MAX_ENTRIES, readHashList } from "../../target/unit/hashlist.mjs";

const fixtures = JSON.parse(readFileSync(new URL("../fixtures/hashlists.json", import.meta.url), "utf8"));
const utf8 = (s) => new TextEncoder().encode(s);
const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
/** The list as the fixtures write it. */
const entries = (l) =>
  l.sns.map((sn, i) => ({ sn, size: l.sizes[i], digest: hex(l.digests.subarray(32 * i, 32 * i + 32)), uri: l.uris[i] || null }));

for (const c of fixtures.cases) {
  test(`fixture: ${c.name}`, () => {
    const got = readHashList(utf8(c.text));
    if (c.error !== undefined) assert.equal(got, c.error);
    else assert.deepEqual(entries(got), c.expect);
  });
}

test("bytes that are not UTF-8, and the size and entry limits", () => {
  assert.equal(readHashList(Uint8Array.from([...utf8("#HLSMESH-HASHES:1\n"), 0xff, 0x0a])), "hash list is not UTF-8");
  assert.equal(readHashList(new Uint8Array(MAX_BYTES + 1)), `hash list of ${MAX_BYTES + 1} bytes is over the limit`);
  const d = "ab".repeat(32);
  const lines = (n) => "#HLSMESH-HASHES:1\n" + Array.from({ length: n }, (_, i) => `${i} 1 ${d}\n`).join("");
  assert.equal(readHashList(utf8(lines(MAX_ENTRIES))).sns.length, MAX_ENTRIES);
  assert.equal(readHashList(utf8(lines(MAX_ENTRIES + 1))), `hash list has more than ${MAX_ENTRIES} entries`);
});

test("random bytes never throw and give a list or a reason", () => {
  let seed = 11;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const parts = ["#HLSMESH-HASHES:1", "\n", "\r\n", " ", "\t", "1", "12", "ab".repeat(32), "Z".repeat(64), "seg.ts", "?q", "#", "\u00e9", "\ufeff"];
  for (let i = 0; i < 3000; i++) {
    let text = rnd(4) ? "#HLSMESH-HASHES:1\n" : "";
    for (let n = rnd(30); n > 0; n--) text += parts[rnd(parts.length)];
    const got = readHashList(utf8(text));
    if (typeof got === "string") continue;
    assert.equal(got.sizes.length, got.sns.length);
    assert.equal(got.uris.length, got.sns.length);
    assert.equal(got.digests.length, 32 * got.sns.length);
    assert.ok(got.sns.every((sn, j) => j === 0 || sn > got.sns[j - 1]), "increasing");
    assert.ok(got.uris.every((u) => !/[\n?#]/.test(u)), "one URI a line, without query");
  }
});
