/**
 * The browser's reader of HLS playlists: what the agent uses of the text hls.js loaded,
 * handed to the wasm as numbers and lines (`Core.master`, `Core.media`). The rules are
 * those of the core's reference reader (crates/core/src/playlist/parse.rs, which the
 * simulator and the fuzzers use); `tests/fixtures/playlists.json` holds cases both
 * must read alike. Differences by design: numbers must be safe JavaScript integers
 * (under 2^53) rather than fit 64 bits, durations are read correctly rounded, and URIs
 * are resolved by the page's URL parser (so they come out normalized, as `normalUrl`
 * makes the URLs hls.js asks for).
 *
 * Strict where segment ids depend on it (sequence numbers, byte ranges, URI lines
 * paired with their tags, master and media tags not mixed, no delta updates); lenient
 * where real masters are sloppy (stray URI lines, missing `BANDWIDTH`, spaces after
 * commas, a trailing comma in an attribute list).
 */

/** Most segments tracked per media playlist (the core's `MAX_SEGMENTS_PER_PLAYLIST`). */
export const MAX_SEGMENTS = 20_000;

export interface MasterPlaylist {
  master: true;
  /** Variants' absolute URLs, in order. */
  variants: string[];
  /** Each variant's `BANDWIDTH` in bits per second, 0 when not declared. */
  bandwidths: number[];
  /** `#EXT-X-MEDIA` renditions' absolute URLs, in order. */
  renditions: string[];
}

export interface MediaPlaylist {
  master: false;
  /** `#EXT-X-TARGETDURATION`, seconds (0 when absent). */
  targetDuration: number;
  endList: boolean;
  /** Sequence number of the first segment; the others follow one by one. */
  firstSn: number;
  /** Segments' absolute URLs. */
  urls: string[];
  /** `#EXTINF` seconds, one per segment. */
  durations: number[];
  /** Byte range start and end (exclusive) per segment, `-1, -1` for none. */
  ranges: number[];
  /** The integrity sidecar's absolute URL, when an `#EXT-X-HLSMESH-HASHES` tag names one. */
  hashes?: string;
}

export type Playlist = MasterPlaylist | MediaPlaylist;

/** `url` as the page's URL parser writes it (unchanged when it cannot be parsed). */
export function normalUrl(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

class Malformed extends Error {}

const fail = (what: string): never => {
  throw new Malformed(what);
};

/** A decimal integer (digits only), if it is a safe integer. */
const integer = (s: string): number | undefined =>
  /^\d+$/.test(s) && Number.isSafeInteger(+s) ? +s : undefined;

/** One attribute of a list: name, value (quotes kept), then a comma or the end. */
const ATTRIBUTE = /[ \t]*([A-Za-z0-9-]+)=("[^"]*"|[^",][^,]*)(,|$)/y;

/** The raw value (quotes kept) of attribute `name`; throws when the list is malformed. */
function attribute(list: string, name: string): string | undefined {
  let found: string | undefined;
  ATTRIBUTE.lastIndex = 0;
  while (!/^[ \t]*$/.test(list.slice(ATTRIBUTE.lastIndex))) {
    const [, key, value] = ATTRIBUTE.exec(list) ?? fail("malformed playlist: bad attribute list");
    if (key === name) found ??= value;
  }
  return found;
}

/** A quoted, non-empty attribute value without its quotes. */
const unquote = (v = ""): string | undefined => /^"[^"]+"$/.test(v) ? v.slice(1, -1) : undefined;

/** Tags not read that say "master" or "media" (mixing the two is refused). */
const MASTER_TAG = /^#EXT-X-(I-FRAME-STREAM-INF|SESSION-DATA|SESSION-KEY)$/;
const MEDIA_TAG =
  /^#EXT-X-(DISCONTINUITY|DISCONTINUITY-SEQUENCE|PLAYLIST-TYPE|I-FRAMES-ONLY|KEY|MAP|PROGRAM-DATE-TIME|DATERANGE)$/;

/**
 * Reads playlist `text` loaded from `base`: the playlist, or why it was refused (in the
 * words the core uses: `malformed playlist: …`).
 */
export function readPlaylist(text: string, base: string): Playlist | string {
  try {
    return read(text, base);
  } catch (e) {
    if (e instanceof Malformed) return e.message;
    throw e;
  }
}

function read(text: string, base: string): Playlist {
  const resolve = (uri: string): string => {
    try {
      return new URL(uri, base).href;
    } catch {
      return fail("malformed playlist: bad URI");
    }
  };
  const bad = (what: string) => fail("malformed playlist: " + what);
  const lines = text.split("\n").map((l) => l.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, ""));
  if (lines[0] !== "#EXTM3U") bad("first line is not #EXTM3U");
  let isMaster: boolean | undefined;
  const m: MasterPlaylist = { master: true, variants: [], bandwidths: [], renditions: [] };
  const p: MediaPlaylist = {
    master: false,
    targetDuration: 0,
    endList: false,
    firstSn: 0,
    urls: [],
    durations: [],
    ranges: [],
  };
  let sequence: number | undefined;
  let count = 0;
  let nextStart = 0;
  let bandwidth: number | undefined;
  let duration: number | undefined;
  let range: [number, number | undefined] | undefined;

  for (const line of lines.slice(1)) {
    if (!line) continue;
    if (line[0] !== "#") {
      if (bandwidth !== undefined) {
        m.variants.push(resolve(line));
        m.bandwidths.push(bandwidth);
        bandwidth = undefined;
      } else if (duration !== undefined) {
        if (!Number.isSafeInteger((sequence ?? 0) + count)) bad("media sequence overflows");
        let start = -1;
        let end = -1;
        if (range) {
          start = range[1] ?? nextStart;
          nextStart = end = start + range[0];
          if (!Number.isSafeInteger(end)) bad("byte range overflows");
        }
        if (count++ < MAX_SEGMENTS) {
          p.urls.push(resolve(line));
          p.durations.push(duration);
          p.ranges.push(start, end);
        }
        duration = range = undefined;
      } else if (!isMaster) {
        bad("URI line without #EXTINF or #EXT-X-STREAM-INF");
      }
      continue;
    }
    const [tag, value = ""] = line.split(/:(.*)/s);
    let masterTag = false;
    if (tag === "#EXTINF") {
      const d = value.split(",")[0];
      if (!/^-?\d+(\.\d*)?$/.test(d)) bad("bad #EXTINF duration");
      if (duration !== undefined) bad("#EXTINF without a URI line");
      duration = +d;
    } else if (tag === "#EXT-X-BYTERANGE") {
      const [length, offset] = value.split(/@(.*)/s).map(integer);
      if (length === undefined || (value.includes("@") && offset === undefined)) bad("bad #EXT-X-BYTERANGE");
      if (range) bad("#EXT-X-BYTERANGE without a URI line");
      range = [length!, offset];
    } else if (tag === "#EXT-X-TARGETDURATION") {
      p.targetDuration = integer(value) ?? bad("bad #EXT-X-TARGETDURATION");
    } else if (tag === "#EXT-X-MEDIA-SEQUENCE") {
      if (sequence !== undefined || count || duration !== undefined) {
        bad("#EXT-X-MEDIA-SEQUENCE repeated or after a segment");
      }
      sequence = integer(value) ?? bad("bad #EXT-X-MEDIA-SEQUENCE");
    } else if (tag === "#EXT-X-ENDLIST") {
      p.endList = true;
    } else if (tag === "#EXT-X-HLSMESH-HASHES") {
      // hlsmesh's own tag; a malformed one is ignored (the sidecar's default URL applies).
      let uri: string | undefined;
      try {
        uri = unquote(attribute(value, "URI"));
      } catch {
        // ignored
      }
      if (uri && p.hashes === undefined) p.hashes = resolve(uri);
      continue;
    } else if (tag === "#EXT-X-SKIP") {
      bad("#EXT-X-SKIP (delta update) not supported");
    } else if (tag === "#EXT-X-STREAM-INF") {
      const bits = attribute(value, "BANDWIDTH");
      const b = bits === undefined ? 0 : (integer(bits) ?? bad("bad BANDWIDTH"));
      if (bandwidth !== undefined) bad("#EXT-X-STREAM-INF without a URI line");
      bandwidth = b;
      masterTag = true;
    } else if (tag === "#EXT-X-MEDIA") {
      const uri = attribute(value, "URI");
      if (uri !== undefined) m.renditions.push(resolve(unquote(uri) ?? bad("bad #EXT-X-MEDIA URI")));
      masterTag = true;
    } else if (MASTER_TAG.test(tag)) {
      masterTag = true;
    } else if (!MEDIA_TAG.test(tag)) {
      continue;
    }
    if ((isMaster ??= masterTag) !== masterTag) bad("master and media playlist tags mixed");
  }
  if (bandwidth !== undefined) bad("#EXT-X-STREAM-INF without a URI line");
  if (duration !== undefined || range) bad("#EXTINF without a URI line");
  if (count > MAX_SEGMENTS) fail(`playlist lists ${count} segments, over the limit`);
  p.firstSn = count && (sequence ?? 0);
  return isMaster ? m : p;
}
