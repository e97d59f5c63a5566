//! What the agent tells the page, as JSON: events, [`Stats`] and the peer list. The
//! shim reads them with `JSON.parse`; names are camelCase, event types kebab-case.
//! Times and rates are whole numbers (milliseconds, bytes per second).

use crate::agent::{Event, PeerInfo, Source};
use crate::json::ObjectWriter;
use crate::stats::Stats;

/// A non-negative float as a whole number (NaN and negatives as 0).
fn whole(x: f64) -> u64 {
    if x > 0.0 {
        (x + 0.5) as u64
    } else {
        0
    }
}

impl Source {
    /// `"cache"`, `"peer"` or `"cdn"`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Peer => "peer",
            Source::Cdn => "cdn",
        }
    }
}

impl Event {
    /// The event as the page sees it: `{"type": "segment-loaded", …}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(96);
        let mut o = ObjectWriter::new(&mut out);
        match self {
            Event::SegmentLoaded {
                url,
                source,
                bytes,
                ms,
            } => {
                o.string("type", "segment-loaded")
                    .string("url", url)
                    .string("source", source.name())
                    .uint("bytes", *bytes)
                    .uint("ms", whole(*ms));
            }
            Event::PeerConnected { peer } => {
                o.string("type", "peer-connected").string("peer", peer);
            }
            Event::PeerDisconnected { peer, reason } => {
                o.string("type", "peer-disconnected")
                    .string("peer", peer)
                    .string("reason", reason);
            }
            Event::TrackerConnected { url } => {
                o.string("type", "tracker-connected").string("url", url);
            }
            Event::TrackerError { url, reason } => {
                o.string("type", "tracker-error")
                    .string("url", url)
                    .string("reason", reason);
            }
            Event::PlaylistError { url, reason } => {
                o.string("type", "playlist-error")
                    .string("url", url)
                    .string("reason", reason);
            }
        }
        o.finish();
        out
    }
}

impl Stats {
    /// The totals as the page sees them: `{"cdnBytes": …, …}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(192);
        let mut o = ObjectWriter::new(&mut out);
        o.uint("cdnBytes", self.cdn_bytes)
            .uint("peerBytes", self.peer_bytes)
            .uint("uploadedBytes", self.uploaded_bytes)
            .uint("cacheHits", self.cache_hits)
            .uint("segmentsDelivered", self.segments_delivered)
            .uint("peerFallbacks", self.peer_fallbacks)
            .uint("rejectedSegments", self.rejected_segments)
            .uint("peersDemoted", self.peers_demoted)
            .uint("peers", u64::from(self.peers))
            .uint("swarmSize", u64::from(self.swarm_size));
        o.finish();
        out
    }
}

/// The peer list as the page sees it: `[{"peer", "bytesFrom", "bytesTo", "bytesPerSec"}]`.
pub fn peers_to_json(peers: &[PeerInfo]) -> String {
    let mut out = String::with_capacity(2 + peers.len() * 96);
    out.push('[');
    for (i, p) in peers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut o = ObjectWriter::new(&mut out);
        o.string("peer", &p.peer)
            .uint("bytesFrom", p.bytes_from)
            .uint("bytesTo", p.bytes_to)
            .uint("bytesPerSec", whole(p.bytes_per_sec));
        o.finish();
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde's derived form (what the page read before) is the oracle, numbers rounded.
    fn rounded(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Number(n) => serde_json::json!(whole(n.as_f64().unwrap())),
            serde_json::Value::Array(a) => a.into_iter().map(rounded).collect(),
            serde_json::Value::Object(o) => o.into_iter().map(|(k, v)| (k, rounded(v))).collect(),
            other => other,
        }
    }

    fn same(ours: String, theirs: serde_json::Value) {
        let ours: serde_json::Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(ours, rounded(theirs));
    }

    #[test]
    fn events_read_as_their_serde_form() {
        let events = [
            Event::SegmentLoaded {
                url: "https://cdn/seg\"1.ts".into(),
                source: Source::Peer,
                bytes: 123_456,
                ms: 41.6,
            },
            Event::PeerConnected {
                peer: "ab12".into(),
            },
            Event::PeerDisconnected {
                peer: "ab12".into(),
                reason: "closed\nby peer".into(),
            },
            Event::TrackerConnected {
                url: "ws://t".into(),
            },
            Event::TrackerError {
                url: "ws://t".into(),
                reason: "refused".into(),
            },
            Event::PlaylistError {
                url: "x.m3u8".into(),
                reason: "not HLS".into(),
            },
        ];
        for e in events {
            same(e.to_json(), serde_json::to_value(&e).unwrap());
        }
        for source in [Source::Cache, Source::Peer, Source::Cdn] {
            assert_eq!(serde_json::to_value(source).unwrap(), source.name());
        }
    }

    #[test]
    fn stats_and_peers_read_as_their_serde_form() {
        let stats = Stats {
            cdn_bytes: u64::MAX,
            peer_bytes: 2,
            uploaded_bytes: 3,
            cache_hits: 4,
            segments_delivered: 5,
            peer_fallbacks: 6,
            rejected_segments: 7,
            peers_demoted: 10,
            peers: 8,
            swarm_size: 9,
        };
        let ours: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
        assert_eq!(ours, serde_json::to_value(&stats).unwrap());
        let peers = vec![
            PeerInfo {
                peer: "aa".into(),
                bytes_from: 1,
                bytes_to: 2,
                bytes_per_sec: 1234.7,
            },
            PeerInfo {
                peer: "bb".into(),
                bytes_from: 0,
                bytes_to: 0,
                bytes_per_sec: f64::NAN,
            },
        ];
        let ours: serde_json::Value = serde_json::from_str(&peers_to_json(&peers)).unwrap();
        assert_eq!(ours[0]["bytesPerSec"], 1235);
        assert_eq!(ours[1]["bytesPerSec"], 0);
        same(
            peers_to_json(&peers[..1]),
            serde_json::to_value(&peers[..1]).unwrap(),
        );
        assert_eq!(peers_to_json(&[]), "[]");
    }
}
