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

mod options;
#[cfg(not(panic = "immediate-abort"))]
mod panic_hook;

/// The heap: a TLSF allocator (constant-time, with in-place reallocation and adjacent
/// memory growths merged; about 1.6 KB of wasm) in place of std's dlmalloc (about 8 KB).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

use hlsmesh_core::{
    Config, ConnId, FetchId, HttpResponse, Input, Instant, LoadId, Output, Playback, Source,
    TrackerId,
};
use js_sys::{Array, Function, Uint8Array};
use wasm_bindgen::prelude::*;

use options::Options;

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
    /// A tracker sent a message: `(tracker, _, text)`.
    pub const TRACKER_MESSAGE: u8 = 4;
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
    /// Send on a tracker socket: `[6, tracker, text]`.
    pub const TRACKER_SEND: u8 = 6;
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
    /// An event for the page: `[13, json]`.
    pub const EVENT: u8 = 13;
}

fn at(now_ms: f64) -> Instant {
    Instant::from_millis_f64(now_ms)
}

fn num(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

/// `n` as a JS number, or `-1` when absent.
fn opt(n: Option<u64>) -> JsValue {
    num(n.map_or(-1.0, |n| n as f64))
}

/// One viewer's agent, driven by the shim.
#[wasm_bindgen]
pub struct Core {
    agent: hlsmesh_core::Agent,
}

#[wasm_bindgen]
impl Core {
    /// Creates an agent. `options` is JSON: `{"trackers": ["wss://…"], "swarmId"?,
    /// "maxPeers"?, "cacheBytes"?, "integrity"?, "uploadBytesPerSec"?, "downloadOnly"?}`
    /// (refused with a message when malformed; other members are ignored). `seed` seeds the
    /// agent's random choices; `on_panic(message)` hears a panic before the trap.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str, seed: f64, on_panic: Function) -> Result<Core, JsError> {
        let opts = Options::parse(options).map_err(|e| JsError::new(&e))?;
        #[cfg(not(panic = "immediate-abort"))]
        panic_hook::install(&on_panic);
        #[cfg(panic = "immediate-abort")]
        drop(on_panic);
        let defaults = Config::default();
        let config = Config {
            trackers: opts.trackers,
            swarm_id: opts.swarm_id,
            max_peers: opts.max_peers.unwrap_or(defaults.max_peers).clamp(1, 64),
            cache_bytes: opts.cache_bytes.unwrap_or(defaults.cache_bytes),
            seed: seed as u64,
            integrity: opts.integrity,
            upload_bytes_per_sec: opts.upload_bytes_per_sec,
            download_only: opts.download_only,
        };
        Ok(Core {
            agent: hlsmesh_core::Agent::new(config, Instant::ZERO),
        })
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
        data: Option<Vec<u8>>,
    ) {
        let conn = ConnId::from_raw(id as u64);
        let tracker = TrackerId::from_index(id as usize);
        let fetch = FetchId::from_raw(id as u64);
        let text = text.unwrap_or_default();
        let input = match kind {
            input::HTTP_DONE => Input::HttpDone {
                fetch,
                result: Ok(HttpResponse {
                    status: n as u16,
                    body: data.unwrap_or_default().into(),
                }),
            },
            input::HTTP_FAILED => Input::HttpDone {
                fetch,
                result: Err(text),
            },
            input::TRACKER_OPEN => Input::TrackerOpen { tracker },
            input::TRACKER_MESSAGE => Input::TrackerMessage { tracker, text },
            input::TRACKER_CLOSED => Input::TrackerClosed {
                tracker,
                reason: text,
            },
            input::OFFER_CREATED => Input::OfferCreated { conn, sdp: text },
            input::ANSWER_CREATED => Input::AnswerCreated { conn, sdp: text },
            input::CHANNEL_OPEN => Input::ChannelOpen { conn },
            input::CHANNEL_MESSAGE => Input::ChannelMessage {
                conn,
                data: data.unwrap_or_default().into(),
            },
            input::CHANNEL_BUFFERED => Input::ChannelBuffered {
                conn,
                buffered: n as usize,
            },
            input::CONN_CLOSED => Input::ConnClosed { conn, reason: text },
            _ => Input::Timeout,
        };
        self.agent.handle_input(at(now_ms), input);
    }

    /// hls.js loaded a playlist.
    pub fn playlist(&mut self, now_ms: f64, url: String, text: String) {
        let text = text.into_bytes().into();
        self.agent
            .handle_input(at(now_ms), Input::Playlist { url, text });
    }

    /// Names the swarm before the first playlist (see `hlsmesh_core::Agent::name_swarm`);
    /// ignored once it is named.
    #[wasm_bindgen(js_name = nameSwarm)]
    pub fn name_swarm(&mut self, now_ms: f64, name: &str) {
        self.agent.name_swarm(at(now_ms), name);
    }

    /// hls.js asks for segment `url` (bytes `range_start..range_end` when both are
    /// given); `load` is the shim's number for it, answered by a `DELIVER` or `FAIL`.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        &mut self,
        now_ms: f64,
        load: f64,
        url: String,
        range_start: Option<f64>,
        range_end: Option<f64>,
        position: f64,
        buffered_end: f64,
        rate: f64,
    ) {
        let range = match (range_start, range_end) {
            (Some(s), Some(e)) if s >= 0.0 && e > s => Some((s as u64, e as u64)),
            _ => None,
        };
        let playback = Playback {
            position,
            buffered_end,
            rate,
        };
        let load = LoadId(load as u64);
        self.agent.handle_input(
            at(now_ms),
            Input::Load {
                load,
                url,
                range,
                playback,
            },
        );
    }

    /// hls.js gave up load `load`.
    pub fn abort(&mut self, now_ms: f64, load: f64) {
        let load = LoadId(load as u64);
        self.agent.handle_input(at(now_ms), Input::Abort { load });
    }

    /// Where the player stands.
    pub fn playback(&mut self, now_ms: f64, position: f64, buffered_end: f64, rate: f64) {
        let playback = Playback {
            position,
            buffered_end,
            rate,
        };
        self.agent
            .handle_input(at(now_ms), Input::Playback(playback));
    }

    /// The agent's next output, as an array that starts with its kind (see [`output`]).
    /// The last one of a round is always `TIMEOUT`.
    pub fn poll(&mut self) -> Array {
        let out = Array::new();
        let push = |v: JsValue| {
            out.push(&v);
        };
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
                push(Uint8Array::from(&data[..]).into());
                push(num(match source {
                    Source::Cache => 0.0,
                    Source::Peer => 1.0,
                    Source::Cdn => 2.0,
                }));
                push(num(timing.as_secs_f64() * 1000.0));
                (output::DELIVER, load.0 as f64)
            }
            Output::Fail { load, reason } => {
                push(reason.into());
                (output::FAIL, load.0 as f64)
            }
            Output::Fetch {
                fetch,
                url,
                range,
                from,
            } => {
                push(url.into());
                push(opt(range.map(|r| r.0)));
                push(opt(range.map(|r| r.1)));
                push(opt(from));
                (output::FETCH, fetch.get() as f64)
            }
            Output::CancelFetch { fetch } => (output::CANCEL_FETCH, fetch.get() as f64),
            Output::TrackerConnect { tracker, url } => {
                push(url.into());
                (output::TRACKER_CONNECT, tracker.get() as f64)
            }
            Output::TrackerSend { tracker, text } => {
                push(text.into());
                (output::TRACKER_SEND, tracker.get() as f64)
            }
            Output::TrackerClose { tracker } => (output::TRACKER_CLOSE, tracker.get() as f64),
            Output::CreateOffer { conn } => (output::CREATE_OFFER, conn.get() as f64),
            Output::AcceptOffer { conn, sdp } => {
                push(sdp.into());
                (output::ACCEPT_OFFER, conn.get() as f64)
            }
            Output::AcceptAnswer { conn, sdp } => {
                push(sdp.into());
                (output::ACCEPT_ANSWER, conn.get() as f64)
            }
            Output::Transmit { conn, data } => {
                push(Uint8Array::from(&data[..]).into());
                (output::TRANSMIT, conn.get() as f64)
            }
            Output::CloseConn { conn } => (output::CLOSE_CONN, conn.get() as f64),
            Output::Event(ev) => {
                push(ev.to_json().into());
                (output::EVENT, 0.0)
            }
            // A kind this glue does not know yet: nothing to do, keep draining.
            _ => (output::EVENT, -1.0),
        };
        out.unshift(&num(id));
        out.unshift(&num(f64::from(kind)));
        out
    }

    /// Totals as JSON (`cdnBytes`, `peerBytes`, `uploadedBytes`, `peers`, …).
    pub fn stats(&self) -> String {
        self.agent.stats().to_json()
    }

    /// The connected peers as JSON: `[{peer, bytesFrom, bytesTo, bytesPerSec}]`.
    pub fn peers(&self) -> String {
        hlsmesh_core::page::peers_to_json(&self.agent.peers())
    }

    /// Our peer id, hex.
    #[wasm_bindgen(js_name = peerId)]
    pub fn peer_id(&self) -> String {
        hlsmesh_core::hex(&self.agent.peer_id())
    }

    /// The `bufferedAmount` below which a data channel reports it drained
    /// (`bufferedAmountLowThreshold`).
    #[wasm_bindgen(js_name = sendLowWater)]
    pub fn send_low_water() -> u32 {
        hlsmesh_core::peer::SEND_LOW_WATER as u32
    }

    /// Test hook: panics inside the agent, as a bug would, to prove the page survives.
    #[wasm_bindgen(js_name = debugPanic)]
    pub fn debug_panic(&self) {
        panic!("hlsmesh debug panic requested");
    }
}
