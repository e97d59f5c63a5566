//! The neighbourhood: tracker connections, the offer/answer dance they relay, and the
//! peer sessions over the data channels that result.
//!
//! Connection stages, for an offer we make: `Gathering` (the edge builds the SDP) →
//! `Offered` (sent in an announce, waiting for an answer) → `Connecting` → `Open`.
//! For an offer we receive: `Answering` (the edge builds our answer) → `Connecting` →
//! `Open`. Every stage has a deadline; a connection that misses it is closed.

use crate::vecmap::VecMap;

use core::cell::Cell;
use core::time::Duration;

use bytes::Bytes;
use hlsmesh_proto::{Id20, SegmentId, MAX_CHUNK_DATA};

use crate::agent::{Config, ConnId, Ctx, Event, Output, TrackerId};
use crate::peer::{PeerEvent, PeerSession, SEND_LOW_WATER};
use crate::time::Instant;
use crate::tracker::messages::{AnnounceEvent, OutgoingOffer, TrackerMessage, TrackerRequest};
use crate::tracker::Tracker;

/// Offers one announce carries at most: as many as aquatic_ws accepts by default
/// (`max_offers`; bittorrent-tracker's server relays up to 82). The reference client
/// sends 5. A newcomer whose first announce finds most of the swarm full gets twice the
/// answers, and so its neighbours in its first second rather than at its next announce
/// (heavy churn, 1,000 viewers, seeds 1–3: 8.04 → 6.12 points from the bound on average).
const MAX_OFFERS_PER_ANNOUNCE: usize = 10;
/// How long the edge may take to gather an offer before the announce goes without it.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
/// Unanswered offers are dropped after this. An answer takes the answerer as long to
/// gather as an offer takes us (which we allow `2 × GATHER_TIMEOUT`), plus two tracker
/// legs; an offer relayed to a full viewer is never answered. The reference client waits
/// 50 s, but it announces every few minutes: announcing every `EAGER_INTERVAL` while
/// short of peers, 15 s keeps at most three announces' offers (30) waiting at once.
const OFFER_TIMEOUT: Duration = Duration::from_secs(15);
/// From answer or accepted offer to an open channel.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// From an open channel to a valid hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer that announced nothing still counts in the live-edge election.
const SILENT_GRACE: Duration = Duration::from_secs(10);
/// A VOD title's swarm is split in stretches of this many media seconds (see
/// [`Swarm::follow_playhead`]). No more than a viewer's cache holds (the default 64 MiB
/// is two to five minutes at 2–4 Mb/s): neighbours in the same stretch then hold much of
/// what we play next.
pub const STRETCH: f64 = 120.0;
/// Uploads sent at once, across all peers. One: on a slow uplink, copies sent one after
/// the other each arrive as early as they can, where copies sharing it all arrive late.
const UPLOAD_SLOTS: usize = 1;
/// How long a new viewer, not yet answered by any tracker, assumes neighbours are coming.
pub const JOIN_GRACE: Duration = Duration::from_secs(5);
/// Least bytes a channel must drain between an upload's send and its drain report
/// for the time it took to measure our upload rate.
const UPLINK_PROBE_MIN: usize = 128 * 1024;

/// A channel draining an upload just sent: how fast it drains is our upload rate.
struct Probe {
    conn: ConnId,
    /// When upload data was last sent on it.
    at: Instant,
    /// Its highest `bufferedAmount` reading since.
    peak: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Offerer,
    Answerer,
}

// An open session is held inline, not boxed: a connection's sessions then lie together
// in `Swarm::conns`, which the sweeps after each input read in order (an agent's dozen
// boxes lay on a dozen pages among other agents' objects: one cache and TLB miss each).
#[allow(clippy::large_enum_variant)]
enum Stage {
    Gathering {
        sdp: Option<String>,
    },
    Offered,
    /// The edge builds our answer. It goes to the swarm that carried the offer: the
    /// trackers relay it to the offerer as a member of that swarm.
    Answering(Id20),
    Connecting,
    Open(PeerSession),
}

struct Conn {
    tracker: usize,
    role: Role,
    remote: Option<Id20>,
    offer_id: Id20,
    stage: Stage,
    since: Instant,
}

impl Conn {
    fn deadline(&self) -> Option<Instant> {
        match &self.stage {
            Stage::Gathering { .. } => Some(self.since + GATHER_TIMEOUT * 2),
            Stage::Offered => Some(self.since + OFFER_TIMEOUT),
            Stage::Answering(_) | Stage::Connecting => Some(self.since + CONNECT_TIMEOUT),
            Stage::Open(s) if !s.is_ready() => Some(self.since + HELLO_TIMEOUT),
            Stage::Open(_) => None,
        }
    }

    fn session(&self) -> Option<&PeerSession> {
        match &self.stage {
            Stage::Open(s) if s.is_ready() => Some(s),
            _ => None,
        }
    }
}

struct PendingAnnounce {
    tracker: usize,
    conns: Vec<ConnId>,
    deadline: Instant,
}

/// Trackers and peer connections of one agent.
pub(crate) struct Swarm {
    peer_id: Id20,
    tracker_urls: Vec<String>,
    trackers: Vec<Tracker>,
    /// The title's swarm: the hello carries it, and peers must agree on it.
    info_hash: Option<Id20>,
    /// The swarm the trackers are told: the title's, or for a VOD title the swarm of the
    /// stretch the playhead is in ([`Swarm::follow_playhead`]).
    tracker_hash: Option<Id20>,
    max_peers: usize,
    conns: VecMap<ConnId, Conn>,
    /// The greatest sequence number any peer announced (in any variant): no peer holds
    /// a later segment, and a search for its holders need not visit the sessions.
    announced: Option<u64>,
    next_conn: u64,
    pending: Vec<PendingAnnounce>,
    swarm_size: u32,
    gone: Vec<ConnId>,
    /// When the trackers were started (the swarm got its name).
    started_at: Option<Instant>,
    /// Whether any tracker has answered an announce.
    heard_from_tracker: bool,
    /// Peers caught lying (corrupted segments): refused for the rest of the session. A
    /// list, not a set: a few ids at most, and no set's code for 20-byte keys in the wasm.
    banned: Vec<Id20>,
    /// Upload rate cap, when configured.
    upload_cap: Option<TokenBucket>,
    /// Announce nothing, serve nothing.
    download_only: bool,
    /// Order of arrival of the requests we serve, across all peers.
    upload_seq: u64,
    /// The earliest connection deadline, while known (`None`: to be computed again).
    /// Every change of a connection's deadline (a connection added, closed, moved to
    /// another stage or past its hello) forgets it, so that the sweeps after each input
    /// ([`Swarm::handle_timeout`], [`Swarm::poll_timeout`]) need not visit every
    /// connection.
    conn_deadline: Cell<Option<Option<Instant>>>,
    /// Whether a session may have frames to send: false after a flush left every
    /// session with nothing queued, true again once anything is queued (a session
    /// touched). A channel's buffer reading alone queues nothing: with nothing queued
    /// anywhere, the flush after it has nothing to do.
    output_pending: bool,
    /// The channel whose drain measures our upload rate now.
    probe: Option<Probe>,
    /// Our upload rate, bytes per second as the edge counts them (0: not measured).
    uplink: f64,
    /// The upload rate last told to peers, kb/s (0: none yet).
    uplink_told: u32,
    /// The told rate, kb/s, from which we are a fast uplink (the scheduler sets it from
    /// the rendition's: `election::FAST_UPLINK` times it).
    pub(crate) fast_from: u64,
    /// Whether we are a slow uplink whose neighbours of our rendition are all slow too
    /// (none told a fast uplink's rate), as the scheduler's last election found (at each
    /// load and each new live segment; it visits them all anyway). Such viewers fill each
    /// other's rooms when they are the first of a small audience, and a full viewer
    /// neither offers nor answers: without looking further they stay among themselves,
    /// each a copy too slow to pass on in time, and take most segments from the CDN. So
    /// each of our announces (at the tracker's interval, as the reference client's) offers
    /// up to `max_peers` connections more, which fast uplinks (room for two and a half
    /// times `max_peers`) answer. 100 viewers, seeds 1–40, points from the bound on
    /// average: flash-crowd 3.29 → 2.87 (seed 1: 8.91 → 2.70), steady-live 3.05 → 2.99,
    /// heavy-churn 4.99 → 5.01, vod-long-tail 14.27 → 14.22. Where nobody is fast
    /// (upload-starved) each viewer receives 14.5 tracker messages a minute, not 5.0.
    pub(crate) among_slow: Cell<bool>,
}

/// A token bucket over upload bytes: `rate` per second, up to one second's worth (and
/// at least two chunks) saved up.
struct TokenBucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    fn burst(&self) -> f64 {
        self.rate.max(2.0 * MAX_CHUNK_DATA as f64)
    }

    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * self.rate).min(self.burst());
        self.at = now;
    }

    /// When a full chunk's worth will be available, rounded up to the next microsecond
    /// (rounded down, a wait of a fraction of one would wake the agent at a time when
    /// the bucket is still short, again and again).
    fn ready_at(&self) -> Instant {
        let missing = (MAX_CHUNK_DATA as f64 - self.tokens).max(0.0);
        let micros = missing / self.rate * 1e6;
        let whole = micros as u64;
        self.at + Duration::from_micros(whole + u64::from((whole as f64) < micros))
    }
}

impl Swarm {
    /// A swarm for `config`, whose tracker list it takes (not a clone: no `Vec<String>`
    /// clone in the wasm).
    pub(crate) fn new(config: &mut Config, rng: &mut crate::rng::Rng, _now: Instant) -> Swarm {
        Swarm {
            peer_id: make_peer_id(rng),
            tracker_urls: std::mem::take(&mut config.trackers),
            trackers: Vec::new(),
            info_hash: None,
            tracker_hash: None,
            max_peers: config.max_peers,
            among_slow: Cell::new(false),
            conns: VecMap::new(),
            announced: None,
            next_conn: 1,
            pending: Vec::new(),
            swarm_size: 0,
            gone: Vec::new(),
            started_at: None,
            heard_from_tracker: false,
            banned: Vec::new(),
            upload_cap: config
                .upload_bytes_per_sec
                .filter(|r| *r > 0)
                .map(|r| TokenBucket {
                    rate: r as f64,
                    tokens: 2.0 * MAX_CHUNK_DATA as f64,
                    at: Instant::ZERO,
                }),
            download_only: config.download_only,
            upload_seq: 0,
            conn_deadline: Cell::new(None),
            output_pending: true,
            probe: None,
            uplink: 0.0,
            uplink_told: 0,
            fast_from: u64::MAX,
        }
    }

    pub(crate) fn peer_id(&self) -> Id20 {
        self.peer_id
    }

    pub(crate) fn swarm_size(&self) -> u32 {
        self.swarm_size
    }

    /// Names the swarm (once) and starts the trackers.
    pub(crate) fn set_swarm_name(&mut self, now: Instant, name: &str) {
        if self.info_hash.is_some() {
            return;
        }
        let hash = swarm_hash(name);
        self.info_hash = Some(hash);
        self.tracker_hash = self.info_hash;
        self.started_at = (!self.tracker_urls.is_empty()).then_some(now);
        self.trackers = Vec::new();
        for u in &self.tracker_urls {
            self.trackers.push(Tracker::new(u.clone(), now));
        }
    }

    /// A VOD viewer's player asks for a segment with its playhead at `playhead` media
    /// seconds. When that is in another [`STRETCH`] of the title, the trackers are told
    /// that stretch's swarm from then on, so that the neighbours they find play near us
    /// (in a title's one swarm, a dozen random neighbours rarely hold what we play next).
    /// We leave the swarm we were in, keep the neighbours we have, and announce at once.
    pub(crate) fn follow_playhead(&mut self, ctx: &mut Ctx<'_>, playhead: f64) {
        let (Some(title), Some(told)) = (&self.info_hash, &mut self.tracker_hash) else {
            return;
        };
        // `as` saturates: a negative or NaN playhead is in the first stretch.
        let hash = stretch_hash(title, (playhead / STRETCH) as u64);
        if *told == hash {
            return;
        }
        let left = core::mem::replace(told, hash);
        for i in 0..self.trackers.len() {
            if self.trackers[i].moved(ctx.now) {
                // Built here as `finish_announce` builds its own: one helper for both
                // measured 22 bytes more of the drop-in, gzipped.
                ctx.out.push(Output::TrackerSend {
                    tracker: TrackerId(i),
                    request: TrackerRequest::Announce {
                        info_hash: left,
                        peer_id: self.peer_id,
                        event: Some(AnnounceEvent::Stopped),
                        offers: Vec::new(),
                        uploaded: ctx.stats.uploaded_bytes,
                        downloaded: ctx.stats.cdn_bytes + ctx.stats.peer_bytes,
                    },
                });
            }
        }
    }

    /// Peers past the handshake.
    pub(crate) fn ready_peers(&self) -> usize {
        let mut n = 0;
        for c in self.conns.values() {
            n += usize::from(c.session().is_some());
        }
        n
    }

    /// Connections in any stage but `Offered` (an offer may never be answered).
    fn live_conns(&self) -> usize {
        let mut n = 0;
        for c in self.conns.values() {
            n += usize::from(!matches!(c.stage, Stage::Offered));
        }
        n
    }

    /// Whether other viewers are about to be neighbours: a connection is being set up
    /// (an offer accepted, an answer applied, a channel before its hello), or the tracker
    /// reports others in the swarm while none is connected yet.
    ///
    /// In the first [`JOIN_GRACE`] after the trackers start, before any answered, that is
    /// not known yet, and peers are expected.
    pub(crate) fn expecting_peers(&self, now: Instant) -> bool {
        let mut setting_up = false;
        for c in self.conns.values() {
            setting_up |= matches!(c.stage, Stage::Answering(_) | Stage::Connecting)
                || matches!(&c.stage, Stage::Open(s) if !s.is_ready());
        }
        let joining =
            !self.heard_from_tracker && self.started_at.is_some_and(|t| now < t + JOIN_GRACE);
        setting_up || joining || (self.ready_peers() == 0 && self.swarm_size > 1)
    }

    /// Every ready peer.
    pub(crate) fn ready_sessions(&self) -> Sessions<'_> {
        Sessions {
            conns: self.conns.entries().iter(),
            holding: None,
        }
    }

    /// Whether a peer may hold `seg`: one announced it or a later segment.
    pub(crate) fn may_hold(&self, seg: SegmentId) -> bool {
        self.announced.is_some_and(|n| seg.sn <= n)
    }

    /// Ready peers holding `seg`.
    pub(crate) fn peers_with(&self, seg: SegmentId) -> Sessions<'_> {
        Sessions {
            conns: self.conns.entries().iter(),
            holding: Some(seg),
        }
    }

    /// Our upload rate as we told it to peers, kb/s (0: not measured yet).
    pub(crate) fn uplink_kbps(&self) -> u32 {
        self.uplink_told
    }

    pub(crate) fn session_mut(&mut self, conn: ConnId) -> Option<&mut PeerSession> {
        self.output_pending = true;
        match self.conns.get_mut(&conn).map(|c| &mut c.stage) {
            Some(Stage::Open(s)) if s.is_ready() => Some(s),
            _ => None,
        }
    }

    /// Tells every peer about segments we now hold (but not a peer that announced them
    /// itself: see [`PeerSession::announce_have_unless_known`]).
    pub(crate) fn broadcast_have(&mut self, segs: &[SegmentId]) {
        self.output_pending = true;
        if self.download_only {
            return;
        }
        let mut frames = Vec::new();
        for c in self.conns.values_mut() {
            if let Stage::Open(s) = &mut c.stage {
                s.announce_have_unless_known(segs, &mut frames);
            }
        }
    }

    /// Tells each peer about segments we dropped, except those `expired` (slid out of a
    /// live window) of the rendition the peer plays: it reads the same playlist and
    /// forgets them itself ([`Swarm::forget_expired`]). Half of all frames in a live
    /// swarm were such `Lost`s.
    pub(crate) fn broadcast_lost(
        &mut self,
        segs: &[SegmentId],
        expired: impl Fn(&SegmentId) -> bool,
    ) {
        if segs.is_empty() {
            return;
        }
        self.output_pending = true;
        let mut tell = Vec::with_capacity(segs.len());
        for c in self.conns.values_mut() {
            if let Stage::Open(s) = &mut c.stage {
                let plays = s.latest_variant();
                tell.clear();
                for seg in segs {
                    if !(plays.is_some_and(|v| v == seg.variant) && expired(seg)) {
                        tell.push(*seg);
                    }
                }
                s.announce_lost(&tell);
            }
        }
    }

    /// Forgets, for every peer, the segments it announced that are `expired`.
    pub(crate) fn forget_expired(&mut self, expired: impl Fn(&SegmentId) -> bool) {
        for c in self.conns.values_mut() {
            if let Stage::Open(s) = &mut c.stage {
                s.forget(&expired);
            }
        }
    }

    /// Connections closed since the last call (the scheduler reroutes their transfers).
    pub(crate) fn take_gone(&mut self) -> Vec<ConnId> {
        core::mem::take(&mut self.gone)
    }

    pub(crate) fn handle_tracker_open(&mut self, ctx: &mut Ctx<'_>, tracker: TrackerId) {
        if let Some(t) = self.trackers.get_mut(tracker.0) {
            t.handle_open(ctx.now);
            ctx.out.event(Event::TrackerConnected {
                url: t.url().to_string(),
            });
        }
    }

    pub(crate) fn handle_tracker_closed(
        &mut self,
        ctx: &mut Ctx<'_>,
        tracker: TrackerId,
        reason: String,
    ) {
        let Some(t) = self.trackers.get_mut(tracker.0) else {
            return;
        };
        if !t.handle_closed(ctx.now, ctx.rng) {
            return;
        }
        ctx.out.event(Event::TrackerError {
            url: t.url().to_string(),
            reason,
        });
        // Offers sent through this tracker can no longer be answered.
        // Last first, so that removing one leaves the others' places.
        for i in (0..self.pending.len()).rev() {
            if self.pending[i].tracker == tracker.0 {
                self.pending.remove(i);
            }
        }
        // One after the other, in id order (closing adds no connection).
        while let Some(id) = self.first_conn(|c| {
            c.tracker == tracker.0 && matches!(c.stage, Stage::Gathering { .. } | Stage::Offered)
        }) {
            self.close(ctx, id, "tracker went away", true);
        }
    }

    pub(crate) fn handle_tracker_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        tracker: TrackerId,
        info_hash: Option<Id20>,
        message: TrackerMessage,
    ) {
        let (Some(hash), Some(t)) = (self.tracker_hash, self.trackers.get_mut(tracker.0)) else {
            return;
        };
        let ours = info_hash.is_none_or(|h| h == hash);
        match message {
            TrackerMessage::Announced {
                interval,
                complete,
                incomplete,
            } if ours => {
                if let Some(i) = interval {
                    t.set_interval(i);
                }
                self.heard_from_tracker = true;
                let size = complete
                    .unwrap_or(0)
                    .saturating_add(incomplete.unwrap_or(0));
                self.swarm_size = size.min(u64::from(u32::MAX)) as u32;
            }
            TrackerMessage::Offer {
                peer,
                offer_id,
                sdp,
            } if ours => self.accept_offer(ctx, tracker.0, hash, peer, offer_id, sdp),
            // Matched by our offer's id, whichever stretch's swarm carried it.
            TrackerMessage::Answer {
                peer,
                offer_id,
                sdp,
            } => self.accept_answer(ctx, peer, offer_id, sdp),
            TrackerMessage::Failure(reason)
            | TrackerMessage::Warning(reason)
            | TrackerMessage::Unreadable(reason) => ctx.out.event(Event::TrackerError {
                url: t.url().to_string(),
                reason,
            }),
            _ => {}
        }
    }

    /// Whether `peer` was banned (a loop: `contains` brings its own slice search).
    fn is_banned(&self, peer: &Id20) -> bool {
        for b in &self.banned {
            if b == peer {
                return true;
            }
        }
        false
    }

    /// The first connection (in id order) that `test` says yes to.
    fn first_conn(&self, test: impl Fn(&Conn) -> bool) -> Option<ConnId> {
        for (id, c) in &self.conns {
            if test(c) {
                return Some(*id);
            }
        }
        None
    }

    fn knows_peer(&self, peer: &Id20) -> bool {
        for c in self.conns.values() {
            if c.remote.is_some_and(|r| r == *peer)
                || c.session()
                    .and_then(|s| s.remote_id())
                    .is_some_and(|r| r == *peer)
            {
                return true;
            }
        }
        false
    }

    fn accept_offer(
        &mut self,
        ctx: &mut Ctx<'_>,
        tracker: usize,
        swarm: Id20,
        peer: Id20,
        offer_id: Id20,
        sdp: String,
    ) {
        // A fast uplink answers offers up to two and a half times `max_peers` (30 at 12):
        // it has upload to spare, and the new connections of viewers short of neighbours
        // (joining, or left by one) land on it rather than on full slow ones. The more
        // neighbours a fast uplink has, the fewer viewers rank first among theirs for a
        // new segment (1,000 viewers, seeds 1–3, against half again `max_peers` and a
        // sixth more offered: steady-live 2.97 → 1.90 points from the bound, heavy-churn
        // 5.85 → 4.34).
        let room = match self.fast() {
            true => self.max_peers * 5 / 2,
            false => self.max_peers,
        };
        if peer == self.peer_id
            || self.is_banned(&peer)
            || self.knows_peer(&peer)
            || self.live_conns() >= room
        {
            return;
        }
        let conn = self.new_conn(
            ctx,
            tracker,
            Role::Answerer,
            Some(peer),
            offer_id,
            Stage::Answering(swarm),
        );
        ctx.out.push(Output::AcceptOffer { conn, sdp });
    }

    fn accept_answer(&mut self, ctx: &mut Ctx<'_>, peer: Id20, offer_id: Id20, sdp: String) {
        // The first offer of ours with this id: any, to close it, when a banned peer
        // answers; else one still waiting for its answer. One search for both.
        let banned = self.is_banned(&peer);
        for (id, c) in &mut self.conns {
            if c.role == Role::Offerer
                && c.offer_id == offer_id
                && (banned || matches!(c.stage, Stage::Offered))
            {
                let id = *id;
                if banned {
                    return self.close(ctx, id, "answered by a banned peer", true);
                }
                c.remote = Some(peer);
                c.stage = Stage::Connecting;
                c.since = ctx.now;
                ctx.out.push(Output::AcceptAnswer { conn: id, sdp });
                self.conn_deadline.set(None);
                return;
            }
        }
    }

    pub(crate) fn handle_offer_created(&mut self, _ctx: &mut Ctx<'_>, conn: ConnId, sdp: String) {
        if let Some(Conn {
            stage: Stage::Gathering { sdp: slot },
            ..
        }) = self.conns.get_mut(&conn)
        {
            *slot = Some(sdp);
        }
    }

    pub(crate) fn handle_answer_created(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, sdp: String) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // Not the swarm we tell the trackers now: a VOD viewer that moved to the next
        // stretch's while the answer was being built would send it where the offerer
        // is not, and the trackers would drop it.
        let Stage::Answering(hash) = c.stage else {
            return;
        };
        let (Some(remote), Some(t)) = (c.remote, self.trackers.get(c.tracker)) else {
            return;
        };
        if !t.is_open() {
            return self.close(ctx, conn, "tracker went away", true);
        }
        c.stage = Stage::Connecting;
        c.since = ctx.now;
        self.conn_deadline.set(None);
        ctx.out.push(Output::TrackerSend {
            tracker: TrackerId(c.tracker),
            request: TrackerRequest::Answer {
                info_hash: hash,
                peer_id: self.peer_id,
                to_peer: remote,
                offer_id: c.offer_id,
                sdp,
            },
        });
    }

    pub(crate) fn handle_channel_open(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        have: &[SegmentId],
    ) {
        let Some(hash) = self.info_hash else { return };
        if let Some(c) = self.conns.get_mut(&conn) {
            if matches!(
                c.stage,
                Stage::Connecting | Stage::Answering(_) | Stage::Offered
            ) {
                let mut session = PeerSession::new(hash, self.peer_id, ctx.now);
                if !self.download_only {
                    session.announce_have(have);
                }
                if self.uplink_told > 0 {
                    session.tell_uplink(self.uplink_told);
                }
                c.stage = Stage::Open(session);
                c.since = ctx.now;
                self.conn_deadline.set(None);
                self.output_pending = true;
            }
        }
    }

    /// Feeds a frame to the peer's session; returns its events for the scheduler (which
    /// passes over `Ready`, handled here).
    pub(crate) fn handle_channel_message(
        &mut self,
        ctx: &mut Ctx<'_>,
        conn: ConnId,
        data: Bytes,
    ) -> Vec<PeerEvent> {
        let mut events = Vec::new();
        let Some(Conn {
            stage: Stage::Open(session),
            ..
        }) = self.conns.get_mut(&conn)
        else {
            return events;
        };
        let was_ready = session.is_ready();
        session.handle_frame(data, &mut events);
        self.output_pending |= session.has_output();
        if !was_ready {
            // Past its hello, a connection has no deadline any more.
            self.conn_deadline.set(None);
        }
        for ev in &events {
            match *ev {
                PeerEvent::Have(ref segs) => {
                    for s in segs {
                        self.announced = Some(self.announced.map_or(s.sn, |n| n.max(s.sn)));
                    }
                }
                PeerEvent::Violation(why) => {
                    self.close(ctx, conn, why, true);
                    return Vec::new();
                }
                PeerEvent::Ready => {
                    if let Err(why) = self.on_ready(ctx, conn) {
                        self.close(ctx, conn, why, true);
                        return Vec::new();
                    }
                }
                _ => {}
            }
        }
        // `Ready` stays in: the scheduler passes over it.
        events
    }

    /// Checks a fresh peer against what the tracker said and against duplicates.
    fn on_ready(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) -> Result<(), &'static str> {
        let c = &self.conns[&conn];
        let remote = c.session().and_then(|s| s.remote_id()).expect("ready");
        if remote == self.peer_id {
            return Err("connected to ourselves");
        }
        if self.is_banned(&remote) {
            return Err("banned earlier in this session");
        }
        if c.remote.is_some_and(|r| r != remote) {
            return Err("peer id differs from the tracker's");
        }
        let offerer_of = |c: &Conn, remote: Id20| match c.role {
            Role::Offerer => self.peer_id,
            Role::Answerer => remote,
        };
        let mine = offerer_of(c, remote);
        let mut twin = None;
        for (id, other) in &self.conns {
            if *id != conn
                && other
                    .session()
                    .and_then(|s| s.remote_id())
                    .is_some_and(|r| r == remote)
            {
                twin = Some((*id, offerer_of(other, remote)));
                break;
            }
        }
        if let Some((twin_id, twin_offerer)) = twin {
            // Both ends keep the connection offered by the smaller peer id (the older one
            // on a tie), so they agree without talking.
            let keep_new = mine.cmp(&twin_offerer).then(conn.cmp(&twin_id)).is_lt();
            if !keep_new {
                return Err("duplicate connection");
            }
            self.close(ctx, twin_id, "duplicate connection", true);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.remote = Some(remote);
        }
        ctx.out.event(Event::PeerConnected { peer: hex(&remote) });
        Ok(())
    }

    pub(crate) fn handle_buffered(&mut self, now: Instant, conn: ConnId, buffered: usize) {
        if let Some(Conn {
            stage: Stage::Open(s),
            ..
        }) = self.conns.get_mut(&conn)
        {
            s.handle_buffered(buffered);
        }
        let Some(p) = self.probe.as_mut().filter(|p| p.conn == conn) else {
            return;
        };
        if buffered >= p.peak {
            p.peak = buffered;
            return;
        }
        if buffered >= SEND_LOW_WATER {
            return;
        }
        // The drain report (the edge reports a drained channel): it drained from its peak
        // since the send.
        let (drained, secs) = (p.peak - buffered, now.saturating_since(p.at).as_secs_f64());
        self.probe = None;
        if drained < UPLINK_PROBE_MIN || secs <= 0.0 {
            return;
        }
        let rate = drained as f64 / secs;
        // Up at once, down slowly: an upload sent while the previous one's tail still
        // drains on another channel shares the uplink with it, and looks slower.
        self.uplink = if rate > self.uplink {
            rate
        } else {
            self.uplink + 0.1 * (rate - self.uplink)
        };
        self.tell_uplink();
    }

    /// Tells every peer our upload rate, when it moved by a fifth or more since we last
    /// did (the live-edge election ranks fast uplinks first).
    fn tell_uplink(&mut self) {
        let kbps = (self.uplink * 0.008).min(f64::from(u32::MAX)) as u32;
        let told = self.uplink_told;
        if self.download_only || kbps == 0 || (told > 0 && kbps.abs_diff(told) * 5 < told) {
            return;
        }
        self.uplink_told = kbps;
        self.output_pending = true;
        for c in self.conns.values_mut() {
            if let Stage::Open(s) = &mut c.stage {
                s.tell_uplink(kbps);
            }
        }
    }

    /// Bans the peer on `conn` for the rest of the session and disconnects it.
    pub(crate) fn ban(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, reason: &str) {
        let remote = self
            .conns
            .get(&conn)
            .and_then(|c| c.session().and_then(|s| s.remote_id()).or(c.remote));
        if let Some(id) = remote.filter(|id| !self.is_banned(id)) {
            self.banned.push(id);
        }
        self.close(ctx, conn, reason, true);
    }

    /// The edge reports a connection closed.
    pub(crate) fn handle_conn_closed(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, reason: String) {
        self.close(ctx, conn, &reason, false);
    }

    /// Closes a connection: tells the page if it was a peer, the edge if it asked, and the
    /// scheduler through [`Swarm::take_gone`].
    pub(crate) fn close(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, reason: &str, tell_edge: bool) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.conn_deadline.set(None);
        if let Some(remote) = c.session().and_then(|s| s.remote_id()) {
            ctx.out.event(Event::PeerDisconnected {
                peer: hex(&remote),
                reason: reason.to_string(),
            });
            // Find a replacement soon.
            if let Some(t) = self.trackers.get_mut(c.tracker) {
                t.announce_by(ctx.now + Duration::from_secs(2));
            }
        }
        if tell_edge {
            ctx.out.push(Output::CloseConn { conn });
        }
        self.gone.push(conn);
    }

    fn new_conn(
        &mut self,
        ctx: &mut Ctx<'_>,
        tracker: usize,
        role: Role,
        remote: Option<Id20>,
        offer_id: Id20,
        stage: Stage,
    ) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conn_deadline.set(None);
        // Ids only grow: the new connection goes at the end.
        self.conns.push_last(
            id,
            Conn {
                tracker,
                role,
                remote,
                offer_id,
                stage,
                since: ctx.now,
            },
        );
        id
    }

    /// Trackers to (re)connect, announces due, offers gathered, deadlines missed.
    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        for i in 0..self.trackers.len() {
            let t = &mut self.trackers[i];
            if t.connect_timed_out(now) {
                ctx.out.push(Output::TrackerClose {
                    tracker: TrackerId(i),
                });
                self.handle_tracker_closed(ctx, TrackerId(i), "connection timed out".into());
                continue;
            }
            let t = &mut self.trackers[i];
            if t.poll_connect(now) {
                ctx.out.push(Output::TrackerConnect {
                    tracker: TrackerId(i),
                    url: t.url().to_string(),
                });
            }
            if t.announce_due(now) && !self.announcing(i) {
                self.start_announce(ctx, i);
            }
        }
        // Last first, one after the other (finishing one changes no other's readiness:
        // each has its own connections).
        while let Some(i) = self.ready_announce(now) {
            let p = self.pending.remove(i);
            self.finish_announce(ctx, p);
        }
        if self.next_conn_deadline().is_some_and(|d| now >= d) {
            // One after the other, in id order (closing adds no connection).
            while let Some(id) = self.first_conn(|c| c.deadline().is_some_and(|d| now >= d)) {
                self.close(ctx, id, "timed out", true);
            }
        }
    }

    /// The last pending announce whose offers are all gathered (or gone), or whose
    /// deadline passed.
    fn ready_announce(&self, now: Instant) -> Option<usize> {
        for (i, p) in self.pending.iter().enumerate().rev() {
            let mut gathered = true;
            for c in &p.conns {
                gathered &= matches!(
                    self.conns.get(c).map(|c| &c.stage),
                    Some(Stage::Gathering { sdp: Some(_) }) | None
                );
            }
            if now >= p.deadline || gathered {
                return Some(i);
            }
        }
        None
    }

    /// The earliest deadline of any connection (see `conn_deadline`).
    fn next_conn_deadline(&self) -> Option<Instant> {
        if let Some(known) = self.conn_deadline.get() {
            return known;
        }
        let mut next: Option<Instant> = None;
        for c in self.conns.values() {
            if let Some(d) = c.deadline() {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        }
        self.conn_deadline.set(Some(next));
        next
    }

    /// Whether we told a fast uplink (see `fast_from`).
    fn fast(&self) -> bool {
        u64::from(self.uplink_told) >= self.fast_from
    }

    fn start_announce(&mut self, ctx: &mut Ctx<'_>, tracker: usize) {
        // A fast uplink also offers up to half again `max_peers` (18 at 12): only fast
        // uplinks, which keep room, answer a full viewer's offers, so it gains fast
        // neighbours (fewer of them rank first for a new segment), and keeps the rest of
        // its room for newcomers.
        // A slow viewer among slow neighbours offers up to `max_peers` more
        // (`among_slow`).
        let extra = match self.fast() {
            true => self.max_peers / 2,
            false => self.max_peers * usize::from(self.among_slow.get()),
        };
        let want = (self.max_peers + extra)
            .saturating_sub(self.live_conns())
            .min(MAX_OFFERS_PER_ANNOUNCE);
        let mut conns = Vec::new();
        for _ in 0..want {
            let mut offer_id = [0u8; 20];
            for b in &mut offer_id {
                *b = (ctx.rng.next_u64() & 0xff) as u8;
            }
            let id = self.new_conn(
                ctx,
                tracker,
                Role::Offerer,
                None,
                offer_id,
                Stage::Gathering { sdp: None },
            );
            ctx.out.push(Output::CreateOffer { conn: id });
            conns.push(id);
        }
        self.pending.push(PendingAnnounce {
            tracker,
            conns,
            deadline: ctx.now + GATHER_TIMEOUT,
        });
    }

    fn finish_announce(&mut self, ctx: &mut Ctx<'_>, p: PendingAnnounce) {
        let Some(hash) = self.tracker_hash else {
            return;
        };
        let mut offers = Vec::new();
        for id in &p.conns {
            let Some(c) = self.conns.get_mut(id) else {
                continue;
            };
            if let Stage::Gathering { sdp: Some(sdp) } = &mut c.stage {
                offers.push(OutgoingOffer {
                    offer_id: c.offer_id,
                    sdp: core::mem::take(sdp),
                });
                c.stage = Stage::Offered;
                c.since = ctx.now;
                self.conn_deadline.set(None);
            } else {
                self.close(ctx, *id, "offer not ready in time", true);
            }
        }
        // Short of peers, and the swarm as the tracker last counted it (us included) holds
        // others we are not connected to, or its count is not known yet. In a swarm of
        // our neighbours alone (a sparse VOD stretch) offers would only reach them;
        // newcomers' offers reach us (vod-long-tail, 100 viewers, seeds 1–8: 17.50 →
        // 15.09 points from the bound on average with this test, against 15.65 before
        // the eager announces). An unknown count, 0, wraps past any number of neighbours.
        let ready = self.ready_peers();
        let others = (self.swarm_size as usize).wrapping_sub(1);
        let short = ready < self.max_peers && others > ready;
        let Some(t) = self.trackers.get_mut(p.tracker) else {
            return;
        };
        if !t.is_open() {
            return;
        }
        let first = t.announced(ctx.now, short);
        ctx.out.push(Output::TrackerSend {
            tracker: TrackerId(p.tracker),
            request: TrackerRequest::Announce {
                info_hash: hash,
                peer_id: self.peer_id,
                event: first.then_some(AnnounceEvent::Started),
                offers,
                uploaded: ctx.stats.uploaded_bytes,
                downloaded: ctx.stats.cdn_bytes + ctx.stats.peer_bytes,
            },
        });
    }

    /// Sends what the sessions have queued, as far as each channel's buffer allows.
    /// Whether this viewer serves nobody.
    /// Refuses the waiting upload for another peer whose `worse` key (from its
    /// connection and the upload rate it told) is largest, if it is larger than
    /// `conn`'s; whether one was.
    pub(crate) fn withdraw_worse(
        &mut self,
        conn: ConnId,
        worse: impl Fn(ConnId, u32) -> u64,
    ) -> bool {
        let key = match self.conns.get(&conn).map(|c| &c.stage) {
            Some(Stage::Open(s)) => worse(conn, s.uplink_kbps()),
            _ => return false,
        };
        // The largest (key, seq, id); ids differ, so there are no ties.
        let mut victim = None;
        for (id, c) in &self.conns {
            if let (true, Stage::Open(s)) = (*id != conn, &c.stage) {
                if let Some(q) = s.first_waiting_seq() {
                    let v = (worse(*id, s.uplink_kbps()), q, *id);
                    if victim.is_none_or(|m| v > m) {
                        victim = Some(v);
                    }
                }
            }
        }
        match victim {
            Some((k, q, id)) if k > key => match self.conns.get_mut(&id).map(|c| &mut c.stage) {
                Some(Stage::Open(s)) => {
                    self.output_pending = true;
                    s.withdraw(q)
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Uploads accepted and not started yet, for peers other than `conn`.
    pub(crate) fn uploads_waiting_for_others(&self, conn: ConnId) -> usize {
        let mut n = 0;
        for (id, c) in &self.conns {
            if let (true, Stage::Open(s)) = (*id != conn, &c.stage) {
                n += s.uploads_waiting();
            }
        }
        n
    }

    /// The order of a request about to be served (uploads go oldest first).
    pub(crate) fn next_upload_seq(&mut self) -> u64 {
        self.upload_seq += 1;
        self.upload_seq
    }

    pub(crate) fn download_only(&self) -> bool {
        self.download_only
    }

    /// Sends what the sessions have queued, as far as each channel's buffer and the
    /// upload cap allow.
    /// Sends what the sessions queued: every control frame, then upload data, one upload
    /// at a time across all peers ([`UPLOAD_SLOTS`]), oldest request first.
    pub(crate) fn flush(&mut self, ctx: &mut Ctx<'_>) {
        if !self.output_pending && self.upload_cap.is_none() {
            // Nothing was queued anywhere since the last flush left nothing behind.
            return;
        }
        // Sessions with frames queued; what the flush leaves queued keeps it pending.
        let mut queued = 0usize;
        let mut allowance = match &mut self.upload_cap {
            Some(bucket) => {
                bucket.refill(ctx.now);
                bucket.tokens as usize
            }
            None => usize::MAX,
        };
        let start = allowance;
        let mut busy = 0;
        let mut waiting = false;
        let mut sent_on = None;
        for (id, c) in &mut self.conns {
            if let Stage::Open(s) = &mut c.stage {
                while let Some(data) = s.poll_control() {
                    ctx.out.push(Output::Transmit { conn: *id, data });
                }
                queued += usize::from(s.has_output());
                if s.is_uploading() {
                    busy += 1;
                } else if s.has_uploads() {
                    waiting = true;
                }
            }
        }
        // Uploads under way carry on.
        if busy > 0 {
            for (id, c) in &mut self.conns {
                if let Stage::Open(s) = &mut c.stage {
                    if s.is_uploading() && s.has_output() {
                        while let Some(data) = s.poll_upload(&mut allowance) {
                            ctx.out.push(Output::Transmit { conn: *id, data });
                            sent_on = Some(*id);
                        }
                        queued -= usize::from(!s.has_output());
                    }
                }
            }
        }
        // Then the oldest waiting ones, while a slot is free.
        while waiting && busy < UPLOAD_SLOTS {
            // The smallest (seq, id); ids differ, so there are no ties.
            let mut next = None;
            for (id, c) in &self.conns {
                if let Stage::Open(s) = &c.stage {
                    if let (false, Some(q)) = (s.is_uploading(), s.next_upload()) {
                        if next.is_none_or(|m| (q, *id) < m) {
                            next = Some((q, *id));
                        }
                    }
                }
            }
            let Some((_, id)) = next else { break };
            let Some(Stage::Open(s)) = self.conns.get_mut(&id).map(|c| &mut c.stage) else {
                break;
            };
            let mut sent = false;
            while let Some(data) = s.poll_upload(&mut allowance) {
                ctx.out.push(Output::Transmit { conn: id, data });
                sent = true;
            }
            queued -= usize::from(!s.has_output());
            if !sent {
                // Held back by the upload cap: nothing more goes out now.
                break;
            }
            sent_on = Some(id);
            busy += 1;
        }
        // The channel that took upload data last measures our upload rate as it drains.
        if let Some(conn) = sent_on {
            self.probe = Some(Probe {
                conn,
                at: ctx.now,
                peak: 0,
            });
        }
        if let Some(bucket) = &mut self.upload_cap {
            bucket.tokens -= (start - allowance) as f64;
        }
        self.output_pending = queued > 0;
    }

    /// Whether tracker `i` has an announce waiting for offers.
    fn announcing(&self, i: usize) -> bool {
        for p in &self.pending {
            if p.tracker == i {
                return true;
            }
        }
        false
    }

    /// Brings `at` forward to the swarm's next wake-up, if earlier (loops, not a chain of
    /// iterators: less wasm).
    pub(crate) fn poll_timeout(&self, at: &mut Instant) {
        let mut note = |t: Instant| *at = (*at).min(t);
        // A tracker whose announce is waiting for offers stays due; its pending
        // announce's deadline stands in for it (else the agent would ask to be woken in
        // the past until gathering completes: a busy loop in the browser).
        for (i, t) in self.trackers.iter().enumerate() {
            if !self.announcing(i) {
                if let Some(t) = t.poll_timeout() {
                    note(t);
                }
            }
        }
        for p in &self.pending {
            note(p.deadline);
        }
        if let Some(t) = self.next_conn_deadline() {
            note(t);
        }
        // Uploads held back by the cap resume when a chunk's worth of tokens is back.
        if let Some(b) = &self.upload_cap {
            for c in self.conns.values() {
                if matches!(&c.stage, Stage::Open(s) if s.has_uploads()) {
                    if b.tokens < MAX_CHUNK_DATA as f64 {
                        note(b.ready_at());
                    }
                    break;
                }
            }
        }
    }
}

/// The info hash of a swarm name: SHA-1, as p2p-media-loader and WebTorrent name swarms.
pub fn swarm_hash(name: &str) -> Id20 {
    // Hashed in two parts: no joined copy (nor a concat's generic joiner in the wasm).
    crate::sha1::sha1_of(&[b"hlsmesh/1 ", name.as_bytes()])
}

/// The swarm the trackers are told for `stretch` of a VOD title whose own swarm is
/// `title`: SHA-1 of the title's hash and the stretch's number (8 bytes, little-endian).
pub fn stretch_hash(title: &Id20, stretch: u64) -> Id20 {
    crate::sha1::sha1_of(&[title, &stretch.to_le_bytes()])
}

/// Ready peers (holding a segment, when one is given), in connection order: a plain
/// loop over the connections (an adaptor chain costs more code in the wasm).
pub(crate) struct Sessions<'a> {
    conns: core::slice::Iter<'a, (ConnId, Conn)>,
    holding: Option<SegmentId>,
}

impl<'a> Iterator for Sessions<'a> {
    type Item = (ConnId, &'a PeerSession);

    fn next(&mut self) -> Option<Self::Item> {
        for (id, c) in self.conns.by_ref() {
            if let Some(s) = c.session() {
                if self.holding.is_none_or(|seg| s.has(&seg)) {
                    return Some((*id, s));
                }
            }
        }
        None
    }
}

/// Whether ready peer `s` plays `variant`: its latest announced segment is of it, or it
/// has announced nothing yet and only just connected (a viewer starting; one that stays
/// silent, such as a download-only viewer, is nobody to wait for).
pub(crate) fn plays(s: &PeerSession, variant: u16, now: Instant) -> bool {
    match s.latest_variant() {
        Some(v) => v == variant,
        None => now < s.opened_at + SILENT_GRACE,
    }
}

fn make_peer_id(rng: &mut crate::rng::Rng) -> Id20 {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = *b"-HM0001-000000000000";
    for b in &mut id[8..] {
        *b = ALPHABET[rng.below(ALPHABET.len() as u64) as usize];
    }
    id
}

/// Hex form of an id, for events and logs.
pub fn hex(id: &Id20) -> String {
    crate::text::hex(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_swarm_hash_is_the_sha1_of_the_prefixed_name() {
        for name in ["", "https://cdn.test/live/master.m3u8", "x"] {
            let joined = format!("hlsmesh/1 {name}");
            assert_eq!(swarm_hash(name), crate::sha1::sha1(joined.as_bytes()));
        }
    }

    /// A bucket a hair short of a chunk is ready strictly later, never at the moment it
    /// was last filled (which would wake the agent again and again at the same time).
    #[test]
    fn a_bucket_a_hair_short_is_ready_strictly_later() {
        for rate in [1.0e3, 1.0e6, 3.3e8, 1.0e12] {
            let at = Instant::from_micros(5_000_000);
            let bucket = TokenBucket {
                rate,
                tokens: MAX_CHUNK_DATA as f64 - 1e-6,
                at,
            };
            assert!(bucket.ready_at() > at, "rate {rate}");
        }
        let full = TokenBucket {
            rate: 1.0e6,
            tokens: MAX_CHUNK_DATA as f64,
            at: Instant::from_micros(7),
        };
        assert_eq!(full.ready_at(), Instant::from_micros(7));
    }
}
