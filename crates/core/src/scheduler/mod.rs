//! Where each segment comes from, and when.
//!
//! For every segment the player asks for:
//! 1. held in the cache → answered at once;
//! 2. a ready peer holds it → requested from that peer, with a deadline that leaves the
//!    CDN time to step in before the player's buffer runs dry;
//! 3. nobody holds it yet → the viewers of this rendition elect, per segment, who takes it
//!    from the CDN (see [`election`]); the others wait a patience bounded by their buffer
//!    for a peer to announce it, then fall back to the CDN.
//!
//! A peer transfer that misses its deadline is cancelled and only the missing bytes are
//! fetched from the CDN (HTTP Range). A peer that goes away mid-transfer costs a CDN fetch.
//! Live: on a playlist refresh, the viewer elected for a new segment fetches it at once,
//! so the others find it at a peer when hls.js asks.

pub mod election;

use std::collections::BTreeMap;

use core::time::Duration;

use bytes::{Bytes, BytesMut};
use hlsmesh_proto::SegmentId;

use crate::agent::{ConnId, Ctx, Event, FetchId, HttpResponse, LoadId, Output, Playback, Source};
use crate::cache::Cache;
use crate::peer::PeerEvent;
use crate::playlist::{Playlists, SegmentInfo};
use crate::swarm::Swarm;
use crate::time::Instant;
use crate::url::without_query;

/// Time kept in reserve for a CDN fetch after a peer fails: the buffer must still hold
/// this much when the agent gives up on peers.
pub const CDN_MARGIN: Duration = Duration::from_millis(1500);
/// Shortest time a peer is given for a transfer, even with an empty buffer.
pub const MIN_PEER_TIME: Duration = Duration::from_millis(700);
/// Requests open to one peer at once.
const MAX_REQUESTS_PER_PEER: usize = 4;

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
}

enum FetchFor {
    Segment(SegmentId),
    Passthrough(LoadId),
}

/// Loads, transfers and the cache of one agent.
pub(crate) struct Scheduler {
    playlists: Playlists,
    cache: Cache,
    playback: Playback,
    loads: BTreeMap<LoadId, Load>,
    transfers: BTreeMap<SegmentId, Transfer>,
    fetches: BTreeMap<FetchId, FetchFor>,
    next_fetch: u64,
    next_req: u32,
    active_variant: Option<u16>,
}

impl Scheduler {
    pub(crate) fn new(cache_bytes: usize) -> Scheduler {
        Scheduler {
            playlists: Playlists::default(),
            cache: Cache::new(cache_bytes),
            playback: Playback::default(),
            loads: BTreeMap::new(),
            transfers: BTreeMap::new(),
            fetches: BTreeMap::new(),
            next_fetch: 1,
            next_req: 1,
            active_variant: None,
        }
    }

    pub(crate) fn cache_used(&self) -> usize {
        self.cache.used()
    }

    pub(crate) fn cached_ids(&self) -> Vec<SegmentId> {
        self.cache.ids()
    }

    /// Reads a playlist; returns the swarm name it implies (the first playlist's URL
    /// without query: the master when there is one).
    pub(crate) fn handle_playlist(
        &mut self,
        ctx: &mut Ctx<'_>,
        swarm: &mut Swarm,
        url: &str,
        text: &[u8],
    ) -> Option<String> {
        let update = match self.playlists.update(url, text) {
            Ok(u) => u,
            Err(e) => {
                ctx.out.event(Event::PlaylistError {
                    url: url.to_string(),
                    reason: e.to_string(),
                });
                return None;
            }
        };
        let name = self.playlists.master_url().unwrap_or(url).to_string();
        // Live: the viewer elected for a new segment takes it from the CDN right away, so
        // it is at a peer by the time the other players ask.
        if update.live && update.refresh && update.variant == self.active_variant {
            for info in update.new_segments {
                let seg = info.id;
                let alone = swarm.peer_ids_on_variant(seg.variant).next().is_none();
                if alone || self.cache.contains(&seg) || self.transfers.contains_key(&seg) {
                    continue;
                }
                if election::rank(
                    &swarm.peer_id(),
                    swarm.peer_ids_on_variant(seg.variant),
                    seg,
                ) == 0
                {
                    self.start_cdn(ctx, info, Bytes::new());
                }
            }
        }
        Some(without_query(&name).to_string())
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
            let fetch = self.new_fetch(FetchFor::Passthrough(load));
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
        self.active_variant = Some(seg.variant);
        if let Some(data) = self.cache.get(&seg) {
            ctx.stats.cache_hits += 1;
            deliver(ctx, load, &url, now, data, Source::Cache);
            return;
        }
        let ahead = Duration::from_secs_f64(playback.buffer_ahead().min(3600.0));
        let need_by = now + ahead;
        let rank = election::rank(
            &swarm.peer_id(),
            swarm.peer_ids_on_variant(seg.variant),
            seg,
        );
        let wait_until = election::patience(now, rank, need_by);
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
    }

    pub(crate) fn handle_abort(&mut self, ctx: &mut Ctx<'_>, load: LoadId) {
        if self.loads.remove(&load).is_none() {
            return;
        }
        // A segment transfer goes on (its bytes land in the cache for later); a
        // pass-through fetch serves nobody else, so it stops.
        let passthrough = self.fetches.iter().find_map(|(f, why)| match why {
            FetchFor::Passthrough(l) if *l == load => Some(*f),
            _ => None,
        });
        if let Some(fetch) = passthrough {
            self.fetches.remove(&fetch);
            ctx.out.push(Output::CancelFetch { fetch });
        }
    }

    /// Moves segment `seg` forward: from the cache, a peer, or the CDN, whichever is due.
    fn advance(&mut self, ctx: &mut Ctx<'_>, swarm: &mut Swarm, seg: SegmentId) {
        if self.transfers.contains_key(&seg) {
            return;
        }
        if let Some(data) = self.cache.get(&seg) {
            self.deliver_all(ctx, seg, data, Source::Cache);
            return;
        }
        // The most urgent load for this segment sets the pace.
        let Some(load) = self
            .loads
            .values()
            .filter(|l| l.seg == Some(seg))
            .min_by_key(|l| (l.need_by, l.wait_until))
        else {
            return;
        };
        let (need_by, wait_until) = (load.need_by, load.wait_until);
        let info = load.info.clone().expect("segment loads carry their info");
        let now = ctx.now;
        if let Some(conn) = best_peer(swarm, &seg) {
            let deadline = (need_by - CDN_MARGIN).max(now + MIN_PEER_TIME);
            self.start_peer(swarm, info, conn, deadline, Bytes::new());
        } else if now >= wait_until {
            self.start_cdn(ctx, info, Bytes::new());
        }
    }

    fn start_peer(
        &mut self,
        swarm: &mut Swarm,
        info: SegmentInfo,
        conn: ConnId,
        deadline: Instant,
        prefix: Bytes,
    ) {
        let req = self.next_req;
        self.next_req = self.next_req.wrapping_add(1);
        let Some(session) = swarm.session_mut(conn) else {
            return;
        };
        session.request(req, info.id, prefix.len() as u32);
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
            },
        );
    }

    fn new_fetch(&mut self, why: FetchFor) -> FetchId {
        let id = FetchId(self.next_fetch);
        self.next_fetch += 1;
        self.fetches.insert(id, why);
        id
    }

    pub(crate) fn handle_http(
        &mut self,
        ctx: &mut Ctx<'_>,
        swarm: &mut Swarm,
        fetch: FetchId,
        result: Result<HttpResponse, String>,
    ) {
        let Some(why) = self.fetches.remove(&fetch) else {
            return;
        };
        let ok = result.and_then(|r| {
            if (200..300).contains(&r.status) {
                Ok(r)
            } else {
                Err(format!("HTTP status {}", r.status))
            }
        });
        match why {
            FetchFor::Passthrough(load) => {
                let Some(l) = self.loads.remove(&load) else {
                    return;
                };
                match ok {
                    Ok(resp) => {
                        ctx.stats.cdn_bytes += resp.body.len() as u64;
                        deliver(ctx, load, &l.url, l.started, resp.body, Source::Cdn);
                    }
                    Err(reason) => ctx.out.push(Output::Fail { load, reason }),
                }
            }
            FetchFor::Segment(seg) => {
                // Only the fetch the transfer is waiting on may complete it.
                match self.transfers.get(&seg).map(|t| &t.via) {
                    Some(Via::Cdn { fetch: f }) if *f == fetch => {}
                    _ => return,
                }
                let t = self.transfers.remove(&seg).expect("checked");
                match ok.and_then(|resp| assemble(&t, resp)) {
                    Ok((data, fetched)) => {
                        ctx.stats.cdn_bytes += fetched as u64;
                        self.complete(ctx, swarm, seg, data, Source::Cdn);
                    }
                    Err(reason) if !t.prefix.is_empty() => {
                        // The peer's part and the CDN's disagree: start over, whole, from the CDN.
                        let _ = reason;
                        self.start_cdn(ctx, t.info, Bytes::new());
                    }
                    Err(reason) => self.fail_all(ctx, seg, &reason),
                }
            }
        }
    }

    /// A segment is complete: cache it, tell the peers, answer every load waiting for it.
    fn complete(
        &mut self,
        ctx: &mut Ctx<'_>,
        swarm: &mut Swarm,
        seg: SegmentId,
        data: Bytes,
        source: Source,
    ) {
        let evicted = self.cache.insert(seg, data.clone());
        swarm.broadcast_lost(&evicted);
        if self.cache.contains(&seg) {
            swarm.broadcast_have(&[seg]);
        }
        self.deliver_all(ctx, seg, data, source);
    }

    fn deliver_all(&mut self, ctx: &mut Ctx<'_>, seg: SegmentId, data: Bytes, source: Source) {
        let waiting: Vec<LoadId> = self
            .loads
            .iter()
            .filter(|(_, l)| l.seg == Some(seg))
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            let l = self.loads.remove(&id).expect("listed");
            deliver(ctx, id, &l.url, l.started, data.clone(), source);
        }
    }

    fn fail_all(&mut self, ctx: &mut Ctx<'_>, seg: SegmentId, reason: &str) {
        self.transfers.remove(&seg);
        let waiting: Vec<LoadId> = self
            .loads
            .iter()
            .filter(|(_, l)| l.seg == Some(seg))
            .map(|(id, _)| *id)
            .collect();
        for load in waiting {
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
        for ev in events {
            match ev {
                PeerEvent::Have(segs) => {
                    for seg in segs {
                        if self.loads.values().any(|l| l.seg == Some(seg)) {
                            self.advance(ctx, swarm, seg);
                        }
                    }
                }
                PeerEvent::Request { req, seg, offset } => {
                    let data = self.cache.get(&seg);
                    let Some(session) = swarm.session_mut(conn) else {
                        continue;
                    };
                    match data {
                        Some(data) => {
                            ctx.stats.uploaded_bytes +=
                                data.len().saturating_sub(offset as usize) as u64;
                            session.serve(req, data, offset);
                        }
                        None => session.refuse(req),
                    }
                }
                PeerEvent::Completed { req, data } => {
                    let Some(seg) = self.transfer_of(conn, req) else {
                        continue;
                    };
                    let t = self.transfers.remove(&seg).expect("found");
                    ctx.stats.peer_bytes += data.len() as u64;
                    let whole = concat(&t.prefix, &data);
                    self.complete(ctx, swarm, seg, whole, Source::Peer);
                }
                PeerEvent::Absent { req } => {
                    if let Some(seg) = self.transfer_of(conn, req) {
                        let t = self.transfers.remove(&seg).expect("found");
                        self.retry_elsewhere(ctx, swarm, t);
                    }
                }
                PeerEvent::Progress { .. } | PeerEvent::Ready | PeerEvent::Violation(_) => {}
            }
        }
    }

    /// A peer connection closed: its transfers go elsewhere.
    pub(crate) fn handle_peer_gone(&mut self, ctx: &mut Ctx<'_>, swarm: &mut Swarm, conn: ConnId) {
        let lost: Vec<SegmentId> = self
            .transfers
            .iter()
            .filter(|(_, t)| matches!(t.via, Via::Peer { conn: c, .. } if c == conn))
            .map(|(s, _)| *s)
            .collect();
        for seg in lost {
            let t = self.transfers.remove(&seg).expect("listed");
            ctx.stats.peer_fallbacks += 1;
            self.retry_elsewhere(ctx, swarm, t);
        }
    }

    /// After a peer failed: another peer if one has time, else the CDN for what is missing.
    fn retry_elsewhere(&mut self, ctx: &mut Ctx<'_>, swarm: &mut Swarm, t: Transfer) {
        let seg = t.info.id;
        let need_by = self
            .loads
            .values()
            .filter(|l| l.seg == Some(seg))
            .map(|l| l.need_by)
            .min();
        let now = ctx.now;
        match (need_by, best_peer(swarm, &seg)) {
            (Some(need_by), Some(conn)) if need_by >= now + CDN_MARGIN + MIN_PEER_TIME => {
                self.start_peer(swarm, t.info, conn, need_by - CDN_MARGIN, t.prefix)
            }
            (None, _) => {} // nobody is waiting; the player will ask again if it needs it
            _ => self.start_cdn(ctx, t.info, t.prefix),
        }
    }

    fn transfer_of(&self, conn: ConnId, req: u32) -> Option<SegmentId> {
        self.transfers.iter().find_map(|(seg, t)| match t.via {
            Via::Peer {
                conn: c, req: r, ..
            } if c == conn && r == req => Some(*seg),
            _ => None,
        })
    }

    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>, swarm: &mut Swarm) {
        let now = ctx.now;
        let late: Vec<SegmentId> = self
            .transfers
            .iter()
            .filter(|(_, t)| matches!(t.via, Via::Peer { deadline, .. } if now >= deadline))
            .map(|(s, _)| *s)
            .collect();
        for seg in late {
            let mut t = self.transfers.remove(&seg).expect("listed");
            if let Via::Peer { conn, req, .. } = t.via {
                if let Some(session) = swarm.session_mut(conn) {
                    let got = session.cancel(req);
                    t.prefix = concat(&t.prefix, &got);
                }
            }
            ctx.stats.peer_fallbacks += 1;
            self.start_cdn(ctx, t.info, t.prefix);
        }
        let due: Vec<SegmentId> = self
            .loads
            .values()
            .filter(|l| l.wait_until <= now)
            .filter_map(|l| l.seg)
            .filter(|s| !self.transfers.contains_key(s))
            .collect();
        for seg in due {
            self.advance(ctx, swarm, seg);
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let deadlines = self.transfers.values().filter_map(|t| match t.via {
            Via::Peer { deadline, .. } => Some(deadline),
            Via::Cdn { .. } => None,
        });
        let waits = self
            .loads
            .values()
            .filter(|l| l.seg.is_some_and(|s| !self.transfers.contains_key(&s)))
            .map(|l| l.wait_until);
        deadlines.chain(waits).min()
    }
}

/// The ready peer to ask for `seg`: fewest open requests, then most bytes delivered.
fn best_peer(swarm: &Swarm, seg: &SegmentId) -> Option<ConnId> {
    swarm
        .peers_with(*seg)
        .filter(|(_, s)| s.downloads_open() < MAX_REQUESTS_PER_PEER)
        .min_by_key(|(id, s)| (s.downloads_open(), u64::MAX - s.bytes_in, *id))
        .map(|(id, _)| id)
}

fn deliver(
    ctx: &mut Ctx<'_>,
    load: LoadId,
    url: &str,
    started: Instant,
    data: Bytes,
    source: Source,
) {
    ctx.stats.segments_delivered += 1;
    ctx.out.event(Event::SegmentLoaded {
        url: url.to_string(),
        source,
        bytes: data.len() as u64,
        ms: ctx.now.saturating_since(started).as_secs_f64() * 1000.0,
    });
    ctx.out.push(Output::Deliver { load, data, source });
}

fn concat(a: &Bytes, b: &Bytes) -> Bytes {
    if a.is_empty() {
        return b.clone();
    }
    let mut out = BytesMut::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out.freeze()
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
                return Err(format!(
                    "range response of {} bytes, wanted {want}",
                    body.len()
                ));
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
