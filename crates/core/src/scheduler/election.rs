//! Who takes a new segment from the CDN, decided without a server.
//!
//! Every viewer scores itself and each neighbour playing the same rendition with a hash
//! of (peer id, segment id), fast uplinks (as each measured and told its own) before the
//! others; the lowest score fetches from the CDN at once, the others wait, rank by rank,
//! for a peer to announce the segment. Each viewer sees only its own neighbourhood, so a
//! swarm elects about one fetcher per neighbourhood, and the bounded patience keeps a
//! missing or slow fetcher from stalling anyone.

use core::time::Duration;

use hlsmesh_proto::{Id20, SegmentId};

use crate::rng::mix64;
use crate::time::Instant;

/// Least wait of the first runner-up.
pub const FIRST_PATIENCE: Duration = Duration::from_millis(1500);
/// Added to the segment duration for the first runner-up's wait: viewers reload a live
/// playlist once per target duration, out of phase, so the elected viewer may see a new
/// segment up to one segment duration after a runner-up's player asks for it.
pub const REFRESH_SLACK: Duration = Duration::from_millis(300);
/// Extra wait per further rank, so that runners-up do not all give up at once.
pub const RANK_STEP: Duration = Duration::from_millis(500);

/// Viewers of a neighbourhood (this one and its neighbours on the rendition) per CDN
/// fetcher of a new segment, at least one: three in a neighbourhood of 12 to 15. A lone
/// fetcher on a slow uplink holds its whole neighbourhood back (each copy takes it over a
/// second); more, elected alike, start more copies at once. One in six did as well on
/// the home mix, whose fibre viewers fetch alone, but a swarm of equal uplinks at 2 × the
/// stream took 67% of its bytes from the CDN with it, 60% with one in four (100 viewers,
/// seeds 1–6; docs/BENCHMARKS.md, "swarms without fibre").
pub const VIEWERS_PER_FETCHER: usize = 4;

/// Upload rate, in multiples of the rendition's bit rate, from which a viewer is a fast
/// uplink for its trials and its peering: its copies are not counted slower than it
/// told, and it keeps room for more neighbours.
pub const FAST_UPLINK: u32 = 3;

/// Upload rate, in multiples of the rendition's bit rate, from which a viewer ranks before
/// every slower neighbour in the election, and a neighbourhood whose first-ranked viewer
/// is one elects it alone: it sends a copy in a sixth of a segment's duration or less, and
/// copies double fast enough from there. At 3 × (the fast uplinks' threshold) a lone
/// fetcher held back a swarm of equal uplinks: 71% of the bytes from the CDN, against 28%
/// with fetchers elected as among slow uplinks (100 viewers, seeds 1–6).
pub const ALONE_UPLINK: u32 = 6;

/// A viewer's place for a segment, from its `rank` among `neighbours` others: 0 fetches
/// from the CDN at once, k ≥ 1 is the k-th runner-up. When the first-ranked viewer of the
/// neighbourhood uploads at [`ALONE_UPLINK`] or more (`fast_first`) it fetches alone; otherwise the first
/// [`VIEWERS_PER_FETCHER`]th of the neighbourhood by rank fetch.
pub fn place(rank: usize, neighbours: usize, fast_first: bool) -> usize {
    let fetchers = if fast_first {
        1
    } else {
        ((neighbours + 1) / VIEWERS_PER_FETCHER).max(1)
    };
    (rank + 1).saturating_sub(fetchers)
}

/// A viewer's score for a segment; every viewer computes the same value.
pub fn score(peer: &Id20, seg: SegmentId) -> u64 {
    // A plain loop (a fold adaptor costs more wasm).
    let mut peer_hash = 0xcbf2_9ce4_8422_2325u64;
    for &b in peer {
        peer_hash = (peer_hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix64(peer_hash ^ mix64(seg.sn ^ (u64::from(seg.variant) << 48)))
}

/// This viewer's rank for `seg` among itself and `others` (0 = fetches first), each
/// with whether it is a fast uplink: fast ones first, then by [`score`].
pub fn rank(me: (Id20, bool), others: impl Iterator<Item = (Id20, bool)>, seg: SegmentId) -> usize {
    let mine = key(me.0, me.1, seg);
    others
        .filter(|p| p.0 != me.0)
        .filter(|p| key(p.0, p.1, seg) < mine)
        .count()
}

/// A viewer's order for `seg`, lowest first: fast uplinks first, then by [`score`].
pub fn key(peer: Id20, fast: bool, seg: SegmentId) -> (bool, u64, Id20) {
    (!fast, score(&peer, seg), peer)
}

/// Until when a viewer in `rank` place ([`place`]) waits for a peer before fetching from the CDN: never
/// later than the buffer allows (`need_by` minus `reserve`, the time a CDN fetch needs),
/// never earlier than now.
///
/// `segment` is the segment's duration: the first runner-up waits at least that long
/// (plus [`REFRESH_SLACK`]), which covers the spread of playlist refreshes.
pub fn patience(
    now: Instant,
    rank: usize,
    need_by: Instant,
    reserve: Duration,
    segment: Duration,
) -> Instant {
    if rank == 0 {
        return now;
    }
    let first = FIRST_PATIENCE.max(segment + REFRESH_SLACK);
    let wait = first + RANK_STEP * (rank as u32 - 1).min(64);
    (now + wait).min(need_by - reserve).max(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u8) -> Id20 {
        let mut id = [b'x'; 20];
        id[19] = n;
        id[0] = n.wrapping_mul(7);
        id
    }

    proptest! {
        #[test]
        fn exactly_one_viewer_ranks_first(n in 1u8..40, sn in any::<u64>(), variant in any::<u16>()) {
            let seg = SegmentId { variant, sn };
            let all: Vec<(Id20, bool)> = (0..n).map(|i| (id(i), i % 3 == 0)).collect();
            let ranks: Vec<usize> = all.iter().map(|me| rank(*me, all.iter().copied(), seg)).collect();
            let mut sorted = ranks.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..n as usize).collect::<Vec<_>>());
        }

        #[test]
        fn patience_never_outlives_the_buffer(rank in 0usize..100, now_ms in 0u64..1_000_000, ahead_ms in 0u64..60_000) {
            let now = Instant::from_micros(now_ms * 1000);
            let need_by = now + Duration::from_millis(ahead_ms);
            let reserve = Duration::from_millis(1500);
            let p = patience(now, rank, need_by, reserve, Duration::from_secs(2));
            prop_assert!(p >= now);
            prop_assert!(p <= now.max(need_by - reserve));
            if rank == 0 { prop_assert_eq!(p, now); }
        }

        #[test]
        fn patience_grows_with_rank(rank in 1usize..50) {
            let now = Instant::ZERO;
            let far = now + Duration::from_secs(3600);
            let r = Duration::from_secs(1);
            let seg = Duration::from_secs(2);
            prop_assert!(patience(now, rank + 1, far, r, seg) > patience(now, rank, far, r, seg));
        }
    }

    #[test]
    fn one_fetcher_per_four_viewers_of_a_neighbourhood_at_least_one() {
        assert_eq!(
            (0..4).map(|r| place(r, 2, false)).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            (0..5).map(|r| place(r, 11, false)).collect::<Vec<_>>(),
            [0, 0, 0, 1, 2]
        );
        assert_eq!(place(5, 24, false), 0);
        assert_eq!(place(6, 24, false), 1);
    }

    #[test]
    fn a_fast_uplink_ranks_first_and_fetches_alone() {
        let all: Vec<(Id20, bool)> = (0..12).map(|i| (id(i), i == 7)).collect();
        for sn in 0..50 {
            let seg = SegmentId { variant: 0, sn };
            assert_eq!(rank(all[7], all.iter().copied(), seg), 0);
            let places: Vec<usize> = all
                .iter()
                .map(|me| place(rank(*me, all.iter().copied(), seg), 11, true))
                .collect();
            assert_eq!(places.iter().filter(|p| **p == 0).count(), 1);
        }
    }

    #[test]
    fn first_fetcher_rotates_across_segments() {
        // Among equals (all fast, or all not), by the hash.
        let all: Vec<(Id20, bool)> = (0..4).map(|i| (id(i), true)).collect();
        let mut firsts = [0usize; 4];
        for sn in 0..400 {
            let seg = SegmentId { variant: 0, sn };
            let w = (0..4)
                .find(|&i| rank(all[i], all.iter().copied(), seg) == 0)
                .unwrap();
            firsts[w] += 1;
        }
        for &f in &firsts {
            assert!((60..=140).contains(&f), "load spread unevenly: {firsts:?}");
        }
    }
}
