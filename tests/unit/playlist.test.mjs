// The shim's playlist reader (js/src/playlist.ts): the shared fixtures the core's
// reference reader also passes (tests/fixtures/playlists.json), the limits, and random
// text that must never throw. Run by `make test-js` on an esbuild bundle of the module.
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { MAX_SEGMENTS, normalUrl, readPlaylist } from "../../target/unit/playlist.mjs";

const fixtures = JSON.parse(readFileSync(new URL("../fixtures/playlists.json", import.meta.url), "utf8"));

for (const c of fixtures.cases) {
  test(`fixture: ${c.name}`, () => {
    const got = readPlaylist(c.text, c.url);
    if (c.error !== undefined) assert.equal(got, c.error);
    else assert.deepEqual(got, c.expect);
  });
}

test("the segment limit: at the limit read, one over refused", () => {
  const media = (n) => "#EXTM3U\n" + "#EXTINF:1,\ns.ts\n".repeat(n);
  const at = readPlaylist(media(MAX_SEGMENTS), "http://o.test/i.m3u8");
  assert.equal(at.urls.length, MAX_SEGMENTS);
  assert.equal(at.ranges.length, 2 * MAX_SEGMENTS);
  assert.equal(readPlaylist(media(MAX_SEGMENTS + 1), "http://o.test/i.m3u8"), `playlist lists ${MAX_SEGMENTS + 1} segments, over the limit`);
});

test("numbers past 2^53 are refused, not rounded", () => {
  const base = "http://o.test/i.m3u8";
  assert.equal(readPlaylist("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:9007199254740992\n", base), "malformed playlist: bad #EXT-X-MEDIA-SEQUENCE");
  const last = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:9007199254740991\n#EXTINF:1,\na.ts\n";
  assert.equal(readPlaylist(last, base).firstSn, 9007199254740991);
  assert.equal(readPlaylist(last + "#EXTINF:1,\nb.ts\n", base), "malformed playlist: media sequence overflows");
  const range = "#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:9007199254740991@1\na.ts\n";
  assert.equal(readPlaylist(range, base), "malformed playlist: byte range overflows");
});

test("URLs come out as the page's URL parser writes them, as the loads are normalized", () => {
  const got = readPlaylist("#EXTM3U\n#EXTINF:1,\nseg 1.ts\n", "HTTP://CDN.Test:80/live/index.m3u8");
  assert.deepEqual(got.urls, ["http://cdn.test/live/seg%201.ts"]);
  assert.equal(normalUrl("HTTP://CDN.Test:80/live/seg 1.ts"), got.urls[0]);
  assert.equal(normalUrl("not a url"), "not a url");
  assert.equal(readPlaylist("#EXTM3U\n#EXTINF:1,\nhttp://[bad/s.ts\n", "http://o.test/"), "malformed playlist: bad URI");
});

test("random text never throws and gives a playlist or a reason", () => {
  // A deterministic generator over the characters and tags that matter to the reader.
  let seed = 7;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const parts = ["#EXTM3U", "\n", "#EXTINF:", "2.5", ",", "#EXT-X-BYTERANGE:", "@", "10", "#EXT-X-MEDIA-SEQUENCE:", "#EXT-X-STREAM-INF:", "BANDWIDTH=", '"', "#EXT-X-MEDIA:", "URI=", "s.ts", "#EXT-X-ENDLIST", "#EXT-X-HLSMESH-HASHES:", " ", "\r", "-", ":", "#", "http://x/", "%", "\u00e9"];
  for (let i = 0; i < 3000; i++) {
    let text = rnd(4) ? "#EXTM3U\n" : "";
    for (let n = rnd(40); n > 0; n--) text += parts[rnd(parts.length)];
    const got = readPlaylist(text, "http://o.test/v/i.m3u8");
    if (typeof got === "string") continue;
    if (got.master) {
      assert.equal(got.variants.length, got.bandwidths.length);
    } else {
      assert.equal(got.durations.length, got.urls.length);
      assert.equal(got.ranges.length, 2 * got.urls.length);
      assert.ok(Number.isSafeInteger(got.firstSn) && got.firstSn >= 0);
      assert.ok(got.urls.every((u) => !u.includes("\n")), "one URL a line for the core");
    }
  }
});
