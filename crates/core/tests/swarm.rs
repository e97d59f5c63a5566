//! Several agents in one process, in virtual time: the scheduler's promises checked end
//! to end without a browser.

mod support;

use std::time::Duration;

use bytes::Bytes;
use hlsmesh_core::proto::SegmentId;
use hlsmesh_core::{Event, Input, Instant, Source};
use support::{hash_list, media_playlist, playback, segment_bytes, ts_segment_bytes, Net};

const BASE: &str = "http://cdn.test/live/";
const PLAYLIST: &str = "http://cdn.test/live/index.m3u8";
const SEG_LEN: usize = 200_000;

fn url(sn: u64) -> String {
    format!("{BASE}seg{sn}.ts")
}

/// A net whose CDN holds segments 0..40, with `n` viewers of the same playlist, meshed.
fn meshed(n: usize, seed: u64, live_segments: Option<u64>) -> Net {
    let mut net = Net::new(seed);
    for sn in 0..40 {
        net.cdn.insert(url(sn), segment_bytes(sn, SEG_LEN));
    }
    let text = match live_segments {
        Some(k) => media_playlist(0, k, true),
        None => media_playlist(0, 40, false),
    };
    for i in 0..n {
        let node = net.add_node(seed * 1000 + i as u64 + 1);
        net.playlist(node, PLAYLIST, &text);
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(20));
    for i in 0..n {
        assert_eq!(
            net.peers_of(i) as usize,
            n - 1,
            "node {i} should see every other node"
        );
    }
    net
}

fn delivered_ok(net: &Net, node: usize) -> Vec<(Bytes, Source, Instant)> {
    net.nodes[node]
        .delivered
        .iter()
        .map(|d| {
            (
                d.data.clone().expect("load failed"),
                d.source.unwrap(),
                d.at,
            )
        })
        .collect()
}

#[test]
fn a_segment_one_viewer_fetched_reaches_another_over_the_peer_link() {
    let mut net = meshed(2, 1, None);
    net.load(0, &url(3), playback(0.0));
    net.run_for(Duration::from_secs(1));
    let before = net.cdn_bytes();
    assert_eq!(before, SEG_LEN);
    net.load(1, &url(3), playback(10.0));
    net.run_for(Duration::from_secs(1));
    let got = delivered_ok(&net, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].0,
        segment_bytes(3, SEG_LEN),
        "bytes differ from the origin's"
    );
    assert_eq!(got[0].1, Source::Peer);
    assert_eq!(net.cdn_bytes(), before, "the CDN served the segment twice");
    let s0 = net.nodes[0].agent.stats();
    let s1 = net.nodes[1].agent.stats();
    assert_eq!(s0.uploaded_bytes, SEG_LEN as u64);
    assert_eq!(s1.peer_bytes, SEG_LEN as u64);
    // The player asking again is answered from the cache at once.
    let t = net.now;
    net.load(1, &url(3), playback(10.0));
    let again = delivered_ok(&net, 1);
    assert_eq!(again[1].1, Source::Cache);
    assert_eq!(again[1].2, t);
}

#[test]
fn a_peer_that_stalls_mid_transfer_is_finished_from_the_cdn_by_range_before_the_deadline() {
    let mut net = meshed(2, 2, None);
    net.load(0, &url(5), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[0].stall_after_chunks = Some(1);
    let start = net.now;
    let ahead = 5.0;
    net.load(1, &url(5), playback(ahead));
    net.run_for(Duration::from_secs(10));
    let got = delivered_ok(&net, 1);
    assert_eq!(got.len(), 1, "exactly one delivery");
    assert_eq!(
        got[0].0,
        segment_bytes(5, SEG_LEN),
        "assembled bytes differ"
    );
    assert!(
        got[0].2 <= start + Duration::from_secs_f64(ahead),
        "delivered after the player's buffer ran dry"
    );
    let (node, _, served, range) = net.cdn_log.last().unwrap().clone();
    assert_eq!(node, 1);
    let from_peer = hlsmesh_core::proto::MAX_CHUNK_DATA;
    assert_eq!(
        range.as_deref(),
        Some(format!("bytes={from_peer}-").as_str())
    );
    assert_eq!(
        served,
        SEG_LEN - from_peer,
        "the CDN re-sent bytes the peer had delivered"
    );
    assert_eq!(net.nodes[1].agent.stats().peer_fallbacks, 1);
}

#[test]
fn a_new_live_segment_is_taken_from_the_cdn_about_once_per_swarm() {
    let viewers = 6;
    let mut net = meshed(viewers, 3, Some(6));
    // Every player starts on the newest segment, 6 s behind the edge.
    for i in 0..viewers {
        net.load(i, &url(5), playback(6.0));
        net.run_for(Duration::from_millis(100));
    }
    net.run_for(Duration::from_secs(5));
    let mut fetches_per_segment = Vec::new();
    // Then the playlist grows, one segment every 2 s; each viewer sees each refresh at
    // its own phase and its player asks for the new segment at once.
    for k in 0..10u64 {
        let sn = 6 + k;
        let text = media_playlist(k + 1, 6, true);
        let before = net.cdn_log.len();
        for i in 0..viewers {
            net.playlist(i, PLAYLIST, &text);
            net.load(i, &url(sn), playback(6.0 - 0.25 * i as f64));
            net.run_for(Duration::from_millis(300));
        }
        net.run_for(Duration::from_secs(2));
        let fetched = net.cdn_log[before..]
            .iter()
            .filter(|(_, u, _, _)| *u == url(sn))
            .count();
        fetches_per_segment.push(fetched);
    }
    for i in 0..viewers {
        let got = delivered_ok(&net, i);
        assert_eq!(got.len(), 11, "viewer {i} missed a segment");
    }
    let total: usize = fetches_per_segment.iter().sum();
    println!("CDN fetches per new segment with {viewers} viewers: {fetches_per_segment:?}");
    assert!(
        total <= 13,
        "live edge not coordinated: {fetches_per_segment:?} CDN fetches for 10 segments"
    );
}

/// `viewers` viewers of a 6-segment live window (seeds 41,000 on), run until every one
/// is connected to every other.
fn meshed_live_edge(viewers: usize) -> Net {
    let mut net = Net::new(41);
    for sn in 0..40 {
        net.cdn.insert(url(sn), segment_bytes(sn, SEG_LEN));
    }
    for i in 0..viewers {
        let node = net.add_node(41_000 + i as u64);
        net.playlist(node, PLAYLIST, &media_playlist(0, 6, true));
        net.run_for(Duration::from_millis(300));
    }
    // A dozen viewers take a few announce rounds to mesh.
    while (0..viewers).any(|i| net.peers_of(i) as usize + 1 < viewers) {
        net.run_for(Duration::from_secs(10));
        assert!(
            net.now.as_micros() < 600_000_000,
            "not meshed in 10 minutes"
        );
    }
    net
}

/// Every viewer's playlist now lists segment `sn` at its live edge; the viewers that
/// fetched it from the CDN in the next 100 ms.
fn new_segment_fetchers(net: &mut Net, viewers: usize, sn: u64) -> Vec<usize> {
    let before = net.cdn_log.len();
    let text = media_playlist(sn - 5, 6, true);
    for i in 0..viewers {
        net.playlist(i, PLAYLIST, &text);
    }
    net.run_for(Duration::from_millis(100));
    net.cdn_log[before..]
        .iter()
        .filter(|(_, u, _, _)| *u == url(sn))
        .map(|(n, ..)| *n)
        .collect()
}

#[test]
fn a_neighbourhood_of_twelve_elects_three_cdn_fetchers_for_a_new_segment() {
    // One viewer in four fetches a new live segment when its playlist shows it: with 12
    // viewers meshed, three, the same three for everyone (a lone fetcher on a slow uplink
    // would hold its neighbourhood back). With 5, one.
    for (viewers, fetchers) in [(12, 3), (5, 1)] {
        let mut net = meshed_live_edge(viewers);
        for i in 0..viewers {
            net.load(i, &url(5), playback(6.0));
            net.run_for(Duration::from_millis(50));
        }
        net.run_for(Duration::from_secs(3));
        for sn in 6..9 {
            let fetched = new_segment_fetchers(&mut net, viewers, sn).len();
            assert_eq!(fetched, fetchers, "{viewers} viewers, segment {sn}");
        }
    }
}

/// Twelve viewers meshed, of which viewer 4 sends a 200 KB copy to viewer 0 that drains
/// from its channel in `drain`, measures its upload rate from it and tells every peer.
/// Returns the net, with every viewer playing, and viewer 4.
fn meshed_with_a_measured_uplink(drain: Duration) -> (Net, usize) {
    let viewers = 12;
    let mut net = meshed_live_edge(viewers);
    let measured = 4;
    net.load(measured, &url(5), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[measured].slow_uplink = true;
    net.load(0, &url(5), playback(10.0));
    net.run_for(drain);
    assert!(net.chunk_bytes_sent(measured) >= SEG_LEN, "no copy sent");
    assert_eq!(
        net.nodes[measured].sent_by_tag[8], 0,
        "told before measuring"
    );
    net.drain_uplink(measured);
    net.run_for(Duration::from_millis(100));
    assert_eq!(sources(&net, 0), vec![Source::Peer]);
    assert_eq!(
        net.nodes[measured].sent_by_tag[8],
        viewers - 1,
        "not told to every peer"
    );
    for i in (0..viewers).filter(|i| ![0, measured].contains(i)) {
        net.load(i, &url(5), playback(6.0));
        net.run_for(Duration::from_millis(50));
    }
    net.run_for(Duration::from_secs(3));
    (net, measured)
}

#[test]
fn a_viewer_measures_its_fast_uplink_tells_its_neighbours_and_fetches_new_segments_alone() {
    // Without a fast uplink among twelve viewers, three fetch each new live segment from
    // the CDN (the test above). One of them measures its own uplink as it sends a copy
    // (200 KB drained in 50 ms: 32 Mb/s, 40 times the 800 kb/s stream) and tells its
    // neighbours: it then fetches every new segment, alone.
    let (mut net, fast) = meshed_with_a_measured_uplink(Duration::from_millis(50));
    for sn in 6..12 {
        let fetchers = new_segment_fetchers(&mut net, 12, sn);
        assert_eq!(fetchers, vec![fast], "segment {sn}");
    }
}

#[test]
fn an_uplink_four_times_the_stream_does_not_fetch_new_segments_alone() {
    // 200 KB drained in 500 ms: 3.2 Mb/s, 4 times the stream. A lone fetcher that fast
    // cannot pass copies on in time to a neighbourhood of equals (the simulator's swarm of
    // 3 × uplinks took 71% of its bytes from the CDN that way): the neighbourhood elects
    // three fetchers as among slow uplinks.
    let (mut net, measured) = meshed_with_a_measured_uplink(Duration::from_millis(500));
    for sn in 6..12 {
        let fetchers = new_segment_fetchers(&mut net, 12, sn);
        assert_eq!(fetchers.len(), 3, "segment {sn}: {fetchers:?}");
        assert!(fetchers != vec![measured], "segment {sn}");
    }
}

/// At most two peers each (`max_peers: 2`).
fn two_peers(seed: u64) -> hlsmesh_core::Config {
    hlsmesh_core::Config {
        max_peers: 2,
        ..config(seed)
    }
}

/// Three viewers of at most two peers each, meshed (full), none of which has told an
/// upload rate yet.
fn meshed_trio(seed: u64) -> Net {
    let mut net = Net::new(seed);
    for sn in 0..40 {
        net.cdn.insert(url(sn), segment_bytes(sn, SEG_LEN));
    }
    for i in 0..3 {
        let node = net.add_node_with(two_peers(seed * 1000 + i));
        net.playlist(node, PLAYLIST, &media_playlist(0, 6, true));
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(30));
    assert!((0..3).all(|i| net.peers_of(i) == 2), "not meshed");
    net
}

/// A [`meshed_trio`] whose second viewer has measured a fast uplink and told the others
/// (an `Uplink` frame each), and the others have loaded a segment since (each load's
/// election sees who among their neighbours is fast). Returns it.
fn meshed_trio_with_a_fast_uplink(seed: u64) -> (Net, usize) {
    let mut net = meshed_trio(seed);
    let fast = 1;
    net.load(fast, &url(5), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[fast].slow_uplink = true;
    net.load(0, &url(5), playback(10.0));
    net.run_for(Duration::from_millis(50));
    net.drain_uplink(fast);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.nodes[fast].sent_by_tag[8], 2, "not told");
    for slow in [0, 2] {
        net.load(slow, &url(4), playback(10.0));
    }
    net.run_for(Duration::from_millis(100));
    (net, fast)
}

/// Offers each of the first `nodes` nodes sends to the tracker while the net runs for `d`.
fn offers_during(net: &mut Net, nodes: usize, d: Duration) -> Vec<usize> {
    let before: Vec<usize> = (0..nodes).map(|i| net.nodes[i].offers_sent).collect();
    net.run_for(d);
    (0..nodes)
        .map(|i| net.nodes[i].offers_sent - before[i])
        .collect()
}

#[test]
fn a_fast_uplink_answers_offers_beyond_max_peers() {
    // Three viewers of at most two peers each, meshed: all full. One measures its uplink
    // as it sends a copy (200 KB drained at once) and tells its neighbours. A fourth
    // viewer joins: the two slow ones ignore its offers (full), the fast one answers
    // (room for two and a half times `max_peers`), so the newcomer's neighbour is a fast
    // uplink.
    let (mut net, fast) = meshed_trio_with_a_fast_uplink(61);
    let joiner = net.add_node_with(two_peers(61_100));
    net.playlist(joiner, PLAYLIST, &media_playlist(0, 6, true));
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.peers_of(joiner), 1, "nobody answered the joiner");
    assert_eq!(net.peers_of(fast), 3);
    assert_eq!((net.peers_of(0), net.peers_of(2)), (2, 2));
    // More joiners, one after the other: the fast uplink takes them up to five (2.5 × 2)
    // connections, and no further.
    for i in 1..5 {
        let joiner = net.add_node_with(two_peers(61_100 + i));
        net.playlist(joiner, PLAYLIST, &media_playlist(0, 6, true));
        net.run_for(Duration::from_secs(60));
    }
    assert_eq!(net.peers_of(fast), 5);
}

#[test]
fn a_full_fast_uplink_still_offers_beyond_max_peers() {
    // Three viewers of at most two peers each, meshed: full, so none offers. One
    // measures and tells a fast uplink: at its next announces it offers one connection
    // beyond its two (only fast uplinks, which keep room, answer a full viewer's
    // offers), while the slow ones, full, still offer nothing.
    let (mut net, fast) = meshed_trio_with_a_fast_uplink(63);
    let offers = offers_during(&mut net, 3, Duration::from_secs(70));
    assert!(
        offers[fast] >= 1,
        "the fast uplink made no offer: {offers:?}"
    );
    assert_eq!((offers[0], offers[2]), (0, 0), "a full slow viewer offered");
}

#[test]
fn full_slow_viewers_among_slow_neighbours_offer_beyond_max_peers() {
    // Three viewers of at most two peers each, meshed: full. None has told a fast
    // uplink. Once a load's election has found all its neighbours slow, each offers
    // connections beyond its two at its next announces, looking for a fast uplink (which
    // answers beyond `max_peers`); a viewer that has not loaded since it was meshed has
    // not looked at its neighbours yet, and offers nothing.
    let mut net = meshed_trio(67);
    for node in [0, 1] {
        net.load(node, &url(5), playback(10.0));
    }
    net.run_for(Duration::from_millis(100));
    let offers = offers_during(&mut net, 3, Duration::from_secs(130));
    assert!(
        offers[0] >= 1 && offers[1] >= 1,
        "no look beyond: {offers:?}"
    );
    assert_eq!(offers[2], 0, "{offers:?}");
    assert!(
        (0..3).all(|i| net.peers_of(i) == 2),
        "nobody else to connect to"
    );
}

/// Node 0 alone holds segment 3 (400 KB, fetched from the CDN) and its uplink has
/// turned slow; nodes 1.. are download-only viewers connected to it, each chosen (by
/// seed, from `first_seed + 1` on) to rank `ranks[i]` for the segment among its peers
/// (rank 0 would take the CDN at once when no peer can serve it).
fn lone_slow_holder(net_seed: u64, first_seed: u64, ranks: &[usize]) -> Net {
    use hlsmesh_core::proto::SegmentId;
    use hlsmesh_core::scheduler::election::rank;
    let mut net = Net::new(net_seed);
    for sn in 0..40 {
        net.cdn.insert(url(sn), segment_bytes(sn, SEG_LEN));
    }
    let holder = net.add_node(first_seed);
    net.playlist(holder, PLAYLIST, &media_playlist(0, 40, false));
    net.run_for(Duration::from_millis(300));
    let seg = SegmentId { variant: 0, sn: 3 };
    let held_by = net.nodes[holder].agent.peer_id();
    let downloader = |seed| hlsmesh_core::Config {
        download_only: true,
        ..config(seed)
    };
    let mut used = Vec::new();
    for &want in ranks {
        let seed = (first_seed + 1..)
            .find(|seed| {
                let id = hlsmesh_core::Agent::new(downloader(*seed), Instant::ZERO).peer_id();
                !used.contains(seed)
                    && rank((id, false), [(held_by, false)].into_iter(), seg) == want
            })
            .unwrap();
        used.push(seed);
        let n = net.add_node_with(downloader(seed));
        net.playlist(n, PLAYLIST, &media_playlist(0, 40, false));
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.peers_of(holder) as usize, ranks.len());
    net.cdn.insert(url(3), segment_bytes(3, 400_000));
    net.load(holder, &url(3), playback(0.0));
    net.run_for(Duration::from_secs(1));
    // Its uplink is slow for a moment: the first copy sits in the channel.
    net.nodes[holder].slow_uplink = true;
    net
}

#[test]
fn a_busy_holder_is_asked_again_after_a_moment_not_given_up_for_the_segment() {
    // Node 0 alone holds the segment (the others serve nothing). Three ask at once: it
    // sends one, keeps one waiting and refuses the third as busy. The third asks again a
    // moment later, when node 0's uplink is free, instead of waiting for a holder that
    // never comes and then taking the CDN.
    three_ask_a_holder_busy_for(Duration::from_millis(200), 1);
}

/// Three viewers ask the lone holder of segment 3 (`lone_slow_holder`) at once, with
/// 10 s of buffer, while its uplink is busy for `busy`; it has refused at least
/// `refusals` requests by then. Each then gets the segment from it, none from the CDN.
fn three_ask_a_holder_busy_for(busy: Duration, refusals: usize) {
    let mut net = lone_slow_holder(43, 431, &[1, 1, 1]);
    for n in 1..4 {
        net.load(n, &url(3), playback(10.0));
    }
    net.run_for(busy);
    let refused = net.nodes[0].sent_by_tag[7];
    assert!(refused >= refusals, "refused {refused}");
    net.drain_uplink(0);
    net.run_for(Duration::from_secs(10));
    for n in 1..4 {
        assert_eq!(sources(&net, n), vec![Source::Peer], "viewer {n}");
    }
}

#[test]
fn a_holder_busy_for_three_refusals_is_still_asked_again() {
    // As above, but node 0's uplink stays busy for 0.8 s: the third viewer, asking every
    // 300 ms, is refused three times. A busy holder is free again a copy later, so it
    // asks again (up to five refusals) and takes the segment from node 0; after three it
    // took node 0 not to hold it and went to the CDN.
    three_ask_a_holder_busy_for(Duration::from_millis(800), 3);
}

#[test]
fn a_live_segment_a_neighbour_announced_is_fetched_before_our_playlist_lists_it() {
    // Node 0's refresh shows segment 6 first; it takes it and announces it. Node 1, with
    // buffer to spare, asks node 0 for it at once, before its own refresh lists it (the
    // request names the segment, not its URL): when its player then asks, it is cached.
    let mut net = meshed(2, 45, Some(6));
    for i in 0..2 {
        net.load(i, &url(5), playback(6.0));
        net.run_for(Duration::from_millis(100));
    }
    net.run_for(Duration::from_secs(3));
    let text = media_playlist(1, 6, true);
    let peer_before = net.nodes[1].agent.stats().peer_bytes;
    net.playlist(0, PLAYLIST, &text);
    net.load(0, &url(6), playback(6.0));
    net.run_for(Duration::from_secs(4));
    assert_eq!(sources(&net, 0).len(), 2);
    let cdn_before = net.cdn_bytes();
    let ahead = net.nodes[1].agent.stats().peer_bytes - peer_before;
    assert_eq!(ahead, SEG_LEN as u64, "not fetched ahead");
    net.playlist(1, PLAYLIST, &text);
    net.load(1, &url(6), playback(4.0));
    net.run_for(Duration::from_secs(1));
    assert_eq!(sources(&net, 1).last(), Some(&Source::Cache));
    assert_eq!(net.cdn_bytes(), cdn_before);
}

#[test]
fn a_refused_prefetch_does_not_wake_the_agent_when_its_retry_time_comes() {
    // Node 0 alone holds segment 3 and its uplink is busy: the viewers, loading segment
    // 2 with buffer to spare, prefetch segment 3 from it, and some are refused. A refused
    // segment is asked again after a moment only for a load waiting on it (the timer
    // moves that load forward); for a prefetch nothing is due then, and an agent woken
    // for nothing costs a browser a task and the simulator an input.
    let mut net = lone_slow_holder(43, 431, &[1, 1, 1]);
    for n in 1..4 {
        net.nodes[n].idle_wakeups = 0;
        net.load(n, &url(2), playback(20.0));
    }
    net.run_for(Duration::from_millis(200));
    assert!(!net.nodes[0].absent_to.is_empty(), "nobody was refused");
    net.drain_uplink(0);
    net.run_for(Duration::from_secs(10));
    for n in 1..4 {
        assert_eq!(sources(&net, n), vec![Source::Cdn], "viewer {n}");
        assert_eq!(net.nodes[n].idle_wakeups, 0, "viewer {n} woken for nothing");
    }
}

#[test]
fn an_elected_viewer_a_neighbour_can_serve_waits_for_it_rather_than_the_cdn() {
    // The last viewer to ask ranks first for the segment (it would fetch from the CDN
    // when no peer can serve it at once), but its neighbour holds it already, and is
    // busy: it waits like a runner-up and asks again, instead of a CDN copy nobody needs.
    let mut net = lone_slow_holder(47, 471, &[1, 1, 0]);
    for n in 1..4 {
        net.load(n, &url(3), playback(10.0));
        net.run_for(Duration::from_millis(30));
    }
    net.run_for(Duration::from_millis(200));
    assert!(net.nodes[0].sent_by_tag[7] >= 1, "nobody was refused");
    net.drain_uplink(0);
    net.run_for(Duration::from_secs(10));
    assert_eq!(sources(&net, 3), vec![Source::Peer]);
}

#[test]
fn a_peer_vanishing_mid_transfer_costs_a_cdn_fetch_not_a_failure() {
    let mut net = meshed(2, 4, None);
    net.load(0, &url(7), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[0].stall_after_chunks = Some(1);
    let start = net.now;
    net.load(1, &url(7), playback(8.0));
    net.run_for(Duration::from_millis(200));
    net.kill(0);
    net.run_for(Duration::from_secs(10));
    let got = delivered_ok(&net, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, segment_bytes(7, SEG_LEN));
    assert_eq!(got[0].1, Source::Cdn);
    assert!(
        got[0].2 < start + Duration::from_secs(2),
        "fallback waited for a dead peer"
    );
    assert!(net.nodes[1]
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerDisconnected { .. })));
}

#[test]
fn a_peer_sending_garbage_is_disconnected_and_playback_goes_on() {
    let mut net = meshed(2, 5, None);
    net.load(0, &url(9), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[0].hostile = true;
    net.load(1, &url(9), playback(8.0));
    net.run_for(Duration::from_secs(10));
    let got = delivered_ok(&net, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, segment_bytes(9, SEG_LEN));
    let reasons: Vec<String> = net.nodes[1]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::PeerDisconnected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec!["malformed frame".to_string()]);
    assert_eq!(net.peers_of(1), 0);
}

#[test]
fn with_the_tracker_down_viewers_play_from_the_cdn_and_connect_when_it_returns() {
    let mut net = Net::new(6);
    for sn in 0..4 {
        net.cdn.insert(url(sn), segment_bytes(sn, 1000));
    }
    net.tracker_up = false;
    let a = net.add_node(61);
    let b = net.add_node(62);
    for n in [a, b] {
        net.playlist(n, PLAYLIST, &media_playlist(0, 4, false));
        net.load(n, &url(0), playback(0.0));
    }
    net.run_for(Duration::from_secs(12));
    assert_eq!(delivered_ok(&net, a).len(), 1);
    assert_eq!(delivered_ok(&net, b).len(), 1);
    assert_eq!(net.peers_of(a), 0);
    let errors = net.nodes[a]
        .events
        .iter()
        .filter(|e| matches!(e, Event::TrackerError { .. }))
        .count();
    assert!(
        (3..=6).contains(&errors),
        "expected backoff, saw {errors} attempts in 12 s"
    );
    net.tracker_up = true;
    net.run_for(Duration::from_secs(60));
    assert_eq!(
        net.peers_of(a),
        1,
        "P2P did not resume after the tracker came back"
    );
    assert_eq!(net.peers_of(b), 1);
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let run = |seed| {
        let mut net = meshed(4, seed, Some(6));
        for i in 0..4 {
            net.load(i, &url(5), playback(6.0));
            net.run_for(Duration::from_millis(100));
        }
        net.run_for(Duration::from_secs(5));
        let delivered: Vec<_> = (0..4)
            .map(|i| {
                net.nodes[i]
                    .delivered
                    .iter()
                    .map(|d| (d.source, d.at))
                    .collect::<Vec<_>>()
            })
            .collect();
        (net.cdn_log.clone(), delivered)
    };
    assert_eq!(run(7), run(7));
}

#[test]
fn an_elected_viewer_refreshing_late_does_not_refetch_what_a_runner_up_took() {
    use hlsmesh_core::proto::SegmentId;
    use hlsmesh_core::scheduler::election::rank;
    let viewers = 3;
    let mut net = meshed(viewers, 8, Some(6));
    for i in 0..viewers {
        net.load(i, &url(5), playback(6.0));
        net.run_for(Duration::from_millis(100));
    }
    net.run_for(Duration::from_secs(3));
    let ids: Vec<_> = (0..viewers)
        .map(|i| (net.nodes[i].agent.peer_id(), false))
        .collect();
    let seg = SegmentId { variant: 0, sn: 6 };
    let ranks: Vec<usize> = ids
        .iter()
        .map(|me| rank(*me, ids.iter().copied(), seg))
        .collect();
    let elected = ranks.iter().position(|r| *r == 0).unwrap();
    let text = media_playlist(1, 6, true);
    let before = net.cdn_log.len();
    // The runners-up see the new segment first; their players ask at once.
    for i in (0..viewers).filter(|i| *i != elected) {
        net.playlist(i, PLAYLIST, &text);
        net.load(i, &url(6), playback(6.0));
    }
    // The elected viewer's refresh comes a whole target duration later, after the first
    // runner-up ran out of patience and took the segment from the CDN.
    net.run_for(Duration::from_millis(2500));
    net.playlist(elected, PLAYLIST, &text);
    net.load(elected, &url(6), playback(6.0));
    net.run_for(Duration::from_secs(3));
    let fetched = net.cdn_log[before..]
        .iter()
        .filter(|(_, u, _, _)| *u == url(6))
        .count();
    assert_eq!(fetched, 1, "segment 6 taken from the CDN {fetched} times");
    for i in 0..viewers {
        let got = delivered_ok(&net, i);
        assert_eq!(got.last().unwrap().0, segment_bytes(6, SEG_LEN));
    }
}

/// A load with no buffer left (the player ran dry) goes to the CDN at once, even with a
/// neighbour holding the segment: the viewer is stalled, and plain hls.js would have
/// asked the CDN. (A neighbour used to get 400 ms first.)
#[test]
fn with_an_empty_buffer_after_start_the_cdn_is_asked_at_once() {
    let mut net = meshed(2, 9, None);
    // Node 0 holds segment 2; node 1 has started (segment 1 from the CDN).
    net.load(0, &url(2), playback(0.0));
    net.load(1, &url(1), playback(0.0));
    // Past the second in which a just-delivered segment still counts as buffer.
    net.run_for(Duration::from_millis(1500));
    let start = net.now;
    net.load(1, &url(2), playback(0.0));
    net.run_for(Duration::from_secs(1));
    let got = delivered_ok(&net, 1);
    assert_eq!(got[1].1, Source::Cdn);
    assert_eq!(net.nodes[1].sent_by_tag[4], 0, "node 0 was asked");
    let took = got[1].2.saturating_since(start);
    assert!(took <= net.cdn_latency * 3, "took {took:?}");
}

#[test]
fn a_joining_viewer_waits_within_its_buffer_for_neighbours_instead_of_the_cdn() {
    let mut net = meshed(3, 10, None);
    for sn in 0..4 {
        net.load(0, &url(sn), playback(0.0));
    }
    net.run_for(Duration::from_secs(1));
    // A fourth viewer joins: its first segment comes from the CDN at once (time to
    // first frame); the next, asked for with 4.5 s of buffer, waits for the neighbours
    // it is connecting to (with less than the 3 s a VOD viewer keeps for the CDN, it
    // would not wait).
    let joiner = net.add_node(10_004);
    net.playlist(joiner, PLAYLIST, &media_playlist(0, 40, false));
    net.run_for(Duration::from_millis(60));
    net.load(joiner, &url(0), playback(0.0));
    net.run_for(Duration::from_millis(60));
    net.load(joiner, &url(1), playback(4.5));
    net.run_for(Duration::from_secs(3));
    let got = delivered_ok(&net, joiner);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, Source::Cdn);
    assert_eq!(
        got[1].1,
        Source::Peer,
        "the joiner took segment 1 from the CDN"
    );
    assert_eq!(got[1].0, segment_bytes(1, SEG_LEN));
}

#[test]
fn a_segment_needed_beyond_the_cdn_horizon_waits_for_it_before_the_cdn() {
    // A lone viewer with 28 s of buffer: the CDN serves it once the segment is needed
    // within the horizon (15 s), not at once.
    let mut net = Net::new(21);
    for sn in 0..40 {
        net.cdn.insert(url(sn), segment_bytes(sn, SEG_LEN));
    }
    let node = net.add_node(21_001);
    net.playlist(node, PLAYLIST, &media_playlist(0, 40, false));
    net.run_for(Duration::from_secs(20));
    let asked = net.now;
    net.load(node, &url(5), playback(28.0));
    net.run_for(Duration::from_secs(12));
    assert_eq!(
        net.cdn_bytes(),
        0,
        "fetched from the CDN 28 s ahead of need"
    );
    assert!(net.nodes[node].delivered.is_empty());
    net.run_for(Duration::from_secs(3));
    let got = delivered_ok(&net, node);
    assert_eq!(got.len(), 1, "not delivered once within the horizon");
    assert_eq!(got[0].1, Source::Cdn);
    let waited = got[0].2.saturating_since(asked);
    assert!(
        waited >= Duration::from_secs(12) && waited <= Duration::from_secs(14),
        "waited {waited:?}"
    );
}

#[test]
fn a_viewer_far_ahead_takes_the_segment_from_the_neighbour_who_needs_it_first() {
    let mut net = meshed(2, 22, None);
    net.load(0, &url(5), playback(28.0));
    net.run_for(Duration::from_secs(5));
    assert_eq!(
        net.cdn_bytes(),
        0,
        "fetched from the CDN 28 s ahead of need"
    );
    net.load(1, &url(5), playback(5.0));
    net.run_for(Duration::from_secs(5));
    let (a, b) = (delivered_ok(&net, 0), delivered_ok(&net, 1));
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_eq!(b[0].1, Source::Cdn);
    assert_eq!(a[0].1, Source::Peer, "the viewer far ahead went to the CDN");
    assert_eq!(a[0].0, segment_bytes(5, SEG_LEN));
    assert_eq!(net.cdn_bytes(), SEG_LEN);
}

fn disconnect_reasons(net: &Net, node: usize) -> Vec<String> {
    net.nodes[node]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::PeerDisconnected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn with_a_hash_list_a_corrupted_segment_never_reaches_the_player_and_its_sender_is_banned() {
    let seed = 11;
    let mut net = Net::new(seed);
    let segments: Vec<(u64, Bytes)> = (0..8).map(|sn| (sn, segment_bytes(sn, SEG_LEN))).collect();
    for (sn, data) in &segments {
        net.cdn.insert(url(*sn), data.clone());
    }
    net.cdn.insert(
        format!("{PLAYLIST}.hashes"),
        Bytes::from(hash_list(&segments)),
    );
    for i in 0..2 {
        let node = net.add_node_with(hlsmesh_core::Config {
            trackers: vec!["wss://tracker.test".into()],
            seed: seed * 100 + i,
            integrity: true,
            ..hlsmesh_core::Config::default()
        });
        net.playlist(node, PLAYLIST, &media_playlist(0, 8, false));
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.peers_of(1), 1);
    net.load(0, &url(4), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[0].corrupt = true;
    net.load(1, &url(4), playback(10.0));
    net.run_for(Duration::from_secs(5));
    let got = delivered_ok(&net, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].0,
        segment_bytes(4, SEG_LEN),
        "corrupted bytes reached the player"
    );
    assert_eq!(
        disconnect_reasons(&net, 1),
        vec!["sent a corrupted segment".to_string()]
    );
    assert_eq!(net.nodes[1].agent.stats().rejected_segments, 1);
    // The liar stays out, however often the tracker relays its offers.
    net.run_for(Duration::from_secs(120));
    assert_eq!(net.peers_of(1), 0, "a banned peer reconnected");
}

#[test]
fn a_hash_list_that_is_not_utf8_is_refused_by_name_and_playback_goes_on_from_the_cdn() {
    let mut net = Net::new(14);
    for sn in 0..4 {
        net.cdn.insert(url(sn), segment_bytes(sn, SEG_LEN));
    }
    let mut list = hash_list(&[(0, segment_bytes(0, SEG_LEN))]).into_bytes();
    list.extend_from_slice(b"# \xff\xfe\n");
    net.cdn
        .insert(format!("{PLAYLIST}.hashes"), Bytes::from(list));
    let node = net.add_node_with(hlsmesh_core::Config {
        integrity: true,
        ..config(141)
    });
    net.playlist(node, PLAYLIST, &media_playlist(0, 4, false));
    net.run_for(Duration::from_secs(2));
    let refused: Vec<_> = net.nodes[node]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::PlaylistError { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(refused, ["hash list: hash list is not UTF-8"]);
    net.load(node, &url(1), playback(0.0));
    net.run_for(Duration::from_secs(2));
    assert_eq!(delivered_ok(&net, node)[0].0, segment_bytes(1, SEG_LEN));
}

#[test]
fn without_a_hash_list_malformed_transport_stream_bytes_are_refused() {
    let mut net = Net::new(12);
    for sn in 0..8 {
        net.cdn.insert(url(sn), ts_segment_bytes(sn, 1000));
    }
    for i in 0..2 {
        let node = net.add_node(1200 + i);
        net.playlist(node, PLAYLIST, &media_playlist(0, 8, false));
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(20));
    // Node 1 learns the rendition's container from a CDN segment.
    net.load(1, &url(0), playback(0.0));
    net.load(0, &url(5), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[0].corrupt = true; // flips the sync byte that starts the chunk
    net.load(1, &url(5), playback(10.0));
    net.run_for(Duration::from_secs(5));
    let got = delivered_ok(&net, 1);
    assert_eq!(got[1].0, ts_segment_bytes(5, 1000));
    assert_eq!(
        disconnect_reasons(&net, 1),
        vec!["sent a malformed segment".to_string()]
    );
}

/// Two meshed viewers, the first built from `first`.
fn pair_with(seed: u64, first: hlsmesh_core::Config) -> Net {
    let mut net = Net::new(seed);
    for sn in 0..40 {
        net.cdn.insert(url(sn), segment_bytes(sn, SEG_LEN));
    }
    let a = net.add_node_with(first);
    net.playlist(a, PLAYLIST, &media_playlist(0, 40, false));
    net.run_for(Duration::from_millis(300));
    let b = net.add_node(seed * 10 + 2);
    net.playlist(b, PLAYLIST, &media_playlist(0, 40, false));
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.peers_of(b), 1);
    net
}

fn config(seed: u64) -> hlsmesh_core::Config {
    hlsmesh_core::Config {
        trackers: vec!["wss://tracker.test".into()],
        seed,
        ..hlsmesh_core::Config::default()
    }
}

#[test]
fn the_upload_cap_holds_over_a_long_transfer() {
    let cap = 100_000u64;
    let mut net = pair_with(
        13,
        hlsmesh_core::Config {
            upload_bytes_per_sec: Some(cap),
            ..config(131)
        },
    );
    for sn in 0..4 {
        net.load(0, &url(sn), playback(0.0));
    }
    net.run_for(Duration::from_secs(1));
    let start = net.now;
    for sn in 0..4 {
        net.load(1, &url(sn), playback(60.0));
    }
    net.run_for(Duration::from_secs(30));
    let got = delivered_ok(&net, 1);
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|g| g.1 == Source::Peer));
    let last = got.iter().map(|g| g.2).max().unwrap();
    let took = last.saturating_since(start).as_secs_f64();
    // 800 kB at 100 kB/s, less the two chunks saved up at the start.
    let floor = (4 * SEG_LEN - 2 * hlsmesh_core::proto::MAX_CHUNK_DATA) as f64 / cap as f64;
    assert!(
        took >= floor,
        "uploaded 800 kB in {took:.2} s: over the cap"
    );
    assert!(
        took < floor + 3.0,
        "uploads stalled under the cap: {took:.2} s"
    );
}

#[test]
fn a_download_only_viewer_takes_from_peers_and_serves_nothing() {
    let mut net = pair_with(
        14,
        hlsmesh_core::Config {
            download_only: true,
            ..config(141)
        },
    );
    net.load(1, &url(2), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.load(0, &url(2), playback(10.0));
    net.load(0, &url(6), playback(0.0));
    net.run_for(Duration::from_secs(2));
    assert_eq!(
        delivered_ok(&net, 0)[0].1,
        Source::Peer,
        "download-only still downloads"
    );
    let cdn_before = net.cdn_bytes();
    net.load(1, &url(6), playback(10.0));
    net.run_for(Duration::from_secs(5));
    assert_eq!(delivered_ok(&net, 1)[1].1, Source::Cdn);
    assert!(net.cdn_bytes() > cdn_before);
    assert_eq!(net.nodes[0].agent.stats().uploaded_bytes, 0);
}

#[test]
fn memory_stays_within_the_cache_bound_over_a_long_vod_session() {
    // 300 segments of 200 kB (60 MB, 10 minutes of media) through a 4 MiB cache, with a
    // second viewer behind taking what it can from the first.
    let bound = 4 * 1024 * 1024;
    let mut net = Net::new(15);
    let n = 300u64;
    for sn in 0..n {
        net.cdn.insert(url(sn), segment_bytes(sn, SEG_LEN));
    }
    for i in 0..2 {
        let node = net.add_node_with(hlsmesh_core::Config {
            cache_bytes: bound,
            ..config(1500 + i)
        });
        net.playlist(node, PLAYLIST, &media_playlist(0, n, false));
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(20));
    let mut peak = [0usize; 2];
    for sn in 0..n {
        net.load(0, &url(sn), playback(10.0));
        if sn >= 3 {
            net.load(1, &url(sn - 3), playback(10.0));
        }
        net.run_for(Duration::from_millis(500));
        for (i, p) in peak.iter_mut().enumerate() {
            *p = (*p).max(net.nodes[i].agent.cache_used());
        }
    }
    net.run_for(Duration::from_secs(5));
    assert_eq!(delivered_ok(&net, 0).len(), n as usize);
    assert_eq!(delivered_ok(&net, 1).len(), n as usize - 3);
    assert!(
        peak.iter().all(|p| *p <= bound),
        "cache peaked at {peak:?}, bound {bound}"
    );
    assert!(peak[0] > bound / 2, "the cache was never used: {peak:?}");
    let from_peers = net.nodes[1].agent.stats().peer_bytes;
    assert!(
        from_peers > 0,
        "the second viewer never took from the first"
    );
}

#[test]
fn a_transport_stream_resumed_by_range_is_kept_not_fetched_again_whole() {
    let mut net = Net::new(16);
    for sn in 0..8 {
        net.cdn.insert(url(sn), ts_segment_bytes(sn, 1100));
    }
    for i in 0..2 {
        let node = net.add_node(1600 + i);
        net.playlist(node, PLAYLIST, &media_playlist(0, 8, false));
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(20));
    // Node 1 learns the container from the CDN; node 0 holds segment 5 and stalls.
    net.load(1, &url(0), playback(0.0));
    net.load(0, &url(5), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[0].stall_after_chunks = Some(net.nodes[0].stall_after_chunks.unwrap_or(0) + 1);
    let before = net.cdn_log.len();
    net.load(1, &url(5), playback(5.0));
    net.run_for(Duration::from_secs(10));
    assert_eq!(delivered_ok(&net, 1)[1].0, ts_segment_bytes(5, 1100));
    let fetches: Vec<_> = net.cdn_log[before..]
        .iter()
        .map(|(_, _, _, r)| r.clone())
        .collect();
    let from = hlsmesh_core::proto::MAX_CHUNK_DATA;
    assert_eq!(
        fetches,
        vec![Some(format!("bytes={from}-"))],
        "the peer's part was thrown away"
    );
}

/// Which source delivered each of `node`'s loads.
fn sources(net: &Net, node: usize) -> Vec<Source> {
    delivered_ok(net, node).iter().map(|d| d.1).collect()
}

/// Node 0 plays segments 5 to `last`; then node 1 loads segment 5 with `ahead` seconds
/// buffered, in a live stream (`Some`: that many segments listed) or a VOD title, and
/// runs for `secs`. The later segments node 1 holds then.
fn prefetched(seed: u64, live: Option<u64>, last: u64, ahead: f64, secs: u64) -> (Net, Vec<u64>) {
    let mut net = meshed(2, seed, live);
    for sn in 5..=last {
        net.load(0, &url(sn), playback(0.0));
        net.run_for(Duration::from_millis(500));
    }
    net.load(1, &url(5), playback(ahead));
    net.run_for(Duration::from_secs(secs));
    let held = (6..=last)
        .filter(|&sn| net.nodes[1].agent.holds(&SegmentId { variant: 0, sn }))
        .collect();
    (net, held)
}

#[test]
fn a_vod_viewer_with_a_deep_buffer_prefetches_far_ahead_from_its_neighbours() {
    // Node 0 has played segments 5 to 18. Node 1, loading segment 5 with 20 s buffered,
    // takes the next ones from it ahead of its player (a segment more per second of
    // buffer, up to 8), while the neighbour holding them is still there: the player's
    // load of segment 12 finds it in the cache. Segment 14, 9 ahead, waits.
    // (With 3 ahead, the most at 20 s before, 12 came from the peer then.)
    let (mut net, held) = prefetched(12, None, 18, 20.0, 20);
    assert_eq!(held, (6..=13).collect::<Vec<u64>>());
    net.load(1, &url(12), playback(20.0));
    net.run_for(Duration::from_secs(1));
    assert_eq!(sources(&net, 1), vec![Source::Peer, Source::Cache]);
}

/// A VOD viewer prefetches from its neighbours whatever its buffer, a segment ahead more
/// per second of it, each by when it is needed less the 3 s kept for the CDN; a live
/// viewer only from 4 s. The simulator found VOD viewers at the top rendition whose
/// neighbours' uplinks were each slower than it, with 3 to 4 s buffered: they took
/// every segment from the CDN at the 3 s mark, the buffer never grew, and they never
/// asked two neighbours at once (docs/POLICY.md, "Prefetch").
#[test]
fn a_vod_viewer_prefetches_from_its_neighbours_with_little_buffer() {
    // Node 0 has played segments 5 to 12; node 1 loads segment 5 with 3.5 s buffered.
    assert_eq!(prefetched(19, Some(40), 12, 3.5, 10).1, Vec::<u64>::new());
    assert_eq!(prefetched(19, None, 12, 3.5, 10).1, vec![6, 7, 8, 9]);
}

/// A live viewer whose neighbours announced neither the segment it asks for nor a later
/// one takes it from the CDN, if no peer serves it first, 0.35 s before its patience
/// ends: the CDN's response, now and then late, gets that much more buffer.
/// Node 1 keeps about 1.2 s for the CDN (its measured time and half again, and 0.5 s)
/// and asks with 4 s of buffer: elected for a segment it fetches at once, otherwise the
/// copy arrives 2.5 s later (2.85 s before).
#[test]
fn a_live_segment_no_neighbour_announced_goes_to_the_cdn_sooner() {
    let mut net = meshed(3, 18, Some(40));
    // All three play the stream (the election counts them), none beyond segment 1.
    for n in 0..3 {
        net.load(n, &url(n as u64 % 2), playback(0.0));
        net.run_for(Duration::from_secs(2));
    }
    let mut waited = Vec::new();
    for sn in 10..20 {
        let asked = net.now;
        net.load(1, &url(sn), playback(4.0));
        net.run_for(Duration::from_secs(5));
        let got = delivered_ok(&net, 1);
        assert_eq!(got.last().map(|d| d.1), Some(Source::Cdn));
        waited.push(got.last().expect("delivered").2.saturating_since(asked));
    }
    let patient: Vec<Duration> = waited
        .iter()
        .copied()
        .filter(|w| *w > Duration::from_secs(1))
        .collect();
    assert!(!patient.is_empty(), "elected for every segment: {waited:?}");
    assert!(
        patient.iter().all(|w| *w < Duration::from_millis(2800)),
        "{waited:?}"
    );
}

/// A live viewer whose neighbours served none of its last 8 loads takes the next from
/// the CDN at once instead of waiting for them until its reserve; a segment a peer
/// serves resumes the wait. Node 0 plays the stream (the election counts it, so node 1
/// waits for it now and then) but fetches nothing node 1 asks for, until segment 30.
#[test]
fn a_live_viewer_that_peers_never_serve_stops_waiting_for_them() {
    let mut net = meshed(2, 23, Some(40));
    for n in 0..2 {
        net.load(n, &url(n as u64), playback(0.0));
        net.run_for(Duration::from_secs(2));
    }
    let ask = |net: &mut Net, sn: u64| {
        let asked = net.now;
        net.load(1, &url(sn), playback(4.0));
        net.run_for(Duration::from_secs(5));
        let got = delivered_ok(net, 1);
        let last = got.last().expect("delivered");
        (last.2.saturating_since(asked), last.1)
    };
    let secs = |w: &[(Duration, Source)]| -> Vec<f64> {
        w.iter()
            .map(|(d, _)| (d.as_secs_f64() * 10.0).round() / 10.0)
            .collect()
    };
    // Segment 1 and the next seven from the CDN, some after a wait; then none waits.
    let first: Vec<_> = (10..17).map(|sn| ask(&mut net, sn)).collect();
    let then: Vec<_> = (17..25).map(|sn| ask(&mut net, sn)).collect();
    assert!(
        first.iter().any(|w| w.0 > Duration::from_secs(1)),
        "never waited: {:?}",
        secs(&first)
    );
    assert!(
        then.iter()
            .all(|w| w.1 == Source::Cdn && w.0 < Duration::from_millis(500)),
        "waited on: {:?}",
        secs(&then)
    );
    // Node 0 takes segment 30 and serves it: node 1 waits for it again.
    net.load(0, &url(30), playback(0.0));
    net.run_for(Duration::from_secs(1));
    assert_eq!(ask(&mut net, 30).1, Source::Peer);
    let again: Vec<_> = (31..38).map(|sn| ask(&mut net, sn)).collect();
    assert!(
        again.iter().any(|w| w.0 > Duration::from_secs(1)),
        "the wait did not resume: {:?}",
        secs(&again)
    );
}

#[test]
fn a_viewer_uploads_one_copy_at_a_time_rather_than_sharing_its_uplink() {
    // Node 0 holds a large segment; its channels drain slowly (each reports every chunk
    // byte as still buffered). Two neighbours ask for it at once: one copy goes out
    // whole, the other waits instead of splitting the uplink (where both would arrive
    // late). The waiting one gets it in time from the first one served, or the CDN.
    let mut net = meshed(3, 11, None);
    net.cdn.insert(url(5), segment_bytes(5, 400_000));
    net.load(0, &url(5), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[0].slow_uplink = true;
    net.load(1, &url(5), playback(6.0));
    net.load(2, &url(5), playback(6.0));
    net.run_for(Duration::from_secs(10));
    assert_eq!(delivered_ok(&net, 1).len(), 1);
    assert_eq!(delivered_ok(&net, 2).len(), 1);
    let sent = net.chunk_bytes_sent(0);
    assert!(
        (400_000..500_000).contains(&sent),
        "one copy, not two sharing the uplink: {sent} chunk bytes sent"
    );
}

#[test]
fn a_peer_that_keeps_missing_deadlines_is_demoted_not_disconnected() {
    // Node 0 takes each segment just before node 1 asks for it: node 1 has no later one
    // to prefetch. (3.95 s of buffer: room for a trial beside the 3 s a VOD viewer keeps
    // for the CDN.)
    let mut net = meshed(2, 12, None);
    let ask = |net: &mut Net, sn: u64| {
        net.load(0, &url(sn), playback(0.0));
        net.run_for(Duration::from_secs(1));
        net.load(1, &url(sn), playback(3.95));
    };
    // One good transfer: node 1 has measured node 0.
    ask(&mut net, 1);
    net.run_for(Duration::from_secs(3));
    assert_eq!(sources(&net, 1), vec![Source::Peer]);
    // Then node 0 stalls: three missed deadlines in a row.
    let sent = net.nodes[0].chunks_sent;
    net.nodes[0].stall_after_chunks = Some(sent);
    for sn in 2..=4 {
        ask(&mut net, sn);
        net.run_for(Duration::from_secs(5));
    }
    assert_eq!(net.nodes[1].agent.stats().peer_fallbacks, 3);
    assert_eq!(net.nodes[1].agent.stats().peers_demoted, 1);
    assert_eq!(net.peers_of(1), 1, "a slow peer stays connected");
    assert!(disconnect_reasons(&net, 1).is_empty());
    // Demoted: the next segment goes to the CDN without asking it.
    ask(&mut net, 5);
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.nodes[1].agent.stats().peer_fallbacks, 3);
    assert_eq!(sources(&net, 1).last(), Some(&Source::Cdn));
}

#[test]
fn a_failed_trial_is_not_repeated_at_once() {
    // Node 0 was never measured by node 1 and stalls: after one failed trial node 1 does
    // not try it again for the next segment.
    let mut net = meshed(2, 13, None);
    net.load(0, &url(1), playback(0.0));
    net.load(0, &url(2), playback(0.0));
    net.run_for(Duration::from_secs(2));
    net.nodes[0].stall_after_chunks = Some(net.nodes[0].chunks_sent);
    net.load(1, &url(1), playback(4.0));
    net.run_for(Duration::from_secs(5));
    net.load(1, &url(2), playback(4.0));
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.nodes[1].agent.stats().peer_fallbacks, 1);
    assert_eq!(sources(&net, 1), vec![Source::Cdn, Source::Cdn]);
}

#[test]
fn a_peer_that_missed_a_deadline_is_not_tried_again_as_untried_after_its_demotion() {
    // Node 0 stalls: node 1's trial of it fails and demotes it for 30 s. After that, node
    // 1 counts it as taking at least the time it waited for the segment's expected size
    // (1 s for the 250 kB assumed before any segment arrived: 250 kB/s, so 0.8 s for the
    // 200 kB it expects once the CDN's copy measured the stream). With 3.9 s of buffer and
    // 3 s kept for the CDN in a VOD title, 0.9 s is left: too little for 0.8 s with a
    // quarter to spare (1 s), so it does not try node 0 a second time, and takes the
    // segment from the CDN.
    // An untried peer would get a trial (0.55 s with half again to spare: 0.83 s).
    let mut net = meshed(2, 14, None);
    net.load(0, &url(1), playback(0.0));
    net.load(0, &url(2), playback(0.0));
    net.run_for(Duration::from_secs(2));
    net.nodes[0].stall_after_chunks = Some(net.nodes[0].chunks_sent);
    net.load(1, &url(1), playback(4.0));
    net.run_for(Duration::from_secs(35));
    assert_eq!(net.nodes[1].agent.stats().peer_fallbacks, 1);
    net.load(1, &url(2), playback(3.9));
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.nodes[1].agent.stats().peer_fallbacks, 1);
    assert_eq!(sources(&net, 1), vec![Source::Cdn, Source::Cdn]);
}

#[test]
fn an_untried_peer_gets_a_trial_only_if_five_times_the_media_rate_makes_it() {
    // Node 1 has measured nothing (its reserve for the CDN is the 3 s a VOD viewer keeps,
    // above the default 2 s): with 3.7 s of buffer, node 0 has 0.7 s. At 5 × the media
    // rate (250 kB in 0.55 s, plus half again) that is too little: the CDN, not a trial
    // that would likely miss. With 5 s (2 s to spare) node 0 gets its trial.
    let mut net = meshed(2, 15, None);
    net.load(0, &url(1), playback(0.0));
    net.load(0, &url(2), playback(0.0));
    net.run_for(Duration::from_secs(2));
    net.load(1, &url(1), playback(3.7));
    net.run_for(Duration::from_secs(4));
    assert_eq!(sources(&net, 1), vec![Source::Cdn]);
    assert_eq!(net.nodes[1].agent.stats().peer_fallbacks, 0);
    let mut net = meshed(2, 15, None);
    net.load(0, &url(1), playback(0.0));
    net.run_for(Duration::from_secs(2));
    net.load(1, &url(1), playback(5.0));
    net.run_for(Duration::from_secs(4));
    assert_eq!(sources(&net, 1), vec![Source::Peer]);
}

/// Node 0 sends node 1 a copy over a slow uplink (200 kB drained in 2 s: 800 kb/s) and
/// tells its peers; then it holds segment 4, and node 2 (which never downloaded from it)
/// asks for it with `ahead` seconds of buffer. Node 2's sources.
fn ask_a_slow_uplink(ahead: f64) -> (Net, Vec<Source>) {
    let mut net = meshed(3, 61, None);
    net.load(0, &url(3), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.nodes[0].slow_uplink = true;
    // A trial (3.95 s: see the demotion test). Then node 1's buffer runs low: 1 s, too
    // little to prefetch segment 4 (and pass it on to node 2).
    net.load(1, &url(3), playback(3.95));
    net.run_for(Duration::from_secs(2));
    net.drain_uplink(0);
    net.run_for(Duration::from_millis(100));
    assert_eq!(sources(&net, 1), vec![Source::Peer]);
    assert!(net.nodes[0].sent_by_tag[8] >= 1, "uplink not told");
    net.input(1, Input::Playback(playback(1.0)));
    net.load(0, &url(4), playback(0.0));
    net.run_for(Duration::from_secs(1));
    net.load(2, &url(4), playback(ahead));
    net.run_for(Duration::from_secs(6));
    let got = sources(&net, 2);
    (net, got)
}

#[test]
fn an_untried_peer_that_told_a_slow_uplink_gets_no_trial_it_cannot_make() {
    // At the rate node 0 told, a copy takes 2.65 s (2.5 s and the latency assumed): with
    // half again to spare, more than node 2's 1.5 s (4.5 s of buffer, 3 s kept for the
    // CDN), so node 2 does not ask it. At the assumed 5 × the media rate it would have.
    let (net, got) = ask_a_slow_uplink(4.5);
    assert_eq!(net.nodes[2].sent_by_tag[4], 0, "node 0 was asked");
    assert_eq!(got, vec![Source::Cdn]);
}

#[test]
fn a_slow_uplink_not_measured_yet_is_counted_as_busy_with_another_copy() {
    // With 5 s (8 s of buffer), the 2.65 s copy fits with half again to spare (4 s), but
    // a slow uplink is likely sending another copy: half again more (6 s) does not fit.
    // With 10 s of buffer (7 s) it does, and node 2 asks node 0.
    let (net, got) = ask_a_slow_uplink(8.0);
    assert_eq!(net.nodes[2].sent_by_tag[4], 0, "node 0 was asked");
    assert_eq!(got, vec![Source::Cdn]);
    let (net, got) = ask_a_slow_uplink(10.0);
    assert_eq!(net.nodes[2].sent_by_tag[4], 1, "node 0 was not asked");
    assert_eq!(got, vec![Source::Peer]);
}

#[test]
fn segments_sliding_out_of_the_live_window_are_not_announced_lost() {
    // Node 0's cache holds three segments. The live window moves on: the segments that
    // left it are evicted first, and nobody is told (every viewer of the rendition reads
    // the same playlist and forgets them itself). A listed segment evicted is still
    // announced lost.
    let mut net = Net::new(21);
    for sn in 0..40 {
        net.cdn.insert(url(sn), segment_bytes(sn, SEG_LEN));
    }
    let a = net.add_node_with(hlsmesh_core::Config {
        cache_bytes: 3 * SEG_LEN + 1000,
        ..config(211)
    });
    let b = net.add_node_with(config(212));
    for n in [a, b] {
        net.playlist(n, PLAYLIST, &media_playlist(0, 6, true));
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.peers_of(a), 1);
    for sn in 0..3 {
        net.load(a, &url(sn), playback(0.0));
        net.load(b, &url(sn), playback(0.0));
        net.run_for(Duration::from_secs(2));
    }
    // The window slides past 0..2 (no new segment, so no live-edge fetch); both
    // refresh; node 0 takes 3, 4 and 5.
    for sn in 3..6 {
        for n in [a, b] {
            net.playlist(n, PLAYLIST, &media_playlist(sn - 2, 8 - sn, true));
        }
        net.load(a, &url(sn), playback(0.0));
        net.run_for(Duration::from_secs(2));
    }
    assert_eq!(
        net.nodes[a].sent_by_tag[3], 0,
        "Lost sent for segments that left the window"
    );
    // A segment still listed, evicted to make room, is announced lost.
    for n in [a, b] {
        net.playlist(n, PLAYLIST, &media_playlist(3, 4, true));
    }
    net.load(a, &url(6), playback(0.0));
    net.run_for(Duration::from_secs(2));
    assert!(net.nodes[a].sent_by_tag[3] >= 1);
}

#[test]
fn a_relay_that_told_a_fast_uplink_takes_the_place_of_an_unknown_one() {
    // Node 0 has downloaded from nobody. Node 2 told its peers a fast uplink (it sent
    // node 3 a copy, 200 kB drained in 50 ms). While node 0 is busy sending a segment to
    // node 3, node 1 asks for it and waits; then node 2 asks: at the rate it told, it
    // passes the segment on sooner, so it takes node 1's place.
    let mut net = meshed(4, 33, None);
    net.cdn.insert(url(3), segment_bytes(3, 400_000));
    net.load(2, &url(2), playback(0.0));
    net.run_for(Duration::from_secs(2));
    net.nodes[2].slow_uplink = true;
    // A trial of node 2 (3.95 s, as in the demotion test); then node 3's buffer runs low
    // (1 s): it prefetches nothing from node 0, which takes segment 3.
    net.load(3, &url(2), playback(3.95));
    net.run_for(Duration::from_millis(50));
    net.drain_uplink(2);
    net.run_for(Duration::from_millis(100));
    assert_eq!(sources(&net, 3), vec![Source::Peer]);
    assert!(net.nodes[2].sent_by_tag[8] >= 1, "uplink not told");
    net.input(3, Input::Playback(playback(1.0)));
    net.load(0, &url(3), playback(0.0));
    net.run_for(Duration::from_secs(2));
    net.nodes[0].slow_uplink = true;
    net.nodes[0].stall_after_chunks = Some(net.nodes[0].chunks_sent);
    net.load(3, &url(3), playback(8.0));
    net.run_for(Duration::from_millis(200));
    net.load(1, &url(3), playback(8.0));
    net.run_for(Duration::from_millis(2000));
    assert!(net.nodes[0].absent_to.is_empty(), "node 1 may wait");
    net.load(2, &url(3), playback(8.0));
    net.run_for(Duration::from_millis(300));
    assert_eq!(
        net.nodes[0].absent_to,
        vec![1],
        "the unknown relay makes way"
    );
}

#[test]
fn a_fast_relay_takes_the_place_of_a_slow_one_waiting_for_an_upload() {
    // Node 0 has measured node 1 as slow (its frames take 800 ms more) and node 2 as
    // fast. While node 0 is busy sending a segment to node 3, node 1 asks for it and
    // waits; then node 2 asks: node 2, which will pass it on sooner, takes node 1's
    // place and node 1 is refused (it looks elsewhere).
    let mut net = meshed(4, 31, None);
    net.cdn.insert(url(3), segment_bytes(3, 400_000));
    net.nodes[1].extra_delay = Duration::from_millis(800);
    net.load(1, &url(1), playback(0.0));
    net.load(2, &url(2), playback(0.0));
    net.load(0, &url(3), playback(0.0));
    net.run_for(Duration::from_secs(2));
    net.load(0, &url(1), playback(8.0));
    net.load(0, &url(2), playback(8.0));
    net.run_for(Duration::from_secs(4));
    assert_eq!(
        sources(&net, 0),
        vec![Source::Cdn, Source::Peer, Source::Peer]
    );
    // Its channel to node 3 stays full: the upload holds the slot.
    net.nodes[0].slow_uplink = true;
    net.nodes[0].stall_after_chunks = Some(net.nodes[0].chunks_sent);
    net.load(3, &url(3), playback(8.0));
    net.run_for(Duration::from_millis(200));
    net.load(1, &url(3), playback(8.0));
    net.run_for(Duration::from_millis(2000));
    assert!(net.nodes[0].absent_to.is_empty(), "node 1 may wait");
    net.load(2, &url(3), playback(8.0));
    net.run_for(Duration::from_millis(300));
    assert_eq!(net.nodes[0].absent_to, vec![1], "the slow relay makes way");
}

const VOD: &str = "http://cdn.test/vod/";

/// Two meshed viewers of a VOD title in renditions `lo` and `hi` (200 kB segments), its
/// master declaring `bandwidths` for them. Viewer 0 holds `hi` segment 5; viewer 1 has
/// played `lo` segment 4, from the CDN, and switches to `hi` for segment 5 with `ahead`
/// seconds of buffer: where viewer 1's two segments came from.
fn switch_to_hi(seed: u64, bandwidths: [u64; 2], ahead: f64) -> Vec<Source> {
    let master = format!(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH={}\nlo/index.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH={}\nhi/index.m3u8\n",
        bandwidths[0], bandwidths[1]
    );
    let mut net = Net::new(seed);
    for rendition in ["lo", "hi"] {
        for sn in 0..40 {
            let body = segment_bytes(sn + rendition.len() as u64 * 100, SEG_LEN);
            net.cdn.insert(format!("{VOD}{rendition}/seg{sn}.ts"), body);
        }
    }
    for i in 0..2 {
        let node = net.add_node(seed * 1000 + i);
        net.playlist(node, &format!("{VOD}master.m3u8"), &master);
        for rendition in ["lo", "hi"] {
            let text = media_playlist(0, 40, false);
            net.playlist(node, &format!("{VOD}{rendition}/index.m3u8"), &text);
        }
        net.run_for(Duration::from_millis(300));
    }
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.peers_of(1), 1);
    net.load(0, &format!("{VOD}hi/seg5.ts"), playback(0.0));
    net.load(1, &format!("{VOD}lo/seg4.ts"), playback(0.0));
    net.run_for(Duration::from_secs(1));
    assert_eq!(sources(&net, 1), [Source::Cdn]);
    net.load(1, &format!("{VOD}hi/seg5.ts"), playback(ahead));
    net.run_for(Duration::from_secs(3));
    sources(&net, 1)
}

/// A master's `BANDWIDTH` is a peak. Here it says 64 Mb/s for both renditions while
/// their segments run at 0.8 Mb/s. A viewer that played the low rendition switches to
/// the high one, which a neighbour holds: it sizes the high rendition's first segment
/// as its low one measured against the declaration (200 kB, not 16 MB), so the time it
/// keeps for a CDN fetch is short, and the neighbour serves the segment within the 4 s
/// of buffer. Sized from the declaration alone (the low rendition declared as it runs),
/// it keeps more than 4 s for the CDN and takes the segment from there.
#[test]
fn a_switch_to_a_rendition_not_played_yet_sizes_it_as_the_stream_measures() {
    let got = switch_to_hi(31, [64_000_000, 64_000_000], 4.0);
    assert_eq!(got, [Source::Cdn, Source::Peer]);
    let got = switch_to_hi(31, [800_000, 64_000_000], 4.0);
    assert_eq!(
        got,
        [Source::Cdn, Source::Cdn],
        "16 MB from the declaration"
    );
}

/// A master that declares the low rendition at 8 kb/s though it carries 800 kb/s does
/// not make the high one (declared 16 Mb/s) look a hundred times bigger than declared:
/// a rendition is never sized above its declaration. Sized at 400 MB, its first segment
/// would have gone to the CDN at once despite 10 s of buffer and a neighbour holding it.
#[test]
fn a_rendition_not_played_yet_is_never_sized_above_its_declaration() {
    let got = switch_to_hi(32, [8_000, 16_000_000], 10.0);
    assert_eq!(got, [Source::Cdn, Source::Peer]);
}

/// Node 1 measures node 0 on one copy of segment 1 (its frames 1.2 s late: about 1.23 s
/// a copy), then asks for segment 2, which node 0 holds, with `ahead` seconds of buffer.
/// (Its buffer runs low in between: nothing is prefetched.)
fn measure_then_ask(net: &mut Net, ahead: f64) {
    net.load(0, &url(1), playback(0.0));
    net.run_for(Duration::from_secs(2));
    net.nodes[0].extra_delay = Duration::from_millis(1200);
    net.load(1, &url(1), playback(4.9));
    net.run_for(Duration::from_secs(5));
    net.input(1, Input::Playback(playback(1.0)));
    net.load(0, &url(2), playback(0.0));
    net.run_for(Duration::from_secs(2));
    net.load(1, &url(2), playback(ahead));
    net.run_for(Duration::from_secs(6));
}

/// [`measure_then_ask`] in a VOD title: node 1's sources and its requests.
fn ask_a_measured_peer(ahead: f64) -> (Vec<Source>, usize) {
    let mut net = meshed(2, 16, None);
    measure_then_ask(&mut net, ahead);
    (sources(&net, 1), net.nodes[1].sent_by_tag[4])
}

#[test]
fn a_measured_peer_is_asked_when_its_copy_fits_with_a_quarter_to_spare() {
    // 4.7 s of buffer, 3 s kept for the CDN: 1.7 s, more than the 1.23 s copy with a
    // quarter to spare (1.54 s), less than with half again (1.85 s). Node 0 is asked.
    assert_eq!(
        ask_a_measured_peer(4.7),
        (vec![Source::Peer, Source::Peer], 2)
    );
    // 4.3 s: 1.3 s, not enough even with a quarter: the CDN, node 0 not asked.
    assert_eq!(
        ask_a_measured_peer(4.3),
        (vec![Source::Peer, Source::Cdn], 1)
    );
}

/// Node 1 measures the CDN on segment 0, then [`measure_then_ask`] with 4 s of buffer.
/// Where segment 2 came from, live (`Some`: that many segments listed) or VOD.
fn four_seconds_of_buffer(live: Option<u64>) -> Source {
    let mut net = meshed(2, 17, live);
    net.load(1, &url(0), playback(0.0));
    net.run_for(Duration::from_secs(2));
    measure_then_ask(&mut net, 4.0);
    let got = sources(&net, 1);
    assert_eq!(
        got[..2],
        [Source::Cdn, Source::Peer],
        "the CDN and node 0 measured"
    );
    got[2]
}

/// A viewer keeps at least 1 s of buffer for a CDN fetch should a peer fail, and 3 s in
/// a VOD title. The simulator found the 1 s too little where CDN responses now and then
/// wait a second before their first byte: VOD viewers, who wait for a holder until the
/// reserve, stalled where plain hls.js did not; and 2 s too little once its viewers
/// played the rendition plain hls.js picks (docs/POLICY.md, "A CDN that is late now and
/// then"). With 4 s of buffer and a peer measured at 1.23 s a copy (1.54 s with a
/// quarter to spare), the live viewer has 3 s for it and asks; the VOD viewer has 1 s
/// and takes the CDN (with 2 s kept it asked).
#[test]
fn a_vod_viewer_keeps_three_seconds_of_buffer_for_the_cdn() {
    assert_eq!(four_seconds_of_buffer(Some(40)), Source::Peer);
    assert_eq!(four_seconds_of_buffer(None), Source::Cdn);
}
