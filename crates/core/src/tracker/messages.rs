//! WebTorrent tracker messages as the agent sees them: typed, never JSON.
//!
//! A tracker speaks JSON text frames over one WebSocket. The edge that owns the socket
//! reads each frame into a [`TrackerMessage`] and writes each [`TrackerRequest`] as a
//! frame: in the browser that is the shim (`js/src/tracker-wire.ts`, with the page's
//! `JSON.parse`), in the simulator its tracker model. So the wasm carries no JSON reader
//! or writer, and the agent's decisions do not depend on how a tracker spells things.
//!
//! On the wire, ids (`info_hash`, `peer_id`, `to_peer_id`, `offer_id`) are 20-character
//! strings whose characters are bytes (U+0000–U+00FF); here they are [`Id20`]s.

use hlsmesh_proto::Id20;

/// Largest tracker frame the edge reads; SDP offers are a few KiB, a swarm response less.
/// A larger one is [`TrackerMessage::Unreadable`].
pub const MAX_TRACKER_MESSAGE: usize = 256 * 1024;

/// What a tracker said. One frame may carry a warning and one of the others; the edge
/// hands them over one at a time, warning first.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TrackerMessage {
    /// Answer to our announce (`interval`, `complete`, `incomplete`).
    Announced {
        /// Seconds until the tracker wants the next announce.
        interval: Option<u64>,
        /// Peers that report `left: 0`.
        complete: Option<u64>,
        /// Peers still downloading.
        incomplete: Option<u64>,
    },
    /// Another viewer's offer, relayed to us (`offer: {type, sdp}`).
    Offer {
        /// The offerer (`peer_id`).
        peer: Id20,
        /// Ties the answer to the offer.
        offer_id: Id20,
        /// Complete (non-trickle) SDP.
        sdp: String,
    },
    /// Another viewer's answer to one of our offers (`answer: {type, sdp}`).
    Answer {
        /// The answerer (`peer_id`).
        peer: Id20,
        /// Which of our offers.
        offer_id: Id20,
        /// Complete SDP.
        sdp: String,
    },
    /// The tracker refused a request (`failure reason`).
    Failure(String),
    /// The tracker warned about a request (`warning message`).
    Warning(String),
    /// The edge could not read the frame: not a JSON object, over
    /// [`MAX_TRACKER_MESSAGE`], a defined member of the wrong type, or an id that is not
    /// 20 byte-characters. The reason is for the page's event log.
    Unreadable(String),
}

/// Announce event names (`event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnounceEvent {
    /// First announce of a session (`"started"`).
    Started,
    /// Leaving the swarm (`"stopped"`).
    Stopped,
}

/// One offer carried by an announce (`offers: [{offer: {type: "offer", sdp}, offer_id}]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingOffer {
    /// Our id for it, echoed in the answer.
    pub offer_id: Id20,
    /// Complete SDP.
    pub sdp: String,
}

/// What the agent asks a tracker. The edge writes `"action": "announce"` in both.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrackerRequest {
    /// An announce with offers. The edge writes `numwant` as the number of offers and
    /// `left` as 0: a streaming viewer never completes, and trackers count a peer without
    /// `left` as incomplete forever.
    Announce {
        /// The swarm.
        info_hash: Id20,
        /// Us.
        peer_id: Id20,
        /// `started` on a session's first announce.
        event: Option<AnnounceEvent>,
        /// Offers for the tracker to hand to other viewers (at most five).
        offers: Vec<OutgoingOffer>,
        /// Bytes uploaded to peers so far.
        uploaded: u64,
        /// Bytes downloaded so far (peers and CDN).
        downloaded: u64,
    },
    /// The announce that carries our answer to `to_peer`'s offer `offer_id`
    /// (`to_peer_id`, `offer_id`, `answer: {type: "answer", sdp}`).
    Answer {
        /// The swarm.
        info_hash: Id20,
        /// Us.
        peer_id: Id20,
        /// The offerer.
        to_peer: Id20,
        /// Its offer.
        offer_id: Id20,
        /// Complete SDP.
        sdp: String,
    },
}
