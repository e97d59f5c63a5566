//! One peer over one data channel: the handshake, what it holds, the transfers in both
//! directions, and a send queue that respects the channel's buffer.
//!
//! It never decides *what* to fetch; it reports what the peer did as [`PeerEvent`]s and
//! sends what it is told to, no faster than the channel drains.

use crate::vecmap::VecSet;

use bytes::Bytes;
use hlsmesh_proto::{Id20, Message, SegmentId, MAX_CHUNK_DATA, PROTOCOL_VERSION};

use crate::time::Instant;

/// Stop queueing sends to the channel once this much is buffered in it.
pub const SEND_HIGH_WATER: usize = 1024 * 1024;
/// A channel's buffer under this is drained enough for the uplink's rate to be measured
/// from (the edge reports the buffer after each send and when it has drained).
pub const SEND_LOW_WATER: usize = 256 * 1024;
/// A channel still holding this much or more of its upload keeps the upload slot: the
/// next upload, to any peer, starts once less than this is left to drain. It was
/// [`SEND_LOW_WATER`]: a segment smaller than that (2 s at 1 Mb/s, 1 s at 2 Mb/s) left
/// the slot free the moment it was queued, so a holder sent every copy asked of it at
/// once, each at a share of its uplink, and most missed their deadlines (home mix, a
/// 1 Mb/s stream, 100 viewers, seeds 1–3: 10.7% of the bytes from the CDN, 2.0% now;
/// 1 s segments at 2 Mb/s: 50.8%, 19.6%). The shim's `DRAIN_REPORT_MIN`: the drain that
/// frees the slot is reported only after a reading of at least that much. 128 KiB did
/// as well at 2 Mb/s and left 2 s segments under 512 kb/s unserialised.
pub const UPLOAD_TAIL: usize = 64 * 1024;
/// Requests a peer may have open with us at once; more are answered `Absent`.
pub const MAX_UPLOADS_PER_PEER: usize = 8;
/// Requests a peer may send without waiting; beyond this it is flooding.
const MAX_PENDING_REQUESTS_FROM_PEER: usize = 64;
/// Most bytes reserved for an incoming segment before its bytes arrive.
const INITIAL_RESERVE: usize = 1024 * 1024;
/// Segment ids we remember per peer; beyond this the peer is lying or broken.
const MAX_HAVE_PER_PEER: usize = 50_000;

/// What a peer did that the agent must act on.
#[derive(Debug, PartialEq)]
pub enum PeerEvent {
    /// The handshake checked out.
    Ready,
    /// The peer now holds these segments.
    Have(Vec<SegmentId>),
    /// The peer asks for a segment.
    Request {
        /// The peer's tag.
        req: u32,
        /// What it wants.
        seg: SegmentId,
        /// From which byte.
        offset: u32,
    },
    /// Bytes arrived for one of our requests.
    Progress {
        /// Our tag.
        req: u32,
        /// Bytes received so far.
        received: usize,
        /// Segment size.
        total: usize,
    },
    /// One of our requests completed.
    Completed {
        /// Our tag.
        req: u32,
        /// The bytes from the requested offset to the end.
        data: Bytes,
    },
    /// The peer cannot serve one of our requests.
    Absent {
        /// Our tag.
        req: u32,
    },
    /// The peer broke the protocol; the agent disconnects it.
    Violation(&'static str),
}

struct Download {
    /// Largest segment size accepted for this request.
    limit: u32,
    /// A `Vec` (made `Bytes` when complete): no `BytesMut` code in the wasm.
    received: Vec<u8>,
    start: u32,
    total: Option<u32>,
}

struct Upload {
    req: u32,
    data: Bytes,
    offset: usize,
    /// Where the request stands in the agent's order of arrival (older first).
    seq: u64,
    /// Whether any of its bytes went out yet.
    started: bool,
}

/// Protocol state for one connected peer.
pub struct PeerSession {
    swarm: Id20,
    remote: Option<Id20>,
    ready: bool,
    have: VecSet<SegmentId>,
    latest_variant: Option<u16>,
    control: Vec<Bytes>,
    /// At most [`MAX_UPLOADS_PER_PEER`]: a `Vec` (its front removed by shifting) costs
    /// less wasm than a `VecDeque`.
    uploads: Vec<Upload>,
    /// Our open requests, by tag: a few at most (the scheduler asks a peer for up to
    /// four segments at once), so a list scanned, not a map (no map code for them in
    /// the wasm).
    downloads: Vec<(u32, Download)>,
    buffered: usize,
    /// Chunks sent whose `bufferedAmount` reading has not come back yet.
    unreported_chunks: usize,
    /// The rendition of the last segment our latest broadcast `Have` to the peer named:
    /// what the peer takes us to play (see [`PeerSession::latest_variant`]); `u32::MAX`
    /// (no rendition) before the first.
    told_variant: u32,
    pending_requests: usize,
    /// The peer's upload rate as it measured it (kb/s; 0 before it told us).
    uplink_kbps: u32,
    /// Bytes received from this peer over all transfers.
    pub bytes_in: u64,
    /// Bytes sent to this peer.
    pub bytes_out: u64,
    /// When the channel opened.
    pub opened_at: Instant,
}

impl PeerSession {
    /// A session over a freshly opened channel; queues our hello.
    pub fn new(swarm: Id20, me: Id20, now: Instant) -> PeerSession {
        let mut s = PeerSession {
            swarm,
            remote: None,
            ready: false,
            have: VecSet::new(),
            latest_variant: None,
            control: Vec::new(),
            uploads: Vec::new(),
            downloads: Vec::new(),
            buffered: 0,
            unreported_chunks: 0,
            told_variant: u32::MAX,
            pending_requests: 0,
            uplink_kbps: 0,
            bytes_in: 0,
            bytes_out: 0,
            opened_at: now,
        };
        s.queue(Message::Hello {
            version: PROTOCOL_VERSION,
            swarm,
            peer: me,
        });
        s
    }

    /// Whether the handshake completed.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The peer id it gave in its hello.
    pub fn remote_id(&self) -> Option<Id20> {
        self.remote
    }

    /// Whether the peer said it holds `seg`.
    pub fn has(&self, seg: &SegmentId) -> bool {
        self.have.contains(seg)
    }

    /// The rendition of the segment the peer announced last: what it is playing.
    pub fn latest_variant(&self) -> Option<u16> {
        self.latest_variant
    }

    /// The peer's upload rate as it told us, in kb/s (0: not told).
    pub fn uplink_kbps(&self) -> u32 {
        self.uplink_kbps
    }

    /// Tells the peer our upload rate, in kb/s.
    pub fn tell_uplink(&mut self, kbps: u32) {
        self.queue(Message::Uplink { kbps });
    }

    /// Our requests to this peer still open.
    pub fn downloads_open(&self) -> usize {
        self.downloads.len()
    }

    /// Where our request `req` is in `downloads`.
    fn download(&self, req: u32) -> Option<usize> {
        for (i, (r, _)) in self.downloads.iter().enumerate() {
            if *r == req {
                return Some(i);
            }
        }
        None
    }

    /// Reads one frame from the peer.
    pub fn handle_frame(&mut self, frame: Bytes, out: &mut Vec<PeerEvent>) {
        self.bytes_in += frame.len() as u64;
        let msg = match Message::decode(frame) {
            Ok(m) => m,
            Err(_) => return out.push(PeerEvent::Violation("malformed frame")),
        };
        if !self.ready {
            return match msg {
                Message::Hello {
                    version,
                    swarm,
                    peer,
                } => {
                    if version != PROTOCOL_VERSION {
                        out.push(PeerEvent::Violation("protocol version differs"));
                    } else if swarm != self.swarm {
                        out.push(PeerEvent::Violation("peer is on another stream"));
                    } else {
                        self.remote = Some(peer);
                        self.ready = true;
                        out.push(PeerEvent::Ready);
                    }
                }
                _ => out.push(PeerEvent::Violation("message before hello")),
            };
        }
        match msg {
            Message::Hello { .. } => out.push(PeerEvent::Violation("second hello")),
            Message::Have { segments } => {
                if self.have.len() + segments.len() > MAX_HAVE_PER_PEER {
                    return out.push(PeerEvent::Violation("announces too many segments"));
                }
                self.have.extend(segments.iter().copied());
                if let Some(last) = segments.last() {
                    self.latest_variant = Some(last.variant);
                }
                out.push(PeerEvent::Have(segments));
            }
            Message::Lost { segments } => {
                for s in &segments {
                    self.have.remove(s);
                }
            }
            Message::Request { req, seg, offset } => {
                self.pending_requests += 1;
                if self.pending_requests > MAX_PENDING_REQUESTS_FROM_PEER {
                    return out.push(PeerEvent::Violation("request flood"));
                }
                out.push(PeerEvent::Request { req, seg, offset });
            }
            Message::Cancel { req } => {
                // Last first, so that removing one leaves the others' places.
                let mut found = false;
                for i in (0..self.uploads.len()).rev() {
                    if self.uploads[i].req == req {
                        self.uploads.remove(i);
                        found = true;
                    }
                }
                if found {
                    self.pending_requests = self.pending_requests.saturating_sub(1);
                }
            }
            Message::Chunk {
                req,
                total,
                offset,
                data,
            } => self.handle_chunk(req, total, offset, data, out),
            Message::Absent { req } => {
                // Busy, or no longer held: the scheduler decides when to ask again
                // (and `forget_one`s the segment after too many refusals).
                if let Some(i) = self.download(req) {
                    self.downloads.swap_remove(i);
                    out.push(PeerEvent::Absent { req });
                }
            }
            Message::Uplink { kbps } => self.uplink_kbps = kbps,
        }
    }

    fn handle_chunk(
        &mut self,
        req: u32,
        total: u32,
        offset: u32,
        data: Bytes,
        out: &mut Vec<PeerEvent>,
    ) {
        // Chunks for a request we cancelled may still be in flight: drop them quietly.
        let Some(i) = self.download(req) else {
            return;
        };
        let dl = &mut self.downloads[i].1;
        if *dl.total.get_or_insert(total) != total {
            return out.push(PeerEvent::Violation("segment size changed mid-transfer"));
        }
        if total > dl.limit {
            return out.push(PeerEvent::Violation("claims an implausibly large segment"));
        }
        if offset as usize != dl.start as usize + dl.received.len() || total < dl.start {
            return out.push(PeerEvent::Violation("chunk out of order"));
        }
        let want = (total - dl.start) as usize;
        if dl.received.is_empty() && data.len() >= want {
            // The whole transfer in one chunk: its bytes are the frame's, no copy.
            self.downloads.swap_remove(i);
            return out.push(PeerEvent::Completed { req, data });
        }
        if dl.received.is_empty() {
            // The total is the peer's claim: reserve no more than a typical segment up
            // front, so a lying peer cannot make us allocate its 64 MiB maximum.
            dl.received.reserve(want.min(INITIAL_RESERVE));
        }
        dl.received.extend_from_slice(&data);
        let received = dl.received.len();
        if received >= want {
            let (_, dl) = self.downloads.swap_remove(i);
            out.push(PeerEvent::Completed {
                req,
                data: Bytes::from(dl.received),
            });
        } else {
            out.push(PeerEvent::Progress {
                req,
                received,
                total: total as usize,
            });
        }
    }

    /// Asks the peer for `seg` from `offset`, tagged `req`, accepting a segment of at
    /// most `limit` bytes (a peer that claims more is in violation before any of its bytes
    /// are buffered).
    pub fn request(&mut self, req: u32, seg: SegmentId, offset: u32, limit: u32) {
        let dl = Download {
            limit,
            received: Vec::new(),
            start: offset,
            total: None,
        };
        match self.download(req) {
            Some(i) => self.downloads[i].1 = dl,
            None => self.downloads.push((req, dl)),
        }
        self.queue(Message::Request { req, seg, offset });
    }

    /// Bytes received so far for our request `req`.
    pub fn received(&self, req: u32) -> usize {
        self.download(req)
            .map_or(0, |i| self.downloads[i].1.received.len())
    }

    /// Gives up our request `req`; returns the bytes already received (a prefix of the
    /// requested range), so they need not be fetched again.
    pub fn cancel(&mut self, req: u32) -> Bytes {
        match self.download(req) {
            Some(i) => {
                let (_, dl) = self.downloads.swap_remove(i);
                self.queue(Message::Cancel { req });
                Bytes::from(dl.received)
            }
            None => Bytes::new(),
        }
    }

    /// Serves the peer's request `req` with `data` (the whole segment) from `offset`,
    /// or refuses it when too many uploads are open. `seq` orders uploads across all
    /// peers (older first): see [`PeerSession::poll_upload`].
    pub fn serve(&mut self, req: u32, data: Bytes, offset: u32, seq: u64) {
        if self.uploads.len() >= MAX_UPLOADS_PER_PEER || offset as usize > data.len() {
            return self.refuse(req);
        }
        self.uploads.push(Upload {
            req,
            data,
            offset: offset as usize,
            seq,
            started: false,
        });
    }

    /// Tells the peer we cannot serve `req`.
    pub fn refuse(&mut self, req: u32) {
        self.pending_requests = self.pending_requests.saturating_sub(1);
        self.queue(Message::Absent { req });
    }

    /// Tells the peer about segments we now hold that it does not hold itself (it
    /// announced them): those it needs no word of, unless they are of another rendition
    /// than our latest `Have` to it named (the live-edge election counts neighbours by
    /// the rendition they last announced, so a switch is always told). In a live swarm
    /// most viewers complete a segment after several neighbours did; a third of all
    /// frames were such `Have`s.
    ///
    /// `frames` carries the encoded frames from one session to the next (empty at
    /// first): a broadcast encodes them once.
    pub fn announce_have_unless_known(&mut self, segments: &[SegmentId], frames: &mut Vec<Bytes>) {
        let Some(last) = segments.last() else { return };
        let told = u32::from(last.variant);
        if self.told_variant == told && segments.iter().all(|s| self.have.contains(s)) {
            return;
        }
        self.told_variant = told;
        if frames.is_empty() {
            Message::encode_haves(segments, frames);
        }
        for f in frames.iter() {
            self.control.push(f.clone());
        }
    }

    /// Tells the peer about segments we now hold.
    pub fn announce_have(&mut self, segments: &[SegmentId]) {
        Message::encode_haves(segments, &mut self.control);
    }

    /// Forgets the segments the peer announced that `expired` says are gone everywhere
    /// (slid out of a live window): the peer does not send `Lost` for those.
    pub fn forget(&mut self, expired: impl Fn(&SegmentId) -> bool) {
        self.have.retain(|s| !expired(s));
    }

    /// Forgets that the peer holds `seg` (it refused it too often).
    pub fn forget_one(&mut self, seg: &SegmentId) {
        self.have.remove(seg);
    }

    /// Tells the peer about segments we dropped.
    pub fn announce_lost(&mut self, segments: &[SegmentId]) {
        if segments.is_empty() {
            return;
        }
        // Slices by index (a chunks iterator costs more wasm), as `encode_haves` does.
        let mut at = 0;
        while at < segments.len() {
            let end = (at + hlsmesh_proto::MAX_IDS_PER_FRAME).min(segments.len());
            self.queue(Message::Lost {
                segments: segments[at..end].to_vec(),
            });
            at = end;
        }
    }

    fn queue(&mut self, msg: Message) {
        self.control.push(msg.encode());
    }

    /// The edge's reading of the channel's `bufferedAmount`.
    ///
    /// The edge reads it right after each send but the agent may see the readings only
    /// after it sent more: while readings for chunks sent since are still to come, a
    /// lower reading is an old one and does not lower the count (else a finished
    /// upload would look drained, and the next one would start alongside it).
    pub fn handle_buffered(&mut self, buffered: usize) {
        if self.unreported_chunks > 0 {
            self.unreported_chunks -= 1;
            if self.unreported_chunks > 0 {
                self.buffered = self.buffered.max(buffered);
                return;
            }
        }
        self.buffered = buffered;
    }

    /// Whether control frames or uploads wait to be sent.
    pub fn has_output(&self) -> bool {
        !self.control.is_empty() || !self.uploads.is_empty()
    }

    /// Whether uploads wait to be sent.
    pub fn has_uploads(&self) -> bool {
        !self.uploads.is_empty()
    }

    /// Refuses (`Absent`) the upload `seq` if it has not started; whether it did.
    pub fn withdraw(&mut self, seq: u64) -> bool {
        let Some(i) = self.uploads.iter().position(|u| u.seq == seq && !u.started) else {
            return false;
        };
        let up = self.uploads.remove(i);
        self.refuse(up.req);
        true
    }

    /// The first waiting (not started) upload's order.
    pub fn first_waiting_seq(&self) -> Option<u64> {
        for u in &self.uploads {
            if !u.started {
                return Some(u.seq);
            }
        }
        None
    }

    /// Uploads accepted and not started yet.
    pub fn uploads_waiting(&self) -> usize {
        let mut n = 0;
        for u in &self.uploads {
            n += usize::from(!u.started);
        }
        n
    }

    /// The order (`seq`) of the upload sent next, when one waits.
    pub fn next_upload(&self) -> Option<u64> {
        self.uploads.first().map(|u| u.seq)
    }

    /// Whether this channel is busy uploading: an upload is part-sent, or the channel
    /// still holds at least [`UPLOAD_TAIL`] bytes (a finished upload's last bytes may
    /// overlap the next one's start).
    pub fn is_uploading(&self) -> bool {
        self.uploads.first().is_some_and(|u| u.started) || self.buffered >= UPLOAD_TAIL
    }

    /// The next frame to send, while the channel's buffer is below the high-water mark.
    /// Control frames go first; then upload chunks, oldest request first.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let mut unlimited = usize::MAX;
        self.poll_transmit_within(&mut unlimited)
    }

    /// Like [`PeerSession::poll_transmit`], but sends upload data only while `allowance`
    /// (bytes) covers it, and takes what it sends from it. Control frames always go.
    pub fn poll_transmit_within(&mut self, allowance: &mut usize) -> Option<Bytes> {
        self.poll_control().or_else(|| self.poll_upload(allowance))
    }

    /// The next control frame (anything but upload data), while the channel's buffer is
    /// below the high-water mark.
    pub fn poll_control(&mut self) -> Option<Bytes> {
        if self.buffered >= SEND_HIGH_WATER {
            return None;
        }
        if self.control.is_empty() {
            return None;
        }
        let frame = self.control.remove(0);
        self.sent(frame.len());
        Some(frame)
    }

    /// The next chunk of upload data, while the channel's buffer is below the
    /// high-water mark and `allowance` covers it (taken from it).
    ///
    /// Uploads go one after the other, oldest request first, never round-robin: on a
    /// slow uplink one copy that arrives in time is worth more than several that all
    /// arrive late (the requester's deadline cancels them and their bytes are wasted),
    /// and a finished copy is announced and served onwards sooner.
    pub fn poll_upload(&mut self, allowance: &mut usize) -> Option<Bytes> {
        if self.buffered >= SEND_HIGH_WATER {
            return None;
        }
        let up = self.uploads.first_mut()?;
        let end = (up.offset + MAX_CHUNK_DATA).min(up.data.len());
        if end - up.offset > *allowance {
            return None;
        }
        *allowance -= end - up.offset;
        let frame = Message::Chunk {
            req: up.req,
            total: up.data.len() as u32,
            offset: up.offset as u32,
            data: up.data.slice(up.offset..end),
        }
        .encode();
        up.offset = end;
        up.started = true;
        self.unreported_chunks += 1;
        if up.offset >= up.data.len() {
            self.uploads.remove(0);
            self.pending_requests = self.pending_requests.saturating_sub(1);
        }
        self.sent(frame.len());
        Some(frame)
    }

    fn sent(&mut self, bytes: usize) {
        self.buffered += bytes;
        self.bytes_out += bytes as u64;
    }
}

#[cfg(test)]
mod tests;
