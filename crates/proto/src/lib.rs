//! The hlsmesh wire format: what two viewers say to each other over a data channel.
//!
//! One data-channel message carries exactly one frame. Every frame starts with a
//! one-byte tag and a four-byte big-endian body length that must equal the number
//! of bytes that follow; nothing is told apart by sniffing its content. The first
//! frame each side sends is [`Message::Hello`], which carries the protocol version
//! and the swarm identity, so a peer on another stream or another version is refused
//! before any segment moves.
//!
//! ```
//! use hlsmesh_proto::{Message, SegmentId};
//!
//! let msg = Message::Request { req: 7, seg: SegmentId { variant: 1, sn: 42 }, offset: 0 };
//! let frame = msg.encode();
//! assert_eq!(Message::decode(frame).unwrap(), msg);
//! ```
//!
//! The crate does no I/O and reads no clock.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use bytes::Bytes;

/// The protocol version this crate speaks. Peers with another version are refused.
///
/// 2: `Lost` is no longer sent for segments that slid out of a live window to peers on
/// that rendition; they forget those themselves.
/// 3: [`Message::Uplink`]: each side tells the other how fast it measured its own upload.
pub const PROTOCOL_VERSION: u16 = 3;

/// Largest frame, header included: the portable data-channel message size.
pub const MAX_FRAME: usize = 64 * 1024;

/// Bytes of header in front of every body: tag (1) and body length (4).
pub const HEADER_LEN: usize = 5;

/// Bytes of a [`Message::Chunk`] body before its payload: req, total, offset.
const CHUNK_FIELDS: usize = 12;

/// Largest payload a single [`Message::Chunk`] may carry.
pub const MAX_CHUNK_DATA: usize = MAX_FRAME - HEADER_LEN - CHUNK_FIELDS;

/// Bytes one [`SegmentId`] takes on the wire.
const SEGMENT_ID_LEN: usize = 10;

/// Most segment ids one [`Message::Have`] or [`Message::Lost`] may list.
pub const MAX_IDS_PER_FRAME: usize = (MAX_FRAME - HEADER_LEN - 2) / SEGMENT_ID_LEN;

/// Largest segment a peer may announce in [`Message::Chunk::total`]; anything larger is
/// refused before a byte of it is buffered.
pub const MAX_SEGMENT_BYTES: u32 = 64 * 1024 * 1024;

/// A 20-byte identity, as WebTorrent trackers use for peers and swarms.
pub type Id20 = [u8; 20];

/// Which segment: the rendition (its index in the master playlist, 0 without one)
/// and its media sequence number. URLs are not part of the identity, so viewers
/// behind tokenised or different CDN URLs still share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId {
    /// Index of the variant stream in the master playlist.
    pub variant: u16,
    /// Media sequence number of the segment.
    pub sn: u64,
}

/// One frame's meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// First frame in each direction: who I am and which stream I am on.
    Hello {
        /// Protocol version of the sender.
        version: u16,
        /// Swarm identity (the tracker's info hash).
        swarm: Id20,
        /// The sender's peer id, as announced to the tracker.
        peer: Id20,
    },
    /// The sender now holds these segments complete.
    Have {
        /// Segments newly held.
        segments: Vec<SegmentId>,
    },
    /// The sender no longer holds these segments.
    Lost {
        /// Segments dropped from the sender's cache.
        segments: Vec<SegmentId>,
    },
    /// Please send segment `seg` from byte `offset` on, tagged with `req`.
    Request {
        /// Requester-chosen tag echoed in the answer.
        req: u32,
        /// The segment wanted.
        seg: SegmentId,
        /// First byte wanted.
        offset: u32,
    },
    /// Stop sending for request `req`.
    Cancel {
        /// The request to stop.
        req: u32,
    },
    /// Part of the answer to request `req`: `data` sits at `offset` in a segment of `total` bytes.
    Chunk {
        /// The request this answers.
        req: u32,
        /// Size of the whole segment.
        total: u32,
        /// Position of `data` in the segment.
        offset: u32,
        /// The bytes.
        data: Bytes,
    },
    /// The sender cannot serve request `req` (it no longer holds the segment, or is busy).
    Absent {
        /// The request refused.
        req: u32,
    },
    /// The sender's upload rate, as it measured it on its own data channels.
    Uplink {
        /// Kilobits per second.
        kbps: u32,
    },
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame ends before its header or a field does.
    #[error("frame truncated")]
    Truncated,
    /// The frame is larger than [`MAX_FRAME`].
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// The body length in the header disagrees with the bytes present.
    #[error("body length {declared} but {actual} bytes follow")]
    LengthMismatch {
        /// What the header says.
        declared: usize,
        /// What arrived.
        actual: usize,
    },
    /// The tag names no known message.
    #[error("unknown message tag {0:#04x}")]
    UnknownTag(u8),
    /// A field holds a value the protocol forbids.
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}

mod tag {
    pub const HELLO: u8 = 1;
    pub const HAVE: u8 = 2;
    pub const LOST: u8 = 3;
    pub const REQUEST: u8 = 4;
    pub const CANCEL: u8 = 5;
    pub const CHUNK: u8 = 6;
    pub const ABSENT: u8 = 7;
    pub const UPLINK: u8 = 8;
}

impl Message {
    /// Encodes the message as one frame.
    ///
    /// # Panics
    /// When the message cannot fit one frame: a `Chunk` whose data exceeds
    /// [`MAX_CHUNK_DATA`], or a `Have`/`Lost` listing more than [`MAX_IDS_PER_FRAME`]
    /// ids. Both are caller bugs; [`Message::encode_haves`] splits long lists.
    pub fn encode(&self) -> Bytes {
        let (tag, body_len) = match self {
            Message::Hello { .. } => (tag::HELLO, 2 + 20 + 20),
            Message::Have { segments } => (tag::HAVE, ids_len(segments)),
            Message::Lost { segments } => (tag::LOST, ids_len(segments)),
            Message::Request { .. } => (tag::REQUEST, 4 + SEGMENT_ID_LEN + 4),
            Message::Cancel { .. } => (tag::CANCEL, 4),
            Message::Chunk { data, .. } => {
                assert!(
                    data.len() <= MAX_CHUNK_DATA,
                    "chunk data over the frame limit"
                );
                (tag::CHUNK, CHUNK_FIELDS + data.len())
            }
            Message::Absent { .. } => (tag::ABSENT, 4),
            Message::Uplink { .. } => (tag::UPLINK, 4),
        };
        // A `Vec` made `Bytes` (no `BytesMut` code in the wasm).
        let mut out = Vec::with_capacity(HEADER_LEN + body_len);
        put_uint(&mut out, u64::from(tag), 1);
        put_uint(&mut out, u64::from(body_len as u32), 4);
        match self {
            Message::Hello {
                version,
                swarm,
                peer,
            } => {
                put_uint(&mut out, u64::from(*version), 2);
                out.extend_from_slice(swarm);
                out.extend_from_slice(peer);
            }
            Message::Have { segments } | Message::Lost { segments } => {
                put_uint(&mut out, u64::from(segments.len() as u16), 2);
                for seg in segments {
                    put_segment(&mut out, *seg);
                }
            }
            Message::Request { req, seg, offset } => {
                put_uint(&mut out, u64::from(*req), 4);
                put_segment(&mut out, *seg);
                put_uint(&mut out, u64::from(*offset), 4);
            }
            Message::Cancel { req } | Message::Absent { req } | Message::Uplink { kbps: req } => {
                put_uint(&mut out, u64::from(*req), 4)
            }
            Message::Chunk {
                req,
                total,
                offset,
                data,
            } => {
                put_uint(&mut out, u64::from(*req), 4);
                put_uint(&mut out, u64::from(*total), 4);
                put_uint(&mut out, u64::from(*offset), 4);
                out.extend_from_slice(data);
            }
        }
        debug_assert_eq!(out.len(), HEADER_LEN + body_len);
        Bytes::from(out)
    }

    /// Decodes one frame. Chunk data shares the frame's buffer (no copy).
    pub fn decode(frame: Bytes) -> Result<Message, DecodeError> {
        if frame.len() > MAX_FRAME {
            return Err(DecodeError::TooLarge(frame.len()));
        }
        if frame.len() < HEADER_LEN {
            return Err(DecodeError::Truncated);
        }
        let mut body = Body {
            frame,
            at: 0,
            short: false,
        };
        let tag = body.uint(1) as u8;
        let declared = body.uint(4) as usize;
        let actual = body.frame.len() - HEADER_LEN;
        if declared != actual {
            return Err(DecodeError::LengthMismatch { declared, actual });
        }
        let msg = match tag {
            tag::HELLO => Message::Hello {
                version: body.u16(),
                swarm: body.id20(),
                peer: body.id20(),
            },
            tag::HAVE => Message::Have {
                segments: body.segments()?,
            },
            tag::LOST => Message::Lost {
                segments: body.segments()?,
            },
            tag::REQUEST => Message::Request {
                req: body.u32(),
                seg: body.segment(),
                offset: body.u32(),
            },
            tag::CANCEL => Message::Cancel { req: body.u32() },
            tag::ABSENT => Message::Absent { req: body.u32() },
            tag::UPLINK => Message::Uplink { kbps: body.u32() },
            tag::CHUNK => {
                let req = body.u32();
                let total = body.u32();
                let offset = body.u32();
                body.check()?;
                let data = body.rest();
                if total > MAX_SEGMENT_BYTES {
                    return Err(DecodeError::Invalid("segment total over the limit"));
                }
                let end = u64::from(offset) + data.len() as u64;
                if end > u64::from(total) {
                    return Err(DecodeError::Invalid("chunk runs past the segment end"));
                }
                return Ok(Message::Chunk {
                    req,
                    total,
                    offset,
                    data,
                });
            }
            other => return Err(DecodeError::UnknownTag(other)),
        };
        body.check()?;
        body.finish()?;
        Ok(msg)
    }

    /// Appends to `frames` the encoded `Have` frames listing `segments`, as many as the
    /// list needs (slices by index rather than a chunks/map iterator: less wasm;
    /// inlined into the core's two callers, 35 bytes less gzipped than a call).
    #[inline]
    pub fn encode_haves(segments: &[SegmentId], frames: &mut Vec<Bytes>) {
        let mut at = 0;
        while at < segments.len() {
            let end = (at + MAX_IDS_PER_FRAME).min(segments.len());
            frames.push(
                Message::Have {
                    segments: segments[at..end].to_vec(),
                }
                .encode(),
            );
            at = end;
        }
    }
}

fn ids_len(segments: &[SegmentId]) -> usize {
    assert!(
        segments.len() <= MAX_IDS_PER_FRAME,
        "too many segment ids for one frame"
    );
    2 + segments.len() * SEGMENT_ID_LEN
}

/// Appends the low `n` bytes of `v`, big-endian: one function for every width (no
/// `BufMut` writer inlined per field in the wasm).
fn put_uint(out: &mut Vec<u8>, v: u64, n: usize) {
    out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
}

fn put_segment(out: &mut Vec<u8>, seg: SegmentId) {
    put_uint(out, u64::from(seg.variant), 2);
    put_uint(out, seg.sn, 8);
}

/// A cursor over a frame that does not panic when short: a field past the end reads as
/// zeros and marks the frame short, which [`Body::check`] turns into
/// [`DecodeError::Truncated`] once a message's fields are read (one error path instead
/// of a `Result` per field). Numbers are read by one big-endian loop (no `Buf` reader
/// per width in the wasm).
struct Body {
    frame: Bytes,
    at: usize,
    short: bool,
}

impl Body {
    /// Whether `n` more bytes are there; marks the frame short if not.
    fn need(&mut self, n: usize) -> bool {
        if self.frame.len() - self.at < n {
            self.short = true;
        }
        !self.short
    }
    /// Truncated if a field ran past the end.
    fn check(&self) -> Result<(), DecodeError> {
        if self.short {
            Err(DecodeError::Truncated)
        } else {
            Ok(())
        }
    }
    /// The next `n` bytes (at most 8) as a big-endian number.
    fn uint(&mut self, n: usize) -> u64 {
        let mut v = 0;
        if self.need(n) {
            for &b in &self.frame[self.at..self.at + n] {
                v = v << 8 | u64::from(b);
            }
            self.at += n;
        }
        v
    }
    fn u16(&mut self) -> u16 {
        self.uint(2) as u16
    }
    fn u32(&mut self) -> u32 {
        self.uint(4) as u32
    }
    fn id20(&mut self) -> Id20 {
        let mut id = [0u8; 20];
        if self.need(20) {
            id.copy_from_slice(&self.frame[self.at..self.at + 20]);
            self.at += 20;
        }
        id
    }
    fn segment(&mut self) -> SegmentId {
        SegmentId {
            variant: self.u16(),
            sn: self.uint(8),
        }
    }
    fn segments(&mut self) -> Result<Vec<SegmentId>, DecodeError> {
        let count = usize::from(self.u16());
        // A short count reads as 0: the frame is reported truncated.
        if count > MAX_IDS_PER_FRAME {
            return Err(DecodeError::Invalid("too many segment ids"));
        }
        if !self.need(count * SEGMENT_ID_LEN) {
            return Ok(Vec::new());
        }
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            ids.push(self.segment());
        }
        Ok(ids)
    }
    fn rest(&mut self) -> Bytes {
        // A full range: the one `Bytes::slice` copy the wasm has (a `RangeFrom` adds one).
        let rest = self.frame.slice(self.at..self.frame.len());
        self.at = self.frame.len();
        rest
    }
    fn finish(self) -> Result<(), DecodeError> {
        if self.at == self.frame.len() {
            Ok(())
        } else {
            Err(DecodeError::Invalid("trailing bytes after the last field"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seg() -> impl Strategy<Value = SegmentId> {
        (any::<u16>(), any::<u64>()).prop_map(|(variant, sn)| SegmentId { variant, sn })
    }

    fn message() -> impl Strategy<Value = Message> {
        prop_oneof![
            (any::<u16>(), any::<[u8; 20]>(), any::<[u8; 20]>()).prop_map(
                |(version, swarm, peer)| Message::Hello {
                    version,
                    swarm,
                    peer
                }
            ),
            prop::collection::vec(seg(), 0..50).prop_map(|segments| Message::Have { segments }),
            prop::collection::vec(seg(), 0..50).prop_map(|segments| Message::Lost { segments }),
            (any::<u32>(), seg(), any::<u32>()).prop_map(|(req, seg, offset)| Message::Request {
                req,
                seg,
                offset
            }),
            any::<u32>().prop_map(|req| Message::Cancel { req }),
            any::<u32>().prop_map(|req| Message::Absent { req }),
            any::<u32>().prop_map(|kbps| Message::Uplink { kbps }),
            (
                any::<u32>(),
                prop::collection::vec(any::<u8>(), 0..2000),
                0u32..1_000_000
            )
                .prop_map(|(req, data, offset)| Message::Chunk {
                    req,
                    total: offset + data.len() as u32,
                    offset,
                    data: Bytes::from(data),
                }),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(msg in message()) {
            let frame = msg.encode();
            prop_assert!(frame.len() <= MAX_FRAME);
            prop_assert_eq!(Message::decode(frame).unwrap(), msg);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(data in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Message::decode(Bytes::from(data));
        }

        #[test]
        fn every_strict_prefix_is_rejected(msg in message()) {
            let frame = msg.encode();
            for cut in 0..frame.len() {
                prop_assert!(Message::decode(frame.slice(..cut)).is_err());
            }
        }
    }

    #[test]
    fn full_size_chunk_fits_one_frame() {
        let data = Bytes::from(vec![7u8; MAX_CHUNK_DATA]);
        let msg = Message::Chunk {
            req: 1,
            total: MAX_CHUNK_DATA as u32,
            offset: 0,
            data,
        };
        let frame = msg.encode();
        assert_eq!(frame.len(), MAX_FRAME);
        assert_eq!(Message::decode(frame).unwrap(), msg);
    }

    #[test]
    fn encode_haves_splits_long_lists() {
        let ids: Vec<_> = (0..(MAX_IDS_PER_FRAME as u64 * 2 + 3))
            .map(|sn| SegmentId { variant: 0, sn })
            .collect();
        let mut frames = Vec::new();
        Message::encode_haves(&ids, &mut frames);
        assert_eq!(frames.len(), 3);
        let mut listed = Vec::new();
        for f in &frames {
            assert!(f.len() <= MAX_FRAME);
            match Message::decode(f.clone()) {
                Ok(Message::Have { segments }) => listed.extend(segments),
                other => panic!("not a Have frame: {other:?}"),
            }
        }
        assert_eq!(listed, ids, "every id once, in order");
    }

    #[test]
    fn rejects_bad_frames_with_reasons() {
        assert_eq!(Message::decode(Bytes::new()), Err(DecodeError::Truncated));
        assert_eq!(
            Message::decode(Bytes::from_static(&[99, 0, 0, 0, 0])),
            Err(DecodeError::UnknownTag(99))
        );
        assert_eq!(
            Message::decode(Bytes::from_static(&[5, 0, 0, 0, 9, 1, 2, 3, 4])),
            Err(DecodeError::LengthMismatch {
                declared: 9,
                actual: 4
            })
        );
        let mut trailing = Message::Cancel { req: 1 }.encode().to_vec();
        trailing[4] = 5;
        trailing.push(0);
        assert_eq!(
            Message::decode(Bytes::from(trailing)),
            Err(DecodeError::Invalid("trailing bytes after the last field"))
        );
        let too_big = vec![0u8; MAX_FRAME + 1];
        assert_eq!(
            Message::decode(Bytes::from(too_big)),
            Err(DecodeError::TooLarge(MAX_FRAME + 1))
        );
        let past_end = Message::Chunk {
            req: 1,
            total: 4,
            offset: 2,
            data: Bytes::from_static(&[1, 2, 3]),
        }
        .encode();
        assert_eq!(
            Message::decode(past_end),
            Err(DecodeError::Invalid("chunk runs past the segment end"))
        );
    }
}
