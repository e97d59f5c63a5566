//! The whole-agent harness: one [`Agent`] fed a sequence of inputs chosen by the fuzz
//! bytes — playlists, player loads, HTTP results, tracker frames, SDP, channel frames from
//! peers on connections the agent opened, and timeouts at increasing times — with every
//! drain run to its end. Nothing may panic, and the agent must keep a few promises:
//! each drain ends, the cache stays within its bound, and a load is answered at most
//! once and only while the player still waits for it.
//!
//! The harness plays a cooperative world where it can (it answers the agent's offers and
//! requests with the ids the agent chose) so that inputs reach the deep states: open
//! channels, handshaken peers, transfers in flight.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use hlsmesh_core::playlist::Playlist;
use hlsmesh_core::integrity::{format_entry, read_sidecar, HashList, HEADER};
use hlsmesh_core::proto::{Id20, Message, SegmentId, MAX_CHUNK_DATA, PROTOCOL_VERSION};
use hlsmesh_core::tracker::messages::{AnnounceEvent, TrackerMessage, TrackerRequest};
use hlsmesh_core::url::without_query;
use hlsmesh_core::{
    swarm_hash, Agent, Config, ConnId, FetchId, HttpResponse, Input, Instant, LoadId, Output,
    Playback, TrackerId,
};

use crate::{m3u8, Src};

const TRACKERS: [&str; 2] = ["wss://t1.test/announce", "wss://t2.test"];
const SWARM: &str = "fuzz-swarm";
const MASTER_URL: &str = "https://cdn.test/live/master.m3u8?tok=1";
const MEDIA_URLS: [&str; 3] = [
    "https://cdn.test/live/v0/index.m3u8?token=abc",
    "https://cdn2.test/live/v1/index.m3u8",
    "https://cdn.test/live/index.m3u8",
];
/// Small, so that eviction (and `Lost`) happens.
const CACHE_BYTES: usize = 512 * 1024;
/// Outputs one drain may produce before we call it a livelock.
const MAX_DRAIN: usize = 200_000;
/// Inputs one run feeds at most.
const MAX_STEPS: usize = 4_000;

/// `HLSMESH_FUZZ_TRACE=1` prints every output (to read what a reproducer does).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("HLSMESH_FUZZ_TRACE").is_some())
}

const TS_PACKET: usize = 188;

/// The size the harness gives segment `sn` in hash lists and peer answers: whole TS packets.
fn ts_size(sn: u64) -> usize {
    TS_PACKET * (16 + (sn % 8) as usize)
}

fn fuzz_peer(i: u8) -> Id20 {
    let mut id = *b"-FZ0001-000000000000";
    id[19] = b'0' + i % 10;
    id[18] = b'0' + i / 10 % 10;
    id
}

#[derive(Default)]
struct ConnState {
    /// The peer id the world told the agent this connection leads to.
    remote: Option<Id20>,
    /// Requests the agent sent on it: req → (segment, offset, bytes already answered).
    requests: Vec<(u32, SegmentId, u32, u32)>,
}

/// The world around one agent.
pub struct World {
    agent: Agent,
    now: u64,
    wake: u64,
    hash: Id20,
    /// The swarm the agent's last announce went to (a VOD stretch's or the title's):
    /// where a tracker relays to it from.
    announced_in: Id20,
    me: Id20,
    conns: Vec<ConnId>,
    conn_state: HashMap<ConnId, ConnState>,
    fetches: Vec<FetchId>,
    /// Fetches of integrity sidecars (`….hashes`).
    hash_fetches: Vec<FetchId>,
    /// Offer ids the agent announced, per tracker.
    offer_ids: Vec<(usize, Id20)>,
    /// The peer id of the answer just relayed, for the `AcceptAnswer` it causes.
    answering_as: Option<Id20>,
    /// Loads the player waits for, with their URLs.
    loads_waiting: BTreeMap<u64, String>,
    next_load: u64,
    /// Media sequence numbers of recent playlists, to aim loads and frames at them.
    recent_sn: Vec<u64>,
}

impl World {
    /// A fresh agent with a known swarm and our two trackers; `flags` turn on the
    /// integrity check (1), an upload cap (2) and download-only (4).
    pub fn new(seed: u64, max_peers: usize, flags: u8) -> World {
        // `..Config::default()` keeps the harness building when the config grows.
        #[allow(clippy::needless_update)]
        let agent = Agent::new(
            Config {
                trackers: TRACKERS.iter().map(|s| s.to_string()).collect(),
                swarm_id: Some(SWARM.to_string()),
                max_peers,
                cache_bytes: CACHE_BYTES,
                seed,
                integrity: flags & 1 != 0,
                upload_bytes_per_sec: (flags & 2 != 0).then_some(100_000),
                download_only: flags & 4 != 0,
                ..Config::default()
            },
            Instant::ZERO,
        );
        let me = agent.peer_id();
        let mut w = World {
            agent,
            now: 0,
            wake: u64::MAX,
            hash: swarm_hash(SWARM),
            announced_in: swarm_hash(SWARM),
            me,
            conns: Vec::new(),
            conn_state: HashMap::new(),
            fetches: Vec::new(),
            hash_fetches: Vec::new(),
            offer_ids: Vec::new(),
            answering_as: None,
            loads_waiting: BTreeMap::new(),
            next_load: 1,
            recent_sn: vec![0],
        };
        w.feed(Input::Timeout);
        w
    }

    /// Runs the whole input.
    pub fn run(data: &[u8]) {
        let mut src = Src::new(data);
        let seed = u64::from(src.u16());
        let setup = src.u8();
        let max_peers = 1 + usize::from(setup % 6);
        let mut w = World::new(seed, max_peers, setup / 6);
        let mut steps = 0;
        while !src.is_empty() && steps < MAX_STEPS {
            w.step(&mut src);
            steps += 1;
        }
        // Let every deadline pass: whatever the agent still waits for must time out cleanly.
        for _ in 0..8 {
            w.advance(120_000_000);
        }
    }

    fn feed(&mut self, input: Input) {
        if trace() {
            let line = format!("{input:?}");
            eprintln!(
                "t={}us <- {}",
                self.now,
                &line[..line.floor_char_boundary(300)]
            );
        }
        self.agent
            .handle_input(Instant::from_micros(self.now), input);
        self.drain();
    }

    fn drain(&mut self) {
        for _ in 0..MAX_DRAIN {
            let out = self.agent.poll_output();
            if let Output::Timeout(at) = out {
                self.wake = at.as_micros();
                if trace() {
                    eprintln!("t={}us -> Timeout({})", self.now, self.wake);
                }
                // Every input runs the due timers, so the next wake-up lies ahead; one in
                // the past makes the embedder's timer fire at once, again and again.
                assert!(
                    self.wake > self.now,
                    "drain at {}us ends with a wake-up in the past: {}us",
                    self.now,
                    self.wake
                );
                assert!(
                    self.agent.cache_used() <= CACHE_BYTES,
                    "cache over its bound: {}",
                    self.agent.cache_used()
                );
                return;
            }
            self.observe(out);
        }
        panic!("a drain produced over {MAX_DRAIN} outputs without ending");
    }

    fn observe(&mut self, out: Output) {
        if trace() {
            let line = format!("{out:?}");
            eprintln!(
                "t={}us {}",
                self.now,
                &line[..line.floor_char_boundary(300)]
            );
        }
        match out {
            Output::Deliver { load, .. } | Output::Fail { load, .. } => {
                assert!(
                    self.loads_waiting.remove(&load.0).is_some(),
                    "load {} answered twice, after an abort, or never asked",
                    load.0
                );
            }
            Output::Fetch { fetch, .. } => self.fetches.push(fetch),
            Output::FetchHashList { fetch, url } => {
                assert!(without_query(&url).ends_with(".hashes"), "a sidecar URL: {url}");
                self.hash_fetches.push(fetch);
            }
            Output::CancelFetch { fetch } => {
                self.fetches.retain(|f| *f != fetch);
                self.hash_fetches.retain(|f| *f != fetch);
            }
            Output::TrackerSend {
                tracker,
                request:
                    TrackerRequest::Announce {
                        offers,
                        info_hash,
                        event,
                        ..
                    },
            } => {
                assert!(offers.len() <= 5, "at most five offers per announce");
                if event != Some(AnnounceEvent::Stopped) {
                    self.announced_in = info_hash;
                } else {
                    assert!(offers.is_empty(), "no offers when leaving a swarm");
                }
                for o in offers {
                    self.offer_ids.push((tracker.get(), o.offer_id));
                }
            }
            Output::CreateOffer { conn } => self.add_conn(conn, None),
            Output::AcceptOffer { conn, .. } => self.add_conn(conn, self.answering_as),
            Output::AcceptAnswer { conn, .. } => {
                if let Some(st) = self.conn_state.get_mut(&conn) {
                    st.remote = self.answering_as;
                }
            }
            Output::Transmit { conn, data } => {
                // The agent only sends frames it can decode itself.
                let msg = Message::decode(data).expect("the agent sends valid frames");
                if let (Message::Request { req, seg, offset }, Some(st)) =
                    (msg, self.conn_state.get_mut(&conn))
                {
                    st.requests.push((req, seg, offset, 0));
                    if st.requests.len() > 64 {
                        st.requests.remove(0);
                    }
                }
            }
            Output::CloseConn { conn } => {
                self.conns.retain(|c| *c != conn);
                self.conn_state.remove(&conn);
            }
            _ => {}
        }
    }

    fn add_conn(&mut self, conn: ConnId, remote: Option<Id20>) {
        if !self.conns.contains(&conn) {
            self.conns.push(conn);
        }
        self.conn_state.insert(
            conn,
            ConnState {
                remote,
                requests: Vec::new(),
            },
        );
    }

    fn advance(&mut self, by_us: u64) {
        self.now = self.now.saturating_add(by_us);
        self.feed(Input::Timeout);
    }

    fn pick_conn(&mut self, src: &mut Src<'_>) -> ConnId {
        // Mostly a connection the agent made; now and then one it never heard of.
        if self.conns.is_empty() || src.below(16) == 0 {
            ConnId::from_raw(u64::from(src.below(8)))
        } else {
            self.conns[usize::from(src.u8()) % self.conns.len()]
        }
    }

    fn pick_sn(&mut self, src: &mut Src<'_>) -> u64 {
        let base = self.recent_sn[usize::from(src.u8()) % self.recent_sn.len()];
        base.wrapping_add(u64::from(src.below(12)))
    }

    fn segment(&mut self, src: &mut Src<'_>) -> SegmentId {
        let variant = match src.below(6) {
            0 => 1,
            1 => 0x8000 | src.u16(),
            2 => src.u16(),
            _ => 0,
        };
        SegmentId {
            variant,
            sn: self.pick_sn(src),
        }
    }

    fn segment_url(&mut self, src: &mut Src<'_>) -> String {
        let sn = self.pick_sn(src);
        match src.below(6) {
            0 => format!("https://cdn.test/live/v0/seg{sn}.ts?token=xyz"),
            1 => format!("https://cdn2.test/live/v1/seg{sn}.ts?token=xyz"),
            2 => "https://cdn.test/live/init.mp4".to_string(),
            3 => src.short_str(),
            _ => format!("https://cdn.test/live/seg{sn}.ts?token=xyz"),
        }
    }

    fn body(src: &mut Src<'_>) -> Bytes {
        let len = match src.below(5) {
            0 => 0,
            1 => usize::from(src.u8()),
            2 => usize::from(src.u16()) * 4,
            // MPEG-TS-sized, as the peers' chunks below are (with fill 0x47, valid TS).
            3 => TS_PACKET * (16 + usize::from(src.below(8))),
            _ => usize::from(src.u16()),
        };
        let fill = src.u8();
        Bytes::from(vec![fill; len])
    }

    /// One input.
    pub fn step(&mut self, src: &mut Src<'_>) {
        match src.below(20) {
            0 | 1 => {
                let url = match src.below(5) {
                    0 => MASTER_URL.to_string(),
                    1 => src.short_str(),
                    i => MEDIA_URLS[usize::from(i - 2)].to_string(),
                };
                let text = if src.below(8) == 0 {
                    src.short_bytes().to_vec()
                } else {
                    m3u8::playlist(src).into_bytes()
                };
                let read = hlsmesh_core::playlist::read(&url, &text);
                let playlist = match read {
                    Ok(Playlist::Media(mut m)) => {
                        self.recent_sn.push(m.first_sn);
                        if self.recent_sn.len() > 8 {
                            self.recent_sn.remove(0);
                        }
                        // What no reader of ours writes, but an embedder's might: the
                        // agent must refuse or bound it, never panic.
                        match src.below(8) {
                            0 => m.first_sn = src.interesting_u64(),
                            1 => {
                                if let Some(s) = m.segments.first_mut() {
                                    s.range = Some((src.interesting_u64(), src.interesting_u64()));
                                    s.duration = [f64::NAN, -1.0, f64::INFINITY, 1e300]
                                        [usize::from(src.below(4))];
                                }
                            }
                            2 => {
                                if let Some(s) = m.segments.first().cloned() {
                                    m.segments.push(s);
                                }
                            }
                            _ => {}
                        }
                        Playlist::Media(m)
                    }
                    Ok(p) => p,
                    Err(_) => return,
                };
                self.feed(Input::Playlist { url, playlist });
            }
            2 | 3 => {
                let load = self.next_load;
                self.next_load += 1;
                let url = self.segment_url(src);
                self.loads_waiting.insert(load, url.clone());
                let range = match src.below(6) {
                    0 => Some((u64::from(src.u16()), u64::from(src.u16()))),
                    1 => Some((src.interesting_u64(), src.interesting_u64())),
                    _ => None,
                };
                let playback = self.playback(src);
                self.feed(Input::Load {
                    load: LoadId(load),
                    url,
                    range,
                    playback,
                });
            }
            4 => {
                let load = match self.loads_waiting.keys().next() {
                    Some(l) if src.below(4) != 0 => *l,
                    _ => u64::from(src.u8()),
                };
                self.loads_waiting.remove(&load);
                self.feed(Input::Abort { load: LoadId(load) });
            }
            5 => {
                let p = self.playback(src);
                self.feed(Input::Playback(p));
            }
            6 | 7 if !self.hash_fetches.is_empty() && src.below(3) == 0 => {
                let i = usize::from(src.u8()) % self.hash_fetches.len();
                let fetch = self.hash_fetches.remove(i);
                let list = match src.below(6) {
                    0 => Err("network error".to_string()),
                    1 => Err("HTTP status 404".to_string()),
                    2 => read_sidecar(src.short_bytes()),
                    // Entries as another reader could hand them over: the agent checks
                    // their order and count itself.
                    3 => {
                        let mut entries = read_sidecar(self.hash_list(src).as_bytes())
                            .map(|l| l.entries().to_vec())
                            .unwrap_or_default();
                        entries.reverse();
                        HashList::from_entries(entries).map_err(|e| e.describe())
                    }
                    _ => read_sidecar(self.hash_list(src).as_bytes()),
                };
                self.feed(Input::HashListRead { fetch, list });
            }
            6 | 7 => {
                if self.fetches.is_empty() {
                    return;
                }
                let i = usize::from(src.u8()) % self.fetches.len();
                let fetch = self.fetches.remove(i);
                let result = match src.below(8) {
                    0 => Err("network error".to_string()),
                    1 => Ok(HttpResponse {
                        status: [404, 500, 0, 301, 204][usize::from(src.below(5))],
                        body: Self::body(src),
                    }),
                    2 => Ok(HttpResponse {
                        status: 206,
                        body: Self::body(src),
                    }),
                    _ => Ok(HttpResponse {
                        status: 200,
                        body: Self::body(src),
                    }),
                };
                self.feed(Input::HttpDone { fetch, result });
            }
            8 => {
                let tracker = TrackerId::from_index(usize::from(src.below(3)));
                if src.below(3) == 0 {
                    self.feed(Input::TrackerClosed {
                        tracker,
                        reason: "closed".into(),
                    });
                } else {
                    self.feed(Input::TrackerOpen { tracker });
                }
            }
            9 | 10 => self.tracker_message(src),
            11 => {
                let conn = self.pick_conn(src);
                let sdp = "v=0\r\n".to_string();
                if src.below(2) == 0 {
                    self.feed(Input::OfferCreated { conn, sdp });
                } else {
                    self.feed(Input::AnswerCreated { conn, sdp });
                }
            }
            12 => {
                let conn = self.pick_conn(src);
                self.feed(Input::ChannelOpen { conn });
            }
            13..=15 => self.channel_message(src),
            16 => {
                let conn = self.pick_conn(src);
                let buffered =
                    [0, 100_000, 300_000, 2_000_000, usize::MAX][usize::from(src.below(5))];
                self.feed(Input::ChannelBuffered { conn, buffered });
            }
            17 => {
                let conn = self.pick_conn(src);
                self.conns.retain(|c| *c != conn);
                self.conn_state.remove(&conn);
                self.feed(Input::ConnClosed {
                    conn,
                    reason: "closed".into(),
                });
            }
            _ => {
                // Time moves on: to the agent's own wake-up, or by a chosen step.
                let by = match src.below(4) {
                    0 if self.wake > self.now && self.wake - self.now <= 600_000_000 => {
                        self.wake - self.now
                    }
                    1 => u64::from(src.u16()) * 1_000,
                    2 => u64::from(src.u8()) * 1_000_000,
                    _ => u64::from(src.u8()) * 100_000,
                };
                self.advance(by);
            }
        }
    }

    fn playback(&mut self, src: &mut Src<'_>) -> Playback {
        let position = match src.below(8) {
            0 => f64::NAN,
            1 => -1.0,
            2 => f64::INFINITY,
            _ => f64::from(src.u16()) / 4.0,
        };
        let ahead = match src.below(6) {
            0 => f64::NAN,
            1 => -5.0,
            _ => f64::from(src.u8()) / 8.0,
        };
        Playback {
            position,
            buffered_end: position + ahead,
            rate: [1.0, 0.0, 2.0, -1.0][usize::from(src.below(4))],
        }
    }

    fn tracker_message(&mut self, src: &mut Src<'_>) {
        let ti = usize::from(src.below(2));
        let tracker = TrackerId::from_index(ti);
        let hash = match src.below(16) {
            0 => [b'x'; 20],
            1 => self.hash,
            _ => self.announced_in,
        };
        let peer_n = src.below(12);
        let peer = if peer_n == 11 {
            self.me
        } else {
            fuzz_peer(peer_n)
        };
        let message = match src.below(8) {
            0 => {
                // An offer relayed from another viewer.
                let offer_id = fuzz_peer(src.u8());
                self.answering_as = Some(peer);
                TrackerMessage::Offer {
                    peer,
                    offer_id,
                    sdp: "v=0\r\n".into(),
                }
            }
            1 | 2 => {
                // An answer to one of the agent's offers (or to one it never made).
                let offer_id = match self.offer_ids.len() {
                    0 => fuzz_peer(src.u8()),
                    n => self.offer_ids[usize::from(src.u8()) % n].1,
                };
                self.answering_as = Some(peer);
                TrackerMessage::Answer {
                    peer,
                    offer_id,
                    sdp: "v=0\r\n".into(),
                }
            }
            3 => TrackerMessage::Announced {
                interval: Some(src.interesting_u64()),
                complete: Some(src.interesting_u64()),
                incomplete: Some(src.interesting_u64()),
            },
            4 => TrackerMessage::Failure(src.short_str()),
            5 => TrackerMessage::Warning(src.short_str()),
            _ => TrackerMessage::Unreadable(src.short_str()),
        };
        self.feed(Input::TrackerMessage {
            tracker,
            info_hash: Some(hash),
            message,
        });
    }

    fn channel_message(&mut self, src: &mut Src<'_>) {
        let conn = self.pick_conn(src);
        let remote = self
            .conn_state
            .get(&conn)
            .and_then(|s| s.remote)
            .unwrap_or_else(|| fuzz_peer(0));
        let msg = match src.below(12) {
            0 | 1 => Message::Hello {
                version: if src.below(8) == 0 {
                    src.u16()
                } else {
                    PROTOCOL_VERSION
                },
                swarm: if src.below(8) == 0 {
                    fuzz_peer(1)
                } else {
                    self.hash
                },
                peer: match src.below(8) {
                    0 => self.me,
                    1 => fuzz_peer(src.u8()),
                    _ => remote,
                },
            },
            2 | 3 => {
                let n = src.below(16);
                let segments = (0..n).map(|_| self.segment(src)).collect();
                Message::Have { segments }
            }
            4 => {
                let n = src.below(8);
                let segments = (0..n).map(|_| self.segment(src)).collect();
                Message::Lost { segments }
            }
            5 => Message::Request {
                req: u32::from(src.u8()),
                seg: self.segment(src),
                offset: match src.below(4) {
                    0 => src.u32(),
                    _ => 0,
                },
            },
            6 => Message::Cancel {
                req: u32::from(src.u8()),
            },
            7 | 8 => return self.answer_request(src, conn),
            9 => Message::Absent {
                req: self.known_req(src, conn),
            },
            _ => {
                let raw = src.short_bytes().to_vec();
                return self.feed(Input::ChannelMessage {
                    conn,
                    data: Bytes::from(raw),
                });
            }
        };
        self.feed(Input::ChannelMessage {
            conn,
            data: msg.encode(),
        });
    }

    /// A hash list for segments near the recent playlists: each entry vouches for a
    /// segment of [`ts_size`] bytes all equal to a chosen byte (what `answer_request`
    /// and `body` send when they pick the same), so verdicts can go either way.
    fn hash_list(&mut self, src: &mut Src<'_>) -> String {
        let mut text = format!("{HEADER}\n");
        let base = self.pick_sn(src);
        let mut sn = base;
        for _ in 0..src.below(10) {
            sn = sn.saturating_add(1 + u64::from(src.below(3)));
            let fill = if src.below(2) == 0 { 0x47 } else { src.u8() };
            let size = ts_size(sn);
            text += &format_entry(sn, &vec![fill; size], Some(&format!("seg{sn}.ts")));
            text.push('\n');
        }
        text
    }

    fn known_req(&mut self, src: &mut Src<'_>, conn: ConnId) -> u32 {
        match self.conn_state.get(&conn).map(|s| &s.requests[..]) {
            Some(reqs) if !reqs.is_empty() && src.below(8) != 0 => {
                reqs[usize::from(src.u8()) % reqs.len()].0
            }
            _ => u32::from(src.u8()),
        }
    }

    /// A chunk for one of the agent's requests on `conn`: mostly the next bytes in
    /// order, sometimes out of order, resized or past the end.
    fn answer_request(&mut self, src: &mut Src<'_>, conn: ConnId) {
        let req = self.known_req(src, conn);
        let total_choice = src.below(8);
        let len_choice = src.u16();
        let fill = src.u8();
        let twist = src.below(10);
        let Some(st) = self.conn_state.get_mut(&conn) else {
            return;
        };
        let Some(entry) = st.requests.iter_mut().find(|r| r.0 == req) else {
            return;
        };
        // A segment size per request that both sides keep to, unless twisted.
        let total: u32 = match total_choice {
            0 => 0,
            1 => 1,
            2 => 200_000,
            3 => 3_000 + u32::from(entry.1.sn as u8) * 1_000,
            // The size `hash_list` gives this segment.
            _ => ts_size(entry.1.sn) as u32,
        };
        let total = total.max(entry.2);
        let offset = entry.2 + entry.3;
        let len = (usize::from(len_choice) % (MAX_CHUNK_DATA + 1))
            .min(total.saturating_sub(offset) as usize);
        let (total, offset) = match twist {
            0 => (total + 1, offset),
            1 => (total, offset.wrapping_add(1)),
            _ => (total, offset),
        };
        let end = u64::from(offset) + len as u64;
        if end > u64::from(total) {
            return;
        }
        entry.3 += len as u32;
        let data = Message::Chunk {
            req,
            total,
            offset,
            data: Bytes::from(vec![fill; len]),
        }
        .encode();
        self.feed(Input::ChannelMessage { conn, data });
    }
}
