//! Small swarms, asserted properties. The big runs are benchmarks (`make bench-sim`).

use hlsmesh_sim::{
    run, AcrossSeeds, Class, Scenario, Sim, Summary, TrackerPolicy, TARGET_GAP_POINTS,
};

/// A short live scenario of `n` viewers on fast links.
fn small_live(n: usize, seed: u64) -> Scenario {
    let mut sc = Scenario::builtin("steady-live").expect("builtin");
    sc.viewers = n;
    sc.seed = seed;
    sc.duration_s = 80.0;
    sc.join_over_s = 6.0;
    sc.renditions_kbps = vec![1000.0];
    sc.classes = vec![Class {
        name: "fibre".into(),
        weight: 1.0,
        down_kbps: 100_000.0,
        up_kbps: 20_000.0,
        latency_ms: 10.0,
        jitter_ms: 2.0,
        loss: 0.0,
    }];
    sc
}

fn sane(s: &Summary) {
    assert!(s.played_bytes > 0, "nothing played");
    assert!(
        s.cdn_share >= s.bound_cdn_share - 1e-9,
        "CDN share {} below the physical bound {}",
        s.cdn_share,
        s.bound_cdn_share
    );
    assert!(s.ttff_ms[0] > 0.0);
    let c = &s.cdn_causes;
    assert_eq!(
        c.first_copy
            + c.copy_in_flight
            + c.no_copy_online
            + c.session_start
            + c.neighbour
            + c.copy_in_swarm
            + c.copy_elsewhere,
        s.cdn_fetches[0],
        "every whole CDN fetch has one cause: {c:?}"
    );
}

#[test]
fn no_stall_when_the_cdn_is_fast() {
    let s = run(small_live(6, 1));
    sane(&s);
    assert_eq!(s.stalls_per_viewer, 0.0, "{}", s.table());
    assert!(s.ttff_ms[2] < 2_000.0, "{}", s.table());
    // Players start 3 segments of 2 s behind the edge.
    assert!(s.live && s.latency_s[0] > 4.0, "{}", s.table());
    let behind = format!(" ms | {:.1} s | ", s.latency_s[0]);
    assert!(s.markdown_row().contains(&behind), "{}", s.markdown_row());
}

#[test]
fn offload_rises_with_swarm_size() {
    let small = run(small_live(2, 3));
    let large = run(small_live(12, 3));
    sane(&small);
    sane(&large);
    assert!(
        large.offload > small.offload,
        "offload {} at 12 viewers, {} at 2",
        large.offload,
        small.offload
    );
    assert!(large.p2p_share > 0.0);
}

#[test]
fn churn_does_not_stall_survivors() {
    let mut sc = small_live(10, 5);
    sc.session_mean_s = 25.0;
    sc.duration_s = 90.0;
    let outcome = hlsmesh_sim::Sim::new(sc.clone()).run();
    let s = Summary::of(&outcome);
    sane(&s);
    assert!(s.sessions > 10, "churn replaced nobody");
    // Viewers that stayed to the end lost peers mid-transfer and still played on.
    let survivors: Vec<_> = outcome
        .viewers
        .iter()
        .filter(|v| v.left_s >= sc.duration_s - 1e-6 && v.ttff_ms.is_some())
        .collect();
    assert!(!survivors.is_empty());
    for v in survivors {
        assert_eq!(v.stall_s, 0.0, "a survivor stalled: {v:?}");
    }
}

#[test]
fn same_seed_same_result() {
    let a = run(small_live(5, 7));
    let b = run(small_live(5, 7));
    let c = run(small_live(5, 8));
    let json = |s: &Summary| serde_json::to_string(s).expect("json");
    assert_eq!(json(&a), json(&b));
    assert_ne!(json(&a), json(&c), "the seed changes nothing");
}

/// A seed is one audience whatever the agents do: the same arrivals, access classes and
/// session lengths with another policy (here, other neighbourhood sizes, which change
/// every tracker sample and frame after the first announces), so that two policies are
/// compared on the same viewers. Churn replaces each viewer who leaves, so the arrivals
/// after the first ones follow the sessions' ends.
#[test]
fn a_seed_is_the_same_audience_under_another_policy() {
    let audience = |max_peers: usize| {
        let mut sc = Scenario::builtin("heavy-churn").expect("builtin");
        sc.viewers = 30;
        sc.duration_s = 240.0;
        sc.join_over_s = 20.0;
        sc.max_peers = max_peers;
        let out = Sim::new(sc).run();
        let viewers: Vec<(usize, u64, u64)> = out
            .viewers
            .iter()
            .map(|v| (v.class, (v.joined_s * 1e3) as u64, (v.left_s * 1e3) as u64))
            .collect();
        (viewers, out.totals.events)
    };
    let (a, events_a) = audience(12);
    let (b, events_b) = audience(4);
    assert_ne!(events_a, events_b, "the policy changed nothing");
    assert!(a.len() > 40, "churn replaced only {} viewers", a.len() - 30);
    assert_eq!(a, b);
    let classes: std::collections::HashSet<usize> = a.iter().map(|v| v.0).collect();
    assert!(classes.len() > 1, "{classes:?}");
}

/// `--seeds`: each size's runs are summed up over their seeds, sizes kept apart, in the
/// order they ran.
#[test]
fn a_spread_over_seeds_sums_each_size_up() {
    let mut runs = Vec::new();
    for n in [6, 3] {
        for seed in [11, 12, 13] {
            let mut sc = small_live(n, seed);
            sc.duration_s = 40.0;
            runs.push(run(sc));
        }
    }
    let across = AcrossSeeds::of(&runs);
    assert_eq!(across.len(), 2);
    for (a, group) in across.iter().zip(runs.chunks(3)) {
        assert_eq!(a.viewers, group[0].viewers);
        assert_eq!(a.seeds, vec![11, 12, 13]);
        let gaps: Vec<f64> = group.iter().map(|r| r.gap_points).collect();
        let mean = gaps.iter().sum::<f64>() / 3.0;
        assert!((a.gap_points[0] - mean).abs() < 1e-9, "{a:?}");
        assert_eq!(
            a.gap_points[1],
            gaps.iter().cloned().fold(f64::INFINITY, f64::min)
        );
        assert_eq!(
            a.gap_points[2],
            gaps.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        );
        assert!(
            a.gap_points[1] < a.gap_points[2],
            "the seeds changed nothing: {gaps:?}"
        );
        let within = gaps.iter().filter(|g| **g <= TARGET_GAP_POINTS).count();
        assert_eq!(a.within_target, within);
        let mean = |f: fn(&Summary) -> f64| group.iter().map(f).sum::<f64>() / 3.0;
        assert!((a.cdn_share - mean(|r| r.cdn_share)).abs() < 1e-9);
        assert!((a.bound_cdn_share - mean(|r| r.bound_cdn_share)).abs() < 1e-9);
        assert_eq!(
            a.peak_viewers,
            mean(|r| r.peak_viewers as f64).round() as usize
        );
        let worst = group.iter().map(|r| r.stall_ratio).fold(0.0, f64::max);
        assert_eq!(a.stall_ratio_max, worst);
        assert!(a
            .markdown_row()
            .starts_with(&format!("| {} | 11–13 | ", a.viewers)));
    }
    assert_eq!(across[0].viewers, 6, "sizes in the order they ran");
    assert!(AcrossSeeds::of(&[]).is_empty());
    // A seed exactly at the target's 5 points is within it.
    let mut at = runs[0].clone();
    at.gap_points = TARGET_GAP_POINTS;
    let mut over = runs[1].clone();
    over.gap_points = TARGET_GAP_POINTS + 0.01;
    assert_eq!(AcrossSeeds::of(&[at, over])[0].within_target, 1);
}

#[test]
fn upload_starved_bound_follows_mean_upload() {
    let mut sc = Scenario::builtin("upload-starved").expect("builtin");
    sc.viewers = 8;
    sc.duration_s = 60.0;
    sc.join_over_s = 4.0;
    let s = run(sc);
    sane(&s);
    // ū = r/2: at least half of what is played comes from the CDN, whatever the policy.
    assert!(s.bound_cdn_share > 0.4, "{}", s.table());
}

/// Where no neighbour can relay the stream in time, live viewers stop waiting for peers
/// after a run of CDN loads and keep the buffer plain hls.js keeps, near enough: waiting
/// for every segment until the reserve, they spent half their viewing time under 2 s
/// buffered (51%, 54% and 51% for seeds 1 to 3 here; now about 20%, the first loads
/// waiting; plain hls.js 0.1%).
#[test]
fn upload_starved_viewers_stop_waiting_for_peers_that_never_serve() {
    for seed in 1..=3 {
        let mut sc = Scenario::builtin("upload-starved").expect("builtin");
        sc.viewers = 20;
        sc.duration_s = 120.0;
        sc.seed = seed;
        let s = run(sc);
        sane(&s);
        assert!(s.low_buffer_ratio < 0.3, "seed {seed}: {}", s.table());
    }
}

#[test]
fn vod_plays_and_ends() {
    let mut sc = Scenario::builtin("vod-long-tail").expect("builtin");
    sc.viewers = 5;
    sc.duration_s = 60.0;
    sc.join_over_s = 10.0;
    sc.vod_segments = 40;
    let s = run(sc);
    sane(&s);
    assert!(s.latency_s == [0.0, 0.0], "no live edge in VOD");
    assert!(!s.live);
    // Printed as not applicable, not as a distance of 0 s.
    assert!(
        s.markdown_row().contains(" ms | — | "),
        "{}",
        s.markdown_row()
    );
    assert!(s.table().contains("— (VOD)"), "{}", s.table());
}

/// The player's ABR samples the time the shim shows hls.js for each delivery (for a
/// peer's or the cache's, the CDN path's time for those bytes), so waiting for peers does
/// not read as a slow network: with the agent, VOD viewers switch rendition as often as
/// plain hls.js's do (once, up from the start level). Sampling the real time, they
/// switched two to three times as often.
#[test]
fn vod_viewers_switch_renditions_as_plain_hls_js_does() {
    let switches = |p2p: bool| {
        let mut sc = Scenario::builtin("vod-long-tail").expect("builtin");
        sc.viewers = 20;
        sc.duration_s = 90.0;
        sc.join_over_s = 30.0;
        sc.p2p = p2p;
        let s = run(sc);
        sane(&s);
        s.switches_per_viewer
    };
    let (agent, plain) = (switches(true), switches(false));
    assert!(
        plain >= 0.9,
        "plain hls.js steps up from the start level: {plain}"
    );
    assert!(
        agent <= plain + 0.25,
        "agent {agent} against plain hls.js {plain}"
    );
}

/// `p2p = false` is plain hls.js: no agent, every load from the CDN. The baseline the
/// agent's stalls and start-up are compared with.
#[test]
fn without_the_agent_every_byte_comes_from_the_cdn() {
    let mut sc = small_live(6, 1);
    sc.p2p = false;
    let s = run(sc);
    sane(&s);
    assert_eq!(s.agent_inputs, 0, "no agent ran");
    assert_eq!(s.p2p_share, 0.0, "{}", s.table());
    assert!(s.cdn_share >= 1.0, "{}", s.table());
    assert_eq!(s.stalls_per_viewer, 0.0, "{}", s.table());
    assert_eq!(s.fallbacks, 0, "a load of its own is not a fallback");
    assert!(s.unused_download < 0.01, "{}", s.table());
}

/// A CDN whose responses wait before their first byte (`cdn_jitter`, exponential) delays
/// the first frame, which its first segment waits for.
#[test]
fn a_jittery_cdn_delays_the_first_frame() {
    let steady = run(small_live(6, 1));
    let mut sc = small_live(6, 1);
    sc.cdn_jitter_ms = 600.0;
    let jittery = run(sc);
    sane(&jittery);
    assert!(
        jittery.ttff_ms[0] > steady.ttff_ms[0] + 100.0,
        "first frame p50 {} ms with jitter, {} ms without",
        jittery.ttff_ms[0],
        steady.ttff_ms[0]
    );
    for s in [&steady, &jittery] {
        assert!((0.0..=1.0).contains(&s.low_buffer_ratio), "{}", s.table());
    }
}

/// In a 30-minute title, viewers spread over the whole of it find neighbours playing near
/// them (each stretch of the title has its own tracker swarm), so peers serve much of
/// what they play. With one swarm for the title, the gap to the bound was 29 points on
/// seed 1; with the stretches' swarms 17, and 15.6 while the first segment after a switch
/// to a rendition not received yet was sized from the master's `BANDWIDTH` alone. With
/// each viewer's draws from its own stream (another audience for each seed), seeds 1–3
/// were 17.1 points from the bound on average (16.3 to 18.1; seeds 1–40: 14.1) while the
/// player's ABR sampled the real time of each load. Sampling what the shim shows hls.js,
/// viewers stay on the top rendition as plain hls.js's do (fewer distinct bytes for the
/// bound, a rate the cable uplinks barely relay): 23.9 (22.4 to 26.6; seeds 1–20: 19.3),
/// and 18.7 (18.2 to 19.5; seeds 1–20: 15.6) with a look-ahead of up to 8 segments. One
/// seed moves by one or two points with any policy change; a swarm per title would be ten
/// more.
#[test]
fn vod_viewers_find_neighbours_near_their_position() {
    let runs: Vec<Summary> = (1..=3)
        .map(|seed| stall_free_gap("vod-long-tail", 100, seed, None).1)
        .collect();
    let across = &AcrossSeeds::of(&runs)[0];
    assert!(across.gap_points[0] < 21.5, "{across:?}");
    // What keeps it from the bound: viewers leave with copies nobody else holds, and
    // those ahead hold the next segments in other stretches' swarms.
    for s in &runs {
        let c = &s.cdn_causes;
        assert!(c.no_copy_online > 0 && c.copy_elsewhere > 0, "{c:?}");
    }
}

/// A lone viewer's fetches are all first copies. In a live swarm, every session's first
/// segment comes from the CDN (for time to first frame), and no copy is lost: caches
/// hold the live window, and every viewer is in the stream's one swarm.
#[test]
fn the_cdn_causes_name_first_copies_and_session_starts() {
    let lone = run(small_live(1, 1));
    sane(&lone);
    assert!(lone.cdn_fetches[0] > 0);
    assert_eq!(lone.cdn_causes.first_copy, lone.cdn_fetches[0]);
    let s = run(small_live(12, 1));
    sane(&s);
    let c = &s.cdn_causes;
    assert!((6..=12).contains(&c.session_start), "{c:?}");
    assert_eq!(c.no_copy_online + c.copy_elsewhere, 0, "{c:?}");
}

/// Runs a built-in scenario with `viewers` and `seed` (for `duration_s`, else the
/// scenario's 10 minutes), checks that it is sane and that nobody stalled, and returns
/// its gap to the bound in points, with its table.
fn stall_free_gap(
    name: &str,
    viewers: usize,
    seed: u64,
    duration_s: Option<f64>,
) -> (f64, Summary) {
    let mut sc = Scenario::builtin(name).expect("builtin");
    sc.viewers = viewers;
    sc.seed = seed;
    if let Some(d) = duration_s {
        sc.duration_s = d;
    }
    let s = run(sc);
    sane(&s);
    assert_eq!(s.stalls_per_viewer, 0.0, "{}", s.table());
    (s.gap_points, s)
}

#[test]
fn scenario_files_and_overrides() {
    for name in Scenario::BUILTIN {
        assert!(Scenario::builtin(name).is_some(), "{name}");
    }
    let sc = Scenario::parse_file(
        "# a mobile-heavy crowd\nbase = flash-crowd\nname = mobile\nviewers = 42\nclasses = m:1:12000:1500:40:20:0.01\nrenditions = 500, 1000\n",
    )
    .expect("parses");
    assert_eq!(sc.name, "mobile");
    assert_eq!(sc.viewers, 42);
    assert_eq!(sc.renditions_kbps, vec![500.0, 1000.0]);
    assert_eq!(sc.classes[0].up_kbps, 1500.0);
    assert!(Scenario::parse_file("viewers = many").is_err());
    assert!(Scenario::parse_file("colour = blue").is_err());
    assert_eq!(
        sc.tracker,
        TrackerPolicy::Random,
        "as WebTorrent trackers do"
    );
    let near = Scenario::parse_file("tracker = nearest").expect("parses");
    assert_eq!(near.tracker, TrackerPolicy::Nearest);
    assert!(Scenario::parse_file("tracker = closest").is_err());
    // Access links that could not carry a frame, and values a run cannot use: each is
    // refused with its line and what was wrong.
    for (bad, why) in [
        ("classes = m:1:12000:0:40:20:0.01", "up must be more than 0"),
        (
            "classes = m:1:0:1500:40:20:0.01",
            "down must be more than 0",
        ),
        (
            "classes = m:1:12000:-5:40:20:0.01",
            "up must be more than 0",
        ),
        (
            "classes = m:1:12000:1500:-1:20:0.01",
            "latency must be at least 0",
        ),
        ("classes = m:1:12000:1500:40:20:1", "loss must be"),
        (
            "classes = m:1:12000:NaN:40:20:0.01",
            "up must be more than 0",
        ),
        ("classes = m:1:12000:inf:40:20:0.01", "finite"),
        (
            "classes = m:0:12000:1500:40:20:0.01",
            "no classes of weight above 0",
        ),
        ("segment = 0", "segment: must be more than 0"),
        ("duration = -1", "duration: must be more than 0"),
        ("cdn_kbps = 0", "cdn_kbps: must be more than 0"),
        ("cdn_latency = NaN", "cdn_latency: must be at least 0"),
        (
            "renditions = 800, 0",
            "renditions: each must be more than 0",
        ),
        ("max_buffer = inf", "max_buffer: must be more than 0"),
        ("vod_seek = 1.5", "vod_seek: a share"),
        ("cdn_jitter = -1", "cdn_jitter: must be at least 0"),
        ("p2p = off", "expected true or false"),
        ("window = 0", "window: must be at least 1"),
        ("viewers = 0", "viewers: must be at least 1"),
    ] {
        let err = Scenario::parse_file(bad).unwrap_err();
        assert!(
            err.starts_with("line 1: ") && err.contains(why),
            "{bad}: {err}"
        );
    }
    assert!(Scenario::parse_file("classes = a:0:1:1:0:0:0;b:1:1:1:0:0:0").is_ok());
    assert!(Scenario::parse_file("session_mean = 0\njoin_over = 0\nvod_seek = 1").is_ok());
    let plain = Scenario::parse_file("p2p = false\ncdn_jitter = 200").expect("parses");
    assert!(!plain.p2p);
    assert_eq!(plain.cdn_jitter_ms, 200.0);
    assert!(
        sc.p2p && sc.cdn_jitter_ms == 0.0,
        "the agent, a steady CDN by default"
    );
}

/// A small audience whose first viewers are mostly slow uplinks (cable and mobile): they
/// fill each other's rooms before the fast ones arrive, and a full viewer neither offers
/// nor answers. A slow viewer among slow neighbours now offers beyond `max_peers` at its
/// announces, and the fast uplinks answer. This seed was 8.9 points from the bound
/// without it (2,237 CDN fetches of segments a neighbour held, against 425); it is 2.7,
/// and 2.6 since a busy holder is asked up to five times.
#[test]
fn slow_first_viewers_find_the_fast_uplinks_that_come_later() {
    let (gap, s) = stall_free_gap("flash-crowd", 100, 1, None);
    assert!(gap < 5.0, "gap {gap:.1} points: {}", s.table());
}

/// Under churn (sessions of 2 minutes), a newcomer finds its neighbours in its first
/// second: its first announce offers to ten random members, and it announces again
/// every 5 s while short of peers. Its second and third segments then come from peers,
/// not from the CDN. With five offers and 15 s between announces the gap to the bound
/// was 7.1 points here; it is 5.3.
#[test]
fn churn_newcomers_find_neighbours_at_once() {
    let (gap, s) = stall_free_gap("heavy-churn", 100, 1, None);
    assert!(gap < 6.2, "gap {gap:.1} points: {}", s.table());
}

/// Fast uplinks (the fibre viewers, 10 × the stream's rate) hold up to two and a half
/// times `max_peers`: fewer viewers then rank first among their neighbours for a new
/// live segment, so fewer take it from the CDN, and the segment still reaches everyone
/// in time. Over seeds 1–3 this run was 7.1 points from the bound on average; when a
/// fast uplink answered up to half again `max_peers` and offered a sixth more, 7.8 (each
/// seed was worse: 8.7 / 6.9 / 5.7 against 9.0 / 7.9 / 6.7). Since slow viewers among
/// slow neighbours offer beyond `max_peers`, 6.9, and since a busy holder is asked up
/// to five times, 6.3. One seed alone moves by a point with any policy change.
#[test]
fn fast_uplinks_with_large_neighbourhoods_take_fewer_cdn_copies() {
    let runs: Vec<Summary> = (1..=3)
        .map(|seed| stall_free_gap("steady-live", 200, seed, Some(120.0)).1)
        .collect();
    let across = &AcrossSeeds::of(&runs)[0];
    assert!(across.gap_points[0] < 7.5, "{across:?}");
}

/// A late peer transfer the receiver cancels leaves the chunks that arrived, and the CDN
/// fetches only the rest (a Range request), as in a browser. With the segment in the
/// single chunk the core sends at scale, nothing arrives before the whole.
#[test]
fn a_cancelled_peer_transfer_leaves_the_chunks_that_arrived() {
    let mut sc = Scenario::builtin("heavy-churn").expect("builtin");
    sc.viewers = 60;
    sc.duration_s = 120.0;
    let browser = run(sc.clone());
    sane(&browser);
    assert!(browser.peer_fallbacks > 0, "{}", browser.table());
    assert!(
        browser.cdn_fetches[1] > 0,
        "no CDN fetch of a segment's rest: {:?}",
        browser.cdn_fetches
    );
    sc.browser_chunks = false;
    let whole = run(sc);
    sane(&whole);
    assert!(whole.peer_fallbacks > 0, "{}", whole.table());
    assert_eq!(whole.cdn_fetches[1], 0, "{:?}", whole.cdn_fetches);
}

/// steady-live for 100 viewers and 2 minutes, changed by `adjust`; checks that it is
/// sane and that nobody stalled, and returns its table.
fn stall_free_two_minutes(adjust: impl FnOnce(&mut Scenario)) -> Summary {
    let mut sc = Scenario::builtin("steady-live").expect("builtin");
    sc.viewers = 100;
    sc.duration_s = 120.0;
    adjust(&mut sc);
    let s = run(sc);
    sane(&s);
    assert_eq!(s.stalls_per_viewer, 0.0, "{}", s.table());
    s
}

/// Every viewer's uplink at 3 × the 2 Mb/s stream, none faster: no fibre viewer to fetch
/// each new live segment alone. When the election took a 3 × uplink for one that could
/// (its threshold was the fast uplinks' 3 ×), each neighbourhood had a single CDN
/// fetcher, whose copies went out one after another: 62% of the bytes came from the CDN
/// on this seed. It now takes one from 6 ×, and a neighbourhood without one elects a
/// fetcher per four viewers: 32%.
#[test]
fn a_swarm_of_equal_uplinks_at_three_times_the_stream_elects_several_fetchers() {
    let s = stall_free_two_minutes(|sc| {
        sc.classes = vec![Class {
            name: "uniform".into(),
            weight: 1.0,
            down_kbps: 20_000.0,
            up_kbps: 6_000.0,
            latency_ms: 40.0,
            jitter_ms: 0.0,
            loss: 0.0,
        }]
    });
    let share = s.cdn_share;
    assert!(share < 0.45, "CDN share {share:.3}: {}", s.table());
}

/// A 1 Mb/s stream: its 2 s segments (250 kB) are smaller than a channel's low-water
/// mark (256 KiB). A holder's upload slot stayed busy only while that much was queued,
/// so it freed the moment a segment was queued, and a holder sent every copy asked of
/// it at once, each at a share of its uplink: 11.7% of the bytes came from the CDN on
/// this seed (in 10 minutes, peers were late 1,220 times; 19 now). The slot now stays
/// busy until less than `UPLOAD_TAIL` (64 KiB) of the copy is left: 4.5%.
#[test]
fn a_holder_sends_small_segments_one_copy_at_a_time() {
    let s = stall_free_two_minutes(|sc| sc.renditions_kbps = vec![1000.0]);
    let share = s.cdn_share;
    assert!(share < 0.08, "CDN share {share:.3}: {}", s.table());
}
