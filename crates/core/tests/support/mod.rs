//! A deterministic in-process network for `hlsmesh-core` agents: virtual time, a
//! WebTorrent tracker that speaks the real JSON protocol, data channels that carry the
//! real frames, and a CDN that counts the bytes it serves. Time jumps to the next event
//! or agent wake-up, so minutes of streaming run in milliseconds.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use hlsmesh_core::proto::Id20;
use hlsmesh_core::rng::Rng;
use hlsmesh_core::tracker::messages::{TrackerMessage, TrackerRequest};
use hlsmesh_core::{
    Agent, Config, ConnId, Event, FetchId, HttpResponse, Input, Instant, LoadId, Output, Playback,
    Source, TrackerId,
};

/// What a node's player got back for a load.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub load: LoadId,
    pub data: Result<Bytes, String>,
    pub source: Option<Source>,
    pub at: Instant,
    /// The time the player's bandwidth estimator is told the load took.
    pub timing: Option<Duration>,
}

pub struct Node {
    pub agent: Agent,
    pub wake: Instant,
    pub delivered: Vec<Delivered>,
    pub events: Vec<Event>,
    /// Our conn → (peer node, peer's conn), once linked.
    links: HashMap<ConnId, (usize, ConnId)>,
    fetches: HashMap<FetchId, ()>,
    /// When set, this node stops sending chunk frames after this many (a stalling peer).
    pub stall_after_chunks: Option<usize>,
    pub chunks_sent: usize,
    /// Frames sent, by tag (hello 1, have 2, lost 3, request 4, cancel 5, chunk 6,
    /// absent 7; 0 for anything else).
    pub sent_by_tag: [usize; 9],
    /// The nodes this node answered `Absent`, in order.
    pub absent_to: Vec<usize>,
    /// Added to the latency of every frame this node sends (a slow uplink, seen from
    /// its peers' measurements).
    pub extra_delay: Duration,
    /// When set, this node's channels never drain: each reports as buffered every chunk
    /// byte sent on it so far (a slow uplink, seen from the agent).
    pub slow_uplink: bool,
    chunk_bytes: HashMap<ConnId, usize>,
    /// When set, every frame this node sends is replaced by garbage.
    pub hostile: bool,
    /// When set, the first payload byte of every chunk this node sends is flipped: the
    /// frames stay valid, the segment bytes are wrong.
    pub corrupt: bool,
    pub alive: bool,
    /// Offers this node's announces carried.
    pub offers_sent: usize,
    /// Outputs the agent gave (but its wake-ups), and the times it was woken at its
    /// wake-up and gave none: woken for nothing.
    pub outputs: usize,
    pub idle_wakeups: usize,
}

enum Ev {
    Input(usize, Input),
    Tracker(usize, TrackerRequest),
}

pub struct Net {
    pub now: Instant,
    pub nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    pending: HashMap<u64, Ev>,
    seq: u64,
    pub latency: Duration,
    pub cdn_latency: Duration,
    /// URL → body.
    pub cdn: HashMap<String, Bytes>,
    /// (node, url, bytes served, range header) per CDN response.
    pub cdn_log: Vec<(usize, String, usize, Option<String>)>,
    /// info_hash → members (node ids) in join order.
    swarms: BTreeMap<Id20, Vec<usize>>,
    peer_ids: HashMap<Id20, usize>,
    rng: Rng,
    pub tracker_up: bool,
    next_load: u64,
}

impl Net {
    pub fn new(seed: u64) -> Net {
        Net {
            now: Instant::ZERO,
            nodes: Vec::new(),
            queue: BinaryHeap::new(),
            pending: HashMap::new(),
            seq: 0,
            latency: Duration::from_millis(20),
            cdn_latency: Duration::from_millis(50),
            cdn: HashMap::new(),
            cdn_log: Vec::new(),
            swarms: BTreeMap::new(),
            peer_ids: HashMap::new(),
            rng: Rng::new(seed),
            tracker_up: true,
            next_load: 1,
        }
    }

    pub fn add_node(&mut self, seed: u64) -> usize {
        let config = Config {
            trackers: vec!["wss://tracker.test".into()],
            seed,
            ..Config::default()
        };
        self.add_node_with(config)
    }

    pub fn add_node_with(&mut self, config: Config) -> usize {
        let agent = Agent::new(config, self.now);
        let id = self.nodes.len();
        self.peer_ids.insert(agent.peer_id(), id);
        self.nodes.push(Node {
            agent,
            wake: self.now,
            delivered: Vec::new(),
            events: Vec::new(),
            links: HashMap::new(),
            fetches: HashMap::new(),
            stall_after_chunks: None,
            chunks_sent: 0,
            sent_by_tag: [0; 9],
            absent_to: Vec::new(),
            extra_delay: Duration::ZERO,
            slow_uplink: false,
            chunk_bytes: HashMap::new(),
            hostile: false,
            corrupt: false,
            alive: true,
            offers_sent: 0,
            outputs: 0,
            idle_wakeups: 0,
        });
        id
    }

    fn schedule(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.pending.insert(self.seq, ev);
        self.queue.push(Reverse((at, self.seq)));
    }

    pub fn input(&mut self, node: usize, input: Input) {
        let now = self.now;
        self.nodes[node].agent.handle_input(now, input);
        self.drain(node);
    }

    /// Ends `slow_uplink` on `node`: every channel it sent chunks on reports drained.
    #[allow(dead_code)]
    pub fn drain_uplink(&mut self, node: usize) {
        self.nodes[node].slow_uplink = false;
        let conns: Vec<ConnId> = self.nodes[node]
            .chunk_bytes
            .drain()
            .map(|(c, _)| c)
            .collect();
        for conn in conns {
            self.input(node, Input::ChannelBuffered { conn, buffered: 0 });
        }
    }

    pub fn playlist(&mut self, node: usize, url: &str, text: &str) {
        self.input(
            node,
            Input::Playlist {
                url: url.into(),
                playlist: hlsmesh_core::playlist::read(url, text.as_bytes())
                    .expect("a valid playlist"),
            },
        );
    }

    pub fn load(&mut self, node: usize, url: &str, playback: Playback) -> LoadId {
        let load = LoadId(self.next_load);
        self.next_load += 1;
        self.input(
            node,
            Input::Load {
                load,
                url: url.into(),
                range: None,
                playback,
            },
        );
        load
    }

    /// Removes a node abruptly: its peers see their channels close.
    pub fn kill(&mut self, node: usize) {
        self.nodes[node].alive = false;
        let links: Vec<_> = self.nodes[node].links.drain().collect();
        for (_, (peer, peer_conn)) in links {
            self.nodes[peer].links.remove(&peer_conn);
            let at = self.now + self.latency;
            self.schedule(
                at,
                Ev::Input(
                    peer,
                    Input::ConnClosed {
                        conn: peer_conn,
                        reason: "peer vanished".into(),
                    },
                ),
            );
        }
        for members in self.swarms.values_mut() {
            members.retain(|m| *m != node);
        }
    }

    fn drain(&mut self, node: usize) {
        loop {
            let out = self.nodes[node].agent.poll_output();
            match out {
                Output::Timeout(at) => {
                    self.nodes[node].wake = at;
                    return;
                }
                other => {
                    self.nodes[node].outputs += 1;
                    self.carry_out(node, other)
                }
            }
        }
    }

    fn carry_out(&mut self, node: usize, out: Output) {
        let now = self.now;
        let lat = self.latency;
        match out {
            Output::Deliver {
                load,
                data,
                source,
                timing,
            } => self.nodes[node].delivered.push(Delivered {
                load,
                data: Ok(data),
                source: Some(source),
                at: now,
                timing: Some(timing),
            }),
            Output::Fail { load, reason } => self.nodes[node].delivered.push(Delivered {
                load,
                data: Err(reason),
                source: None,
                at: now,
                timing: None,
            }),
            Output::Fetch {
                fetch,
                url,
                range,
                from,
            } => {
                self.nodes[node].fetches.insert(fetch, ());
                let result = match self.cdn.get(&url) {
                    None => Ok(HttpResponse {
                        status: 404,
                        body: Bytes::new(),
                    }),
                    Some(body) => {
                        let (slice, status, header) = match (range, from) {
                            (Some((s, e)), _) => (
                                body.slice(s as usize..(e as usize).min(body.len())),
                                206,
                                Some(format!("bytes={s}-{}", e - 1)),
                            ),
                            (None, Some(s)) => (
                                body.slice((s as usize).min(body.len())..),
                                206,
                                Some(format!("bytes={s}-")),
                            ),
                            (None, None) => (body.clone(), 200, None),
                        };
                        self.cdn_log.push((node, url.clone(), slice.len(), header));
                        Ok(HttpResponse {
                            status,
                            body: slice,
                        })
                    }
                };
                let at = now + self.cdn_latency;
                self.schedule(at, Ev::Input(node, Input::HttpDone { fetch, result }));
            }
            Output::FetchHashList { fetch, url } => {
                self.nodes[node].fetches.insert(fetch, ());
                let list = match self.cdn.get(&url) {
                    None => Err("HTTP status 404".to_string()),
                    Some(body) => {
                        self.cdn_log.push((node, url.clone(), body.len(), None));
                        hlsmesh_core::integrity::read_sidecar(body)
                    }
                };
                let at = now + self.cdn_latency;
                self.schedule(at, Ev::Input(node, Input::HashListRead { fetch, list }));
            }
            Output::CancelFetch { fetch } => {
                self.nodes[node].fetches.remove(&fetch);
            }
            Output::TrackerConnect { tracker, .. } => {
                let input = if self.tracker_up {
                    Input::TrackerOpen { tracker }
                } else {
                    Input::TrackerClosed {
                        tracker,
                        reason: "refused".into(),
                    }
                };
                self.schedule(now + lat, Ev::Input(node, input));
            }
            Output::TrackerSend { request, .. } if self.tracker_up => {
                self.schedule(now + lat, Ev::Tracker(node, request));
            }
            Output::TrackerSend { .. } => {}
            Output::TrackerClose { .. } => {}
            Output::CreateOffer { conn } => {
                let sdp = format!("offer {node} {}", conn.get());
                self.schedule(now, Ev::Input(node, Input::OfferCreated { conn, sdp }));
            }
            Output::AcceptOffer { conn, sdp } => {
                let sdp = format!("answer {node} {} {sdp}", conn.get());
                self.schedule(now, Ev::Input(node, Input::AnswerCreated { conn, sdp }));
            }
            Output::AcceptAnswer { conn, sdp } => {
                // "answer <answerer> <answerer conn> offer <offerer> <offerer conn>"
                let parts: Vec<&str> = sdp.split(' ').collect();
                let answerer: usize = parts[1].parse().unwrap();
                if !self.nodes[answerer].alive {
                    return;
                }
                let answerer_conn = self.conn_of(answerer, parts[2].parse().unwrap());
                self.nodes[node]
                    .links
                    .insert(conn, (answerer, answerer_conn));
                self.nodes[answerer]
                    .links
                    .insert(answerer_conn, (node, conn));
                self.schedule(now + lat, Ev::Input(node, Input::ChannelOpen { conn }));
                self.schedule(
                    now + lat,
                    Ev::Input(
                        answerer,
                        Input::ChannelOpen {
                            conn: answerer_conn,
                        },
                    ),
                );
            }
            Output::Transmit { conn, data } => {
                let n = &mut self.nodes[node];
                n.sent_by_tag[data.first().map_or(0, |&t| usize::from(t)).min(8)] += 1;
                let is_chunk = data.first() == Some(&6);
                if is_chunk {
                    n.chunks_sent += 1;
                    *n.chunk_bytes.entry(conn).or_default() += data.len();
                }
                let buffered = if n.slow_uplink {
                    n.chunk_bytes.get(&conn).copied().unwrap_or(0)
                } else {
                    0
                };
                let stalled = is_chunk && n.stall_after_chunks.is_some_and(|k| n.chunks_sent > k);
                // Chunk frames: tag, length, req, total, offset (17 bytes), then the data.
                const CHUNK_DATA_AT: usize = 17;
                let data = if n.hostile {
                    Bytes::from_static(&[0xff, 0, 0, 0, 1, 9])
                } else if n.corrupt && is_chunk && data.len() > CHUNK_DATA_AT {
                    let mut v = data.to_vec();
                    v[CHUNK_DATA_AT] ^= 0xff;
                    Bytes::from(v)
                } else {
                    data
                };
                if let Some(&(peer, peer_conn)) = n.links.get(&conn) {
                    if data.first() == Some(&7) {
                        n.absent_to.push(peer);
                    }
                    let lat = lat + n.extra_delay;
                    if !stalled {
                        self.schedule(
                            now + lat,
                            Ev::Input(
                                peer,
                                Input::ChannelMessage {
                                    conn: peer_conn,
                                    data,
                                },
                            ),
                        );
                    }
                }
                self.schedule(
                    now,
                    Ev::Input(node, Input::ChannelBuffered { conn, buffered }),
                );
            }
            Output::CloseConn { conn } => {
                if let Some((peer, peer_conn)) = self.nodes[node].links.remove(&conn) {
                    self.nodes[peer].links.remove(&peer_conn);
                    self.schedule(
                        now + lat,
                        Ev::Input(
                            peer,
                            Input::ConnClosed {
                                conn: peer_conn,
                                reason: "remote closed".into(),
                            },
                        ),
                    );
                }
            }
            Output::Event(e) => self.nodes[node].events.push(e),
            _ => {}
        }
    }

    /// The harness writes the answerer's conn number into the fake SDP; map it back.
    fn conn_of(&self, _node: usize, raw: u64) -> ConnId {
        ConnId::from_raw(raw)
    }

    /// The tracker: relays offers to random other members and answers to offerers.
    fn tracker_receive(&mut self, from: usize, request: TrackerRequest) {
        let now = self.now;
        let lat = self.latency;
        let (hash, peer_id, offers) = match request {
            TrackerRequest::Answer {
                info_hash,
                peer_id,
                to_peer,
                offer_id,
                sdp,
            } => {
                let target = self.peer_ids[&to_peer];
                let message = TrackerMessage::Answer {
                    peer: peer_id,
                    offer_id,
                    sdp,
                };
                self.schedule(
                    now + lat,
                    Ev::Input(target, tracker_input(info_hash, message)),
                );
                return;
            }
            TrackerRequest::Announce {
                info_hash,
                peer_id,
                offers,
                ..
            } => (info_hash, peer_id, offers),
            _ => return,
        };
        self.nodes[from].offers_sent += offers.len();
        let members = self.swarms.entry(hash).or_default();
        if !members.contains(&from) {
            members.push(from);
        }
        let members = members.clone();
        let resp = TrackerMessage::Announced {
            interval: Some(30),
            complete: Some(members.len() as u64),
            incomplete: Some(0),
        };
        self.schedule(now + lat, Ev::Input(from, tracker_input(hash, resp)));
        let mut others: Vec<usize> = members.into_iter().filter(|m| *m != from).collect();
        // Shuffle deterministically, then hand one offer to each.
        for i in (1..others.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            others.swap(i, j);
        }
        for (offer, to) in offers.into_iter().zip(others) {
            let message = TrackerMessage::Offer {
                peer: peer_id,
                offer_id: offer.offer_id,
                sdp: offer.sdp,
            };
            self.schedule(now + lat, Ev::Input(to, tracker_input(hash, message)));
        }
    }

    /// Runs until `until`, delivering events and waking agents in time order.
    pub fn run_until(&mut self, until: Instant) {
        // A livelock (an agent asking to be woken at a time that never moves on, as a
        // rounding bug once did) fails the test here instead of hanging the suite.
        let (mut last, mut same) = (self.now, 0u32);
        loop {
            let next_event = self.queue.peek().map(|Reverse((t, _))| *t);
            let next_wake = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.alive)
                .map(|(i, n)| (n.wake, i))
                .min();
            let t = match (next_event, next_wake) {
                (Some(e), Some((w, _))) => e.min(w),
                (Some(e), None) => e,
                (None, Some((w, _))) => w,
                (None, None) => break,
            };
            if t > until {
                break;
            }
            same = if t == last { same + 1 } else { 0 };
            last = t;
            assert!(
                same < 1_000_000,
                "virtual time stuck at {t:?}: a million steps without moving on"
            );
            self.now = self.now.max(t);
            if next_event == Some(t) {
                let Reverse((_, seq)) = self.queue.pop().unwrap();
                match self.pending.remove(&seq).unwrap() {
                    Ev::Input(n, input) => {
                        if self.nodes[n].alive {
                            self.input(n, input)
                        }
                    }
                    Ev::Tracker(n, request) => {
                        if self.tracker_up && self.nodes[n].alive {
                            self.tracker_receive(n, request)
                        }
                    }
                }
            } else if let Some((_, i)) = next_wake {
                let before = self.nodes[i].outputs;
                self.input(i, Input::Timeout);
                if self.nodes[i].outputs == before {
                    self.nodes[i].idle_wakeups += 1;
                }
            }
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    pub fn cdn_bytes(&self) -> usize {
        self.cdn_log.iter().map(|(_, _, n, _)| n).sum()
    }

    /// Chunk frame bytes `node` has sent, over all its connections.
    pub fn chunk_bytes_sent(&self, node: usize) -> usize {
        self.nodes[node].chunk_bytes.values().sum()
    }

    pub fn peers_of(&self, node: usize) -> u32 {
        self.nodes[node].agent.stats().peers
    }
}

/// The agent numbers trackers by position; the harness configures one.
fn tracker0() -> TrackerId {
    TrackerId::from_index(0)
}

/// A media playlist of `n` segments from `first_sn`, 2 s each, at `base`.
pub fn media_playlist(first_sn: u64, n: u64, live: bool) -> String {
    let mut s = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first_sn}\n"
    );
    for sn in first_sn..first_sn + n {
        s.push_str(&format!("#EXTINF:2.0,\nseg{sn}.ts\n"));
    }
    if !live {
        s.push_str("#EXT-X-ENDLIST\n");
    }
    s
}

/// Deterministic segment bytes, different per sequence number.
pub fn segment_bytes(sn: u64, len: usize) -> Bytes {
    let mut rng = Rng::new(sn.wrapping_mul(7919) + 1);
    (0..len)
        .map(|_| rng.next_u64() as u8)
        .collect::<Vec<u8>>()
        .into()
}

pub fn playback(ahead_secs: f64) -> Playback {
    Playback {
        position: 10.0,
        buffered_end: 10.0 + ahead_secs,
        rate: 1.0,
    }
}

/// MPEG-TS-shaped segment bytes: 188-byte packets starting with 0x47.
pub fn ts_segment_bytes(sn: u64, packets: usize) -> Bytes {
    let mut v = segment_bytes(sn, packets * 188).to_vec();
    for p in v.chunks_mut(188) {
        p[0] = 0x47;
    }
    v.into()
}

/// The publisher's hash list (sidecar) for segments `sns` at `BASE/seg<sn>.ts`.
pub fn hash_list(segments: &[(u64, Bytes)]) -> String {
    let mut s = String::from("#HLSMESH-HASHES:1\n");
    for (sn, data) in segments {
        let digest: String = hlsmesh_core::integrity::sha256(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        s.push_str(&format!("{sn} {} {digest} seg{sn}.ts\n", data.len()));
    }
    s
}

/// What the test tracker tells a member of swarm `hash`.
fn tracker_input(hash: Id20, message: TrackerMessage) -> Input {
    Input::TrackerMessage {
        tracker: tracker0(),
        info_hash: Some(hash),
        message,
    }
}
