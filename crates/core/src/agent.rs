//! The agent's facade: everything goes in as an [`Input`], everything comes out as an
//! [`Output`].
//!
//! # Drain contract
//! After every [`Agent::handle_input`], call [`Agent::poll_output`] until it returns
//! [`Output::Timeout`]; then call `handle_input(at, Input::Timeout)` at that moment (an
//! earlier or spurious call is harmless). The agent never blocks and never reads a clock.

use bytes::Bytes;
use serde::Serialize;

use crate::cache::DEFAULT_CACHE_BYTES;
use crate::integrity::HashList;
use crate::playlist::Playlist;
use crate::rng::Rng;
use crate::scheduler::Scheduler;
use crate::stats::Stats;
use crate::swarm::Swarm;
use crate::time::Instant;
use crate::tracker::messages::{TrackerMessage, TrackerRequest};
use hlsmesh_proto::Id20;

/// A player load, numbered by the embedder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoadId(pub u64);

/// A peer connection, numbered by the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub(crate) u64);

/// An HTTP fetch, numbered by the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FetchId(pub(crate) u64);

/// A tracker, by position in [`Config::trackers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackerId(pub(crate) usize);

impl ConnId {
    /// A number for logs and maps at the edge.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The id whose [`ConnId::get`] is `raw`, for embedders that carry ids through
    /// other media (a simulator's fake SDP, a log replay).
    pub fn from_raw(raw: u64) -> ConnId {
        ConnId(raw)
    }
}

impl FetchId {
    /// A number for logs and maps at the edge.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The id whose [`FetchId::get`] is `raw`, for an edge that carries ids as numbers.
    pub fn from_raw(raw: u64) -> FetchId {
        FetchId(raw)
    }
}

impl TrackerId {
    /// A number for logs and maps at the edge.
    pub fn get(self) -> usize {
        self.0
    }

    /// The tracker at position `i` in [`Config::trackers`].
    pub fn from_index(i: usize) -> TrackerId {
        TrackerId(i)
    }
}

/// Where the player stands, in media seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Playback {
    /// Current playhead.
    pub position: f64,
    /// End of the buffered range that contains the playhead.
    pub buffered_end: f64,
    /// Playback rate (1.0 normal; 0 when paused).
    pub rate: f64,
}

impl Playback {
    /// Seconds of media the player can play before it needs more.
    pub fn buffer_ahead(&self) -> f64 {
        let ahead = self.buffered_end - self.position;
        if ahead.is_finite() && ahead > 0.0 {
            ahead
        } else {
            0.0
        }
    }
}

/// Where delivered bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The agent's cache (fetched earlier from a peer or the CDN).
    Cache,
    /// A peer, over a data channel.
    Peer,
    /// The CDN, over HTTP.
    Cdn,
}

/// A finished HTTP fetch.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

/// Everything the world tells the agent.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input {
    /// Time passed; due timers fire.
    Timeout,
    /// hls.js loaded a playlist (master or media), read by the embedder
    /// ([`crate::playlist::read`] reads text; the browser's shim has its own reader).
    Playlist {
        /// Its URL after redirects.
        url: String,
        /// What it says.
        playlist: Playlist,
    },
    /// hls.js asks for a segment.
    Load {
        /// The embedder's number for this load.
        load: LoadId,
        /// The URL hls.js would fetch.
        url: String,
        /// Byte range, end exclusive, when hls.js asks for one.
        range: Option<(u64, u64)>,
        /// Where playback stands now.
        playback: Playback,
    },
    /// hls.js gave up a load.
    Abort {
        /// The load.
        load: LoadId,
    },
    /// The player moved.
    Playback(Playback),
    /// An HTTP fetch ended.
    HttpDone {
        /// Which fetch.
        fetch: FetchId,
        /// Its response, or why it failed.
        result: Result<HttpResponse, String>,
    },
    /// The integrity sidecar asked for with [`Output::FetchHashList`], fetched and read
    /// by the embedder ([`crate::integrity::HashList::parse`] reads the text; the
    /// browser's shim has its own reader), or why it could not be (an HTTP failure, or
    /// what the reader refused).
    HashListRead {
        /// Which fetch.
        fetch: FetchId,
        /// The list, or why there is none.
        list: Result<HashList, String>,
    },
    /// A tracker socket opened.
    TrackerOpen {
        /// Which tracker.
        tracker: TrackerId,
    },
    /// A tracker sent a frame, read by the edge (see [`crate::tracker::messages`]).
    TrackerMessage {
        /// Which tracker.
        tracker: TrackerId,
        /// The frame's `info_hash`, when it has one: a message for another swarm is
        /// ignored (failures, warnings and unreadable frames are reported all the same).
        info_hash: Option<Id20>,
        /// What it said.
        message: TrackerMessage,
    },
    /// A tracker socket closed or failed.
    TrackerClosed {
        /// Which tracker.
        tracker: TrackerId,
        /// Why, for the event log.
        reason: String,
    },
    /// The offer asked for with [`Output::CreateOffer`] is ready (ICE gathering complete).
    OfferCreated {
        /// The connection.
        conn: ConnId,
        /// Complete SDP.
        sdp: String,
    },
    /// The answer asked for with [`Output::AcceptOffer`] is ready.
    AnswerCreated {
        /// The connection.
        conn: ConnId,
        /// Complete SDP.
        sdp: String,
    },
    /// The data channel opened.
    ChannelOpen {
        /// The connection.
        conn: ConnId,
    },
    /// A data channel message arrived.
    ChannelMessage {
        /// The connection.
        conn: ConnId,
        /// One frame.
        data: Bytes,
    },
    /// The channel's `bufferedAmount` now (after a send, or on `bufferedamountlow`).
    ChannelBuffered {
        /// The connection.
        conn: ConnId,
        /// Bytes queued in the channel.
        buffered: usize,
    },
    /// The connection closed or failed at any stage.
    ConnClosed {
        /// The connection.
        conn: ConnId,
        /// Why, for the event log.
        reason: String,
    },
}

/// Everything the agent asks the world to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Nothing more now; wake the agent with [`Input::Timeout`] at this time.
    Timeout(Instant),
    /// Answer a player load with these bytes.
    Deliver {
        /// The load.
        load: LoadId,
        /// The segment (or requested range).
        data: Bytes,
        /// Where the bytes came from.
        source: Source,
        /// How long the player's bandwidth estimator should see this load take: the CDN
        /// path's measured time for these bytes (see the scheduler's docs).
        timing: core::time::Duration,
    },
    /// The agent cannot serve this load; the embedder loads it another way.
    Fail {
        /// The load.
        load: LoadId,
        /// Why.
        reason: String,
    },
    /// Fetch over HTTP; answer with [`Input::HttpDone`].
    Fetch {
        /// The fetch.
        fetch: FetchId,
        /// URL.
        url: String,
        /// Byte range, end exclusive; `None` means the whole resource.
        range: Option<(u64, u64)>,
        /// From this byte to the end of the resource (used when the end is unknown).
        from: Option<u64>,
    },
    /// Fetch the integrity sidecar at `url` and read it; answer with
    /// [`Input::HashListRead`].
    FetchHashList {
        /// The fetch.
        fetch: FetchId,
        /// URL.
        url: String,
    },
    /// Abandon a fetch; no [`Input::HttpDone`] or [`Input::HashListRead`] is expected
    /// for it any more.
    CancelFetch {
        /// The fetch.
        fetch: FetchId,
    },
    /// Open a WebSocket to a tracker.
    TrackerConnect {
        /// Which tracker.
        tracker: TrackerId,
        /// Its URL.
        url: String,
    },
    /// Send a request to a tracker (the edge writes it as a JSON text frame; see
    /// [`crate::tracker::messages`]).
    TrackerSend {
        /// Which tracker.
        tracker: TrackerId,
        /// What to say.
        request: TrackerRequest,
    },
    /// Close a tracker socket.
    TrackerClose {
        /// Which tracker.
        tracker: TrackerId,
    },
    /// Create a peer connection with a data channel, make an offer, gather all ICE
    /// candidates and report [`Input::OfferCreated`].
    CreateOffer {
        /// The connection.
        conn: ConnId,
    },
    /// Create a peer connection for a remote offer, answer it, gather, and report
    /// [`Input::AnswerCreated`].
    AcceptOffer {
        /// The connection.
        conn: ConnId,
        /// The remote offer.
        sdp: String,
    },
    /// Apply the remote answer to our offer.
    AcceptAnswer {
        /// The connection.
        conn: ConnId,
        /// The remote answer.
        sdp: String,
    },
    /// Send one frame on the data channel, then report [`Input::ChannelBuffered`].
    Transmit {
        /// The connection.
        conn: ConnId,
        /// The frame.
        data: Bytes,
    },
    /// Close and forget the connection.
    CloseConn {
        /// The connection.
        conn: ConnId,
    },
    /// Something worth telling the page.
    Event(Event),
}

/// What happened, for the page and its analytics.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// A segment reached the player.
    SegmentLoaded {
        /// Its URL.
        url: String,
        /// Where it came from.
        source: Source,
        /// Bytes delivered.
        bytes: u64,
        /// From the player's request to delivery.
        ms: f64,
    },
    /// A peer completed the handshake.
    PeerConnected {
        /// Peer id, hex.
        peer: String,
    },
    /// A peer went away.
    PeerDisconnected {
        /// Peer id, hex.
        peer: String,
        /// Why.
        reason: String,
    },
    /// A tracker socket opened.
    TrackerConnected {
        /// Its URL.
        url: String,
    },
    /// A tracker failed, refused or went away.
    TrackerError {
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A playlist could not be read; its segments come from the CDN.
    PlaylistError {
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// One connected peer, as [`Agent::peers`] reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    /// Peer id, hex.
    pub peer: String,
    /// Bytes received from it (all frames).
    pub bytes_from: u64,
    /// Bytes sent to it (all frames).
    pub bytes_to: u64,
    /// Its measured segment throughput, bytes per second (0 until measured).
    pub bytes_per_sec: f64,
}

/// [`Config::max_peers`] by default.
pub const DEFAULT_MAX_PEERS: usize = 12;

/// How the agent behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// WebTorrent tracker URLs (`wss://…`).
    pub trackers: Vec<String>,
    /// Names the swarm; default: the master playlist URL without its query.
    pub swarm_id: Option<String>,
    /// Most peers connected (or connecting) at once.
    pub max_peers: usize,
    /// Cache bound in bytes.
    pub cache_bytes: usize,
    /// Seed for ids and jitter.
    pub seed: u64,
    /// Fetch each media playlist's hash list (see [`crate::integrity`]) and check every
    /// segment from a peer against it; a peer whose bytes differ is banned.
    pub integrity: bool,
    /// Upload rate cap in bytes per second (`None`: no cap).
    pub upload_bytes_per_sec: Option<u64>,
    /// Take from peers, give nothing back: announce no segments, refuse every request.
    /// (The embedder sets it, e.g. on metered or cellular connections.)
    pub download_only: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            trackers: Vec::new(),
            swarm_id: None,
            max_peers: DEFAULT_MAX_PEERS,
            cache_bytes: DEFAULT_CACHE_BYTES,
            seed: 0,
            integrity: false,
            upload_bytes_per_sec: None,
            download_only: false,
        }
    }
}

/// Outputs waiting to be polled, in order: those from `next` on (a `Vec` and where
/// polling stands cost less wasm than a `VecDeque`; it empties as each drain ends).
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: Vec<Output>,
    next: usize,
}

impl Outbox {
    pub(crate) fn push(&mut self, o: Output) {
        self.queue.push(o);
    }
    pub(crate) fn event(&mut self, e: Event) {
        self.queue.push(Output::Event(e));
    }
    fn pop(&mut self) -> Option<Output> {
        let Some(o) = self.queue.get_mut(self.next) else {
            *self = Outbox::default();
            return None;
        };
        self.next += 1;
        Some(core::mem::replace(o, Output::Timeout(Instant::ZERO)))
    }
}

/// The hlsmesh agent of one viewer.
pub struct Agent {
    rng: Rng,
    swarm: Swarm,
    scheduler: Scheduler,
    out: Outbox,
    stats: Stats,
}

impl Agent {
    /// A new agent; `now` is its epoch as the embedder counts time.
    pub fn new(mut config: Config, now: Instant) -> Agent {
        let mut rng = Rng::new(config.seed);
        let mut swarm = Swarm::new(&mut config, &mut rng, now);
        if let Some(name) = &config.swarm_id {
            swarm.set_swarm_name(now, name);
        }
        Agent {
            scheduler: Scheduler::new(config.cache_bytes, config.integrity),
            swarm,
            rng,
            out: Outbox::default(),
            stats: Stats::default(),
        }
    }

    /// Our peer id, as announced to trackers.
    pub fn peer_id(&self) -> [u8; 20] {
        self.swarm.peer_id()
    }

    /// Names the swarm, as [`Config::swarm_id`] would, unless it is named already (by the
    /// config or by the first master playlist). For embedders that build the name from
    /// the first playlist's URL: call it before handing that playlist over.
    pub fn name_swarm(&mut self, now: Instant, name: &str) {
        self.swarm.set_swarm_name(now, name);
    }

    /// Totals so far.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.peers = self.swarm.ready_peers() as u32;
        s.swarm_size = self.swarm.swarm_size();
        s.uplink_kbps = self.swarm.uplink_kbps();
        s
    }

    /// The connected peers, with what moved each way and how fast they deliver.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let mut out = Vec::new();
        self.each_peer(|p| out.push(p));
        out
    }

    /// [`Agent::peers`] one at a time, without the list (the browser's glue hands each
    /// on as it comes).
    pub fn each_peer(&self, mut f: impl FnMut(PeerInfo)) {
        for (conn, s) in self.swarm.ready_sessions() {
            f(PeerInfo {
                peer: s
                    .remote_id()
                    .map(|id| crate::swarm::hex(&id))
                    .unwrap_or_default(),
                bytes_from: s.bytes_in,
                bytes_to: s.bytes_out,
                bytes_per_sec: self.scheduler.peer_bytes_per_sec(conn),
            });
        }
    }

    /// Measured CDN throughput in bytes per second (0 before the first CDN transfer).
    pub fn cdn_bytes_per_sec(&self) -> f64 {
        self.scheduler.cdn_bytes_per_sec()
    }

    /// Bytes the cache holds now.
    pub fn cache_used(&self) -> usize {
        self.scheduler.cache_used()
    }

    /// Whether the cache holds `seg` now.
    pub fn holds(&self, seg: &crate::proto::SegmentId) -> bool {
        self.scheduler.holds(seg)
    }

    /// Feeds one input. Then drain [`Agent::poll_output`].
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        let ctx = &mut Ctx {
            now,
            rng: &mut self.rng,
            out: &mut self.out,
            stats: &mut self.stats,
        };
        match input {
            Input::Timeout => {}
            Input::Playlist { url, playlist } => {
                let swarm_name =
                    self.scheduler
                        .handle_playlist(ctx, &mut self.swarm, &url, playlist);
                if let Some(name) = swarm_name {
                    self.swarm.set_swarm_name(now, &name);
                }
            }
            Input::Load {
                load,
                url,
                range,
                playback,
            } => self
                .scheduler
                .handle_load(ctx, &mut self.swarm, load, url, range, playback),
            Input::Abort { load } => self.scheduler.handle_abort(ctx, load),
            Input::Playback(p) => self.scheduler.handle_playback(p),
            Input::HttpDone { fetch, result } => {
                self.scheduler
                    .handle_http(ctx, &mut self.swarm, fetch, result)
            }
            Input::HashListRead { fetch, list } => {
                self.scheduler.handle_hash_list(ctx, fetch, list)
            }
            Input::TrackerOpen { tracker } => self.swarm.handle_tracker_open(ctx, tracker),
            Input::TrackerMessage {
                tracker,
                info_hash,
                message,
            } => self
                .swarm
                .handle_tracker_message(ctx, tracker, info_hash, message),
            Input::TrackerClosed { tracker, reason } => {
                self.swarm.handle_tracker_closed(ctx, tracker, reason)
            }
            Input::OfferCreated { conn, sdp } => self.swarm.handle_offer_created(ctx, conn, sdp),
            Input::AnswerCreated { conn, sdp } => self.swarm.handle_answer_created(ctx, conn, sdp),
            Input::ChannelOpen { conn } => {
                let have = self.scheduler.cached_ids();
                self.swarm.handle_channel_open(ctx, conn, &have)
            }
            Input::ChannelMessage { conn, data } => {
                let events = self.swarm.handle_channel_message(ctx, conn, data);
                self.scheduler
                    .handle_peer_events(ctx, &mut self.swarm, conn, events);
            }
            Input::ChannelBuffered { conn, buffered } => {
                self.swarm.handle_buffered(ctx.now, conn, buffered)
            }
            Input::ConnClosed { conn, reason } => self.swarm.handle_conn_closed(ctx, conn, reason),
        }
        self.drive(now);
    }

    /// Runs due timers and flushes what the sub-machines queued.
    fn drive(&mut self, now: Instant) {
        let ctx = &mut Ctx {
            now,
            rng: &mut self.rng,
            out: &mut self.out,
            stats: &mut self.stats,
        };
        self.swarm.handle_timeout(ctx);
        for &conn in &self.swarm.take_gone() {
            self.scheduler.handle_peer_gone(ctx, &mut self.swarm, conn);
        }
        self.scheduler.handle_timeout(ctx, &mut self.swarm);
        for &conn in &self.swarm.take_gone() {
            self.scheduler.handle_peer_gone(ctx, &mut self.swarm, conn);
        }
        self.swarm.flush(ctx);
    }

    /// The next thing to do. Ends each drain with [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop() {
            return o;
        }
        let mut at = Instant::from_micros(u64::MAX);
        self.swarm.poll_timeout(&mut at);
        self.scheduler.poll_timeout(&mut at);
        Output::Timeout(at)
    }
}

/// What every sub-machine handler gets: the time, randomness, the outbox and counters.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub rng: &'a mut Rng,
    pub out: &'a mut Outbox,
    pub stats: &'a mut Stats,
}
