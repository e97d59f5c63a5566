//! Counters the embedder reads and the tracker announces carry.

use serde::Serialize;

/// Transfer totals since the agent started. Values only grow, except `peers` and
/// `swarm_size`, which are the current counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Segment bytes fetched from the CDN (HTTP).
    pub cdn_bytes: u64,
    /// Segment bytes received from peers.
    pub peer_bytes: u64,
    /// Segment bytes served to peers.
    pub uploaded_bytes: u64,
    /// Player loads answered from the cache at once.
    pub cache_hits: u64,
    /// Segments delivered to the player, by any source.
    pub segments_delivered: u64,
    /// Peer transfers abandoned (deadline, peer gone) and finished from the CDN.
    pub peer_fallbacks: u64,
    /// Segments from peers that failed the integrity or structure check (the peer was
    /// banned and the segment fetched elsewhere).
    pub rejected_segments: u64,
    /// Times a peer was demoted (not asked for segments for a while) after missing
    /// deadlines or refusing segments it announced, several times in a row.
    pub peers_demoted: u64,
    /// Peers connected now.
    pub peers: u32,
    /// Swarm size the tracker last reported (complete + incomplete).
    pub swarm_size: u32,
    /// Our upload rate as we last measured it and told peers, kb/s (0 until measured).
    pub uplink_kbps: u32,
}
