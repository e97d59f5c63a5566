/**
 * The browser's reader of the publisher's integrity sidecar (`#HLSMESH-HASHES:1`, the
 * format in docs/SECURITY.md and crates/core/src/integrity.rs): each segment's media
 * sequence number, size and SHA-256, handed to the wasm as arrays (`Core.hashes`). The
 * rules are those of the core's reference reader (`HashList::parse`, which the tests
 * and `crates/hashlist` use); `tests/fixtures/hashlists.json` holds cases both must
 * read alike. By design numbers must be safe JavaScript integers (under 2^53).
 */

/** Largest sidecar read, in bytes. */
export const MAX_BYTES = 4 * 1024 * 1024;
/** Most entries. */
export const MAX_ENTRIES = 50_000;
/** Longest line, in bytes. */
export const MAX_LINE = 4096;

export interface HashList {
  /** Media sequence numbers, increasing. */
  sns: number[];
  /** Sizes in bytes. */
  sizes: number[];
  /** The SHA-256 digests, 32 bytes each, in entry order. */
  digests: Uint8Array;
  /** Each entry's URI without query or fragment ("" when the entry names none). */
  uris: string[];
}

const UTF8 = new TextEncoder();

/** Reads sidecar bytes: the list, or why it was refused (in the core's words). */
export function readHashList(bytes: Uint8Array): HashList | string {
  if (bytes.length > MAX_BYTES) return `hash list of ${bytes.length} bytes is over the limit`;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return "hash list is not UTF-8";
  }
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const header = lines[0].trimEnd();
  if (!header.startsWith("#HLSMESH-HASHES:")) return "not a hash list: the first line must be #HLSMESH-HASHES:1";
  const version = header.slice(16);
  if (version !== "1") return `hash list version \`${[...version].slice(0, 16).join("")}\` is not supported`;
  // A final newline ends the last line rather than starting an empty one.
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  const sns: number[] = [];
  const sizes: number[] = [];
  const uris: string[] = [];
  const digests: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const bad = (reason: string) => `hash list line ${i + 1}: ${reason}`;
    if (lines[i].length > MAX_LINE / 3 && UTF8.encode(lines[i]).length > MAX_LINE) return bad("line too long");
    const line = lines[i].trim();
    if (!line || line[0] === "#") continue;
    const [sn, size, digest, uri, extra] = line.split(/[ \t]+/);
    const number = (s: string) => (/^\d{1,20}$/.test(s) && Number.isSafeInteger(+s) ? +s : undefined);
    const n = number(sn);
    if (n === undefined) return bad("media sequence is not a number");
    const bytes = number(size ?? "");
    if (bytes === undefined) return bad("size is not a number");
    if (!/^[0-9a-fA-F]{64}$/.test(digest ?? "")) return bad("digest is not 64 hex digits");
    if (extra !== undefined) return bad("unexpected field after the URI");
    if (sns.length === MAX_ENTRIES) return `hash list has more than ${MAX_ENTRIES} entries`;
    if (sns.length && sns[sns.length - 1] >= n) return bad("media sequence not above the previous entry's");
    sns.push(n);
    sizes.push(bytes);
    uris.push((uri ?? "").replace(/[?#].*/s, ""));
    for (let j = 0; j < 64; j += 2) digests.push(parseInt(digest.slice(j, j + 2), 16));
  }
  return { sns, sizes, digests: Uint8Array.from(digests), uris };
}
