#!/usr/bin/env python3
"""Writes the seed corpus under crates/fuzz/corpus/<target>/ from our own test vectors.

    python3 crates/fuzz/make-corpus.py

Deterministic: the same files every run. Seeds are small on purpose; the fuzzer's own
finds go to target/fuzz-corpus/, never here. For the structured targets (playlist_m3u8,
agent) a seed is a sequence of choice bytes in the harness's format
(crates/fuzz/src/agent.rs, crates/fuzz/src/m3u8.rs): each comment below says which
branch a byte takes.
"""
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# --- wire frames (docs/PROTOCOL.md) -------------------------------------------------
def frame(tag, body):
    return struct.pack(">BI", tag, len(body)) + body


def seg(variant, sn):
    return struct.pack(">HQ", variant, sn)


SWARM = hashlib.sha1(b"hlsmesh/1 fuzz-swarm").digest()
PEER = b"-FZ0001-000000000003"
frames = {
    "hello": frame(1, struct.pack(">H", 1) + SWARM + PEER),
    "have": frame(2, struct.pack(">H", 3) + seg(0, 10) + seg(1, 11) + seg(0x8123, 12)),
    "have-empty": frame(2, struct.pack(">H", 0)),
    "lost": frame(3, struct.pack(">H", 1) + seg(0, 10)),
    "request": frame(4, struct.pack(">I", 7) + seg(1, 42) + struct.pack(">I", 0)),
    "cancel": frame(5, struct.pack(">I", 7)),
    "chunk": frame(6, struct.pack(">III", 7, 10, 4) + b"abcdef"),
    "chunk-empty": frame(6, struct.pack(">III", 7, 0, 0)),
    "absent": frame(7, struct.pack(">I", 7)),
    "bad-length": bytes([5, 0, 0, 0, 9, 1, 2, 3, 4]),
    "bad-tag": bytes([99, 0, 0, 0, 0]),
}
for name, data in frames.items():
    write("proto_decode", name, data)

# --- playlists (crates/core/src/playlist/tests.rs) ----------------------------------
MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=426x240
v0/index.m3u8?token=abc
#EXT-X-STREAM-INF:BANDWIDTH=600000,RESOLUTION=640x360
https://cdn2.test/live/v1/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="iframes.m3u8"
"""


def media(first, n, end):
    s = f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    for sn in range(first, first + n):
        s += f"#EXTINF:2.000,\nseg{sn}.ts?token=xyz\n"
    if end:
        s += "#EXT-X-ENDLIST\n"
    return s


BYTERANGES = (
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\nall.ts\n"
    "#EXTINF:2,\n#EXT-X-BYTERANGE:50\nall.ts\n#EXT-X-ENDLIST\n"
)
FMP4 = (
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n"
    '#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2.000,\nseg5.m4s\n#EXTINF:2.000,\nseg6.m4s\n'
)
# First byte: which URL each of the (up to four, NUL-separated) playlists loads from.
write("playlist_bytes", "master-then-media", b"\x24" + MASTER.encode() + b"\0" + media(0, 3, True).encode())
write("playlist_bytes", "live-refresh", b"\x05" + media(10, 6, False).encode() + b"\0" + media(12, 6, False).encode())
write("playlist_bytes", "byteranges", b"\x03" + BYTERANGES.encode())
write("playlist_bytes", "fmp4", b"\x01" + FMP4.encode())
write("playlist_bytes", "garbage", b"\x00<html></html>")
# Forms the parser tolerates (its tests): a sloppy master, a CRLF media playlist.
SLOPPY_MASTER = (
    '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8"\n'
    "#EXT-X-STREAM-INF:PROGRAM-ID=1, BANDWIDTH=300000,\nv0/index.m3u8?token=abc\n"
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="iframes.m3u8"\niframes.m3u8\n'
)
CRLF_MEDIA = (
    "#EXTM3U\r\n# comment\r\n#EXT-X-TARGETDURATION:2\r\n#EXT-X-MEDIA-SEQUENCE:7\r\n"
    "#EXT-X-CUE-OUT:DURATION=30\r\n#EXTINF:2.002,title\r\n\r\nseg7.ts\r\n"
    "#EXT-X-BYTERANGE:10@5\r\n#EXTINF:2\r\nall.ts\r\n"
)
write("playlist_bytes", "sloppy-master", b"\x24" + SLOPPY_MASTER.encode() + b"\0" + CRLF_MEDIA.encode())

# Structured playlists: the bytes m3u8.rs reads, in its order.
def media_choices(first_u16, count, endlist):
    b = [0]           # below(2)==0: write EXT-X-VERSION
    b += [3]          # version 3
    b += [5, 5, 0, 2]  # TARGETDURATION: number -> interesting_u64 -> u16 = 2
    b += [1, 5] + list(struct.pack(">H", first_u16))  # first sn via interesting_u64 -> u16
    b += [1]          # write MEDIA-SEQUENCE
    b += [1, 1]       # no DISCONTINUITY-SEQUENCE, no PLAYLIST-TYPE
    b += [count]      # below(40)
    for _ in range(count):
        b += [0, 4, 2, 0, 9]  # flags 0; EXTINF 2.000; uri segN.ts?token=xyz
    b += [0 if endlist else 1]
    return b


def byterange_choices():
    b = [1, 5, 5, 0, 2, 0, 1, 1, 1, 2]  # no version; TARGETDURATION 2; first 0 (below(4)==0); 2 segments
    b += [16 | 32, 4, 2, 0, 5, 5, 0, 100, 5, 5, 0, 0, 5]  # BYTERANGE 100@0, all.ts
    b += [16, 4, 2, 0, 5, 5, 0, 50, 5]                      # BYTERANGE 50, all.ts
    b += [0]  # ENDLIST
    return b


def master_choices():
    b = [0, 3]                                    # master; 3 entries
    b += [2, 5, 5, 0x49, 0x3e, 2]                 # STREAM-INF, BANDWIDTH, v0/index.m3u8?token=abc
    b += [2, 5, 5, 0x92, 0x7c, 1]                 # STREAM-INF, BANDWIDTH, https://cdn2.test/live/v1/...
    b += [1, 5, 5, 0, 90]                         # I-FRAME-STREAM-INF
    return b


write("playlist_m3u8", "master-then-media", [0] + master_choices() + [1, 1] + media_choices(0, 3, True))
write("playlist_m3u8", "live-refresh", [1, 1] + media_choices(10, 6, False) + [1, 1] + media_choices(12, 6, False))
write("playlist_m3u8", "byteranges", [2, 1] + byterange_choices())

# --- URLs (crates/core/src/url.rs tests): base NUL reference ------------------------
base = "http://a.test:8080/live/v1/index.m3u8?tok=1"
for i, ref in enumerate(["seg_1.ts", "../v2/index.m3u8", "/x/y.ts?a=b", "//cdn.test/s.ts",
                         "https://other.test/a.ts", "?tok=2", "./a/./b/../c.ts", "../../../../s.ts"]):
    write("url_resolve", f"ref-{i}", f"{base}\0{ref}")
write("url_resolve", "no-path", "http://a.test\0s.ts")

# --- integrity sidecars (crates/core/src/integrity.rs tests) ----------------------
D = hashlib.sha256(b"abc").hexdigest()
write("integrity_parse", "entries", f"#HLSMESH-HASHES:1\n# comment\n\n7 3 {D} seg7.ts\n9 3 {D} /live/seg9.ts?x=1\n")
write("integrity_parse", "byteranges", f"#HLSMESH-HASHES:1\n1 3 {D} all.ts\n2 3 {D} all.ts\n")
write("integrity_parse", "crlf-bom-tabs", f"\ufeff#HLSMESH-HASHES:1\r\n7\t3\t{D}\tseg7.ts\r\n")
write("integrity_parse", "out-of-order", f"#HLSMESH-HASHES:1\n5 3 {D}\n2 3 {D}\n")
write("integrity_parse", "playlist-tag", '#EXTM3U\n#EXT-X-HLSMESH-HASHES:URI="../hashes/v0.txt?k=1"\n')

# --- the whole agent ------------------------------------------------------------------
# Header: seed (u16), max_peers choice. Then one step byte (% 20) per input and its
# arguments, in the order agent.rs reads them.
PLAYLIST_V0 = [0, 2, 1, 1] + media_choices(10, 3, False)  # step 0; url MEDIA_URLS[0]; m3u8 text; media
TIMEOUT_TO_WAKE = [19, 0]
TIMEOUT_1S = [19, 2, 1]
LOAD_V0_SN11 = [2, 1, 1, 0, 2, 3, 0, 40, 2, 80, 0]   # sn recent[1]+1, v0 URL, no range, playback 10 s + 10 s ahead
HTTP_OK_100 = [6, 0, 3, 1, 100, 7]                     # first fetch, 200, 100 bytes of 7
HTTP_FAIL = [6, 0, 0]
TRACKER0_OPEN = [8, 0, 1]
OFFER_FROM_PEER3 = [9, 0, 1, 3, 0, 5]                 # tracker 0, our hash, peer 3, relayed offer
ANSWER_FROM_PEER4 = [9, 0, 1, 4, 1, 0]                # answer to the agent's first offer
FIRST_CONN = [1, 0]                                    # pick_conn: a known conn, index 0
ANSWER_CREATED = [11] + FIRST_CONN + [1]
OFFER_CREATED = [11] + FIRST_CONN + [0]
CHANNEL_OPEN = [12] + FIRST_CONN
HELLO = [13] + FIRST_CONN + [0, 1, 1, 2]
HAVE_11_12 = [13] + FIRST_CONN + [2, 2, 3, 1, 1, 3, 1, 2]
PEER_REQUEST_11 = [13] + FIRST_CONN + [5, 1, 3, 1, 1, 1]
CHUNK_ALL = [13] + FIRST_CONN + [7, 1, 0, 3, 0x36, 0xb0, 9, 5]  # 14,000 bytes: the whole segment
ABSENT = [13] + FIRST_CONN + [9, 1, 0]

TIMEOUT_100MS = [19, 3, 1]
TIMEOUT_5S = [19, 2, 5]
write("agent", "cdn-load", [0, 1, 3] + PLAYLIST_V0 + TIMEOUT_100MS + LOAD_V0_SN11 + TIMEOUT_1S + HTTP_OK_100 + TIMEOUT_TO_WAKE)
write("agent", "cdn-failure", [0, 2, 3] + PLAYLIST_V0 + LOAD_V0_SN11 + TIMEOUT_1S + TIMEOUT_1S + HTTP_FAIL)
# A relayed offer first (conn 1 answers it), then the tracker opens and the agent offers.
write("agent", "answerer-download", [0, 3, 5] + PLAYLIST_V0 + TIMEOUT_100MS + OFFER_FROM_PEER3 + TRACKER0_OPEN
      + ANSWER_CREATED + CHANNEL_OPEN + HELLO + HAVE_11_12 + LOAD_V0_SN11 + CHUNK_ALL + TIMEOUT_TO_WAKE)
# The agent's first offer is gathered, announced and answered; the peer then asks for
# the segment the agent fetched from the CDN.
write("agent", "offerer-upload", [0, 4, 5] + PLAYLIST_V0 + TIMEOUT_100MS + TRACKER0_OPEN + OFFER_CREATED
      + TIMEOUT_5S + ANSWER_FROM_PEER4 + CHANNEL_OPEN + HELLO + LOAD_V0_SN11
      + TIMEOUT_TO_WAKE + HTTP_OK_100 + PEER_REQUEST_11 + TIMEOUT_100MS + ABSENT)

# With the integrity check on (setup byte 5 + 6: six peers, flag 1): the sidecar fetch is
# answered with a list vouching for segments 11-13 as TS packets of 0x47; a peer then
# sends segment 11 as exactly that (accepted) or as other bytes (peer banned).
HASHES_11_13 = [6, 0, 0, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0]
def chunk_ts(fill):
    return [13] + FIRST_CONN + [7, 1, 0, 4, 0x0f, 0xff, fill, 5]
INTEGRITY = [0, 5, 11] + PLAYLIST_V0 + HASHES_11_13 + TIMEOUT_100MS + OFFER_FROM_PEER3 + TRACKER0_OPEN \
    + ANSWER_CREATED + CHANNEL_OPEN + HELLO + HAVE_11_12 + LOAD_V0_SN11
write("agent", "integrity-ok", INTEGRITY + chunk_ts(0x47) + TIMEOUT_TO_WAKE)
write("agent", "integrity-mismatch", INTEGRITY + chunk_ts(0x09) + TIMEOUT_1S + HTTP_OK_100)

# --- reproducers of known bugs (crates/fuzz/src/known_bugs.rs) -------------------------
# Replayed by run.sh, skipped while the bug is known; HLSMESH_FUZZ_KNOWN_BUGS=1 shows it.
REG = os.path.join(HERE, "regressions")
os.makedirs(REG, exist_ok=True)
with open(os.path.join(REG, "agent-past-deadline"), "wb") as f:
    # Tracker opens, the agent starts gathering offers: the drain ends with Timeout(now).
    f.write(bytes([0, 4, 5] + PLAYLIST_V0 + TIMEOUT_100MS + TRACKER0_OPEN))
