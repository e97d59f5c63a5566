//! The simulated world: an event queue in virtual time, viewers' access links, the CDN,
//! the tracker and the players, around unmodified `hlsmesh_core::Agent`s.
//!
//! Cost per event is independent of the swarm size: agent wake-ups are queue entries
//! (stale ones are skipped, never searched for), links live with their two ends, and the
//! tracker samples random members without scanning the swarm.

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;
use hlsmesh_core::{
    Agent, Config, ConnId, Event, FetchId, HttpResponse, Input, Instant, LoadId, Output, Playback,
    Source, Stats, TrackerId,
};

use hlsmesh_core::playlist::Playlist;
use hlsmesh_core::proto::{Id20, Message, SegmentId, MAX_CHUNK_DATA};
use hlsmesh_core::tracker::messages::{AnnounceEvent, TrackerMessage, TrackerRequest};

use crate::player::{Loading, Player, ViewerMetrics};
use crate::queue::TimeQueue;
use crate::rng::Rng;
use crate::scenario::{Join, Scenario, TrackerPolicy};
use crate::tracker_wire;
use crate::uplink::FairShare;

/// A channel's drain goes to the agent only after a report of at least this many bytes
/// queued (`DRAIN_REPORT_MIN` in js/src/agent.ts): below it, it neither holds an upload
/// back nor measures the uplink.
const DRAIN_REPORT_MIN: u64 = 64 * 1024;
/// Tag and header length of a `Chunk` frame (tag, length, req, total, offset).
const CHUNK_TAG: u8 = 6;
const CHUNK_HEADER: usize = 17;
/// Frames up to this size on a channel with nothing queued leave without queueing
/// (control frames).
const SMALL_FRAME: u64 = 4 * 1024;
/// Live streams began this long before the run, so the window is full at the start.
const LIVE_LEAD_S: f64 = 60.0;
const BASE: &str = "http://cdn.sim/stream/";
const MASTER: &str = "http://cdn.sim/stream/master.m3u8";
const TRACKER: &str = "wss://tracker.sim";
/// Offer/answer creation (ICE gathering of host candidates).
const GATHER_US: u64 = 5_000;
/// An answer that cannot be applied (the answerer left) fails like ICE does, later.
const ICE_FAIL_US: u64 = 5_000_000;

/// Node index.
type N = u32;

/// A frame's nominal size, and of that its segment payload (chunks only).
#[derive(Clone, Copy)]
struct Nominal {
    size: u64,
    payload: u64,
}

enum Ev {
    Join(N),
    Leave(N),
    /// Agent timer; valid only if it is still the agent's wake-up.
    Wake(N, u64),
    Input(N, Box<Input>),
    /// A frame reaching a node on its end of a connection.
    Frame(N, ConnId, Bytes),
    /// The node's uplink may have finished a channel's head frame (valid only if it is
    /// still the node's `up_next`).
    UpDone(N),
    /// The other end of a connection went away.
    Closed(N, ConnId),
    /// A message reaching the tracker.
    Tracker(N, Box<TrackerRequest>),
    /// A CDN response completes.
    Http(N, FetchId),
    /// Live playlist refresh.
    Refresh(N),
    /// Player wake-up of this generation.
    Player(N, u32),
    /// The player's own CDN load (the agent failed the load, or there is none) completes.
    Fallback(N, LoadId),
    /// The shim's hold on the agent's trackers ends (2 s after the agent started) if the
    /// first frame has not ended it already.
    Release(N),
}

/// One end of an open data channel: what only a queued frame's send and the channel's
/// close read (the uplink's counters are in its [`Route`]).
struct Link {
    peer: N,
    peer_conn: ConnId,
    /// Frames waiting for the uplink, with their nominal sizes (kept here so that the
    /// uplink does not read the frames again). Not empty exactly when the link's key says
    /// frames wait on it.
    queue: VecDeque<(Bytes, Nominal)>,
    lat_us: u64,
}

/// What a frame sent on a link needs: where it goes, how long it takes, and the arrival
/// of the frame before it; and the channel's uplink counters. Held in the node beside
/// the link keys, a cache line each: most frames are small and leave at once, and the
/// uplink's bookkeeping needs only these (reading the link, in the heap, was one more
/// cache miss each).
#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct Route {
    peer: N,
    /// The peer's connection id (as the agents number them: from 1 up).
    peer_conn: u32,
    lat_us: u32,
    jitter_us: u32,
    loss: f64,
    /// Arrival of the last frame sent on it (channels are ordered).
    last_arrival: u64,
    /// Nominal bytes of the frames queued, the head frame counted whole (the channel's
    /// `bufferedAmount` is this less what of the head has left: [`buffered`]).
    queued_bytes: u64,
    /// The last `bufferedAmount` reported to the agent (the shim reports a drain only
    /// after one of at least [`DRAIN_REPORT_MIN`]).
    reported: u64,
    /// Nominal size of the head frame (0: none).
    head_size: u64,
    /// The uplink's clock at which the head frame has left ([`FairShare`]).
    finish: f64,
}

/// Links whose keys a node holds inline (a viewer has `max_peers`, 12 by default, and
/// briefly a few more); the rest spill into a `Vec`.
const INLINE_KEYS: usize = 16;

/// Each link's connection and whether frames wait on it for the uplink, in `links`
/// order, packed in a word (`conn << 1 | queued`) and held in the node itself: every
/// frame and uplink event looks its link up here, and a separate allocation was one more
/// cache miss per event at 10,000 viewers. Beside them, each link's [`Route`].
struct LinkKeys {
    len: usize,
    inline: [u64; INLINE_KEYS],
    spill: Vec<u64>,
    routes: [Route; INLINE_KEYS],
    spill_routes: Vec<Route>,
}

impl LinkKeys {
    fn new() -> LinkKeys {
        LinkKeys {
            len: 0,
            inline: [0; INLINE_KEYS],
            spill: Vec::new(),
            routes: [Route::default(); INLINE_KEYS],
            spill_routes: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn word(&self, i: usize) -> u64 {
        match i.checked_sub(INLINE_KEYS) {
            None => self.inline[i],
            Some(j) => self.spill[j],
        }
    }

    fn route(&self, i: usize) -> &Route {
        match i.checked_sub(INLINE_KEYS) {
            None => &self.routes[i],
            Some(j) => &self.spill_routes[j],
        }
    }

    fn route_mut(&mut self, i: usize) -> &mut Route {
        match i.checked_sub(INLINE_KEYS) {
            None => &mut self.routes[i],
            Some(j) => &mut self.spill_routes[j],
        }
    }

    fn word_mut(&mut self, i: usize) -> &mut u64 {
        match i.checked_sub(INLINE_KEYS) {
            None => &mut self.inline[i],
            Some(j) => &mut self.spill[j],
        }
    }

    /// Index of the link on `conn`.
    fn position(&self, conn: ConnId) -> Option<usize> {
        let key = conn.get();
        let n = self.len.min(INLINE_KEYS);
        if let Some(i) = self.inline[..n].iter().position(|w| w >> 1 == key) {
            return Some(i);
        }
        let j = self.spill.iter().position(|w| w >> 1 == key)?;
        Some(INLINE_KEYS + j)
    }

    fn queued(&self, i: usize) -> bool {
        self.word(i) & 1 == 1
    }

    fn set_queued(&mut self, i: usize, queued: bool) {
        let w = self.word_mut(i);
        *w = (*w & !1) | u64::from(queued);
    }

    fn push(&mut self, conn: ConnId, route: Route) {
        let w = conn.get() << 1;
        if self.len < INLINE_KEYS {
            self.inline[self.len] = w;
            self.routes[self.len] = route;
        } else {
            self.spill.push(w);
            self.spill_routes.push(route);
        }
        self.len += 1;
    }

    /// Removes key `i`, moving the last into its place (as `Vec::swap_remove`).
    fn swap_remove(&mut self, i: usize) {
        let last = self.len - 1;
        let w = self.word(last);
        *self.word_mut(i) = w;
        let r = *self.route(last);
        *self.route_mut(i) = r;
        if last >= INLINE_KEYS {
            self.spill.pop();
            self.spill_routes.pop();
        }
        self.len = last;
    }

    fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
        self.spill_routes.clear();
    }
}

impl Node {
    /// Index of the link on `conn`.
    fn link(&self, conn: ConnId) -> Option<usize> {
        self.keys.position(conn)
    }

    fn remove_link(&mut self, i: usize) -> Link {
        self.keys.swap_remove(i);
        self.links.swap_remove(i)
    }
}

struct FetchRec {
    fetch: FetchId,
    /// The whole segment fetched (rendition, sequence number), if it is one.
    whole: Option<(usize, u64)>,
    /// When its first byte arrives (µs).
    first: u64,
    done: u64,
    status: u16,
    body: Bytes,
}

/// A viewer. In declaration order and cache-line aligned: its agent, held inline, then
/// the fields nearly every event reads, which share two cache lines (at 10,000 viewers,
/// a run's time goes mostly to cache misses on nodes, links and agents).
#[repr(C, align(64))]
struct Node {
    /// Inline, not boxed: no pointer to chase from the node to its agent, which lies
    /// beside the node's own fields (2-3% less user time at 3,000 viewers than boxed).
    agent: Option<Agent>,
    alive: bool,
    /// Each link's connection and whether frames wait on it, in `links` order: lookups
    /// and the uplink's search for the first frame to leave read these, not the (larger)
    /// links.
    keys: LinkKeys,
    links: Vec<Link>,
    /// The uplink, shared by the channels with frames queued (their keys say which).
    up: FairShare,
    down_rate: f64,
    down_free: u64,
    /// When the agent wants its next timeout (µs; MAX: never).
    wake: u64,
    /// Time of this agent's wake-up entry in the queue (MAX: none).
    queued: u64,
    lat_us: u64,
    jitter_us: u64,
    loss: f64,
    /// Connections we answered and whose answer the offerer has not applied yet.
    answering: Vec<ConnId>,
    fetches: Vec<FetchRec>,
    player: Player,
    fallback: Option<(LoadId, u64, usize)>,
    leave_at: u64,
    stats: Stats,
    /// Trackers the agent asked to open before its player's first frame, held as the
    /// shim holds them (`HlsMesh._releaseWhenPlaying`); `None` once released. A list,
    /// where the shim keys them by id and drops one the agent closes meanwhile: an agent
    /// dials each tracker once at start and gives up on one only after 10 s, past the
    /// 2 s hold.
    held_trackers: Option<Vec<TrackerId>>,
    /// What the audience draws for this viewer, apart from the network's randomness.
    draws: ViewerDraws,
}

/// A viewer's own random draws, made when it is created from a stream of its own (the
/// run's seed and its index): who arrives when, on what access, for how long, where in a
/// VOD title, and with what agent seed is the same in every run of a seed, whatever the
/// policy does. Drawn from the run's one stream in event order, a change that moved one
/// tracker sample or one lost frame gave every later viewer another access class, and
/// two policies were compared on two audiences.
#[derive(Clone, Copy, Default)]
struct ViewerDraws {
    /// The agent's seed.
    agent_seed: u64,
    /// A VOD viewer's first segment.
    vod_start: u64,
    /// After this viewer leaves (with churn), the next viewer arrives this much later, µs.
    successor_after: u64,
}

/// Network-level totals, in nominal bytes.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Totals {
    /// Bytes the CDN served (agents' fetches, range fallbacks, players' own fallbacks).
    pub cdn_bytes: u64,
    /// Bytes of segments delivered to players.
    pub played_bytes: u64,
    /// One copy of every (rendition, segment) any player played: the CDN's minimum.
    pub distinct_bytes: u64,
    /// Segment bytes put on uplinks by peers.
    pub p2p_sent: u64,
    /// Segment bytes that reached a live receiver's channel.
    pub p2p_arrived: u64,
    /// Segment bytes the receiving agents counted as received from peers.
    pub p2p_used: u64,
    /// Protocol frames other than chunk payload (hello, have, request, chunk headers…).
    pub control_bytes: u64,
    /// Tracker messages, both directions.
    pub tracker_bytes: u64,
    /// Messages viewers sent the tracker (announces, `stopped` included, and answers),
    /// and messages it sent them (announce responses, relayed offers and answers).
    pub tracker_messages: [u64; 2],
    /// Upload capacity × time viewers were present (bytes).
    pub upload_capacity: u64,
    /// Events processed.
    pub events: u64,
    /// Agent inputs handled.
    pub agent_inputs: u64,
    /// Times an agent woken at its deadline asked to be woken again at once (a busy
    /// loop in a browser's event loop; see the closing note in docs/BENCHMARKS.md).
    pub stale_wakeups: u64,
    /// Events by kind: arrivals and departures, agent wake-ups, other agent inputs,
    /// frames, uplink events (frames leaving), closes, tracker, CDN, playlist refreshes,
    /// player.
    pub by_kind: [u64; 10],
    /// Most events queued at once.
    pub peak_queue: u64,
    /// Viewer sessions (arrivals).
    pub sessions: u64,
    /// Peer disconnect reasons the agents reported.
    pub disconnects: std::collections::BTreeMap<String, u64>,
    /// Frames delivered, by tag (index = tag: hello 1, have 2, lost 3, request 4,
    /// cancel 5, chunk 6, absent 7; 0 = other).
    pub frames_by_tag: [u64; 8],
    /// CDN segment fetches by the agents: whole segments, and the rest of a segment a
    /// peer started (HTTP Range).
    pub cdn_fetches: [u64; 2],
    /// Summed over agents: peer transfers finished from the CDN, peers demoted, queued
    ///
    pub peer_fallbacks: u64,
    /// See `peer_fallbacks`.
    pub peers_demoted: u64,
    /// Why each whole-segment CDN fetch of an agent went to the CDN.
    pub cdn_causes: CdnCauses,
}

/// Whole-segment CDN fetches of the agents, by where a copy of the segment was when the
/// fetch went out. A copy is a viewer's whose agent holds the segment in its cache (the
/// simulator asks it), found among the viewers that fetched the segment from the CDN or
/// played it.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CdnCauses {
    /// No viewer had taken a copy yet: the CDN's minimum (one per segment).
    pub first_copy: u64,
    /// No viewer holds a copy yet, but other CDN fetches of it are under way (viewers
    /// fetching a new live segment at once: one per neighbourhood, as the live-edge
    /// election has it, or more).
    pub copy_in_flight: u64,
    /// Copies were taken, but no viewer present holds one now (they left, or their
    /// caches dropped it).
    pub no_copy_online: u64,
    /// A viewer present holds a copy, and the fetcher's player has not started: the
    /// first segment of a session comes from the CDN, for time to first frame (and a
    /// newcomer has no neighbours yet).
    pub session_start: u64,
    /// A neighbour holds a copy.
    pub neighbour: u64,
    /// A viewer present holds a copy, none of the fetcher's neighbours does, and a
    /// holder is in a tracker swarm the fetcher is in (or the fetcher is in none).
    pub copy_in_swarm: u64,
    /// A viewer present holds a copy, none of the fetcher's neighbours does, and no
    /// holder is in the fetcher's tracker swarms (they are in other stretches of a VOD
    /// title).
    pub copy_elsewhere: u64,
}

/// Everything a finished run produced.
pub struct Outcome {
    /// The scenario run.
    pub scenario: Scenario,
    /// Network totals.
    pub totals: Totals,
    /// One entry per viewer session.
    pub viewers: Vec<ViewerMetrics>,
    /// Peak number of viewers present at once.
    pub peak_viewers: usize,
    /// Mean connected peers per viewer at the end of the run.
    pub mean_peers: f64,
}

/// A simulation in progress.
pub struct Sim {
    sc: Scenario,
    now: u64,
    end: u64,
    queue: TimeQueue<Ev>,
    nodes: Vec<Node>,
    /// Each node's queued uplink event (µs; MAX: none): an `UpDone` at any other time is
    /// stale. Beside the nodes, so that a stale one reads no node.
    up_next: Vec<u64>,
    /// The network's randomness: tracker samples, jitter, loss.
    rng: Rng,
    /// Seed of the audience's streams: arrivals, and each viewer's [`ViewerDraws`].
    audience: u64,
    scale: u64,
    seg_us: u64,
    /// Cumulative class weights.
    class_cdf: Vec<f64>,
    swarms: HashMap<Id20, Members>,
    peer_ids: HashMap<Id20, N>,
    bodies: HashMap<(usize, u64), Bytes>,
    /// Media playlists read once (by the core's reference reader) and given to every viewer.
    playlists: HashMap<(usize, u64), Playlist>,
    master: Playlist,
    next_load: u64,
    present: usize,
    peak: usize,
    t: Totals,
    seen: HashSet<(usize, u64)>,
    /// Per (rendition, segment), the viewers that fetched it from the CDN or played it:
    /// where to look for a copy when an agent fetches it ([`CdnCauses`]). Pruned of
    /// those that no longer hold it at each look.
    copies: HashMap<(usize, u64), Vec<N>>,
    /// The input being drained was a timeout.
    woken: bool,
    /// `HLSMESH_SIM_TRACE=<viewer>`: print that agent's inputs and outputs.
    trace: Option<N>,
}

#[derive(Default)]
struct Members {
    list: Vec<N>,
    pos: HashMap<N, usize>,
}

impl Members {
    /// The tracker's answer to an announce into this swarm: its size, as WebTorrent
    /// trackers count a viewer that reports `left: 0`.
    fn announced(&self) -> TrackerMessage {
        TrackerMessage::Announced {
            interval: Some(60),
            complete: Some(self.list.len() as u64),
            incomplete: Some(0),
        }
    }

    fn join(&mut self, n: N) {
        if !self.pos.contains_key(&n) {
            self.pos.insert(n, self.list.len());
            self.list.push(n);
        }
    }

    fn remove(&mut self, n: N) {
        if let Some(i) = self.pos.remove(&n) {
            self.list.swap_remove(i);
            if let Some(&moved) = self.list.get(i) {
                self.pos.insert(moved, i);
            }
        }
    }
}

/// Lists viewer `n` among those that took a copy of `seg` (once, if it took it twice
/// in a row).
fn took_copy(copies: &mut HashMap<(usize, u64), Vec<N>>, seg: (usize, u64), n: N) {
    let took = copies.entry(seg).or_default();
    if took.last() != Some(&n) {
        took.push(n);
    }
}

fn us(s: f64) -> u64 {
    (s * 1e6).max(0.0) as u64
}

/// A `Chunk` frame cut into the frames a browser would send for the segment it stands
/// for: payloads of at most `MAX_CHUNK_DATA` nominal bytes (`MAX_CHUNK_DATA / scale`
/// simulated ones), each a `Chunk` of the same request at its own offset.
fn split_chunk(frame: &Bytes, scale: u64) -> Vec<Bytes> {
    let Ok(Message::Chunk {
        req,
        total,
        offset,
        data,
    }) = Message::decode(frame.clone())
    else {
        return vec![frame.clone()];
    };
    let piece = (MAX_CHUNK_DATA / scale as usize).max(1);
    let mut frames = Vec::with_capacity(data.len().div_ceil(piece));
    let mut at = 0;
    while at < data.len() {
        let end = (at + piece).min(data.len());
        frames.push(
            Message::Chunk {
                req,
                total,
                offset: offset + at as u32,
                data: data.slice(at..end),
            }
            .encode(),
        );
        at = end;
    }
    frames
}

/// Nominal size of a frame: chunk payloads are carried at `scale` times their length.
fn nominal(frame: &[u8], scale: u64) -> u64 {
    if frame.first() == Some(&CHUNK_TAG) && frame.len() >= CHUNK_HEADER {
        CHUNK_HEADER as u64 + (frame.len() - CHUNK_HEADER) as u64 * scale
    } else {
        frame.len() as u64
    }
}

/// The channel's `bufferedAmount`: its queued bytes less what of its head frame has left.
fn buffered(r: &Route, up: &FairShare) -> u64 {
    if r.head_size == 0 {
        return 0;
    }
    let left = up.left(r.finish).min(r.head_size as f64);
    r.queued_bytes - (r.head_size - left.ceil() as u64)
}

impl Sim {
    /// Sets up a run: every first arrival is scheduled.
    pub fn new(sc: Scenario) -> Sim {
        let mut rng = Rng::new(sc.seed);
        let mut acc = 0.0;
        let class_cdf = sc
            .classes
            .iter()
            .map(|c| {
                acc += c.weight;
                acc
            })
            .collect();
        let mut master = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
        for (i, kbps) in sc.renditions_kbps.iter().enumerate() {
            master.push_str(&format!(
                "#EXT-X-STREAM-INF:BANDWIDTH={},CODECS=\"avc1.4d401f,mp4a.40.2\"\nv{i}/index.m3u8\n",
                (kbps * 1000.0) as u64
            ));
        }
        // The audience's draws come from a stream of their own (see `ViewerDraws`).
        let audience = rng.next_u64();
        let mut arrivals = Rng::new(audience);
        let mut sim = Sim {
            now: 0,
            end: us(sc.duration_s),
            queue: TimeQueue::new(),
            nodes: Vec::new(),
            up_next: Vec::new(),
            scale: sc.byte_scale.max(1),
            seg_us: us(sc.segment_s),
            class_cdf,
            swarms: HashMap::new(),
            peer_ids: HashMap::new(),
            bodies: HashMap::new(),
            playlists: HashMap::new(),
            master: read_playlist(MASTER, &master),
            next_load: 1,
            present: 0,
            peak: 0,
            t: Totals::default(),
            seen: HashSet::new(),
            copies: HashMap::new(),
            woken: false,
            trace: std::env::var("HLSMESH_SIM_TRACE")
                .ok()
                .and_then(|v| v.parse().ok()),
            rng: Rng::new(rng.next_u64()),
            audience,
            sc,
        };
        for _ in 0..sim.sc.viewers {
            let at = match sim.sc.join {
                Join::Steady => arrivals.unit() * sim.sc.join_over_s,
                Join::Flash => arrivals
                    .exp(sim.sc.join_over_s / 10.0)
                    .min(sim.sc.join_over_s),
            };
            sim.spawn(us(at));
        }
        sim
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.t.peak_queue = self.t.peak_queue.max(self.queue.len() as u64 + 1);
        self.queue.push(at.max(self.now), ev);
    }

    /// The random stream of the viewer with this index (see [`ViewerDraws`]).
    fn viewer_rng(&self, index: usize) -> Rng {
        let mut mix = Rng::new(self.audience ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng::new(mix.next_u64())
    }

    /// Creates a viewer that arrives at `at`.
    fn spawn(&mut self, at: u64) {
        let mut r = self.viewer_rng(self.nodes.len());
        let x = r.unit() * self.class_cdf.last().copied().unwrap_or(1.0);
        let class = self
            .class_cdf
            .iter()
            .position(|&c| x < c)
            .unwrap_or(self.class_cdf.len() - 1);
        let c = &self.sc.classes[class];
        let leave_at = if self.sc.session_mean_s > 0.0 {
            at + us(r.exp(self.sc.session_mean_s))
        } else {
            u64::MAX
        };
        let player = Player {
            level: self.sc.start_level.min(self.sc.renditions_kbps.len() - 1),
            m: ViewerMetrics {
                class,
                joined_s: at as f64 / 1e6,
                ..ViewerMetrics::default()
            },
            ..Player::default()
        };
        let node = Node {
            agent: None,
            alive: false,
            up: FairShare::new(c.up_kbps * 1000.0 / 8.0 / 1e6),
            down_rate: c.down_kbps * 1000.0 / 8.0 / 1e6,
            lat_us: us(c.latency_ms / 1000.0),
            jitter_us: us(c.jitter_ms / 1000.0),
            loss: c.loss,
            wake: u64::MAX,
            queued: u64::MAX,
            keys: LinkKeys::new(),
            links: Vec::new(),
            answering: Vec::new(),
            down_free: 0,
            fetches: Vec::new(),
            player,
            fallback: None,
            leave_at,
            stats: Stats::default(),
            held_trackers: Some(Vec::new()),
            draws: ViewerDraws {
                agent_seed: r.next_u64(),
                vod_start: if r.unit() < self.sc.vod_seek {
                    r.below(self.sc.vod_segments)
                } else {
                    0
                },
                successor_after: us(r.exp(2.0)),
            },
        };
        let n = self.nodes.len() as N;
        self.nodes.push(node);
        self.up_next.push(u64::MAX);
        self.t.sessions += 1;
        self.push(at, Ev::Join(n));
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> Outcome {
        let mut same = 0u64;
        while let Some(e) = self.queue.pop() {
            if e.at > self.end {
                break;
            }
            if e.at == self.now {
                same += 1;
                if same == LIVELOCK_EVENTS {
                    panic!(
                        "livelock: {same} events at t = {} µs, the last {}",
                        self.now,
                        describe(&e.item)
                    );
                }
            } else {
                same = 0;
            }
            self.now = e.at;
            self.t.events += 1;
            self.t.by_kind[kind(&e.item)] += 1;
            self.dispatch(e.item);
        }
        self.now = self.end;
        for n in 0..self.nodes.len() as N {
            if self.nodes[n as usize].alive {
                self.leave(n, false);
            }
        }
        let live: Vec<&Node> = self.nodes.iter().collect();
        let peers: f64 = live.iter().map(|n| n.stats.peers as f64).sum();
        let mean_peers = peers / live.len().max(1) as f64;
        for node in &self.nodes {
            self.t.peer_fallbacks += node.stats.peer_fallbacks;
            self.t.peers_demoted += node.stats.peers_demoted;
        }
        self.t.p2p_used = self
            .nodes
            .iter()
            .map(|n| n.stats.peer_bytes * self.scale)
            .sum();
        Outcome {
            viewers: self.nodes.iter().map(|n| n.player.m.clone()).collect(),
            totals: self.t,
            peak_viewers: self.peak,
            mean_peers,
            scenario: self.sc,
        }
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Join(n) => self.join(n),
            Ev::Leave(n) => {
                if self.nodes[n as usize].alive {
                    self.leave(n, true)
                }
            }
            Ev::Wake(n, at) => {
                let node = &mut self.nodes[n as usize];
                if node.queued != at {
                    return;
                }
                node.queued = u64::MAX;
                if node.wake <= self.now {
                    node.wake = u64::MAX;
                    self.input(n, Input::Timeout);
                } else if node.wake <= self.end {
                    // The agent moved its wake-up later since this entry was queued.
                    let wake = node.wake;
                    node.queued = wake;
                    self.push(wake, Ev::Wake(n, wake));
                }
            }
            Ev::Input(n, input) => self.input(n, *input),
            Ev::Frame(n, conn, data) => self.frame_arrives(n, conn, data),
            Ev::UpDone(n) => {
                if self.up_next[n as usize] == self.now {
                    self.up_next[n as usize] = u64::MAX;
                    self.up_done(n);
                }
            }
            Ev::Closed(n, conn) => {
                let node = &mut self.nodes[n as usize];
                if !node.alive {
                    return;
                }
                if let Some(i) = node.link(conn) {
                    self.drop_link(n, i);
                }
                let node = &mut self.nodes[n as usize];
                node.answering.retain(|c| *c != conn);
                self.input(
                    n,
                    Input::ConnClosed {
                        conn,
                        reason: "peer gone".into(),
                    },
                );
            }
            Ev::Tracker(n, request) => self.tracker(n, *request),
            Ev::Http(n, fetch) => {
                let node = &mut self.nodes[n as usize];
                let Some(i) = node.fetches.iter().position(|f| f.fetch == fetch) else {
                    return;
                };
                let rec = node.fetches.swap_remove(i);
                self.t.cdn_bytes += rec.body.len() as u64 * self.scale;
                self.input(
                    n,
                    Input::HttpDone {
                        fetch,
                        result: Ok(HttpResponse {
                            status: rec.status,
                            body: rec.body,
                        }),
                    },
                );
            }
            Ev::Refresh(n) => self.refresh(n),
            Ev::Player(n, gen) => {
                if self.nodes[n as usize].player.gen == gen {
                    self.player_step(n);
                }
            }
            Ev::Release(n) => self.release_trackers(n),
            Ev::Fallback(n, load) => {
                let node = &mut self.nodes[n as usize];
                if let Some((l, nominal, _)) = node.fallback {
                    if l == load && node.alive {
                        node.fallback = None;
                        node.player.m.fallbacks += u32::from(self.sc.p2p);
                        self.delivered(n, load, nominal, None);
                    }
                }
            }
        }
    }

    // ---- viewers ---------------------------------------------------------------------

    fn join(&mut self, n: N) {
        if self.sc.p2p {
            let seed = self.nodes[n as usize].draws.agent_seed;
            let config = Config {
                trackers: vec![TRACKER.into()],
                max_peers: self.sc.max_peers,
                cache_bytes: self.cache_bytes(),
                seed,
                ..Config::default()
            };
            let agent = Agent::new(config, Instant::from_micros(self.now));
            self.peer_ids.insert(agent.peer_id(), n);
            self.nodes[n as usize].agent = Some(agent);
        }
        let cdn_rtt = 2 * us(self.sc.cdn_latency_ms / 1000.0);
        let node = &mut self.nodes[n as usize];
        node.alive = true;
        node.player.m.joined_s = self.now as f64 / 1e6;
        let leave_at = node.leave_at;
        self.present += 1;
        self.peak = self.peak.max(self.present);
        // Master, then the media playlist: two round trips before the first load.
        self.push(self.now + 2 * cdn_rtt, Ev::Refresh(n));
        if leave_at < self.end {
            self.push(leave_at, Ev::Leave(n));
        }
    }

    fn cache_bytes(&self) -> usize {
        let top = self.sc.renditions_kbps.iter().cloned().fold(0.0, f64::max);
        let seg = top * 1000.0 / 8.0 * self.sc.segment_s * 1.1 / self.scale as f64;
        (seg * self.sc.cache_segments as f64) as usize
    }

    fn leave(&mut self, n: N, replace: bool) {
        let now = self.now;
        let node = &mut self.nodes[n as usize];
        node.alive = false;
        if let Some(agent) = node.agent.take() {
            node.stats = agent.stats();
            self.peer_ids.remove(&agent.peer_id());
        }
        let links = std::mem::take(&mut node.links);
        node.keys.clear();
        let fetches = std::mem::take(&mut node.fetches);
        node.answering.clear();
        node.up.clear();
        self.up_next[n as usize] = u64::MAX;
        node.wake = u64::MAX;
        node.queued = u64::MAX;
        node.fallback = None;
        let p = &mut node.player;
        if let Some(since) = p.stall_since.take() {
            p.m.stall_s += now.saturating_sub(since) as f64 / 1e6;
        }
        p.gen += 1;
        p.account(now);
        p.m.left_s = now as f64 / 1e6;
        let up = node.up.rate();
        let session = now.saturating_sub(us(p.m.joined_s));
        self.t.upload_capacity += (up * session as f64) as u64;
        for l in links {
            self.push(now + l.lat_us, Ev::Closed(l.peer, l.peer_conn));
        }
        for f in fetches {
            self.t.cdn_bytes += self.partial(&f);
        }
        for m in self.swarms.values_mut() {
            m.remove(n);
        }
        self.present -= 1;
        if replace && self.sc.session_mean_s > 0.0 {
            let at = now + self.nodes[n as usize].draws.successor_after;
            if at < self.end {
                self.spawn(at);
            }
        }
    }

    /// Bytes a CDN response had delivered by now (for cancelled or abandoned fetches).
    fn partial(&self, f: &FetchRec) -> u64 {
        let total = f.body.len() as u64 * self.scale;
        if self.now >= f.done {
            return total;
        }
        if self.now <= f.first || f.done <= f.first {
            return 0;
        }
        (total as f64 * (self.now - f.first) as f64 / (f.done - f.first) as f64) as u64
    }

    fn live_newest(&self, now: u64) -> u64 {
        let t = now as f64 / 1e6 + LIVE_LEAD_S;
        ((t / self.sc.segment_s).floor() as u64).saturating_sub(1)
    }

    fn media_playlist(&mut self, level: usize, newest: u64) -> Playlist {
        let key = (level, if self.sc.live { newest } else { u64::MAX });
        if let Some(t) = self.playlists.get(&key) {
            return t.clone();
        }
        let (first, last) = if self.sc.live {
            (newest.saturating_sub(self.sc.window - 1), newest)
        } else {
            (0, self.sc.vod_segments - 1)
        };
        let td = self.sc.segment_s.ceil() as u64;
        let mut s = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{td}\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
        );
        if !self.sc.live {
            s.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
        }
        for sn in first..=last {
            s.push_str(&format!("#EXTINF:{:.3},\nseg{sn}.ts\n", self.sc.segment_s));
        }
        if !self.sc.live {
            s.push_str("#EXT-X-ENDLIST\n");
        }
        let playlist = read_playlist(&url_of(level, None), &s);
        self.playlists.insert(key, playlist.clone());
        playlist
    }

    fn give_playlist(&mut self, n: N, level: usize) {
        let newest = self.live_newest(self.now);
        let playlist = self.media_playlist(level, newest);
        let node = &mut self.nodes[n as usize];
        node.player.known_last = if self.sc.live {
            newest
        } else {
            self.sc.vod_segments - 1
        };
        self.input(
            n,
            Input::Playlist {
                url: url_of(level, None),
                playlist,
            },
        );
    }

    fn refresh(&mut self, n: N) {
        if !self.nodes[n as usize].alive {
            return;
        }
        let first = !self.nodes[n as usize].player.ready;
        if first {
            let master = self.master.clone();
            self.input(
                n,
                Input::Playlist {
                    url: MASTER.into(),
                    playlist: master,
                },
            );
        }
        let level = self.nodes[n as usize].player.level;
        self.give_playlist(n, level);
        let node = &mut self.nodes[n as usize];
        let vod_start = node.draws.vod_start;
        let p = &mut node.player;
        if first {
            p.ready = true;
            p.next_sn = if self.sc.live {
                p.known_last
                    .saturating_sub(self.sc.live_sync_count.saturating_sub(1))
            } else {
                vod_start
            };
        }
        if self.sc.live {
            let at = self.now + self.seg_us;
            self.push(at, Ev::Refresh(n));
        }
        self.player_step(n);
    }

    fn player_step(&mut self, n: N) {
        let now = self.now;
        let sc = &self.sc;
        let node = &mut self.nodes[n as usize];
        if !node.alive {
            return;
        }
        let p = &mut node.player;
        if !sc.live
            && p.started
            && p.next_sn >= sc.vod_segments
            && p.loading.is_none()
            && p.position(now) >= p.buffered_end - 1e-6
        {
            // The title ended: the viewer leaves (and, with churn, someone else comes).
            // The same test as a stall's (a wake-up rounded to the µs can leave a
            // microsecond of buffer: not ended, yet dry, was a stall to the end).
            p.finished = true;
            self.leave(n, true);
            return;
        }
        if p.check_stall(now) {
            if let Some(level) = p.abr_stall(sc) {
                self.give_playlist(n, level);
            }
        }
        if self.nodes[n as usize].player.wants_load(now, &self.sc) {
            self.start_load(n);
        }
        let p = &mut self.nodes[n as usize].player;
        let mut next = u64::MAX;
        if let Some(t) = p.empty_at() {
            next = next.min(t.max(now + 1));
        }
        if p.started && p.loading.is_none() && p.next_sn <= p.known_last && p.playing {
            let low = p.buffered_end - self.sc.max_buffer_s;
            let t = p.anchor_t + us(low - p.anchor_pos);
            next = next.min(t.max(now + 1));
        }
        p.gen += 1;
        let gen = p.gen;
        if next < self.end {
            self.push(next, Ev::Player(n, gen));
        }
    }

    fn start_load(&mut self, n: N) {
        let now = self.now;
        let id = LoadId(self.next_load);
        self.next_load += 1;
        let p = &mut self.nodes[n as usize].player;
        let sn = p.next_sn;
        let level = p.level;
        let position = p.position(now);
        let playback = Playback {
            position,
            buffered_end: if p.started { p.buffered_end } else { position },
            rate: if p.playing { 1.0 } else { 0.0 },
        };
        if self.sc.live {
            let edge = now as f64 / 1e6 + LIVE_LEAD_S;
            let pos = if p.started {
                position
            } else {
                sn as f64 * self.sc.segment_s
            };
            p.m.latency_sum += edge - pos;
            p.m.latency_n += 1;
        }
        p.loading = Some(Loading {
            id,
            sn,
            level,
            since: now,
        });
        if !self.sc.p2p {
            // Plain hls.js: the player's own CDN load.
            self.player_cdn_load(n, id, level, sn);
            return;
        }
        self.input(
            n,
            Input::Load {
                load: id,
                url: url_of(level, Some(sn)),
                range: None,
                playback,
            },
        );
    }

    /// Load `load` of node `n` delivered `nominal` bytes: by the agent, from a source and
    /// shown to hls.js as taking a time (`by_agent`), or by the player's own CDN load
    /// (None). The shown time is the delivery's `timing`, µs; when it is 0 the shim
    /// reports the real time, as `js/src/index.ts` does. The ABR samples that, as hls.js
    /// samples the loader's stats.
    fn delivered(&mut self, n: N, load: LoadId, nominal: u64, by_agent: Option<(Source, u64)>) {
        let now = self.now;
        let node = &mut self.nodes[n as usize];
        let Some(l) = node.player.loading else {
            return;
        };
        if l.id != load {
            return;
        }
        node.player.loading = None;
        let p = &mut node.player;
        match by_agent {
            Some((Source::Peer, _)) => p.m.bytes_peer += nominal,
            Some((Source::Cache, _)) => p.m.bytes_cache += nominal,
            _ => p.m.bytes_cdn += nominal,
        }
        self.t.played_bytes += nominal;
        if self.seen.insert((l.level, l.sn)) {
            self.t.distinct_bytes += nominal;
        }
        took_copy(&mut self.copies, (l.level, l.sn), n);
        p.on_segment(now, l.sn, self.sc.segment_s);
        let first_frame = p.m.ttff_ms.is_none();
        if first_frame {
            p.m.ttff_ms = Some((now as f64 / 1e6 - p.m.joined_s) * 1000.0);
        }
        let began = match by_agent {
            Some((_, shown)) if shown > 0 => now.saturating_sub(shown),
            _ => l.since,
        };
        let switched = p.abr(now, nominal, began, &self.sc);
        if let Some(level) = switched {
            // hls.js loads the new rendition's playlist before its segments.
            self.give_playlist(n, level);
        }
        let p = &mut self.nodes[n as usize].player;
        p.gen += 1;
        let gen = p.gen;
        self.push(now, Ev::Player(n, gen));
        if first_frame {
            self.release_trackers(n);
        }
    }

    /// Opens the trackers the agent asked for before its first frame (once: later
    /// connections open at once, as the shim's are).
    fn release_trackers(&mut self, n: N) {
        let node = &mut self.nodes[n as usize];
        if !node.alive {
            return;
        }
        for tracker in node.held_trackers.take().unwrap_or_default() {
            self.open_tracker(n, tracker);
        }
    }

    /// A tracker's WebSocket opens two latencies after it is dialled.
    fn open_tracker(&mut self, n: N, tracker: TrackerId) {
        let at = self.now + 2 * us(self.sc.tracker_latency_ms / 1000.0);
        self.push(at, Ev::Input(n, Box::new(Input::TrackerOpen { tracker })));
    }

    // ---- the agent -------------------------------------------------------------------

    fn input(&mut self, n: N, input: Input) {
        let now = Instant::from_micros(self.now);
        let Some(agent) = self.nodes[n as usize].agent.as_mut() else {
            return;
        };
        self.t.agent_inputs += 1;
        if self.trace == Some(n) {
            eprintln!("{:>12} {n} <- {input:?}", self.now);
        }
        let timeout = matches!(input, Input::Timeout);
        agent.handle_input(now, input);
        self.woken = timeout;
        self.drain(n);
    }

    fn drain(&mut self, n: N) {
        loop {
            let Some(agent) = self.nodes[n as usize].agent.as_mut() else {
                return;
            };
            let out = agent.poll_output();
            if self.trace == Some(n) {
                eprintln!("{:>12} {n} -> {out:?}", self.now);
            }
            match out {
                Output::Timeout(at) => {
                    let mut at = at.as_micros();
                    if self.woken && at <= self.now {
                        // Woken at its deadline, the agent asks again for a time not
                        // later than now: a busy loop in a real event loop. Counted and
                        // retried a millisecond later.
                        self.t.stale_wakeups += 1;
                        at = self.now + 1_000;
                    }
                    // One queue entry per agent at most, at its earliest wake-up: a
                    // later wake-up is queued when that entry comes due.
                    let node = &mut self.nodes[n as usize];
                    node.wake = at;
                    if at < node.queued && at <= self.end {
                        node.queued = at;
                        self.push(at, Ev::Wake(n, at));
                    }
                    return;
                }
                out => self.carry_out(n, out),
            }
        }
    }

    fn carry_out(&mut self, n: N, out: Output) {
        let now = self.now;
        let scale = self.scale;
        match out {
            Output::Deliver {
                load,
                data,
                source,
                timing,
            } => {
                let shown = u64::try_from(timing.as_micros()).unwrap_or(u64::MAX);
                let nominal = data.len() as u64 * scale;
                self.delivered(n, load, nominal, Some((source, shown)));
            }
            Output::Fail { load, .. } => {
                // The shim hands the load to hls.js's own loader: a plain CDN fetch.
                let node = &self.nodes[n as usize];
                let Some(l) = node.player.loading.filter(|l| l.id == load) else {
                    return;
                };
                self.player_cdn_load(n, load, l.level, l.sn);
            }
            Output::Fetch {
                fetch,
                url,
                range,
                from,
            } => {
                let mut whole = None;
                let (status, body) = match parse_segment_url(&url) {
                    Some((level, sn)) => {
                        let rest = usize::from(range.is_some() || from.is_some());
                        self.t.cdn_fetches[rest] += 1;
                        if rest == 0 {
                            self.count_cdn_cause(n, level, sn);
                            took_copy(&mut self.copies, (level, sn), n);
                            whole = Some((level, sn));
                        }
                        let body = self.body(level, sn);
                        match (range, from) {
                            (Some((s, e)), _) => (
                                206,
                                body.slice(
                                    (s as usize).min(body.len())..(e as usize).min(body.len()),
                                ),
                            ),
                            (None, Some(s)) => (206, body.slice((s as usize).min(body.len())..)),
                            (None, None) => (200, body),
                        }
                    }
                    None => (404, Bytes::new()),
                };
                let (first, done) = self.cdn_schedule(n, body.len() as u64 * scale);
                self.nodes[n as usize].fetches.push(FetchRec {
                    fetch,
                    whole,
                    first,
                    done,
                    status,
                    body,
                });
                self.push(done, Ev::Http(n, fetch));
            }
            Output::CancelFetch { fetch } => {
                let node = &mut self.nodes[n as usize];
                if let Some(i) = node.fetches.iter().position(|f| f.fetch == fetch) {
                    let f = node.fetches.swap_remove(i);
                    if node.down_free == f.done {
                        node.down_free = now;
                    }
                    self.t.cdn_bytes += self.partial(&f);
                }
            }
            Output::TrackerConnect { tracker, .. } => {
                let node = &mut self.nodes[n as usize];
                match &mut node.held_trackers {
                    Some(held) => {
                        held.push(tracker);
                        if held.len() == 1 {
                            let until = us(node.player.m.joined_s + TRACKER_HOLD_S);
                            self.push(until.max(now), Ev::Release(n));
                        }
                    }
                    None => self.open_tracker(n, tracker),
                }
            }
            Output::TrackerSend { request, .. } => {
                self.t.tracker_bytes += tracker_wire::request_len(&request);
                self.t.tracker_messages[0] += 1;
                let at = now + us(self.sc.tracker_latency_ms / 1000.0);
                self.push(at, Ev::Tracker(n, Box::new(request)));
            }
            Output::CreateOffer { conn } => {
                let sdp = format!("o {n} {}", conn.get());
                self.push(
                    now + GATHER_US,
                    Ev::Input(n, Box::new(Input::OfferCreated { conn, sdp })),
                );
            }
            Output::AcceptOffer { conn, sdp } => {
                self.nodes[n as usize].answering.push(conn);
                let sdp = format!("a {n} {} {sdp}", conn.get());
                self.push(
                    now + GATHER_US,
                    Ev::Input(n, Box::new(Input::AnswerCreated { conn, sdp })),
                );
            }
            Output::AcceptAnswer { conn, sdp } => self.link(n, conn, &sdp),
            Output::Transmit { conn, data } => self.transmit(n, conn, data),
            Output::CloseConn { conn } => {
                let node = &mut self.nodes[n as usize];
                node.answering.retain(|c| *c != conn);
                if let Some(i) = node.link(conn) {
                    let l = self.drop_link(n, i);
                    self.push(now + l.lat_us, Ev::Closed(l.peer, l.peer_conn));
                }
            }
            Output::Event(Event::PeerDisconnected { reason, .. }) => {
                let key: String = reason.chars().take(48).collect();
                *self.t.disconnects.entry(key).or_default() += 1;
            }
            _ => {}
        }
    }

    /// Counts why viewer `n`'s agent fetches segment `sn` of rendition `level` from the
    /// CDN ([`CdnCauses`]).
    fn count_cdn_cause(&mut self, n: N, level: usize, sn: u64) {
        let c = &mut self.t.cdn_causes;
        let Some(took) = self.copies.get_mut(&(level, sn)) else {
            c.first_copy += 1;
            return;
        };
        let seg = SegmentId {
            variant: level as u16,
            sn,
        };
        let nodes = &self.nodes;
        let holds = |m: N| {
            nodes[m as usize]
                .agent
                .as_ref()
                .is_some_and(|a| a.holds(&seg))
        };
        let fetching = |m: N| {
            let whole = Some((level, sn));
            nodes[m as usize].fetches.iter().any(|f| f.whole == whole)
        };
        // The latest copies first: the likeliest to be held still.
        let Some(holder) = took.iter().rev().copied().find(|&m| m != n && holds(m)) else {
            // Those that left or dropped it will not hold it again unless they take a
            // new copy, which lists them anew.
            took.retain(|&m| holds(m) || fetching(m));
            match took.iter().any(|&m| m != n) {
                true => c.copy_in_flight += 1,
                false => c.no_copy_online += 1,
            }
            return;
        };
        let node = &nodes[n as usize];
        if !node.player.started {
            c.session_start += 1;
        } else if node.links.iter().any(|l| holds(l.peer)) {
            c.neighbour += 1;
        } else {
            let swarms: Vec<&Members> = self
                .swarms
                .values()
                .filter(|s| s.pos.contains_key(&n))
                .collect();
            let in_swarm = |m: N| swarms.iter().any(|s| s.pos.contains_key(&m));
            let mut holders = took.iter().copied().filter(|&m| m != n && holds(m));
            match swarms.is_empty() || in_swarm(holder) || holders.any(in_swarm) {
                true => c.copy_in_swarm += 1,
                false => c.copy_elsewhere += 1,
            }
        }
    }

    /// Segment body at its simulated (scaled) size; sizes vary ±10% around the bitrate.
    fn body(&mut self, level: usize, sn: u64) -> Bytes {
        if let Some(b) = self.bodies.get(&(level, sn)) {
            return b.clone();
        }
        let kbps = self
            .sc
            .renditions_kbps
            .get(level)
            .copied()
            .unwrap_or(1000.0);
        let h = (sn.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ level as u64).rotate_left(17) % 1000;
        let nominal = kbps * 1000.0 / 8.0 * self.sc.segment_s * (0.9 + 0.2 * h as f64 / 1000.0);
        let len = ((nominal / self.scale as f64) as usize).max(1);
        let b = Bytes::from(vec![(sn as u8) ^ (level as u8); len]);
        self.bodies.insert((level, sn), b.clone());
        b
    }

    /// The player's own CDN load of segment `sn` of rendition `level` (hls.js's loader:
    /// the agent failed the load, or there is no agent).
    fn player_cdn_load(&mut self, n: N, load: LoadId, level: usize, sn: u64) {
        let nominal = self.body(level, sn).len() as u64 * self.scale;
        let (_, done) = self.cdn_schedule(n, nominal);
        self.t.cdn_bytes += nominal;
        self.nodes[n as usize].fallback = Some((load, nominal, level));
        self.push(done, Ev::Fallback(n, load));
    }

    /// A CDN response of `nominal` bytes to viewer `n` asked for now: when its first byte
    /// and its last arrive (µs).
    fn cdn_schedule(&mut self, n: N, nominal: u64) -> (u64, u64) {
        let mut first = self.now + 2 * us(self.sc.cdn_latency_ms / 1000.0);
        if self.sc.cdn_jitter_ms > 0.0 {
            // Drawn only with jitter on: runs without it take the draws they took before.
            first += us(self.rng.exp(self.sc.cdn_jitter_ms / 1000.0));
        }
        let node = &mut self.nodes[n as usize];
        let rate = (self.sc.cdn_kbps * 1000.0 / 8.0 / 1e6).min(node.down_rate);
        let done = (first + (nominal as f64 / rate) as u64)
            .max(node.down_free + (nominal as f64 / node.down_rate) as u64);
        node.down_free = done;
        (first, done)
    }

    // ---- links -----------------------------------------------------------------------

    fn link(&mut self, n: N, conn: ConnId, sdp: &str) {
        // "a <answerer> <answerer conn> o <offerer> <offerer conn>"
        let mut it = sdp.split(' ');
        let (Some("a"), Some(b), Some(bc)) = (it.next(), it.next(), it.next()) else {
            return;
        };
        let (Ok(b), Ok(bc)) = (b.parse::<N>(), bc.parse::<u64>()) else {
            return;
        };
        let bconn = ConnId::from_raw(bc);
        let ok = (b as usize) < self.nodes.len()
            && self.nodes[b as usize].alive
            && self.nodes[b as usize].answering.contains(&bconn);
        if !ok {
            self.push(self.now + ICE_FAIL_US, Ev::Closed(n, conn));
            return;
        }
        self.nodes[b as usize].answering.retain(|c| *c != bconn);
        let (na, nb) = (&self.nodes[n as usize], &self.nodes[b as usize]);
        let lat = na.lat_us + nb.lat_us;
        let jitter = na.jitter_us + nb.jitter_us;
        let loss = na.loss + nb.loss;
        let mk = |peer, peer_conn| Link {
            peer,
            peer_conn,
            queue: VecDeque::new(),
            lat_us: lat,
        };
        let small = |x: u64| u32::try_from(x).expect("fits in 32 bits");
        for (x, conn, peer, peer_conn) in [(n, conn, b, bconn), (b, bconn, n, conn)] {
            let node = &mut self.nodes[x as usize];
            node.links.push(mk(peer, peer_conn));
            let route = Route {
                peer,
                peer_conn: small(peer_conn.get()),
                lat_us: small(lat),
                jitter_us: small(jitter),
                loss,
                ..Route::default()
            };
            node.keys.push(conn, route);
        }
        // DTLS and SCTP handshakes: about two round trips.
        let at = self.now + 4 * lat;
        self.push(at, Ev::Input(n, Box::new(Input::ChannelOpen { conn })));
        self.push(
            at,
            Ev::Input(b, Box::new(Input::ChannelOpen { conn: bconn })),
        );
    }

    fn transmit(&mut self, n: N, conn: ConnId, data: Bytes) {
        let now = self.now;
        let Some(i) = self.nodes[n as usize].link(conn) else {
            return;
        };
        let nom = nominal(&data, self.scale);
        if self.sc.browser_chunks
            && nom > CHUNK_HEADER as u64 + MAX_CHUNK_DATA as u64
            && data.first() == Some(&CHUNK_TAG)
        {
            // The core sends a scaled segment in one chunk; a browser's channel carries
            // the segment it stands for in chunks of at most `MAX_CHUNK_DATA` (eight for
            // a 2 s segment at 2 Mb/s), and a receiver that cancels keeps those that
            // arrived: the CDN then fetches only the rest.
            for piece in split_chunk(&data, self.scale) {
                let size = self.account(&piece, nominal(&piece, self.scale));
                self.enqueue(n, i, piece, size);
            }
        } else if !self.nodes[n as usize].keys.queued(i) && nom <= SMALL_FRAME {
            // A small frame on a channel with nothing queued leaves at once: no queue, no
            // event (`FairShare::send_small`). The channel's buffer is what it was, so the
            // report is skipped too (the core's own count runs ahead by the frame's few
            // bytes until the next report; a third of all agent inputs otherwise).
            let size = self.account(&data, nom);
            let depart = self.nodes[n as usize].up.send_small(now, nom);
            self.send_frame(n, i, data, size, depart);
            return;
        } else {
            let size = self.account(&data, nom);
            self.enqueue(n, i, data, size);
        }
        let node = &mut self.nodes[n as usize];
        let r = node.keys.route_mut(i);
        let buffered = buffered(r, &node.up);
        r.reported = buffered;
        self.schedule_up(n);
        // `bufferedAmount` right after the send, as the wasm layer reports it.
        let now = Instant::from_micros(self.now);
        if let Some(agent) = self.nodes[n as usize].agent.as_mut() {
            self.t.agent_inputs += 1;
            agent.handle_input(
                now,
                Input::ChannelBuffered {
                    conn,
                    buffered: buffered as usize,
                },
            );
        }
    }

    /// A frame of nominal `size` ([`nominal`]) and its payload; its header counts as
    /// control overhead.
    fn account(&mut self, data: &[u8], size: u64) -> Nominal {
        let payload = if data.first() == Some(&CHUNK_TAG) {
            self.t.control_bytes += CHUNK_HEADER as u64;
            size - CHUNK_HEADER as u64
        } else {
            self.t.control_bytes += data.len() as u64;
            0
        };
        Nominal { size, payload }
    }

    /// Queues frame `data` of `size` ([`Sim::account`]) on node `n`'s link `i` (its
    /// uplink starts on it if the link had nothing queued).
    fn enqueue(&mut self, n: N, i: usize, data: Bytes, size: Nominal) {
        let now = self.now;
        let nom = size.size;
        let node = &mut self.nodes[n as usize];
        node.links[i].queue.push_back((data, size));
        if !node.keys.queued(i) {
            node.keys.set_queued(i, true);
            let finish = node.up.start(now, nom);
            let r = node.keys.route_mut(i);
            r.head_size = nom;
            r.finish = finish;
        } else {
            // Up to date for the report after the send (what of the head frame has left).
            node.up.clock(now);
        }
        node.keys.route_mut(i).queued_bytes += nom;
    }

    /// A frame that has left node `n`'s uplink on link `i` at `depart` travels to the
    /// other end: path latency, jitter, a resend on loss, the receiver's downlink, and
    /// the channel's order.
    fn send_frame(&mut self, n: N, i: usize, f: Bytes, nom: Nominal, depart: u64) {
        let r = self.nodes[n as usize].keys.route(i);
        let (lat, jitter, loss) = (u64::from(r.lat_us), u64::from(r.jitter_us), r.loss);
        let (peer, peer_conn, last) =
            (r.peer, ConnId::from_raw(r.peer_conn.into()), r.last_arrival);
        let mut arrive = depart + lat;
        if jitter > 0 {
            arrive += self.rng.below(jitter);
        }
        if loss > 0.0 && self.rng.unit() < loss {
            arrive += 3 * lat.max(10_000);
        }
        self.t.p2p_sent += nom.payload;
        let nom = nom.size;
        let pn = &mut self.nodes[peer as usize];
        if !pn.alive {
            return;
        }
        // The transfer is pipelined: the downlink only adds time when it is busy with
        // something else.
        let t = arrive.max(pn.down_free + (nom as f64 / pn.down_rate) as u64);
        pn.down_free = t;
        let t = t.max(last);
        self.nodes[n as usize].keys.route_mut(i).last_arrival = t;
        self.push(t, Ev::Frame(peer, peer_conn, f));
    }

    /// Queues node `n`'s uplink event for the first head frame to leave, unless one is
    /// queued for no later. An event queued before the channels slowed down (one more
    /// started sending, or a small frame took its share) comes early, finds nothing sent
    /// and queues the next; when they speed up (one stopped or closed), this is called
    /// again and queues the earlier one.
    fn schedule_up(&mut self, n: N) {
        let node = &self.nodes[n as usize];
        if node.up.active() == 0 {
            return;
        }
        let mut first = f64::INFINITY;
        for i in 0..node.keys.len() {
            if node.keys.queued(i) {
                first = first.min(node.keys.route(i).finish);
            }
        }
        let at = node.up.due(self.now, first);
        if at < self.up_next[n as usize] {
            self.up_next[n as usize] = at;
            self.push(at, Ev::UpDone(n));
        }
    }

    /// Node `n`'s uplink at its queued time: every channel whose head frame has left
    /// sends it on, takes up its next frame or leaves the uplink to the others (the
    /// shim's `bufferedamountlow` at threshold 0 then reports the drain, when the last
    /// report showed upload data queued).
    fn up_done(&mut self, n: N) {
        let now = self.now;
        loop {
            let node = &mut self.nodes[n as usize];
            if !node.alive {
                return;
            }
            node.up.clock(now);
            let Some(i) = (0..node.keys.len())
                .find(|&i| node.keys.queued(i) && node.up.has_left(node.keys.route(i).finish))
            else {
                break;
            };
            let l = &mut node.links[i];
            let (f, nom) = l.queue.pop_front().expect("queued");
            let next = l.queue.front().map(|(_, next)| next.size);
            let conn = ConnId::from_raw(node.keys.word(i) >> 1);
            let r = node.keys.route_mut(i);
            r.queued_bytes -= nom.size;
            let mut drained = false;
            match next {
                Some(size) => {
                    r.head_size = size;
                    r.finish += size as f64;
                }
                None => {
                    r.head_size = 0;
                    drained = r.reported >= DRAIN_REPORT_MIN;
                    if drained {
                        r.reported = 0;
                    }
                    node.keys.set_queued(i, false);
                    node.up.stop(now);
                }
            }
            self.send_frame(n, i, f, nom, now);
            if drained {
                self.input(n, Input::ChannelBuffered { conn, buffered: 0 });
            }
        }
        self.schedule_up(n);
    }

    /// Removes node `n`'s link `i`, and its frames from the uplink.
    fn drop_link(&mut self, n: N, i: usize) -> Link {
        let now = self.now;
        let node = &mut self.nodes[n as usize];
        let queued = node.keys.queued(i);
        if queued {
            node.up.stop(now);
        }
        let link = node.remove_link(i);
        if queued {
            // The others now send faster: their frames leave earlier than queued.
            self.schedule_up(n);
        }
        link
    }

    fn frame_arrives(&mut self, n: N, conn: ConnId, data: Bytes) {
        let node = &self.nodes[n as usize];
        if !node.alive || node.link(conn).is_none() {
            return;
        }
        if data.first() == Some(&CHUNK_TAG) {
            self.t.p2p_arrived += nominal(&data, self.scale) - CHUNK_HEADER as u64;
        }
        let tag = data.first().map_or(0, |&t| usize::from(t)).min(7);
        self.t.frames_by_tag[tag] += 1;
        self.input(n, Input::ChannelMessage { conn, data });
    }

    // ---- the tracker -----------------------------------------------------------------

    fn tracker(&mut self, from: N, request: TrackerRequest) {
        if !self.nodes[from as usize].alive {
            return;
        }
        let lat = us(self.sc.tracker_latency_ms / 1000.0);
        let at = self.now + lat;
        let (hash, peer_id, offers) = match request {
            TrackerRequest::Answer {
                info_hash,
                peer_id,
                to_peer,
                offer_id,
                sdp,
            } => {
                // Relayed within the swarm the answer names, as WebTorrent trackers do:
                // to the offerer as a member of it. The answer is an announce, too:
                // the answerer becomes a member.
                let m = self.swarms.entry(info_hash).or_default();
                m.join(from);
                let target = self.peer_ids.get(&to_peer).copied();
                if let Some(target) = target.filter(|t| m.pos.contains_key(t)) {
                    let message = TrackerMessage::Answer {
                        peer: peer_id,
                        offer_id,
                        sdp,
                    };
                    self.tracker_reply(at, target, info_hash, message);
                }
                return;
            }
            TrackerRequest::Announce {
                info_hash,
                peer_id,
                offers,
                event,
                ..
            } => {
                // Leaving the swarm (a VOD viewer moving to the next stretch's).
                if event == Some(AnnounceEvent::Stopped) {
                    let m = self.swarms.entry(info_hash).or_default();
                    m.remove(from);
                    let message = m.announced();
                    return self.tracker_reply(at, from, info_hash, message);
                }
                (info_hash, peer_id, offers)
            }
            _ => return,
        };
        let m = self.swarms.entry(hash).or_default();
        m.join(from);
        let size = m.list.len();
        let resp = m.announced();
        self.tracker_reply(at, from, hash, resp);
        let want = offers.len().min(size.saturating_sub(1));
        if want == 0 {
            return;
        }
        let picked = match self.sc.tracker {
            TrackerPolicy::Random => self.random_members(&hash, from, want),
            TrackerPolicy::Nearest => {
                let mut near = self.random_members(&hash, from, NEAREST_SAMPLE.min(size - 1));
                let at = |m: N| self.nodes[m as usize].player.position(self.now);
                let here = at(from);
                // Ties (live viewers level with each other) stay in sample order.
                near.sort_by(|&a, &b| (at(a) - here).abs().total_cmp(&(at(b) - here).abs()));
                near.truncate(want);
                near
            }
        };
        for (offer, to) in offers.into_iter().zip(picked) {
            let message = TrackerMessage::Offer {
                peer: peer_id,
                offer_id: offer.offer_id,
                sdp: offer.sdp,
            };
            self.tracker_reply(at, to, hash, message);
        }
    }

    /// Up to `want` different random members of swarm `hash` other than `from`, as
    /// WebTorrent trackers pick one per offer (sampled, not scanned: a few tries more
    /// than asked for, so a swarm of nearly only `from` ends the search).
    fn random_members(&mut self, hash: &Id20, from: N, want: usize) -> Vec<N> {
        let mut picked: Vec<N> = Vec::with_capacity(want);
        let Some(m) = self.swarms.get(hash) else {
            return picked;
        };
        let size = m.list.len();
        let mut tries = 0;
        while picked.len() < want && tries < 8 * want + 16 {
            tries += 1;
            let cand = m.list[self.rng.below(size as u64) as usize];
            if cand != from && !picked.contains(&cand) {
                picked.push(cand);
            }
        }
        picked
    }

    fn tracker_reply(&mut self, at: u64, to: N, hash: Id20, message: TrackerMessage) {
        self.t.tracker_bytes += tracker_wire::message_len(&hash, &message);
        self.t.tracker_messages[1] += 1;
        self.push(
            at,
            Ev::Input(
                to,
                Box::new(Input::TrackerMessage {
                    tracker: TrackerId::from_index(0),
                    info_hash: Some(hash),
                    message,
                }),
            ),
        );
    }
}

/// How long the shim holds the agent's trackers for the first frame, at most (seconds
/// after the agent started: `HlsMesh._releaseWhenPlaying` in `js/src/index.ts`).
const TRACKER_HOLD_S: f64 = 2.0;

/// Members a `nearest` tracker samples before it keeps the nearest (`TrackerPolicy`).
const NEAREST_SAMPLE: usize = 64;

/// Events at one instant beyond which the run is stuck (an agent or the player asking to
/// be woken at a time already past, again and again).
const LIVELOCK_EVENTS: u64 = 1_000_000;

fn kind(ev: &Ev) -> usize {
    match ev {
        Ev::Join(_) | Ev::Leave(_) => 0,
        Ev::Wake(..) => 1,
        Ev::Input(..) => 2,
        Ev::Frame(..) => 3,
        Ev::UpDone(_) => 4,
        Ev::Closed(..) => 5,
        Ev::Tracker(..) | Ev::Release(_) => 6,
        Ev::Http(..) | Ev::Fallback(..) => 7,
        Ev::Refresh(_) => 8,
        Ev::Player(..) => 9,
    }
}

fn describe(ev: &Ev) -> String {
    match ev {
        Ev::Join(n) => format!("join of {n}"),
        Ev::Leave(n) => format!("leave of {n}"),
        Ev::Wake(n, at) => format!("agent {n} wake-up for {at} µs"),
        Ev::Input(n, i) => format!("input to agent {n}: {i:?}"),
        Ev::Frame(n, c, d) => format!("frame to {n} on {c:?}, {} bytes", d.len()),
        Ev::UpDone(n) => format!("uplink of {n}"),
        Ev::Closed(n, c) => format!("close of {c:?} at {n}"),
        Ev::Tracker(n, _) => format!("tracker message from {n}"),
        Ev::Http(n, f) => format!("CDN response to {n}: {f:?}"),
        Ev::Refresh(n) => format!("playlist refresh of {n}"),
        Ev::Player(n, g) => format!("player {n} generation {g}"),
        Ev::Fallback(n, l) => format!("fallback load of {n}: {l:?}"),
        Ev::Release(n) => format!("tracker hold of {n} ends"),
    }
}

/// The media playlist's URL (`sn` None) or a segment's, `http://cdn.sim/stream/v<level>/`
/// then `index.m3u8` or `seg<sn>.ts`. Not `format!`: every refresh and load builds one.
/// Reads a playlist the simulator wrote, as a browser's shim would.
fn read_playlist(url: &str, text: &str) -> Playlist {
    match hlsmesh_core::playlist::read(url, text.as_bytes()) {
        Ok(p) => p,
        Err(e) => panic!("the simulator wrote a playlist the reader refuses: {e}"),
    }
}

fn url_of(level: usize, sn: Option<u64>) -> String {
    fn push_decimal(s: &mut String, n: u64) {
        if n >= 10 {
            push_decimal(s, n / 10);
        }
        s.push(char::from(b'0' + (n % 10) as u8));
    }
    let mut url = String::with_capacity(BASE.len() + 32);
    url.push_str(BASE);
    url.push('v');
    push_decimal(&mut url, level as u64);
    match sn {
        None => url.push_str("/index.m3u8"),
        Some(sn) => {
            url.push_str("/seg");
            push_decimal(&mut url, sn);
            url.push_str(".ts");
        }
    }
    url
}

/// `http://cdn.sim/stream/v<level>/seg<sn>.ts` → (level, sn).
fn parse_segment_url(url: &str) -> Option<(usize, u64)> {
    let rest = url.strip_prefix(BASE)?.strip_prefix('v')?;
    let (level, rest) = rest.split_once('/')?;
    let sn = rest.strip_prefix("seg")?.strip_suffix(".ts")?;
    Some((level.parse().ok()?, sn.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlsmesh_core::tracker::messages::OutgoingOffer;

    /// Drains the queue: the tracker's messages in it, with the viewers they go to.
    fn tracker_messages(sim: &mut Sim) -> Vec<(N, TrackerMessage)> {
        let mut out = Vec::new();
        while let Some(e) = sim.queue.pop() {
            if let Ev::Input(n, input) = e.item {
                if let Input::TrackerMessage { message, .. } = *input {
                    out.push((n, message));
                }
            }
        }
        out
    }

    #[test]
    fn urls_are_built_as_format_would() {
        for (level, sn) in [(0, 0), (2, 9), (10, 123_456), (7, u64::MAX)] {
            assert_eq!(url_of(level, None), format!("{BASE}v{level}/index.m3u8"));
            assert_eq!(
                url_of(level, Some(sn)),
                format!("{BASE}v{level}/seg{sn}.ts")
            );
            assert_eq!(
                parse_segment_url(&url_of(level, Some(sn))),
                Some((level, sn))
            );
        }
    }

    #[test]
    fn segment_urls_round_trip() {
        assert_eq!(
            parse_segment_url("http://cdn.sim/stream/v2/seg123.ts"),
            Some((2, 123))
        );
        assert_eq!(
            parse_segment_url("http://cdn.sim/stream/v2/index.m3u8"),
            None
        );
    }

    /// A run of two viewers on one access class whose uplink sends 1 byte per µs
    /// (8,000 kb/s), no latency, jitter or loss; node 0 holds two open channels to node
    /// 1 (connections 1 and 2). No agents: the engine's uplink alone.
    fn uplink_pair() -> Sim {
        let mut sc = Scenario::builtin("steady-live").expect("built in");
        sc.set("viewers", "2").expect("viewers");
        sc.set("classes", "flat:1:100000:8000:0:0:0")
            .expect("classes");
        let mut sim = Sim::new(sc);
        // The viewers' arrivals are not run: only what the test queues.
        sim.queue = TimeQueue::new();
        for n in 0..2 {
            sim.nodes[n].alive = true;
        }
        for c in 1..=2 {
            let conn = ConnId::from_raw(c);
            let route = Route {
                peer: 1,
                peer_conn: c as u32,
                ..Route::default()
            };
            sim.nodes[0].keys.push(conn, route);
            sim.nodes[0].links.push(Link {
                peer: 1,
                peer_conn: conn,
                queue: VecDeque::new(),
                lat_us: 0,
            });
        }
        sim
    }

    /// Runs the queued events up to `until` (µs); the times node 0's uplink events ran
    /// (not the stale ones).
    fn run_until(sim: &mut Sim, until: u64) -> Vec<u64> {
        let mut ran = Vec::new();
        while let Some(e) = sim.queue.pop() {
            assert!(
                matches!(e.item, Ev::UpDone(_) | Ev::Frame(..)),
                "only the uplink's events are queued"
            );
            assert!(e.at >= sim.now, "events run in time order");
            sim.now = e.at;
            if let Ev::UpDone(0) = e.item {
                if sim.up_next[0] == e.at {
                    ran.push(e.at);
                }
            }
            sim.dispatch(e.item);
            if sim.now >= until {
                break;
            }
        }
        ran
    }

    fn frame(len: usize) -> Bytes {
        // A `Have` frame's tag: counted at its own size (no payload scaling).
        let mut f = vec![0u8; len];
        f[0] = 2;
        Bytes::from(f)
    }

    #[test]
    fn a_closed_sending_channel_brings_the_others_frames_forward() {
        let mut sim = uplink_pair();
        let (a, b) = (ConnId::from_raw(1), ConnId::from_raw(2));
        sim.transmit(0, a, frame(100_000));
        sim.transmit(0, b, frame(100_000));
        // The uplink event queued when a started alone (100 ms) comes early: b took
        // half the uplink since. Sharing 1 byte/µs, both frames leave at 200 ms.
        assert_eq!(run_until(&mut sim, 100_000), [100_000]);
        assert_eq!(sim.up_next[0], 200_000);
        // At 150 ms each has 25,000 bytes to go; b closes, and a sends alone.
        sim.now = 150_000;
        let i = sim.nodes[0].link(b).expect("link b");
        sim.drop_link(0, i);
        assert_eq!(
            sim.up_next[0], 175_000,
            "a's frame leaves as it would alone"
        );
        assert_eq!(
            run_until(&mut sim, u64::MAX),
            [175_000],
            "the event queued for 200 ms is stale"
        );
        let node = &sim.nodes[0];
        let i = node.link(a).expect("link a");
        assert!(!node.keys.queued(i) && node.links[i].queue.is_empty());
        assert_eq!(node.up.active(), 0);
    }

    #[test]
    fn a_closed_idle_channel_leaves_the_uplink_event_alone() {
        let mut sim = uplink_pair();
        let (a, b) = (ConnId::from_raw(1), ConnId::from_raw(2));
        sim.transmit(0, a, frame(100_000));
        assert_eq!(sim.up_next[0], 100_000);
        sim.now = 50_000;
        let i = sim.nodes[0].link(b).expect("link b");
        sim.drop_link(0, i);
        assert_eq!(sim.up_next[0], 100_000);
        assert_eq!(run_until(&mut sim, u64::MAX), [100_000]);
    }

    /// WebTorrent trackers relay an answer within the swarm it names, to the offerer as
    /// a member of it, and take the answerer in as a member.
    #[test]
    fn answers_are_relayed_within_the_swarm_they_name() {
        let mut sc = Scenario::builtin("steady-live").expect("built in");
        sc.set("viewers", "3").expect("viewers");
        let mut sim = Sim::new(sc);
        sim.queue = TimeQueue::new();
        let ids: Vec<Id20> = (0..3u8).map(|n| [n + 1; 20]).collect();
        for (n, id) in ids.iter().enumerate() {
            sim.nodes[n].alive = true;
            sim.peer_ids.insert(*id, n as N);
        }
        let (ours, other) = ([10; 20], [11; 20]);
        sim.swarms.entry(ours).or_default().join(0);
        let answer = |from: usize, info_hash| TrackerRequest::Answer {
            info_hash,
            peer_id: ids[from],
            to_peer: ids[0],
            offer_id: [7; 20],
            sdp: "v=0".into(),
        };
        let relayed = |sim: &mut Sim| -> Vec<(N, Id20)> {
            tracker_messages(sim)
                .into_iter()
                .filter_map(|(n, m)| match m {
                    TrackerMessage::Answer { peer, .. } => Some((n, peer)),
                    _ => None,
                })
                .collect()
        };
        sim.tracker(1, answer(1, other));
        assert_eq!(relayed(&mut sim), [], "the offerer is not in that swarm");
        assert!(
            sim.swarms[&other].pos.contains_key(&1),
            "the answerer joined"
        );
        sim.tracker(2, answer(2, ours));
        assert_eq!(relayed(&mut sim), [(0, ids[2])]);
        assert!(sim.swarms[&ours].pos.contains_key(&2));
    }

    /// `tracker=nearest` hands an announcer's offers to the members whose playheads are
    /// nearest its own; `random` to random members, the nearest or not.
    #[test]
    fn a_nearest_tracker_relays_offers_to_the_nearest_playheads() {
        let offered = |policy: &str, seed: &str| {
            let mut sc = Scenario::builtin("vod-long-tail").expect("built in");
            sc.set("viewers", "8").expect("viewers");
            sc.set("tracker", policy).expect("policy");
            sc.set("seed", seed).expect("seed");
            let mut sim = Sim::new(sc);
            sim.queue = TimeQueue::new();
            let swarm = [10; 20];
            // Viewer n plays at 100 s × n; viewer 3 announces with two offers.
            for n in 0..8 {
                sim.nodes[n].alive = true;
                sim.nodes[n].player.anchor_pos = 100.0 * n as f64;
                sim.swarms.entry(swarm).or_default().join(n as N);
            }
            let offers = (0..2u8)
                .map(|i| OutgoingOffer {
                    offer_id: [i; 20],
                    sdp: "v=0".into(),
                })
                .collect();
            sim.tracker(
                3,
                TrackerRequest::Announce {
                    info_hash: swarm,
                    peer_id: [3; 20],
                    event: None,
                    offers,
                    uploaded: 0,
                    downloaded: 0,
                },
            );
            let mut to: Vec<N> = tracker_messages(&mut sim)
                .into_iter()
                .filter(|(_, m)| matches!(m, TrackerMessage::Offer { .. }))
                .map(|(n, _)| n)
                .collect();
            to.sort_unstable();
            to
        };
        for seed in ["1", "2", "3"] {
            assert_eq!(offered("nearest", seed), [2, 4], "seed {seed}");
        }
        let random: Vec<Vec<N>> = (1..=8).map(|s| offered("random", &s.to_string())).collect();
        assert!(random.iter().all(|to| to.len() == 2 && !to.contains(&3)));
        assert!(random.iter().any(|to| to != &[2, 4]), "{random:?}");
    }

    /// As the shim does, a tracker the agent dials before the player's first frame opens
    /// at the first frame, or 2 s after the viewer joined, whichever comes first; one
    /// dialled later opens at once.
    #[test]
    fn trackers_wait_for_the_first_frame_or_two_seconds() {
        let mut sc = Scenario::builtin("steady-live").expect("built in");
        sc.set("viewers", "2").expect("viewers");
        let lat = us(sc.tracker_latency_ms / 1000.0);
        let mut sim = Sim::new(sc);
        sim.queue = TimeQueue::new();
        let dial = |sim: &mut Sim, n: N| {
            sim.carry_out(
                n,
                Output::TrackerConnect {
                    tracker: TrackerId::from_index(0),
                    url: "wss://tracker.sim".into(),
                },
            );
        };
        // Runs the queue up to `until` (the hold's ends dispatched as the run does) and
        // says when each viewer's tracker opened.
        let opened = |sim: &mut Sim, until: u64| {
            let mut seen = Vec::new();
            while let Some(e) = sim.queue.pop() {
                if e.at > until {
                    sim.queue.push(e.at, e.item);
                    break;
                }
                sim.now = e.at;
                match e.item {
                    Ev::Input(n, input) if matches!(*input, Input::TrackerOpen { .. }) => {
                        seen.push((n, e.at))
                    }
                    ev @ Ev::Release(_) => sim.dispatch(ev),
                    _ => {}
                }
            }
            seen
        };
        for n in 0..2 {
            sim.nodes[n].alive = true;
            sim.nodes[n].player.m.joined_s = 1.0;
        }
        sim.now = 1_100_000;
        dial(&mut sim, 0);
        dial(&mut sim, 1);
        assert_eq!(
            opened(&mut sim, 1_499_999),
            [],
            "nothing opens before the first frame"
        );
        // Viewer 0's first segment arrives at 1.5 s: its tracker opens then.
        sim.now = 1_500_000;
        sim.nodes[0].player.loading = Some(Loading {
            id: LoadId(1),
            sn: 10,
            level: 0,
            since: 1_200_000,
        });
        sim.delivered(0, LoadId(1), 500_000, None);
        assert!(sim.nodes[0].player.started);
        // Viewer 1 has no frame by 3 s (2 s after it joined): its tracker opens then.
        assert_eq!(
            opened(&mut sim, 10_000_000),
            [(0, 1_500_000 + 2 * lat), (1, 3_000_000 + 2 * lat)],
            "each opens once"
        );
        // A tracker dialled again later (after a failure) opens at once.
        sim.now = 11_000_000;
        dial(&mut sim, 0);
        assert_eq!(opened(&mut sim, 20_000_000), [(0, 11_000_000 + 2 * lat)]);
    }

    /// The shim shows hls.js each delivery's `timing` (for a peer's or the cache's, the
    /// CDN path's time for those bytes), not the time the agent waited for a peer: the
    /// player's ABR samples what hls.js would. Before, it sampled the real time, and VOD
    /// viewers switched rendition five times a session where plain hls.js switches once.
    #[test]
    fn the_abr_samples_the_time_the_shim_shows_hls_js() {
        let mut sc = Scenario::builtin("vod-long-tail").expect("built in");
        sc.set("viewers", "1").expect("viewers");
        let scale = sc.byte_scale;
        // A 2 s segment of the middle rendition (1.6 Mb/s): 400 kB, as the agent holds it.
        let data = Bytes::from(vec![0u8; (400_000 / scale) as usize]);
        let deliver = |timing_ms: u64| {
            let mut sim = Sim::new(sc.clone());
            sim.queue = TimeQueue::new();
            let p = &mut sim.nodes[0].player;
            p.level = 1;
            // Asked for 4 s ago: the agent waited 3.8 s for a peer, which took 0.2 s.
            sim.now = 10_000_000;
            p.loading = Some(Loading {
                id: LoadId(1),
                sn: 5,
                level: 1,
                since: 6_000_000,
            });
            sim.carry_out(
                0,
                Output::Deliver {
                    load: LoadId(1),
                    data: data.clone(),
                    source: Source::Peer,
                    timing: std::time::Duration::from_millis(timing_ms),
                },
            );
            let p = &sim.nodes[0].player;
            (p.level, p.est_kbps.round())
        };
        // Shown as the CDN's 200 ms: 16 Mb/s, the rendition holds.
        assert_eq!(deliver(200), (1, 16_000.0));
        // No CDN time measured yet (timing 0): the shim shows the real 4 s, 0.8 Mb/s,
        // under the rendition's rate: one down.
        assert_eq!(deliver(0), (0, 800.0));
    }

    #[test]
    fn a_scaled_chunk_goes_as_the_browsers_chunks() {
        let data = Bytes::from((0..1953u32).map(|i| i as u8).collect::<Vec<u8>>());
        let whole = Message::Chunk {
            req: 7,
            total: 1953,
            offset: 0,
            data: data.clone(),
        }
        .encode();
        let pieces = split_chunk(&whole, 256);
        // 65,519 nominal bytes a chunk at 1/256: 255 simulated bytes, eight chunks.
        assert_eq!(pieces.len(), 8);
        let mut at = 0u32;
        for p in &pieces {
            assert!(nominal(p, 256) <= (CHUNK_HEADER + MAX_CHUNK_DATA) as u64);
            let Ok(Message::Chunk {
                req,
                total,
                offset,
                data: d,
            }) = Message::decode(p.clone())
            else {
                panic!("not a chunk");
            };
            assert_eq!((req, total, offset), (7, 1953, at));
            assert_eq!(d, data.slice(at as usize..at as usize + d.len()));
            at += d.len() as u32;
        }
        assert_eq!(at, 1953);
        // Not a chunk: as it was.
        let have = Bytes::from_static(&[2, 0, 0, 0, 2, 0, 0]);
        assert_eq!(split_chunk(&have, 256), [have]);
    }

    #[test]
    fn chunk_payloads_count_at_nominal_size() {
        let mut f = vec![CHUNK_TAG];
        f.extend_from_slice(&[0; 16]);
        f.extend_from_slice(&[1; 100]);
        assert_eq!(nominal(&f, 64), 17 + 6400);
        assert_eq!(nominal(&[2, 0, 0, 0, 2, 0, 0], 64), 7);
    }
}
