//! hlsmesh in the browser: the sans-IO agent of `hlsmesh-core` behind a small
//! wasm-bindgen surface.
//!
//! The browser edges (RTCPeerConnection and its data channel, the tracker WebSocket,
//! fetch, the timer) live in the TypeScript shim (`js/src/agent.ts`), which owns every
//! JS resource and releases it when the agent says so or is destroyed. This crate only
//! translates: the shim hands each event in as numbers, strings and bytes
//! ([`Core::input`] and the page-facing methods), then drains the agent's outputs with
//! [`Core::poll`], each one an array that starts with its kind. The codes are listed in
//! [`input`] and [`output`]; `js/src/agent.ts` mirrors them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(panic = "immediate-abort"))]
mod panic_hook;

/// The heap: a TLSF allocator (constant-time, with in-place reallocation and adjacent
/// memory growths merged; about 1.6 KB of wasm) in place of std's dlmalloc (about 8 KB).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

use hlsmesh_core::cache::DEFAULT_CACHE_BYTES;
use hlsmesh_core::integrity::{Expected, HashList};
use hlsmesh_core::playlist::{Master, Media, MediaSegment, Playlist};
use hlsmesh_core::proto::Id20;
use hlsmesh_core::tracker::messages::{AnnounceEvent, TrackerMessage, TrackerRequest};
use hlsmesh_core::{
    Config, ConnId, Event, FetchId, HttpResponse, Input, Instant, LoadId, Output, Playback, Source,
    TrackerId, DEFAULT_MAX_PEERS,
};
use wasm_bindgen::prelude::*;

// The three JS classes the glue uses, declared here rather than taken from js-sys: every
// one of js-sys's thousands of bindings is linked for wasm-bindgen to read, and those
// that take closures left their closure shims in the wasm's function table, where no
// pass can drop them (about 700 bytes). The glue wasm-bindgen writes for these is the
// same as for js-sys's (`new Array()`, `push`, `unshift`, `new Uint8Array(view)`).
#[wasm_bindgen]
extern "C" {
    /// A JS array ([`Core::poll`]'s, [`Core::stats`]' and [`Core::peers`]' results).
    #[wasm_bindgen(typescript_type = "Array<any>")]
    pub type Array;
    #[wasm_bindgen(constructor)]
    fn new() -> Array;
    #[wasm_bindgen(method)]
    fn push(this: &Array, value: &JsValue) -> u32;
    #[wasm_bindgen(method)]
    fn unshift(this: &Array, value: &JsValue) -> u32;
}

#[wasm_bindgen]
extern "C" {
    /// A JS function (the panic sink [`Core::new`] takes).
    #[wasm_bindgen(typescript_type = "Function")]
    #[derive(Clone)]
    pub type Function;
    /// `this.call(context, arg)`.
    #[cfg(not(panic = "immediate-abort"))]
    #[wasm_bindgen(method, catch, js_name = call)]
    fn call1(this: &Function, context: &JsValue, arg: &JsValue) -> Result<JsValue, JsValue>;
}

#[wasm_bindgen]
extern "C" {
    /// A copy of bytes, for the shim.
    type Uint8Array;
    #[wasm_bindgen(constructor)]
    fn new(bytes: &[u8]) -> Uint8Array;
}

/// The kinds of [`Core::input`]: what happened at an edge.
pub mod input {
    /// Time passed (the timer fired): `()`.
    pub const TIMEOUT: u8 = 0;
    /// A fetch finished: `(fetch, status, _, body)`.
    pub const HTTP_DONE: u8 = 1;
    /// A fetch failed: `(fetch, _, reason)`.
    pub const HTTP_FAILED: u8 = 2;
    /// A tracker socket opened: `(tracker)`.
    pub const TRACKER_OPEN: u8 = 3;
    /// A tracker socket closed or failed: `(tracker, _, reason)`.
    pub const TRACKER_CLOSED: u8 = 5;
    /// Our offer is complete (ICE gathered): `(conn, _, sdp)`.
    pub const OFFER_CREATED: u8 = 6;
    /// Our answer is complete: `(conn, _, sdp)`.
    pub const ANSWER_CREATED: u8 = 7;
    /// A data channel opened: `(conn)`.
    pub const CHANNEL_OPEN: u8 = 8;
    /// A data channel delivered a binary message: `(conn, _, _, data)`.
    pub const CHANNEL_MESSAGE: u8 = 9;
    /// A data channel's `bufferedAmount` after a send or a low-water event:
    /// `(conn, bufferedAmount)`.
    pub const CHANNEL_BUFFERED: u8 = 10;
    /// A connection closed or failed: `(conn, _, reason)`.
    pub const CONN_CLOSED: u8 = 11;
    /// hls.js loaded a master playlist, read by the shim (`js/src/playlist.ts`):
    /// `(_, variants, lines, numbers)`: the playlist's URL (after redirects), then the
    /// variants' absolute URLs, then the renditions', one a line; `numbers` each
    /// variant's `BANDWIDTH` (bits per second, 0 when not declared).
    pub const MASTER: u8 = 12;
    /// hls.js loaded a media playlist, read by the shim: `(_, segments, lines, numbers)`:
    /// the playlist's URL, the integrity sidecar's URL when the playlist names one (an
    /// empty line when not), then each segment's absolute URL, one a line; `numbers`
    /// the target duration, 1 for `#EXT-X-ENDLIST` (else 0), the first segment's
    /// sequence number, then per segment its `#EXTINF` seconds and byte range start and
    /// end (exclusive; `-1, -1` for none).
    pub const MEDIA: u8 = 13;
    /// The sidecar of a `FETCH_HASHES` output, fetched and read by the shim
    /// (`js/src/hashlist.ts`): `(fetch, entries, lines, numbers+digests)`: each entry's
    /// URI without query, one a line (an empty line for none); per entry its sequence
    /// number and size as numbers, then all the SHA-256 digests, 32 bytes each. With
    /// `entries` `-1`, `lines` is why there is no list (an HTTP failure, what the reader
    /// refused).
    pub const HASHES: u8 = 14;
    /// hls.js asks for a segment: `(load, _, url, numbers)`: `load` is the shim's number
    /// for it, answered by a `DELIVER` or `FAIL`; `numbers` the byte range start and end
    /// (exclusive; `-1, -1` for the whole resource), then where playback stands: the
    /// position and the end of the buffer ahead of it (seconds), and the rate.
    pub const LOAD: u8 = 15;
    /// hls.js gave up a load: `(load)`.
    pub const ABORT: u8 = 16;
    /// Names the swarm before the first playlist (see `hlsmesh_core::Agent::name_swarm`;
    /// ignored once it is named): `(_, _, name)`.
    pub const NAME_SWARM: u8 = 17;
    /// A frame from a tracker, read by the shim (`js/src/tracker-wire.ts`):
    /// `(tracker, kind, text, numbers+ids)`, `kind` one of [`tracker`](super::tracker)
    /// with the members listed there. The bytes: `interval`, `complete` and `incomplete`
    /// as numbers (`-1` absent), then the frame's `info_hash` (20 bytes) when it has
    /// one, then the peer id and offer id (20 bytes each) when it carries them; which of
    /// the two are present follows from the length.
    pub const TRACKER: u8 = 18;
}

/// The numbers of an [`input`] kind's bytes (a `Float64Array`'s, little-endian).
fn numbers(data: &[u8]) -> Vec<f64> {
    // By index (a `chunks_exact` iterator costs more wasm).
    let mut out = Vec::new();
    let mut i = 8;
    while i <= data.len() {
        out.push(f64::from_le_bytes(
            data[i - 8..i].try_into().unwrap_or_default(),
        ));
        i += 8;
    }
    out
}

/// A master playlist from [`input::MASTER`]'s arguments; `Timeout` (nothing) when there
/// are fewer URLs or more bandwidths than `variants`, which the shim never sends.
fn master(text: &str, variants: f64, bandwidths: &[f64]) -> Input {
    let mut urls = lines(text);
    if urls.len() < 1 + bandwidths.len() || bandwidths.len() != variants as usize {
        return Input::Timeout;
    }
    // The URLs after the master's and the variants' are the renditions'.
    let renditions = urls.split_off(1 + bandwidths.len());
    // Taken by index (no IntoIter<String> in the wasm): as many variants as bandwidths,
    // with a URL for each (checked above).
    let url = std::mem::take(&mut urls[0]);
    let mut variants = Vec::new();
    for (i, &b) in bandwidths.iter().enumerate() {
        variants.push((std::mem::take(&mut urls[1 + i]), count(b)));
    }
    let playlist = Playlist::Master(Master {
        variants,
        renditions,
    });
    Input::Playlist { url, playlist }
}

/// A media playlist from [`input::MEDIA`]'s arguments; `Timeout` (nothing) when the
/// lines and numbers do not describe `segments` segments, which the shim never sends.
fn media(text: &str, segments: f64, numbers: &[f64]) -> Input {
    let lines = split_lines(text);
    let n = segments as usize;
    if lines.len() != n + 2 || numbers.len() != 3 + 3 * n {
        return Input::Timeout;
    }
    let url = lines[0].to_owned();
    let hashes = (!lines[1].is_empty()).then(|| lines[1].to_owned());
    // Segment `i`: line `2 + i`, numbers `3 + 3i` to `5 + 3i` (lengths checked above).
    let mut segments = Vec::new();
    for i in 0..n {
        let k = &numbers[3 + 3 * i..6 + 3 * i];
        segments.push(MediaSegment {
            url: lines[2 + i].to_owned(),
            duration: k[0],
            range: given(k[1]).zip(given(k[2])),
        });
    }
    let playlist = Playlist::Media(Media {
        target_duration: count(numbers[0]),
        end_list: numbers[1] == 1.0,
        first_sn: count(numbers[2]),
        segments,
        hashes,
    });
    Input::Playlist { url, playlist }
}

/// A segment load from [`input::LOAD`]'s arguments (absent numbers read as `-1`, or no
/// playback).
fn load(id: f64, url: String, numbers: &[f64]) -> Input {
    let n = |i: usize| numbers.get(i).copied().unwrap_or(-1.0);
    let range = given(n(0)).zip(given(n(1))).filter(|(s, e)| e > s);
    Input::Load {
        load: LoadId(id as u64),
        url,
        range,
        playback: Playback {
            position: n(2).max(0.0),
            buffered_end: n(3).max(0.0),
            rate: n(4).max(0.0),
        },
    }
}

/// What a tracker frame said, from [`input::TRACKER`]'s arguments.
fn tracker_message(tracker: TrackerId, kind: f64, text: String, data: &[u8]) -> Input {
    let (numbers_bytes, rest) = data.split_at(data.len().min(24));
    let n = numbers(numbers_bytes);
    let n = |i: usize| given(n.get(i).copied().unwrap_or(-1.0));
    let (hash, ids) = match rest.len() {
        20 => (id(Some(rest)), None),
        40 => (None, Some(rest)),
        60 => (id(Some(&rest[..20])), Some(&rest[20..])),
        _ => (None, None),
    };
    let ids = ids.and_then(|b| Some((id(b.get(..20))?, id(b.get(20..))?)));
    let message = match (kind as u8, ids) {
        (tracker::ANNOUNCED, _) => TrackerMessage::Announced {
            interval: n(0),
            complete: n(1),
            incomplete: n(2),
        },
        (tracker::OFFER, Some((peer, offer_id))) => TrackerMessage::Offer {
            peer,
            offer_id,
            sdp: text,
        },
        (tracker::ANSWER, Some((peer, offer_id))) => TrackerMessage::Answer {
            peer,
            offer_id,
            sdp: text,
        },
        // A failure or a warning too: the agent takes all three alike, as a tracker
        // error with the text as its reason. Also an offer or answer without both ids,
        // which the shim never sends: it reads the ids itself and reports a frame with an
        // invalid one as `UNREADABLE`.
        _ => TrackerMessage::Unreadable(text),
    };
    Input::TrackerMessage {
        tracker,
        info_hash: hash,
        message,
    }
}

/// A hash list from [`input::HASHES`]'s arguments.
fn hash_list(text: String, entries: f64, data: &[u8]) -> Result<HashList, String> {
    let Some(n) = given(entries).map(|n| n as usize) else {
        return Err(text);
    };
    let uris = split_lines(&text);
    let (numbers_bytes, digests) = data.split_at(data.len().min(16 * n));
    let sizes = numbers(numbers_bytes);
    if uris.len() != n.max(1) || sizes.len() != 2 * n || digests.len() != 32 * n {
        return Err(REFUSED.into());
    }
    // Entry `i`: numbers `2i` and `2i + 1`, digest bytes `32i..32i + 32`, line `i`
    // (lengths checked above).
    let mut entries = Vec::new();
    for i in 0..n {
        let uri = uris[i];
        entries.push(Expected {
            sn: count(sizes[2 * i]),
            size: count(sizes[2 * i + 1]),
            digest: digests[32 * i..32 * i + 32].try_into().unwrap_or_default(),
            uri: (!uri.is_empty()).then(|| uri.to_owned()),
        });
    }
    // The shim reads the list with the same bounds (`js/src/hashlist.ts`: at most
    // `MAX_ENTRIES` entries, sequence numbers increasing): a refusal here is a shim bug,
    // told in the same words as arrays of different lengths (no describing code in the
    // wasm).
    HashList::from_entries(entries).map_err(|_| REFUSED.into())
}

/// Why a hash list the shim passed is not taken (which it never does, see [`hash_list`]).
const REFUSED: &str = "hash list refused";

/// The [`Input`] of an [`input`] kind (`NAME_SWARM` aside: it is no input): one
/// call of the agent for all of them.
#[inline(never)]
fn read(kind: u8, id: f64, n: f64, text: String, data: Box<[u8]>) -> Input {
    let conn = ConnId::from_raw(id as u64);
    let tracker = TrackerId::from_index(id as usize);
    let fetch = FetchId::from_raw(id as u64);
    match kind {
        input::HTTP_DONE => Input::HttpDone {
            fetch,
            result: Ok(HttpResponse {
                status: n as u16,
                body: data.into(),
            }),
        },
        input::HTTP_FAILED => Input::HttpDone {
            fetch,
            result: Err(text),
        },
        input::TRACKER_OPEN => Input::TrackerOpen { tracker },
        input::TRACKER_CLOSED => Input::TrackerClosed {
            tracker,
            reason: text,
        },
        input::OFFER_CREATED => Input::OfferCreated { conn, sdp: text },
        input::ANSWER_CREATED => Input::AnswerCreated { conn, sdp: text },
        input::CHANNEL_OPEN => Input::ChannelOpen { conn },
        input::CHANNEL_MESSAGE => Input::ChannelMessage {
            conn,
            data: data.into(),
        },
        input::CHANNEL_BUFFERED => Input::ChannelBuffered {
            conn,
            buffered: n as usize,
        },
        input::CONN_CLOSED => Input::ConnClosed { conn, reason: text },
        input::MASTER => master(&text, n, &numbers(&data)),
        input::MEDIA => media(&text, n, &numbers(&data)),
        input::LOAD => load(id, text, &numbers(&data)),
        input::ABORT => Input::Abort {
            load: LoadId(id as u64),
        },
        input::TRACKER => tracker_message(tracker, n, text, &data),
        input::HASHES => Input::HashListRead {
            fetch,
            list: hash_list(text, n, &data),
        },
        _ => Input::Timeout,
    }
}

/// What [`Core::query`] answers, and the array it returns.
pub mod query {
    /// Totals, in this order: CDN bytes, peer bytes, uploaded bytes, cache hits,
    /// segments delivered, peer fallbacks, rejected segments, peers demoted, peers,
    /// swarm size, uplink kb/s (`js/src/agent.ts` names them).
    pub const STATS: u8 = 0;
    /// The connected peers, four members each: hex id, bytes from it, bytes to it, its
    /// measured throughput in bytes per second.
    pub const PEERS: u8 = 1;
    /// Our peer id, hex (one member).
    pub const PEER_ID: u8 = 2;
    /// Test hook: panics inside the agent, as a bug would, to prove the page survives.
    pub const PANIC: u8 = 3;
}

/// The kinds of [`Core::poll`]'s arrays: what the agent wants done. Absent numbers
/// are `-1`.
pub mod output {
    /// Wake the agent at `[0, atMs]` (ms since the agent's start; `-1`: never).
    pub const TIMEOUT: u8 = 0;
    /// Answer a load: `[1, load, bytes, source (0 cache, 1 peer, 2 CDN), timingMs]`.
    pub const DELIVER: u8 = 1;
    /// Fail a load (the player loads it another way): `[2, load, reason]`.
    pub const FAIL: u8 = 2;
    /// Start a fetch: `[3, fetch, url, rangeStart, rangeEnd (exclusive), from]`.
    pub const FETCH: u8 = 3;
    /// Abort a fetch: `[4, fetch]`.
    pub const CANCEL_FETCH: u8 = 4;
    /// Open a tracker socket: `[5, tracker, url]`.
    pub const TRACKER_CONNECT: u8 = 5;
    /// Send an announce on a tracker socket: `[6, tracker, infoHash, peerId, event (0
    /// none, 1 started, 2 stopped), uploaded, downloaded, offerIds, sdp…]`, ids as 20-byte
    /// arrays, `offerIds` the offers' ids end to end, one SDP per offer after it.
    pub const TRACKER_ANNOUNCE: u8 = 6;
    /// Close a tracker socket: `[7, tracker]`.
    pub const TRACKER_CLOSE: u8 = 7;
    /// Open a connection and make an offer: `[8, conn]`.
    pub const CREATE_OFFER: u8 = 8;
    /// Open a connection and answer this offer: `[9, conn, sdp]`.
    pub const ACCEPT_OFFER: u8 = 9;
    /// Apply the answer to our offer: `[10, conn, sdp]`.
    pub const ACCEPT_ANSWER: u8 = 10;
    /// Send a frame on a data channel: `[11, conn, bytes]`.
    pub const TRANSMIT: u8 = 11;
    /// Close a connection: `[12, conn]`.
    pub const CLOSE_CONN: u8 = 12;
    /// An event for the page: `[13, 0, kind, …]`, the kind one of [`event`](super::event)
    /// with its members in the order listed there.
    pub const EVENT: u8 = 13;
    /// Send an answer on a tracker socket: `[14, tracker, infoHash, peerId, toPeerId,
    /// offerId, sdp]`, ids as 20-byte arrays.
    pub const TRACKER_ANSWER: u8 = 14;
    /// Fetch the integrity sidecar and read it (`js/src/hashlist.ts`): `[15, fetch, url]`,
    /// answered with an [`input::HASHES`](super::input::HASHES).
    pub const FETCH_HASHES: u8 = 15;
}

/// The kinds of an [`input::TRACKER`]: what a tracker frame said.
pub mod tracker {
    /// The response to our announce: `interval`, `complete`, `incomplete` (`-1` absent).
    pub const ANNOUNCED: u8 = 0;
    /// Another viewer's offer: `ids` (its peer id, the offer id), `text` (the SDP).
    pub const OFFER: u8 = 1;
    /// Another viewer's answer to our offer: `ids` (its peer id, our offer id), `text`.
    pub const ANSWER: u8 = 2;
    /// `failure reason`: `text` (taken as [`UNREADABLE`] is: a tracker error).
    pub const FAILURE: u8 = 3;
    /// `warning message`: `text` (likewise).
    pub const WARNING: u8 = 4;
    /// A frame the shim could not read: `text` says why.
    pub const UNREADABLE: u8 = 5;
}

/// The kinds of [`output::EVENT`], with their members.
pub mod event {
    /// `url, source (0 cache, 1 peer, 2 CDN), bytes, ms`.
    pub const SEGMENT_LOADED: u8 = 0;
    /// `peer` (hex id).
    pub const PEER_CONNECTED: u8 = 1;
    /// `peer, reason`.
    pub const PEER_DISCONNECTED: u8 = 2;
    /// `url`.
    pub const TRACKER_CONNECTED: u8 = 3;
    /// `url, reason`.
    pub const TRACKER_ERROR: u8 = 4;
    /// `url, reason`.
    pub const PLAYLIST_ERROR: u8 = 5;
}

fn at(now_ms: f64) -> Instant {
    Instant::from_millis_f64(now_ms)
}

fn num(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

/// `n` as a JS number, or `-1` when absent.
fn opt(n: Option<u64>) -> f64 {
    n.map_or(-1.0, |n| n as f64)
}

// One function for each kind of member pushed (not the array's import calls and the
// value's release inlined at every push).

fn push_num(out: &Array, v: f64) {
    out.push(&num(v));
}

fn push_str(out: &Array, v: String) {
    out.push(&v.into());
}

fn push_bytes(out: &Array, b: &[u8]) {
    out.push(&Uint8Array::new(b));
}

/// The lines of `text`, empty ones kept (a byte loop: `str::split` brings a searcher
/// along).
fn split_lines(mut text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    loop {
        let end = hlsmesh_core::url::first_of(text, b"\n");
        out.push(&text[..end]);
        if end == text.len() {
            return out;
        }
        text = &text[end + 1..];
    }
}

/// The non-empty lines of `text` (the same byte loop as [`split_lines`], without its
/// list of slices).
fn lines(mut text: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let end = hlsmesh_core::url::first_of(text, b"\n");
        if end > 0 {
            out.push(text[..end].to_owned());
        }
        if end == text.len() {
            return out;
        }
        text = &text[end + 1..];
    }
}

/// A count from the shim, 0 when absent (negative) or not a number: what
/// `given(n).unwrap_or(0)` says, as the saturating cast says it.
fn count(n: f64) -> u64 {
    n as u64
}

/// A count from the shim, absent when negative (`-1`): the inverse of [`opt`].
fn given(n: f64) -> Option<u64> {
    (n >= 0.0).then_some(n as u64)
}

/// A 20-byte id from the shim's bytes.
fn id(bytes: Option<&[u8]>) -> Option<Id20> {
    bytes?.try_into().ok()
}

fn source_code(source: Source) -> f64 {
    match source {
        Source::Cache => 0.0,
        Source::Peer => 1.0,
        Source::Cdn => 2.0,
    }
}

/// `out` with its kind and id in front.
fn finish(out: Array, kind: u8, id: f64) -> Array {
    out.unshift(&num(id));
    out.unshift(&num(f64::from(kind)));
    out
}

/// One viewer's agent, driven by the shim.
#[wasm_bindgen]
pub struct Core {
    agent: hlsmesh_core::Agent,
}

#[wasm_bindgen]
impl Core {
    /// Creates an agent: `trackers` are the tracker URLs, one per line (the shim names
    /// the swarm with a `NAME_SWARM` input; absent, the master playlist's URL names it);
    /// `max_peers`, `cache_bytes`
    /// and `upload_bytes_per_sec` are `-1` for the defaults (no cap, for the last). The
    /// shim checks the page's options before it calls this. `seed` seeds the agent's
    /// random choices; `on_panic(message)` hears a panic before the trap (builds with
    /// panic messages only).
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        trackers: &str,
        max_peers: f64,
        cache_bytes: f64,
        integrity: bool,
        upload_bytes_per_sec: f64,
        download_only: bool,
        seed: f64,
        on_panic: Function,
    ) -> Core {
        #[cfg(not(panic = "immediate-abort"))]
        panic_hook::install(&on_panic);
        #[cfg(panic = "immediate-abort")]
        drop(on_panic);
        let config = Config {
            trackers: lines(trackers),
            swarm_id: None,
            // The defaults by their constants: no default Config built and dropped.
            max_peers: given(max_peers).map_or(DEFAULT_MAX_PEERS, |n| n.clamp(1, 64) as usize),
            cache_bytes: given(cache_bytes).map_or(DEFAULT_CACHE_BYTES, |n| n as usize),
            seed: seed as u64,
            integrity,
            upload_bytes_per_sec: given(upload_bytes_per_sec),
            download_only,
        };
        Core {
            agent: hlsmesh_core::Agent::new(config, Instant::ZERO),
        }
    }

    /// An edge event at `now_ms` (ms since the agent's start): `kind` is one of
    /// [`input`], with its id, number, text and bytes as listed there.
    pub fn input(
        &mut self,
        now_ms: f64,
        kind: u8,
        id: f64,
        n: f64,
        text: Option<String>,
        data: Option<Box<[u8]>>,
    ) {
        let text = text.unwrap_or_default();
        if kind == input::NAME_SWARM {
            return self.agent.name_swarm(at(now_ms), &text);
        }
        let input = read(kind, id, n, text, data.unwrap_or_default());
        self.agent.handle_input(at(now_ms), input);
    }

    /// The agent's next output, as an array that starts with its kind (see [`output`]).
    /// The last one of a round is always `TIMEOUT`.
    pub fn poll(&mut self) -> Array {
        let out = Array::new();
        let (kind, id) = match self.agent.poll_output() {
            Output::Timeout(when) => {
                let never = when.as_micros() == u64::MAX;
                (
                    output::TIMEOUT,
                    if never { -1.0 } else { when.as_millis_f64() },
                )
            }
            Output::Deliver {
                load,
                data,
                source,
                timing,
            } => {
                push_bytes(&out, &data);
                push_num(&out, source_code(source));
                push_num(&out, timing.as_secs_f64() * 1000.0);
                (output::DELIVER, load.0 as f64)
            }
            Output::Fail { load, reason } => {
                push_str(&out, reason);
                (output::FAIL, load.0 as f64)
            }
            Output::Fetch {
                fetch,
                url,
                range,
                from,
            } => {
                push_str(&out, url);
                push_num(&out, opt(range.map(|r| r.0)));
                push_num(&out, opt(range.map(|r| r.1)));
                push_num(&out, opt(from));
                (output::FETCH, fetch.get() as f64)
            }
            Output::FetchHashList { fetch, url } => {
                push_str(&out, url);
                (output::FETCH_HASHES, fetch.get() as f64)
            }
            Output::CancelFetch { fetch } => (output::CANCEL_FETCH, fetch.get() as f64),
            Output::TrackerConnect { tracker, url } => {
                push_str(&out, url);
                (output::TRACKER_CONNECT, tracker.get() as f64)
            }
            Output::TrackerSend { tracker, request } => match request {
                TrackerRequest::Announce {
                    info_hash,
                    peer_id,
                    event,
                    mut offers,
                    uploaded,
                    downloaded,
                } => {
                    push_bytes(&out, &info_hash);
                    push_bytes(&out, &peer_id);
                    push_num(
                        &out,
                        match event {
                            None => 0.0,
                            Some(AnnounceEvent::Started) => 1.0,
                            Some(AnnounceEvent::Stopped) => 2.0,
                        },
                    );
                    push_num(&out, uploaded as f64);
                    push_num(&out, downloaded as f64);
                    let mut ids = Vec::new();
                    for o in &offers {
                        ids.extend_from_slice(&o.offer_id);
                    }
                    push_bytes(&out, &ids);
                    // By reference: no IntoIter<OutgoingOffer> in the wasm.
                    for o in &mut offers {
                        push_str(&out, std::mem::take(&mut o.sdp));
                    }
                    (output::TRACKER_ANNOUNCE, tracker.get() as f64)
                }
                TrackerRequest::Answer {
                    info_hash,
                    peer_id,
                    to_peer,
                    offer_id,
                    sdp,
                } => {
                    // By reference: no array IntoIter in the wasm.
                    for id in &[info_hash, peer_id, to_peer, offer_id] {
                        push_bytes(&out, id);
                    }
                    push_str(&out, sdp);
                    (output::TRACKER_ANSWER, tracker.get() as f64)
                }
                _ => (output::EVENT, -1.0),
            },
            Output::TrackerClose { tracker } => (output::TRACKER_CLOSE, tracker.get() as f64),
            Output::CreateOffer { conn } => (output::CREATE_OFFER, conn.get() as f64),
            Output::AcceptOffer { conn, sdp } => {
                push_str(&out, sdp);
                (output::ACCEPT_OFFER, conn.get() as f64)
            }
            Output::AcceptAnswer { conn, sdp } => {
                push_str(&out, sdp);
                (output::ACCEPT_ANSWER, conn.get() as f64)
            }
            Output::Transmit { conn, data } => {
                push_bytes(&out, &data);
                (output::TRANSMIT, conn.get() as f64)
            }
            Output::CloseConn { conn } => (output::CLOSE_CONN, conn.get() as f64),
            Output::Event(ev) => {
                let (kind, a, b) = match ev {
                    Event::SegmentLoaded {
                        url,
                        source,
                        bytes,
                        ms,
                    } => {
                        push_num(&out, f64::from(event::SEGMENT_LOADED));
                        push_str(&out, url);
                        push_num(&out, source_code(source));
                        push_num(&out, bytes as f64);
                        push_num(&out, ms);
                        return finish(out, output::EVENT, 0.0);
                    }
                    Event::PeerConnected { peer } => (event::PEER_CONNECTED, peer, None),
                    Event::PeerDisconnected { peer, reason } => {
                        (event::PEER_DISCONNECTED, peer, Some(reason))
                    }
                    Event::TrackerConnected { url } => (event::TRACKER_CONNECTED, url, None),
                    Event::TrackerError { url, reason } => {
                        (event::TRACKER_ERROR, url, Some(reason))
                    }
                    Event::PlaylistError { url, reason } => {
                        (event::PLAYLIST_ERROR, url, Some(reason))
                    }
                    _ => return finish(out, output::EVENT, -1.0),
                };
                push_num(&out, f64::from(kind));
                push_str(&out, a);
                if let Some(b) = b {
                    push_str(&out, b);
                }
                (output::EVENT, 0.0)
            }
            // A kind this glue does not know yet: nothing to do, keep draining.
            _ => (output::EVENT, -1.0),
        };
        finish(out, kind, id)
    }

    // `&mut self` in every method, reading ones too: wasm-bindgen's glue then borrows
    // `Core` one way only (its shared-borrow path is not in the wasm). The shim never
    // calls one method inside another, so the borrow check answers the same.

    /// What the page asks of the agent, by `what` (one of [`query`]): one export for all
    /// of them, since each export costs wasm-bindgen glue on both sides.
    pub fn query(&mut self, what: u8) -> Array {
        let out = Array::new();
        match what {
            query::STATS => {
                let s = self.agent.stats();
                // By reference: no array IntoIter in the wasm.
                for n in &[
                    s.cdn_bytes,
                    s.peer_bytes,
                    s.uploaded_bytes,
                    s.cache_hits,
                    s.segments_delivered,
                    s.peer_fallbacks,
                    s.rejected_segments,
                    s.peers_demoted,
                    u64::from(s.peers),
                    u64::from(s.swarm_size),
                    u64::from(s.uplink_kbps),
                ] {
                    push_num(&out, *n as f64);
                }
            }
            // One at a time: no list of them in the wasm.
            query::PEERS => self.agent.each_peer(|p| {
                push_str(&out, p.peer);
                push_num(&out, p.bytes_from as f64);
                push_num(&out, p.bytes_to as f64);
                push_num(&out, p.bytes_per_sec);
            }),
            query::PEER_ID => push_str(&out, hlsmesh_core::hex(&self.agent.peer_id())),
            query::PANIC => panic!("hlsmesh debug panic requested"),
            _ => {}
        }
        out
    }
}

/// The playlist and hash-list kinds read natively (the browser tests drive them through
/// `Core::input`).
#[cfg(test)]
mod tests {
    use super::*;

    fn f64s(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|n| n.to_le_bytes()).collect()
    }

    #[test]
    fn a_count_is_a_given_number_or_zero() {
        for n in [
            -1.0,
            -0.5,
            0.0,
            0.7,
            3.0,
            1e30,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(count(n), given(n).unwrap_or(0), "{n}");
        }
    }

    #[test]
    fn a_master_splits_its_urls_into_variants_and_renditions() {
        let text = "https://o.test/m.m3u8\nhttps://o.test/v0.m3u8\nhttps://o.test/v1.m3u8\nhttps://o.test/a.m3u8\n";
        let Input::Playlist { url, playlist } = master(text, 2.0, &[800_000.0, -1.0]) else {
            panic!("not a playlist");
        };
        assert_eq!(url, "https://o.test/m.m3u8");
        assert_eq!(
            playlist,
            Playlist::Master(Master {
                variants: vec![
                    ("https://o.test/v0.m3u8".into(), 800_000),
                    ("https://o.test/v1.m3u8".into(), 0)
                ],
                renditions: vec!["https://o.test/a.m3u8".into()],
            })
        );
        assert!(matches!(master(text, 3.0, &[1.0, 2.0]), Input::Timeout));
        assert!(matches!(
            master("https://o.test/m.m3u8\n", 1.0, &[1.0]),
            Input::Timeout
        ));
    }

    #[test]
    fn a_media_playlist_reads_its_numbers_segment_by_segment() {
        let text =
            "https://o.test/i.m3u8\nhttps://o.test/h.txt\nhttps://o.test/a.ts\nhttps://o.test/a.ts";
        let numbers = f64s(&[2.0, 1.0, 7.0, 2.5, -1.0, -1.0, 2.0, 0.0, 100.0]);
        let Input::Playlist { url, playlist } = media(text, 2.0, &super::numbers(&numbers)) else {
            panic!("not a playlist");
        };
        assert_eq!(url, "https://o.test/i.m3u8");
        let seg = |duration, range| MediaSegment {
            url: "https://o.test/a.ts".into(),
            duration,
            range,
        };
        assert_eq!(
            playlist,
            Playlist::Media(Media {
                target_duration: 2,
                end_list: true,
                first_sn: 7,
                segments: vec![seg(2.5, None), seg(2.0, Some((0, 100)))],
                hashes: Some("https://o.test/h.txt".into()),
            })
        );
        let no_hashes = "https://o.test/i.m3u8\n\nhttps://o.test/a.ts";
        let one = super::numbers(&f64s(&[2.0, 0.0, 0.0, 2.0, -1.0, -1.0]));
        let Input::Playlist {
            playlist: Playlist::Media(m),
            ..
        } = media(no_hashes, 1.0, &one)
        else {
            panic!("not a media playlist");
        };
        assert_eq!((m.hashes, m.end_list, m.segments.len()), (None, false, 1));
        // Lines or numbers for another count of segments: not taken in.
        assert!(matches!(media(no_hashes, 2.0, &one), Input::Timeout));
        assert!(matches!(media(text, 2.0, &one), Input::Timeout));
    }

    #[test]
    fn a_hash_list_reads_numbers_then_digests_or_says_why_not() {
        let mut data = f64s(&[4.0, 100.0, 5.0, 0.0]);
        data.extend([1u8; 32]);
        data.extend([2u8; 32]);
        let list = hash_list("seg4.ts\n".into(), 2.0, &data).unwrap();
        let e = list.entries();
        assert_eq!(
            (e[0].sn, e[0].size, e[0].digest, e[0].uri.as_deref()),
            (4, 100, [1; 32], Some("seg4.ts"))
        );
        assert_eq!(
            (e[1].sn, e[1].size, e[1].digest, e[1].uri.as_deref()),
            (5, 0, [2; 32], None)
        );
        assert_eq!(hash_list("".into(), 0.0, &[]).unwrap().len(), 0);
        assert_eq!(
            hash_list("HTTP status 404".into(), -1.0, &[]).unwrap_err(),
            "HTTP status 404"
        );
        assert_eq!(
            hash_list("seg4.ts\n".into(), 2.0, &data[..data.len() - 1]).unwrap_err(),
            REFUSED
        );
        let mut unordered = f64s(&[5.0, 1.0, 4.0, 1.0]);
        unordered.extend([0u8; 64]);
        assert_eq!(
            hash_list("\n".into(), 2.0, &unordered).unwrap_err(),
            REFUSED,
            "refused as the shim would have"
        );
    }

    #[test]
    fn a_tracker_frame_reads_its_numbers_then_the_ids_the_length_says_are_there() {
        let t = TrackerId::from_index(2);
        let mut data = f64s(&[120.0, 3.0, -1.0]);
        data.extend([0xab; 20]);
        let Input::TrackerMessage {
            tracker,
            info_hash,
            message,
        } = tracker_message(t, f64::from(tracker::ANNOUNCED), String::new(), &data)
        else {
            panic!("not a tracker message");
        };
        assert_eq!((tracker, info_hash), (t, Some([0xab; 20])));
        assert_eq!(
            message,
            TrackerMessage::Announced {
                interval: Some(120),
                complete: Some(3),
                incomplete: None
            }
        );
        let offer = |rest: &[u8]| {
            let mut data = f64s(&[-1.0; 3]);
            data.extend(rest);
            match tracker_message(t, f64::from(tracker::OFFER), "v=0".into(), &data) {
                Input::TrackerMessage {
                    info_hash, message, ..
                } => (info_hash, message),
                _ => panic!("not a tracker message"),
            }
        };
        let both: Vec<u8> = [[1u8; 20], [7; 20], [9; 20]].concat();
        let want = TrackerMessage::Offer {
            peer: [7; 20],
            offer_id: [9; 20],
            sdp: "v=0".into(),
        };
        assert_eq!(offer(&both), (Some([1; 20]), want.clone()));
        assert_eq!(offer(&both[20..]), (None, want), "ids without a hash");
        // Not sent by the shim, which reads the ids itself: unreadable, as any frame of an
        // unknown kind.
        let unreadable = TrackerMessage::Unreadable("v=0".into());
        assert_eq!(offer(&both[..59]), (None, unreadable.clone()));
        assert_eq!(offer(&both[..20]).1, unreadable, "a hash and no ids");
    }
}
