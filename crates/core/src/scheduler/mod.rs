//! Where each segment comes from, and when.
//!
//! For every segment the player asks for, with `need_by` the moment its buffer runs dry
//! and `reserve` the time a CDN fetch of it would take (measured) plus a safety margin:
//! 1. held in the cache → answered at once;
//! 2. a peer holds it and, by its measured throughput (or a cautious trial estimate for a
//!    peer not yet measured), can deliver before `need_by − reserve` → requested from the
//!    best such peer, with that as its deadline;
//! 3. otherwise the viewers of this rendition elect, per segment, who takes it from the CDN
//!    (see [`election`]); the others wait, no later than `need_by − reserve`, for a peer
//!    to announce it, then fall back to the CDN. A segment needed further ahead than
//!    [`CDN_HORIZON`] (or the reserve, if longer) waits for a peer until it is that close
//!    first.
//!
//! A peer transfer that misses its deadline is cancelled and only the missing bytes are
//! fetched from the CDN (HTTP Range). A peer that goes away mid-transfer costs a CDN fetch.
//! A load with no buffer left goes to the CDN at once.
//! A peer that misses its deadline three times in a row (or fails its first trial) is
//! demoted for a while: kept connected, not asked. A refusal (`Absent`) is no failure:
//! the load waits for another holder. Ahead of the player, segments peers hold are
//! prefetched from them within a look-ahead that grows with the buffer; the CDN is never
//! used to prefetch, except by the viewer elected for a new live segment, which takes it
//! when the playlist shows it.
//!
//! Every delivery carries the time hls.js should see it take: the CDN path's measured
//! time for those bytes, so that neither fast peers nor slow ones skew its ABR.

pub mod container;
pub mod election;
pub mod estimate;

use crate::vecmap::VecMap;

use core::time::Duration;

use bytes::Bytes;
use hlsmesh_proto::SegmentId;

use crate::agent::{ConnId, Ctx, Event, FetchId, HttpResponse, LoadId, Output, Playback, Source};
use crate::cache::Cache;
use crate::integrity::{sidecar_url, HashList, Verdict};
use crate::peer::PeerEvent;
use crate::playlist::{Playlist, Playlists, SegmentInfo};
use crate::swarm::Swarm;
use crate::time::Instant;
use crate::url::without_query;
use container::Container;
use estimate::Estimate;

/// Least time kept in reserve for a CDN fetch after a peer fails; three times that in a
/// VOD title ([`VOD_CDN_MARGIN`]), whose buffer is deep enough to keep more: with a CDN
/// whose responses now and then wait a second before their first byte, 1 s stalled 3.5%
/// of VOD viewers, and 2 s 0.48% once they played the rendition plain hls.js picks; 3 s,
/// 0.02%, with no less offload (docs/POLICY.md, "A CDN that is late now and then").
pub const CDN_MARGIN: Duration = Duration::from_millis(1000);
/// [`CDN_MARGIN`] in a VOD title.
pub const VOD_CDN_MARGIN: Duration = Duration::from_millis(3000);
/// Added to the CDN's expected time when computing the reserve.
const SAFETY: Duration = Duration::from_millis(500);
/// CDN time assumed before any CDN transfer was measured.
const DEFAULT_CDN_TIME: Duration = Duration::from_millis(1000);
/// Throughput assumed for a peer not measured yet that did not tell its upload rate
/// (one that did is taken at that rate), in multiples of the stream's media rate (10 Mb/s for a 2 Mb/s stream; 4 Mb/s at 800 kb/s). Relative, not absolute:
/// what decides whether a trial can make it is how many segment-durations of upload it
/// needs. A trial that turns out slower costs no stall (its deadline still leaves the
/// reserve for the CDN) but a wasted upload and a CDN fetch: at 10 × (20 Mb/s), 45% of
/// the peer misses left on the home mix were trials.
const TRIAL_SPEEDUP: f64 = 5.0;
/// A peer not measured yet that told a slow upload rate (under
/// [`election::FAST_UPLINK`] times the stream's) is taken to need this many times its
/// time for a copy: it is likely sending another one (home mix, 300 viewers, seeds 1–5:
/// every seed better, wasted uploads halved).
const SLOW_TRIAL_FACTOR: f64 = 1.5;
/// How much longer than its expected time a measured peer's copy may take and still
/// make the deadline: a quarter to spare. A peer that misses it costs a CDN fetch of the
/// rest, not a stall (the deadline keeps the CDN's reserve). With half again, a viewer
/// with a few seconds of buffer at the live edge could ask only its fastest neighbours,
/// which every other neighbour asks too: it went round their refusals and then to the
/// CDN while slower neighbours that could have made it sat idle (100 viewers, seeds
/// 1–16, points from the bound on average: steady-live 4.80 → 4.24, heavy-churn 5.29
/// → 4.88, flash-crowd 4.18 → 3.98, vod-long-tail 13.89 → 13.92; docs/BENCHMARKS.md).
const MEASURED_SPARE: f64 = 1.25;
/// Latency assumed for a peer not measured yet.
const TRIAL_LATENCY: Duration = Duration::from_millis(150);
/// Shortest time a peer is given for a transfer.
pub const MIN_PEER_TIME: Duration = Duration::from_millis(700);
/// How far ahead of the playhead the CDN serves the player: a segment needed later than
/// this (or than the reserve, if longer) waits for a peer until it is this close, then the election
/// and the patience below decide as for any segment. hls.js loads up to 30 s ahead
/// (`FORWARD_BUFFER_S` in the shim): the part of it peers can serve still fills, and
/// the CDN keeps 15 s of buffer, which is what a viewer who leaves wasted. Live players
/// (a few segments behind the edge) never reach it.
pub const CDN_HORIZON: Duration = Duration::from_secs(15);
/// Requests open to one peer at once.
const MAX_REQUESTS_PER_PEER: usize = 4;
/// Prefetches in flight at once.
const MAX_PREFETCH: usize = 2;
/// How far a VOD load may lie past the playhead before the playhead is taken to be
/// stale (more than a forward buffer: hls.js has not sought to its start position yet).
const SEEK_AHEAD: f64 = 60.0;
/// Most segments prefetched ahead of the player's last request: 16 s of 2 s segments.
/// The look-ahead grows by a segment per second of buffer (live: beyond
/// [`PREFETCH_MIN_BUFFER`]). A VOD viewer takes what its neighbours hold while they are
/// still there. vod-long-tail, 100 viewers (seeds 1-6) and 1,000 (seed 1), points from
/// the bound and downloads never played: 4 ahead at most, growing by one per 8 s, 20.6
/// and 5.25 points, 2.7% and 3.8%; this, 16.6 and 4.35, 6.2% and 8.5%; 16 ahead, 16.2
/// and 4.19, 11.7% and 16.5% (docs/BENCHMARKS.md). Live, the edge bounds it first.
const MAX_LOOKAHEAD: u64 = 8;
/// Live: buffer below which the player's own loads have the link to themselves (from 2
/// s or none, live viewers gained at 100 viewers and lost in heavy churn). A VOD viewer
/// prefetches whatever its buffer: one whose neighbours' uplinks are each slower than
/// its rendition takes copies from two of them at once, where it took each segment from
/// the CDN at the 3 s it keeps, its buffer never growing to 4 s. vod-long-tail, points
/// from the bound: 100 viewers, seeds 1-20, 15.31 → 14.18; 1,000, seeds 1-3, 3.72 →
/// 3.48; downloads never played unchanged (docs/BENCHMARKS.md).
const PREFETCH_MIN_BUFFER: f64 = 4.0;
/// Consecutive failures (missed deadlines; a refusal is not one) that demote a peer.
const MAX_PEER_FAILURES: u32 = 3;
/// Uploads to other peers that may wait behind the one being sent before a request is
/// answered `Absent` (a requester's own requests queue freely: it chose to).
const MAX_WAITING_UPLOADS: usize = 1;
/// How long a demoted peer is not asked for segments.
const DEMOTION: Duration = Duration::from_secs(30);
/// A peer that refused a segment (`Absent`: busy, or no longer holding it) is not asked
/// for it again before this: long enough for a fast uplink to send a copy or two.
const REFUSAL_RETRY: Duration = Duration::from_millis(300);
/// Refusals of one segment after which the peer is taken not to hold it. A busy holder
/// refuses, and is free again a copy later: with three, a viewer gave up on neighbours
/// that were only busy (100 viewers, seeds 1–40, paired, points from the bound on
/// average: steady-live 2.99 → 2.67, flash-crowd 2.87 → 2.64, heavy-churn 5.01 → 4.87,
/// vod-long-tail 14.22 → 14.09; four and eight do about as well).
const MAX_REFUSALS: u8 = 5;
/// Live: the player's loads delivered from the CDN in a row after which a viewer stops
/// waiting for peers (a peer's delivery or a cache hit, such as a prefetch's, resumes
/// the wait). Where no neighbour can relay the stream in time (`upload-starved`: uplinks
/// of a quarter to 1.1 times the rate), viewers waited for every segment until the 1 s
/// reserve and spent half their viewing time under 2 s buffered, against 0.1% with
/// plain hls.js; a CDN response a second late stalled them. 100 viewers, seeds 1–20:
/// points from the bound 48.47 → 41.24 (the buffer refilled lets them prefetch from
/// peers), time under 2 s buffered 51.5% → 4.5%, viewers stalled with `cdn_jitter=200`
/// 89.5% → 19.6%; the home mix unchanged (docs/BENCHMARKS.md). 4 cost the home mix
/// about a point; VOD viewers, whose busy holders are free again a copy later, keep
/// waiting.
const FUTILE_RUN: u8 = 8;
/// Refusals remembered at once (the oldest is forgotten).
const MAX_REFUSALS_KEPT: usize = 64;
/// How much sooner a viewer takes a segment from the CDN, when no peer it asked could
/// serve it, if no neighbour had announced it (or a later one) when the player asked:
/// a live segment then spreads late around it, and the CDN's response, now and then
/// late itself, gets that much more buffer. With responses 200 ms late on average
/// (exponential), 100 viewers, seeds 1–20, viewers stalled at least once: steady-live
/// 5.15% → 1.70%, flash-crowd 3.95% → 1.10%, heavy-churn 0.99% → 0.43%; points from the
/// bound with a steady CDN 2.37 → 2.17, 2.22 → 2.17, 4.39 → 4.35. Half a second cut
/// stalls further but took one flash-crowd seed from 2.6 to 7.8 points: its viewers
/// went to the CDN before holders that announced the segment after the player asked
/// could serve it (docs/POLICY.md).
const NO_HOLDER_CDN: Duration = Duration::from_millis(350);
/// Segment size assumed when neither the master nor earlier segments say better.
const DEFAULT_BYTES_PER_SEC_OF_MEDIA: f64 = 125_000.0;

struct Load {
    url: String,
    seg: Option<SegmentId>,
    info: Option<SegmentInfo>,
    started: Instant,
    /// When the player's buffer runs dry if this load does not arrive.
    need_by: Instant,
    /// Until when this viewer waits for a peer before taking the segment from the CDN.
    wait_until: Instant,
}

enum Via {
    Peer {
        conn: ConnId,
        req: u32,
        deadline: Instant,
    },
    Cdn {
        fetch: FetchId,
    },
}

struct Transfer {
    info: SegmentInfo,
    via: Via,
    /// Bytes already received from a peer that gave up; the CDN fetches the rest.
    prefix: Bytes,
    started: Instant,
    first_byte: Option<Instant>,
    /// Started ahead of the player with nobody waiting: never finished from the CDN.
    prefetch: bool,
}

enum FetchFor {
    Segment(SegmentId),
    Passthrough(LoadId, Instant),
    /// The publisher's hash list for a variant.
    HashList(u16, String),
}

#[derive(Default)]
struct PeerRecord {
    estimate: Estimate,
    failures: u32,
    /// After too many failures in a row, not asked for segments until then (it stays
    /// connected: it still counts in the election and may download from us).
    demoted_until: Option<Instant>,
}

impl PeerRecord {
    fn demoted(&self, now: Instant) -> bool {
        self.demoted_until.is_some_and(|t| now < t)
    }
}

/// Loads, transfers, estimates and the cache of one agent.
pub(crate) struct Scheduler {
    playlists: Playlists,
    cache: Cache,
    playback: Playback,
    loads: VecMap<LoadId, Load>,
    transfers: VecMap<SegmentId, Transfer>,
    /// The fetches under way, in the order of their ids (each new one has the next id,
    /// so pushing keeps the order a map would): a few at once, scanned (no map code for
    /// them in the wasm).
    fetches: Vec<(FetchId, FetchFor)>,
    peers: VecMap<ConnId, PeerRecord>,
    cdn: Estimate,
    /// What is known of each variant (one map, not one per fact: each map's key and
    /// value types cost their own copy of the map's code in the wasm).
    variants: VecMap<u16, Variant>,
    /// Media bytes per second measured per bit per second a master declares for the
    /// variant, from the latest segment received (1/8 before any): a declared
    /// `BANDWIDTH` is a peak, so the first segment after a switch to a rendition not
    /// received yet is not taken for bigger than this stream's segments are. At most
    /// 1/8: a rendition is never sized above its declaration (a master declaring one
    /// rendition far below what it carries does not inflate the others). Kept, not
    /// derived from `variants` when asked: that search measured 32 bytes more of the
    /// drop-in.
    per_bit: f64,
    next_fetch: u64,
    next_req: u32,
    /// The segment the player asked for last: where prefetch looks ahead from.
    anchor: Option<SegmentId>,
    /// The player's loads delivered from the CDN in a row: a peer's delivery or a cache
    /// hit ends the run ([`FUTILE_RUN`]).
    cdn_run: u8,
    /// When the last segment went to the player, and its duration.
    last_delivery: Option<(Instant, f64)>,
    /// Whether to fetch and enforce the publisher's hash lists.
    integrity: bool,
    /// Whether the last media playlist read had ended (`#EXT-X-ENDLIST`): a VOD title.
    vod: bool,
    /// Segments peers refused lately, not asked of them again until their retry time.
    refused: Vec<Refusal>,
}

/// What the scheduler knows of one variant.
#[derive(Default)]
struct Variant {
    /// Media bytes per second, from segments received.
    media_rate: Option<f64>,
    /// The newest media sequence number its playlist listed.
    newest: Option<u64>,
    /// Its latest hash list.
    hash_list: Option<HashList>,
    /// The container its CDN segments use, for checking peers' bytes.
    container: Option<Container>,
}

/// A peer refused a segment.
struct Refusal {
    conn: ConnId,
    seg: SegmentId,
    /// Not asked again before.
    retry_at: Instant,
    /// Times refused.
    count: u8,
    /// The retry time passed and the loads waiting were reconsidered.
    fired: bool,
}

impl Scheduler {
    pub(crate) fn new(cache_bytes: usize, integrity: bool) -> Scheduler {
        Scheduler {
            playlists: Playlists::default(),
            cache: Cache::new(cache_bytes),
            playback: Playback::default(),
            loads: VecMap::new(),
            transfers: VecMap::new(),
            fetches: Vec::new(),
            peers: VecMap::new(),
            cdn: Estimate::default(),
            variants: VecMap::new(),
            per_bit: 1.0 / 8.0,
            next_fetch: 1,
            next_req: 1,
            anchor: None,
            cdn_run: 0,
            last_delivery: None,
            integrity,
            vod: false,
            refused: Vec::new(),
        }
    }

    pub(crate) fn cache_used(&self) -> usize {
        self.cache.used()
    }

    pub(crate) fn holds(&self, seg: &SegmentId) -> bool {
        self.cache.contains(seg)
    }

    pub(crate) fn cached_ids(&self) -> Vec<SegmentId> {
        self.cache.ids()
    }

    /// Measured CDN throughput in bytes per second (0 before the first CDN transfer).
    pub(crate) fn cdn_bytes_per_sec(&self) -> f64 {
        self.cdn.bytes_per_sec()
    }

    /// Measured throughput of a peer in bytes per second (0 before its first transfer).
    pub(crate) fn peer_bytes_per_sec(&self, conn: ConnId) -> f64 {
        self.peers
            .get(&conn)
            .map_or(0.0, |p| p.estimate.bytes_per_sec())
    }

    fn active_variant(&self) -> Option<u16> {
        self.anchor.map(|a| a.variant)
    }

    /// Expected size of a segment: its variant's measured media rate, else the master's
    /// declared bandwidth, times its duration.
    fn expected_bytes(&self, info: &SegmentInfo) -> usize {
        if let Some((s, e)) = info.range {
            return usize::try_from(e - s).unwrap_or(usize::MAX);
        }
        (self.media_bytes_per_sec(info.id.variant) * info.duration.max(0.1)) as usize
    }

    /// Media bytes per second of a variant: measured, else the master's declared
    /// bandwidth at the measured rate per declared bit ([`Scheduler::per_bit`]), else a
    /// default.
    fn media_bytes_per_sec(&self, variant: u16) -> f64 {
        self.variants
            .get(&variant)
            .and_then(|v| v.media_rate)
            .or_else(|| {
                self.playlists
                    .declared_bandwidth(variant)
                    .map(|b| b as f64 * self.per_bit)
            })
            .unwrap_or(DEFAULT_BYTES_PER_SEC_OF_MEDIA)
            .max(1.0)
    }

    /// The largest segment a peer may deliver for `info`: far above any real size, far
    /// below what would let a liar make us buffer its 64 MiB maximum.
    fn max_plausible_bytes(&self, info: &SegmentInfo) -> usize {
        // Saturating: a playlist may declare absurd bandwidths, durations or ranges.
        self.expected_bytes(info)
            .saturating_mul(8)
            .saturating_add(256 * 1024)
    }

    /// Time kept for a CDN fetch of `bytes` should a peer fail.
    fn reserve(&self, bytes: usize) -> Duration {
        let cdn = self.cdn.time_for(bytes).unwrap_or(DEFAULT_CDN_TIME);
        (crate::time::scale(cdn, 1.5) + SAFETY).max(if self.vod {
            VOD_CDN_MARGIN
        } else {
            CDN_MARGIN
        })
    }

    /// Reads a playlist; returns the swarm name it implies (the first playlist's URL
    /// without query: the master when there is one).
    pub(crate) fn handle_playlist(
        &mut self,
        ctx: &mut Ctx<'_>,
        swarm: &mut Swarm,
        url: &str,
        mut playlist: Playlist,
    ) -> Option<String> {
        // Taken, not cloned: the playlists keep nothing of it.
        let hashes = match &mut playlist {
            Playlist::Media(m) => m.hashes.take(),
            Playlist::Master(_) => None,
        };
        let update = match self.playlists.update(url, playlist) {
            Ok(u) => u,
            Err(e) => {
                ctx.out.event(Event::PlaylistError {
                    url: url.to_string(),
                    reason: e.describe(),
                });
                return None;
            }
        };
        let name = without_query(self.playlists.master_url().unwrap_or(url)).to_string();
        if let Some(variant) = update.variant {
            self.vod = !update.live;
            // Saturating, by a comparison: a u64 `saturating_mul` checks its overflow
            // with a 128-bit multiplication (`__multi3`) in the wasm.
            let (kbps, k) = (self.stream_kbps(variant), u64::from(election::FAST_UPLINK));
            swarm.fast_from = match kbps > u64::MAX / k {
                true => u64::MAX,
                false => kbps * k,
            }
            .max(1);
            let mut last = None;
            for i in &update.new_segments {
                last = Some(last.map_or(i.id.sn, |l: u64| l.max(i.id.sn)));
            }
            if let Some(last) = last {
                let n = self
                    .variants
                    .get_or_default(variant)
                    .newest
                    .get_or_insert(last);
                *n = (*n).max(last);
            }
            // Peers do not announce segments leaving the window as lost: forget them.
            let (playlists, variants) = (&self.playlists, &self.variants);
            swarm.forget_expired(|s| s.variant == variant && expired(playlists, variants, s));
        }
        if let (true, Some(variant)) = (self.integrity, update.variant) {
            self.fetch_hash_list(ctx, variant, url, hashes.as_deref());
        }
        // Live: the viewer elected for a new segment takes it from the CDN right away, so
        // it is at a peer by the time the other players ask.
        if update.live && update.refresh && update.variant == self.active_variant() {
            // By reference (an elected segment's info cloned): no IntoIter<SegmentInfo> in
            // the wasm.
            for info in &update.new_segments {
                let seg = info.id;
                // A runner-up may have fetched it already (our refresh can lag theirs by a
                // target duration): then the player takes it from that peer.
                let at_peer = swarm.peers_with(seg).next().is_some();
                if at_peer || self.cache.contains(&seg) || self.transfers.contains_key(&seg) {
                    continue;
                }
                // Alone (no neighbour plays the rendition): nobody to fetch it for.
                if let (0, 1..) = self.election_place(swarm, seg, ctx.now) {
                    self.start_cdn(ctx, info.clone(), Bytes::new());
                }
            }
        }
        Some(name)
    }

    pub(crate) fn handle_playback(&mut self, p: Playback) {
        self.playback = p;
    }

    pub(crate) fn handle_load(
        &mut self,
        ctx: &mut Ctx<'_>,
        swarm: &mut Swarm,
        load: LoadId,
        url: String,
        range: Option<(u64, u64)>,
        playback: Playback,
    ) {
        self.playback = playback;
        let info = self
            .playlists
            .segment_for(&url, range.map(|r| r.0))
            .filter(|i| range.is_none() || i.range == range)
            .cloned();
        let now = ctx.now;
        let Some(info) = info else {
            // Not a segment we can share (init segment, unknown URL, odd range): fetch
            // exactly what the player asked for.
            let fetch = self.new_fetch(FetchFor::Passthrough(load, now));
            self.loads.insert(
                load,
                Load {
                    url: url.clone(),
                    seg: None,
                    info: None,
                    started: now,
                    need_by: now,
                    wait_until: now,
                },
            );
            ctx.out.push(Output::Fetch {
                fetch,
                url,
                range,
                from: None,
            });
            return;
        };
        let seg = info.id;
        if self.vod {
            // hls.js seeks to its start position once the first segment is buffered: a
            // viewer starting mid-title asks for it with the playhead still at 0. A
            // segment that far ahead says where the viewer plays.
            let start = info.duration * seg.sn as f64;
            let stale = start > playback.position + SEEK_AHEAD;
            swarm.follow_playhead(ctx, if stale { start } else { playback.position });
        }
        self.anchor = Some(seg);
        if let Some(data) = self.cache.get(&seg) {
            self.cdn_run = 0;
            ctx.stats.cache_hits += 1;
            let timing = self.honest_timing(data.len(), Duration::ZERO);
            self.last_delivery = Some((now, info.duration));
            deliver(ctx, load, &url, now, data, Source::Cache, timing);
            self.prefetch(ctx, swarm);
            return;
        }
        // hls.js asks for the next segment while it is still appending the one just
        // delivered: count that one as buffer already.
        let mut ahead = playback.buffer_ahead().min(3600.0);
        if let Some((at, duration)) = self.last_delivery {
            let since = now.saturating_since(at).as_secs_f64();
            if since < 1.0 {
                ahead = ahead.max(duration - since);
            }
        }
        let need_by = now + crate::time::secs_f64(ahead);
        let reserve = self.reserve(self.expected_bytes(&info));
        let (mut rank, neighbours) = self.election_place(swarm, seg, now);
        // Not alone, only not connected yet (a viewer that just joined): wait, within the
        // buffer, for the neighbours rather than electing ourselves.
        if rank == 0 && neighbours == 0 && swarm.expecting_peers(now) {
            rank = 1;
        }
        // Elected, but a neighbour has it already (its refresh came first): no CDN copy
        // is needed; wait like a runner-up for a holder that can serve in time.
        if rank == 0 && swarm.peers_with(seg).next().is_some() {
            rank = 1;
        }
        let first = crate::time::secs_f64(info.duration.clamp(0.0, 60.0));
        // Further ahead than the CDN's horizon, the patience starts at the horizon.
        let from = now.max(need_by - CDN_HORIZON.max(reserve));
        let mut wait_until = election::patience(from, rank, need_by, reserve, first)
            - NO_HOLDER_CDN * u32::from(!swarm.may_hold(seg));
        // Live, after a run of loads peers served none of, the CDN at once (unless a
        // peer can serve it in time now): waiting only kept the buffer at the reserve.
        if !self.vod && self.cdn_run >= FUTILE_RUN {
            wait_until = now;
        }
        // A transfer already under way (a prefetch, the live-edge fetch) now has a player
        // waiting: hold it to the player's deadline.
        if let Some(t) = self.transfers.get_mut(&seg) {
            t.prefetch = false;
            // Asked for before our playlist listed it: the URL is known now.
            t.info = info.clone();
            if let Via::Peer { deadline, .. } = &mut t.via {
                *deadline = (*deadline).min((need_by - reserve).max(now + MIN_PEER_TIME));
            }
        }
        self.loads.insert(
            load,
            Load {
                url,
                seg: Some(seg),
                info: Some(info),
                started: now,
                need_by,
                wait_until,
            },
        );
        self.advance(ctx, swarm, seg);
        self.prefetch(ctx, swarm);
    }

    pub(crate) fn handle_abort(&mut self, ctx: &mut Ctx<'_>, load: LoadId) {
        if self.loads.remove(&load).is_none() {
            return;
        }
        // A segment transfer goes on (its bytes land in the cache for later); a
        // pass-through fetch serves nobody else, so it stops.
        for i in 0..self.fetches.len() {
            if let (fetch, FetchFor::Passthrough(l, _)) = self.fetches[i] {
                if l == load {
                    self.fetches.remove(i);
                    ctx.out.push(Output::CancelFetch { fetch });
                    return;
                }
            }
        }
    }

    /// A rendition's bit rate in kb/s, in the units peers tell their upload rates in: the
    /// master's declared bandwidth, else the measured media rate.
    fn stream_kbps(&self, variant: u16) -> u64 {
        match self.playlists.declared_bandwidth(variant) {
            Some(b) => b / 1000,
            None => (self.media_bytes_per_sec(variant) * 0.008) as u64,
        }
    }

    /// This viewer's place in its neighbourhood's election for `seg` (0: fetches it from
    /// the CDN at once; see [`election`]), and how many neighbours play its rendition.
    /// A fast uplink here is one that told an upload rate of [`election::ALONE_UPLINK`]
    /// times the rendition's declared bit rate (else its measured media rate) or more.
    fn election_place(&self, swarm: &Swarm, seg: SegmentId, now: Instant) -> (usize, usize) {
        let fast_from = (self.stream_kbps(seg.variant) * u64::from(election::ALONE_UPLINK)).max(1);
        let fast = |kbps: u32| u64::from(kbps) >= fast_from;
        let me = swarm.peer_id();
        let mine = election::key(me, fast(swarm.uplink_kbps()), seg);
        let (mut rank, mut neighbours, mut fast_first) = (0, 0, !mine.0);
        for (_, s) in swarm.ready_sessions() {
            let (Some(p), true) = (s.remote_id(), crate::swarm::plays(s, seg.variant, now)) else {
                continue;
            };
            let theirs = election::key(p, fast(s.uplink_kbps()), seg);
            rank += usize::from(p != me && theirs < mine);
            neighbours += 1;
            fast_first |= !theirs.0;
        }
        swarm.among_slow.set(!fast_first);
        (election::place(rank, neighbours, fast_first), neighbours)
    }

    /// Moves segment `seg` forward: from the cache, a peer, or the CDN, whichever is due.
    fn advance(&mut self, ctx: &mut Ctx<'_>, swarm: &mut Swarm, seg: SegmentId) {
        if self.transfers.contains_key(&seg) {
            return;
        }
        if let Some(data) = self.cache.get(&seg) {
            self.deliver_all(ctx, seg, data, Source::Cache, None);
            return;
        }
        // The most urgent load for this segment sets the deadline; the least patient one
        // decides when the CDN may step in (the two may be different loads).
        let Some((load, wait_until)) = self.most_urgent(seg) else {
            return;
        };
        let need_by = load.need_by;
        let info = load.info.clone().expect("segment loads carry their info");
        let now = ctx.now;
        let size = self.expected_bytes(&info);
        let deadline = need_by - self.reserve(size);
        if let Some(conn) = self.choose_peer(swarm, seg, size, now, deadline) {
            self.start_peer(swarm, info, conn, deadline, Bytes::new(), now, false);
        } else if now >= wait_until {
            self.start_cdn(ctx, info, Bytes::new());
        }
    }

    /// The most urgent load waiting for `seg` (the earliest `need_by`, then `wait_until`;
    /// the first of equals, as `min_by_key`), and the earliest `wait_until` of them all.
    fn most_urgent(&self, seg: SegmentId) -> Option<(&Load, Instant)> {
        let mut most_urgent: Option<&Load> = None;
        let mut wait_until: Option<Instant> = None;
        for l in self.loads.values() {
            if !matches!(l.seg, Some(s) if s == seg) {
                continue;
            }
            if most_urgent.is_none_or(|m| (l.need_by, l.wait_until) < (m.need_by, m.wait_until)) {
                most_urgent = Some(l);
            }
            wait_until = Some(wait_until.map_or(l.wait_until, |w| w.min(l.wait_until)));
        }
        Some((most_urgent?, wait_until?))
    }

    /// The peer to ask for `seg` (of about `size` bytes) so that it arrives by
    /// `deadline`: a peer not measured yet gets a trial when there is room for its
    /// speed (the upload rate it told, else an assumed one) twice over with half again
    /// to spare; otherwise the fastest measured peer that makes it with
    /// [`MEASURED_SPARE`]; otherwise a trial that fits with half again to spare.
    fn choose_peer(
        &self,
        swarm: &Swarm,
        seg: SegmentId,
        size: usize,
        now: Instant,
        deadline: Instant,
    ) -> Option<ConnId> {
        if !swarm.may_hold(seg) {
            return None;
        }
        let media_rate = self.media_bytes_per_sec(seg.variant);
        let stream_kbps = self.stream_kbps(seg.variant).max(1) as f64;
        let mut best: Option<(Duration, usize, ConnId)> = None;
        let mut untried: Option<(usize, ConnId)> = None;
        let mut roomy = false;
        for (conn, session) in swarm.peers_with(seg) {
            let open = session.downloads_open();
            if open >= MAX_REQUESTS_PER_PEER
                || self.demoted(conn, now)
                || self.refused_lately(conn, seg, now)
            {
                continue;
            }
            match self
                .peers
                .get(&conn)
                .and_then(|p| p.estimate.time_for(size))
            {
                Some(expected) => {
                    // Queued requests share the peer's link.
                    let expected = crate::time::scale(expected, 1.0 + open as f64);
                    if now + crate::time::scale(expected, MEASURED_SPARE) <= deadline
                        && best.is_none_or(|b| (expected, open, conn) < b)
                    {
                        best = Some((expected, open, conn));
                    }
                }
                None => {
                    // At the rate it told us, else assumed.
                    let speedup = match session.uplink_kbps() {
                        0 => TRIAL_SPEEDUP,
                        k => f64::from(k) / stream_kbps,
                    };
                    let rate = (speedup * media_rate).max(1.0);
                    let mut trial = TRIAL_LATENCY + crate::time::secs_f64(size as f64 / rate);
                    if speedup < f64::from(election::FAST_UPLINK) {
                        trial = crate::time::scale(trial, SLOW_TRIAL_FACTOR);
                    }
                    if now + crate::time::scale(trial, 1.5) <= deadline
                        && untried.is_none_or(|u| (open, conn) < u)
                    {
                        untried = Some((open, conn));
                        roomy = now + crate::time::scale(trial, 3.0) <= deadline;
                    }
                }
            }
        }
        let best = best.map(|(_, _, c)| c);
        let untried = untried.map(|(_, c)| c);
        if roomy {
            untried.or(best)
        } else {
            best.or(untried)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_peer(
        &mut self,
        swarm: &mut Swarm,
        info: SegmentInfo,
        conn: ConnId,
        deadline: Instant,
        prefix: Bytes,
        now: Instant,
        prefetch: bool,
    ) {
        let req = self.next_req;
        self.next_req = self.next_req.wrapping_add(1);
        let Some(session) = swarm.session_mut(conn) else {
            return;
        };
        let limit = self.max_plausible_bytes(&info).min(u32::MAX as usize) as u32;
        session.request(req, info.id, prefix.len() as u32, limit);
        self.peers.get_or_default(conn);
        self.transfers.insert(
            info.id,
            Transfer {
                info,
                via: Via::Peer {
                    conn,
                    req,
                    deadline,
                },
                prefix,
                started: now,
                first_byte: None,
                prefetch,
            },
        );
    }

    fn start_cdn(&mut self, ctx: &mut Ctx<'_>, info: SegmentInfo, prefix: Bytes) {
        let seg = info.id;
        let fetch = self.new_fetch(FetchFor::Segment(seg));
        let done = prefix.len() as u64;
        let (range, from) = match info.range {
            Some((start, end)) => (Some((start + done, end)), None),
            None if done > 0 => (None, Some(done)),
            None => (None, None),
        };
        ctx.out.push(Output::Fetch {
            fetch,
            url: info.url.clone(),
            range,
            from,
        });
        self.transfers.insert(
            seg,
            Transfer {
                info,
                via: Via::Cdn { fetch },
                prefix,
                started: ctx.now,
                first_byte: None,
                prefetch: false,
            },
        );
    }

    /// Ahead of the player, asks peers for the next segments they hold, within a
    /// look-ahead that grows with the buffer (live: from [`PREFETCH_MIN_BUFFER`]). Never
    /// the CDN.
    fn prefetch(&mut self, ctx: &mut Ctx<'_>, swarm: &mut Swarm) {
        let Some(anchor) = self.anchor else { return };
        let ahead = self.playback.buffer_ahead();
        let floor = if self.vod { 0.0 } else { PREFETCH_MIN_BUFFER };
        if ahead < floor || swarm.ready_sessions().next().is_none() {
            return;
        }
        let lookahead = (1 + (ahead - floor) as u64).min(MAX_LOOKAHEAD);
        let mut in_flight = 0;
        for t in self.transfers.values() {
            in_flight += usize::from(t.prefetch);
        }
        let now = ctx.now;
        for sn in anchor.sn + 1..=anchor.sn + lookahead {
            if in_flight >= MAX_PREFETCH {
                break;
            }
            let seg = SegmentId {
                variant: anchor.variant,
                sn,
            };
            if !swarm.may_hold(seg) {
                // Nobody announced it, nor any later one: nothing more to ask for.
                break;
            }
            if self.cache.contains(&seg) || self.transfers.contains_key(&seg) {
                continue;
            }
            let Some(info) = self
                .playlists
                .segment(seg)
                .cloned()
                .or_else(|| self.announced_next(swarm, seg))
            else {
                break;
            };
            // Needed once the buffer and the segments before it have played.
            let before = crate::time::secs_f64(info.duration * (sn - anchor.sn - 1) as f64);
            let size = self.expected_bytes(&info);
            let deadline = now + crate::time::secs_f64(ahead) + before - self.reserve(size);
            if let Some(conn) = self.choose_peer(swarm, seg, size, now, deadline) {
                self.start_peer(swarm, info, conn, deadline, Bytes::new(), now, true);
                in_flight += 1;
            }
        }
    }

    /// The live segment after the newest our playlist lists, when a peer announced it:
    /// a neighbour's refresh can show it up to a target duration before ours, and asking
    /// then passes it on a hop sooner. Its URL is not known yet (the player's load brings
    /// it); its duration is taken to be the previous segment's.
    fn announced_next(&self, swarm: &Swarm, seg: SegmentId) -> Option<SegmentInfo> {
        let newest = self.variants.get(&seg.variant)?.newest?;
        let prev = self.playlists.segment(SegmentId {
            sn: seg.sn.checked_sub(1)?,
            ..seg
        })?;
        if seg.sn != newest + 1
            || prev.range.is_some()
            || !swarm.may_hold(seg)
            || swarm.peers_with(seg).next().is_none()
        {
            return None;
        }
        Some(SegmentInfo {
            id: seg,
            url: String::new(),
            duration: prev.duration,
            range: None,
        })
    }

    /// Fetches the hash list of a media playlist (once at a time per variant; a live
    /// playlist's refresh fetches it again, as the publisher rewrites it with the playlist).
    fn fetch_hash_list(&mut self, ctx: &mut Ctx<'_>, variant: u16, url: &str, named: Option<&str>) {
        for (_, f) in &self.fetches {
            if matches!(f, FetchFor::HashList(v, _) if *v == variant) {
                return;
            }
        }
        let list_url = sidecar_url(url, named);
        let fetch = self.new_fetch(FetchFor::HashList(variant, list_url.clone()));
        ctx.out.push(Output::FetchHashList {
            fetch,
            url: list_url,
        });
    }

    /// Checks a segment's bytes from a peer (or assembled with a peer's prefix) before
    /// they reach the player or the cache: against the publisher's hash list when it
    /// knows the segment, else against the container the CDN's copies use and a size
    /// bound.
    fn check_peer_bytes(&self, info: &SegmentInfo, data: &[u8]) -> Result<(), &'static str> {
        let variant = self.variants.get(&info.id.variant);
        if let Some(list) = variant.and_then(|v| v.hash_list.as_ref()) {
            match list.verify_sn(info.id.sn, data) {
                Verdict::Ok => return Ok(()),
                Verdict::Mismatch => return Err("sent a corrupted segment"),
                Verdict::Unknown => {}
            }
        }
        if data.len() > self.max_plausible_bytes(info) {
            return Err("sent an implausibly large segment");
        }
        match variant.and_then(|v| v.container) {
            Some(c) if !container::well_formed(c, data) => Err("sent a malformed segment"),
            _ => Ok(()),
        }
    }

    /// Where fetch `fetch` is in `fetches`.
    fn fetch_index(&self, fetch: FetchId) -> Option<usize> {
        for (i, (f, _)) in self.fetches.iter().enumerate() {
            if *f == fetch {
                return Some(i);
            }
        }
        None
    }

    fn new_fetch(&mut self, why: FetchFor) -> FetchId {
        let id = FetchId(self.next_fetch);
        self.next_fetch += 1;
        self.fetches.push((id, why));
        id
    }

    /// How long hls.js should see a load of `bytes` take: what the CDN path would have
    /// taken, when measured, so cache hits and fast peers do not inflate its bandwidth
    /// estimate and slow peers do not deflate it; else what it really took.
    fn honest_timing(&self, bytes: usize, actual: Duration) -> Duration {
        self.cdn.time_for(bytes).unwrap_or(actual)
    }

    /// The embedder fetched and read a sidecar asked for with `Output::FetchHashList`.
    pub(crate) fn handle_hash_list(
        &mut self,
        ctx: &mut Ctx<'_>,
        fetch: FetchId,
        list: Result<HashList, String>,
    ) {
        let Some(i) = self.fetch_index(fetch) else {
            return; // cancelled
        };
        if !matches!(self.fetches[i].1, FetchFor::HashList(..)) {
            return; // not a sidecar
        }
        if let (_, FetchFor::HashList(variant, url)) = self.fetches.remove(i) {
            self.take_hash_list(ctx, variant, url, list);
        }
    }

    fn take_hash_list(
        &mut self,
        ctx: &mut Ctx<'_>,
        variant: u16,
        url: String,
        list: Result<HashList, String>,
    ) {
        match list {
            Ok(list) => {
                self.variants.get_or_default(variant).hash_list = Some(list);
            }
            Err(reason) => ctx.out.event(Event::PlaylistError {
                url,
                reason: crate::text::cat(&["hash list: ", &reason]),
            }),
        }
    }

    pub(crate) fn handle_http(
        &mut self,
        ctx: &mut Ctx<'_>,
        swarm: &mut Swarm,
        fetch: FetchId,
        result: Result<HttpResponse, String>,
    ) {
        let Some(i) = self.fetch_index(fetch) else {
            return;
        };
        let (_, why) = self.fetches.remove(i);
        let ok = result.and_then(|r| {
            if (200..300).contains(&r.status) {
                Ok(r)
            } else {
                Err(crate::text::number_in("HTTP status ", r.status.into(), ""))
            }
        });
        match why {
            FetchFor::Passthrough(load, started) => {
                let Some(l) = self.loads.remove(&load) else {
                    return;
                };
                match ok {
                    Ok(resp) => {
                        let took = ctx.now.saturating_since(started);
                        self.cdn.sample(resp.body.len(), Duration::ZERO, took);
                        ctx.stats.cdn_bytes += resp.body.len() as u64;
                        deliver(ctx, load, &l.url, l.started, resp.body, Source::Cdn, took);
                    }
                    Err(reason) => ctx.out.push(Output::Fail { load, reason }),
                }
            }
            // The embedder answers a sidecar with `Input::HashListRead`, not the bytes.
            FetchFor::HashList(variant, url) => {
                self.take_hash_list(ctx, variant, url, Err("hash list answered unread".into()))
            }
            FetchFor::Segment(seg) => {
                // Only the fetch the transfer is waiting on may complete it.
                match self.transfers.get(&seg).map(|t| &t.via) {
                    Some(Via::Cdn { fetch: f }) if *f == fetch => {}
                    _ => return,
                }
                let t = self.transfers.remove(&seg).expect("checked");
                let took = ctx.now.saturating_since(t.started);
                match ok.and_then(|resp| assemble(&t, resp)) {
                    // A segment that began at a peer is checked whole, like any peer's.
                    Ok((data, fetched))
                        if !t.prefix.is_empty()
                            && self.check_peer_bytes(&t.info, &data).is_err() =>
                    {
                        ctx.stats.cdn_bytes += fetched as u64;
                        ctx.stats.rejected_segments += 1;
                        self.start_cdn(ctx, t.info, Bytes::new());
                    }
                    Ok((data, fetched)) => {
                        self.cdn.sample(fetched, Duration::ZERO, took);
                        ctx.stats.cdn_bytes += fetched as u64;
                        if t.info.range.is_none() {
                            self.variants
                                .get_or_default(seg.variant)
                                .container
                                .get_or_insert_with(|| container::sniff(&data));
                        }
                        self.complete(ctx, swarm, &t.info, data, Source::Cdn, Some(took));
                    }
                    // The peer's part and the CDN's disagree: start over, whole, from the CDN.
                    Err(_) if !t.prefix.is_empty() => self.start_cdn(ctx, t.info, Bytes::new()),
                    Err(reason) => self.fail_all(ctx, seg, &reason),
                }
            }
        }
        self.prefetch(ctx, swarm);
    }

    /// A segment is complete: cache it, tell the peers, answer every load waiting for it.
    fn complete(
        &mut self,
        ctx: &mut Ctx<'_>,
        swarm: &mut Swarm,
        info: &SegmentInfo,
        data: Bytes,
        source: Source,
        took: Option<Duration>,
    ) {
        let seg = info.id;
        self.forget_refusals(None, Some(seg));
        if info.range.is_none() && info.duration > 0.0 {
            let rate = data.len() as f64 / info.duration;
            let r = self
                .variants
                .get_or_default(seg.variant)
                .media_rate
                .get_or_insert(rate);
            *r += 0.3 * (rate - *r);
            if let Some(b) = self.playlists.declared_bandwidth(seg.variant) {
                self.per_bit = (*r / b as f64).min(1.0 / 8.0);
            }
        }
        let playlists = &self.playlists;
        let variants = &self.variants;
        // A live segment newer than the playlist shows is not useless: it is next.
        let evicted = self.cache.insert_evicting(seg, data.clone(), |s| {
            !playlists.is_listed(*s) && newest(variants, s.variant).is_none_or(|n| s.sn <= n)
        });
        swarm.broadcast_lost(&evicted, |s| expired(playlists, variants, s));
        if self.cache.contains(&seg) {
            swarm.broadcast_have(&[seg]);
        }
        self.deliver_all(ctx, seg, data, source, took);
    }

    fn deliver_all(
        &mut self,
        ctx: &mut Ctx<'_>,
        seg: SegmentId,
        data: Bytes,
        source: Source,
        cdn_took: Option<Duration>,
    ) {
        // One load after the other, in the map's order (none is added meanwhile).
        while let Some(id) = first_load_for(&self.loads, seg) {
            let l = self.loads.remove(&id).expect("listed");
            self.cdn_run = match source {
                Source::Cdn => self.cdn_run.saturating_add(1),
                _ => 0,
            };
            if let Some(info) = &l.info {
                self.last_delivery = Some((ctx.now, info.duration));
            }
            let timing = match (source, cdn_took) {
                (Source::Cdn, Some(took)) => took,
                _ => self.honest_timing(data.len(), ctx.now.saturating_since(l.started)),
            };
            deliver(ctx, id, &l.url, l.started, data.clone(), source, timing);
        }
    }

    fn fail_all(&mut self, ctx: &mut Ctx<'_>, seg: SegmentId, reason: &str) {
        self.transfers.remove(&seg);
        while let Some(load) = first_load_for(&self.loads, seg) {
            self.loads.remove(&load);
            ctx.out.push(Output::Fail {
                load,
                reason: reason.to_string(),
            });
        }
    }

    pub(crate) fn handle_peer_events(
        &mut self,
        ctx: &mut Ctx<'_>,
        swarm: &mut Swarm,
        conn: ConnId,
        events: Vec<PeerEvent>,
    ) {
        // By reference: no IntoIter<PeerEvent> in the wasm.
        for ev in &events {
            match *ev {
                PeerEvent::Have(ref segs) => {
                    for &seg in segs {
                        if awaited(&self.loads, seg) {
                            self.advance(ctx, swarm, seg);
                        }
                    }
                }
                PeerEvent::Request { req, seg, offset } => {
                    let data = if swarm.download_only() {
                        None
                    } else {
                        self.cache.get(&seg)
                    };
                    let mut busy = swarm.uploads_waiting_for_others(conn) >= MAX_WAITING_UPLOADS;
                    if busy && data.is_some() {
                        // A faster relay takes the place of a slower one waiting.
                        let size = data.as_ref().map_or(0, |d| d.len());
                        busy = !swarm.withdraw_worse(conn, |c, kbps| {
                            self.relay_key(c, seg.variant, kbps, size)
                        });
                    }
                    let data = data.filter(|_| !busy);
                    let seq = swarm.next_upload_seq();
                    let Some(session) = swarm.session_mut(conn) else {
                        continue;
                    };
                    match data {
                        Some(data) => {
                            ctx.stats.uploaded_bytes +=
                                data.len().saturating_sub(offset as usize) as u64;
                            session.serve(req, data, offset, seq);
                        }
                        None => session.refuse(req),
                    }
                }
                PeerEvent::Progress { req, .. } => {
                    if let Some(seg) = self.transfer_of(conn, req) {
                        let t = self.transfers.get_mut(&seg).expect("found");
                        t.first_byte.get_or_insert(ctx.now);
                    }
                }
                PeerEvent::Completed { req, ref data } => {
                    let Some(seg) = self.transfer_of(conn, req) else {
                        continue;
                    };
                    let mut t = self.transfers.remove(&seg).expect("found");
                    let first = t.first_byte.unwrap_or(ctx.now);
                    ctx.stats.peer_bytes += data.len() as u64;
                    let whole = concat(&t.prefix, data);
                    if let Err(why) = self.check_peer_bytes(&t.info, &whole) {
                        // A liar: banned for the session; the segment comes from elsewhere,
                        // none of its bytes kept.
                        ctx.stats.rejected_segments += 1;
                        swarm.ban(ctx, conn, why);
                        t.prefix = Bytes::new();
                        self.retry_elsewhere(ctx, swarm, t);
                        continue;
                    }
                    let record = self.peers.get_or_default(conn);
                    record.estimate.sample(
                        data.len(),
                        first.saturating_since(t.started),
                        ctx.now.saturating_since(t.started),
                    );
                    record.failures = 0;
                    self.complete(ctx, swarm, &t.info, whole, Source::Peer, None);
                }
                PeerEvent::Absent { req } => {
                    if let Some(seg) = self.transfer_of(conn, req) {
                        let t = self.transfers.remove(&seg).expect("found");
                        self.note_refusal(swarm, conn, seg, ctx.now);
                        if !t.prefetch {
                            self.advance(ctx, swarm, seg);
                        }
                    }
                }
                PeerEvent::Ready | PeerEvent::Violation(_) => {}
            }
        }
        self.prefetch(ctx, swarm);
    }

    /// How slow a peer is as a relay: its time for `size` bytes in ms at the upload rate
    /// it told (`kbps`, 0 when it did not), else as we measured its uploads to us, else a
    /// middling 1 s.
    fn relay_key(&self, conn: ConnId, variant: u16, kbps: u32, size: usize) -> u64 {
        if kbps > 0 {
            let rate = self.media_bytes_per_sec(variant) * f64::from(kbps)
                / self.stream_kbps(variant).max(1) as f64;
            return (size as f64 * 1000.0 / rate.max(1.0)) as u64;
        }
        self.peers
            .get(&conn)
            .and_then(|p| p.estimate.time_for(size))
            .map_or(1000, crate::time::millis)
    }

    /// Counts a failure against a peer; after too many in a row it is demoted: not asked
    /// for segments for a while, but kept (a slow uplink is still a neighbour that counts
    /// in the election and takes our uploads; reconnecting costs the tracker a round).
    fn peer_failed(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) {
        let record = self.peers.get_or_default(conn);
        record.failures += 1;
        // A failed trial (a peer never measured) is not repeated for a while either.
        if record.failures >= MAX_PEER_FAILURES || !record.estimate.is_known() {
            record.failures = 0;
            record.demoted_until = Some(ctx.now + DEMOTION);
            ctx.stats.peers_demoted += 1;
        }
    }

    /// Forgets the refusals by `conn` or of `seg`: removed last first by index (a few
    /// dozen at most), not by `retain` (less wasm).
    fn forget_refusals(&mut self, conn: Option<ConnId>, seg: Option<SegmentId>) {
        for i in (0..self.refused.len()).rev() {
            let r = &self.refused[i];
            if conn.is_some_and(|c| c == r.conn) || seg.is_some_and(|s| s == r.seg) {
                self.refused.remove(i);
            }
        }
    }

    /// Whether `conn` refused `seg` lately (not asked again until its retry time).
    fn refused_lately(&self, conn: ConnId, seg: SegmentId, now: Instant) -> bool {
        for r in &self.refused {
            if r.conn == conn && r.seg == seg && now < r.retry_at {
                return true;
            }
        }
        false
    }

    /// A peer refused `seg` (busy, or it no longer holds it): not asked for it again
    /// before [`REFUSAL_RETRY`], and after [`MAX_REFUSALS`] taken not to hold it. A busy
    /// uplink is free again a copy later; forgetting it for the segment left the viewer
    /// only the holders still to come, and the CDN at its deadline.
    fn note_refusal(&mut self, swarm: &mut Swarm, conn: ConnId, seg: SegmentId, now: Instant) {
        let retry_at = now + REFUSAL_RETRY;
        let count = match self
            .refused
            .iter_mut()
            .find(|r| r.conn == conn && r.seg == seg)
        {
            Some(r) => {
                r.count = r.count.saturating_add(1);
                r.retry_at = retry_at;
                r.fired = false;
                r.count
            }
            None => {
                if self.refused.len() >= MAX_REFUSALS_KEPT {
                    self.refused.remove(0);
                }
                self.refused.push(Refusal {
                    conn,
                    seg,
                    retry_at,
                    count: 1,
                    fired: false,
                });
                1
            }
        };
        if count >= MAX_REFUSALS {
            if let Some(s) = swarm.session_mut(conn) {
                s.forget_one(&seg);
            }
        }
    }

    fn demoted(&self, conn: ConnId, now: Instant) -> bool {
        self.peers.get(&conn).is_some_and(|p| p.demoted(now))
    }

    /// A peer connection closed: its transfers go elsewhere.
    pub(crate) fn handle_peer_gone(&mut self, ctx: &mut Ctx<'_>, swarm: &mut Swarm, conn: ConnId) {
        self.peers.remove(&conn);
        self.forget_refusals(Some(conn), None);
        // One after the other, in the map's order: a retry never goes to the peer gone.
        while let Some(seg) = self.transfer_via(conn) {
            let t = self.transfers.remove(&seg).expect("listed");
            if !t.prefetch {
                ctx.stats.peer_fallbacks += 1;
            }
            self.retry_elsewhere(ctx, swarm, t);
        }
    }

    /// After a peer failed: another peer if one has time, else the CDN for what is
    /// missing. A prefetch nobody waits for is simply dropped.
    fn retry_elsewhere(&mut self, ctx: &mut Ctx<'_>, swarm: &mut Swarm, t: Transfer) {
        // The earliest deadline of the loads waiting: the most urgent load's.
        let Some((load, _)) = self.most_urgent(t.info.id) else {
            return;
        };
        let (seg, need_by) = (t.info.id, load.need_by);
        let now = ctx.now;
        let size = self.expected_bytes(&t.info);
        let deadline = need_by - self.reserve(size);
        match self.choose_peer(swarm, seg, size, now, deadline) {
            Some(conn) => self.start_peer(swarm, t.info, conn, deadline, t.prefix, now, false),
            None => self.start_cdn(ctx, t.info, t.prefix),
        }
    }

    /// The first transfer (in segment order) from `conn`.
    fn transfer_via(&self, conn: ConnId) -> Option<SegmentId> {
        for (seg, t) in &self.transfers {
            if matches!(t.via, Via::Peer { conn: c, .. } if c == conn) {
                return Some(*seg);
            }
        }
        None
    }

    fn transfer_of(&self, conn: ConnId, req: u32) -> Option<SegmentId> {
        for (seg, t) in &self.transfers {
            if matches!(t.via, Via::Peer { conn: c, req: r, .. } if c == conn && r == req) {
                return Some(*seg);
            }
        }
        None
    }

    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>, swarm: &mut Swarm) {
        let now = ctx.now;
        let mut late = Vec::new();
        for (s, t) in &self.transfers {
            if matches!(t.via, Via::Peer { deadline, .. } if now >= deadline) {
                late.push(*s);
            }
        }
        for &seg in &late {
            let mut t = self.transfers.remove(&seg).expect("listed");
            if let Via::Peer { conn, req, .. } = t.via {
                if let Some(session) = swarm.session_mut(conn) {
                    let got = session.cancel(req);
                    t.prefix = concat(&t.prefix, &got);
                }
                self.peer_failed(ctx, conn);
                // It takes at least this long: a failed trial is not retried as if
                // untried once its demotion ends, and a measured peer looks slower.
                let size = self.expected_bytes(&t.info);
                let took = now.saturating_since(t.started);
                self.peers
                    .get_or_default(conn)
                    .estimate
                    .sample_missed(size, took);
            }
            if t.prefetch {
                continue;
            }
            ctx.stats.peer_fallbacks += 1;
            self.start_cdn(ctx, t.info, t.prefix);
        }
        let mut due = Vec::new();
        for l in self.loads.values() {
            match l.seg {
                Some(s) if l.wait_until <= now && !self.transfers.contains_key(&s) => due.push(s),
                _ => {}
            }
        }
        // A refusing peer may be asked again: reconsider the loads waiting for it.
        for r in &mut self.refused {
            if !r.fired && r.retry_at <= now {
                r.fired = true;
                if awaited(&self.loads, r.seg) {
                    due.push(r.seg);
                }
            }
        }
        for &seg in &due {
            self.advance(ctx, swarm, seg);
        }
    }

    /// Brings `at` forward to the scheduler's next wake-up, if earlier.
    pub(crate) fn poll_timeout(&self, at: &mut Instant) {
        let mut note = |t: Instant| *at = (*at).min(t);
        for t in self.transfers.values() {
            if let Via::Peer { deadline, .. } = t.via {
                note(deadline);
            }
        }
        for l in self.loads.values() {
            if l.seg.is_some_and(|s| !self.transfers.contains_key(&s)) {
                note(l.wait_until);
            }
        }
        // A retry moves only a load stuck on its segment (no transfer under way): a
        // refused prefetch waits for the next prefetch pass, and waking the agent at its
        // retry time would do nothing.
        for r in &self.refused {
            if !r.fired && !self.transfers.contains_key(&r.seg) && awaited(&self.loads, r.seg) {
                note(r.retry_at);
            }
        }
    }
}

/// Whether a load waits for `seg`.
fn awaited(loads: &VecMap<LoadId, Load>, seg: SegmentId) -> bool {
    first_load_for(loads, seg).is_some()
}

/// The first load (in id order) waiting for `seg`.
fn first_load_for(loads: &VecMap<LoadId, Load>, seg: SegmentId) -> Option<LoadId> {
    for (id, l) in loads {
        if matches!(l.seg, Some(s) if s == seg) {
            return Some(*id);
        }
    }
    None
}

/// Whether `seg` slid out of its rendition's live window: no longer listed, and older
/// than the newest segment listed (a segment newer than what we have seen is not
/// expired: a peer may read the playlist before us).
fn expired(playlists: &Playlists, variants: &VecMap<u16, Variant>, seg: &SegmentId) -> bool {
    !playlists.is_listed(*seg) && newest(variants, seg.variant).is_some_and(|n| seg.sn < n)
}

/// The newest media sequence number `variant`'s playlist listed.
fn newest(variants: &VecMap<u16, Variant>, variant: u16) -> Option<u64> {
    variants.get(&variant).and_then(|v| v.newest)
}

fn deliver(
    ctx: &mut Ctx<'_>,
    load: LoadId,
    url: &str,
    started: Instant,
    data: Bytes,
    source: Source,
    timing: Duration,
) {
    ctx.stats.segments_delivered += 1;
    ctx.out.event(Event::SegmentLoaded {
        url: url.to_string(),
        source,
        bytes: data.len() as u64,
        ms: ctx.now.saturating_since(started).as_secs_f64() * 1000.0,
    });
    ctx.out.push(Output::Deliver {
        load,
        data,
        source,
        timing,
    });
}

fn concat(a: &Bytes, b: &Bytes) -> Bytes {
    if a.is_empty() {
        return b.clone();
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    Bytes::from(out)
}

/// Joins what a peer delivered with the CDN's response. Returns the segment and how many
/// bytes the CDN sent that the segment uses.
fn assemble(t: &Transfer, resp: HttpResponse) -> Result<(Bytes, usize), String> {
    let body = resp.body;
    let partial = resp.status == 206;
    match (t.info.range, t.prefix.is_empty(), partial) {
        // The whole segment, as asked.
        (None, true, false) => {
            let n = body.len();
            Ok((body, n))
        }
        // The rest after the peer's part.
        (None, false, true) => {
            let n = body.len();
            Ok((concat(&t.prefix, &body), n))
        }
        // The server ignored our Range and sent it all: keep it, drop the peer's part.
        (None, false, false) => {
            let n = body.len();
            Ok((body, n))
        }
        (Some((start, end)), _, true) => {
            let want = (end - start) as usize - t.prefix.len();
            if body.len() != want {
                let mut why = crate::text::number_in("range response of ", body.len() as u64, "");
                why.push_str(&crate::text::number_in(" bytes, wanted ", want as u64, ""));
                return Err(why);
            }
            Ok((concat(&t.prefix, &body), want))
        }
        (Some((start, end)), _, false) => {
            let (s, e) = (start as usize, end as usize);
            if body.len() < e {
                return Err("response shorter than the segment's byte range".into());
            }
            Ok((body.slice(s..e), body.len()))
        }
        (None, true, true) => Err("partial response to a whole-segment request".into()),
    }
}

#[cfg(test)]
mod tests;
