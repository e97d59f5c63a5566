//! One agent alone: properties of its facade.

use hlsmesh_core::proto::Id20;
use hlsmesh_core::tracker::messages::{AnnounceEvent, TrackerMessage, TrackerRequest};
use hlsmesh_core::{
    stretch_hash, swarm_hash, Agent, Config, Event, Input, Instant, Output, TrackerId, STRETCH,
};

/// A playlist hls.js loaded, read by the reference reader.
fn playlist(url: &str, text: &str) -> Input {
    Input::Playlist {
        url: url.into(),
        playlist: hlsmesh_core::playlist::read(url, text.as_bytes()).expect("a valid playlist"),
    }
}

/// An agent with one tracker, as an embedder starts it.
fn agent_with_tracker(seed: u64, now: Instant) -> Agent {
    let config = Config {
        trackers: vec!["wss://tracker.test".into()],
        seed,
        ..Config::default()
    };
    Agent::new(config, now)
}

/// Tells the agent its tracker's socket opened.
fn open_tracker(agent: &mut Agent, now: Instant) {
    agent.handle_input(
        now,
        Input::TrackerOpen {
            tracker: TrackerId::from_index(0),
        },
    );
}

/// Drains the agent; returns the wake-up it asked for.
fn drain(agent: &mut Agent) -> Instant {
    loop {
        if let Output::Timeout(at) = agent.poll_output() {
            return at;
        }
    }
}

/// An agent with one tracker that has read a live playlist of one segment.
fn live_agent(seed: u64, now: Instant) -> Agent {
    let mut agent = agent_with_tracker(seed, now);
    agent.handle_input(
        now,
        playlist(
            "http://cdn.test/live/index.m3u8",
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n",
        ),
    );
    drain(&mut agent);
    agent
}

/// While the offers of an announce are being gathered (ICE takes tens of milliseconds to
/// seconds in a browser), the agent must not ask to be woken at a time already past:
/// the browser would spin until gathering completes. (Found by the simulator.)
#[test]
fn no_busy_wakeups_while_offers_are_gathered() {
    let t0 = Instant::from_micros(1_000);
    let mut agent = live_agent(1, t0);
    let t1 = Instant::from_micros(50_000);
    open_tracker(&mut agent, t1);
    // The agent now asks for offers (Output::CreateOffer); they are not answered yet.
    let mut now = drain(&mut agent).max(t1);
    for _ in 0..3 {
        agent.handle_input(now, Input::Timeout);
        let next = drain(&mut agent);
        assert!(
            next > now,
            "woken at {now:?}, asks to be woken again at {next:?}"
        );
        now = next;
    }
}

/// After any input, the wake-up the agent asks for is never in the past.
#[test]
fn wake_ups_are_never_in_the_past_during_a_session() {
    let mut now = Instant::from_micros(10);
    let mut agent = agent_with_tracker(2, now);
    agent.handle_input(
        now,
        playlist(
            "http://cdn.test/v/index.m3u8",
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n",
        ),
    );
    let mut at = drain(&mut agent);
    open_tracker(&mut agent, now);
    at = at.min(drain(&mut agent));
    for _ in 0..50 {
        now = at.max(now);
        agent.handle_input(now, Input::Timeout);
        at = drain(&mut agent);
        assert!(
            at > now,
            "asked to be woken at {at:?} after a timeout at {now:?}"
        );
    }
}

/// Runs one agent up to its first announce and returns the announce's `info_hash`.
fn first_announce_hash(name: Option<&str>, master_url: &str) -> hlsmesh_core::proto::Id20 {
    let t0 = Instant::from_micros(1_000);
    let mut agent = agent_with_tracker(3, t0);
    if let Some(name) = name {
        agent.name_swarm(t0, name);
    }
    agent.handle_input(
        t0,
        playlist(
            master_url,
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nlow/index.m3u8\n",
        ),
    );
    drain(&mut agent);
    let t1 = Instant::from_micros(50_000);
    open_tracker(&mut agent, t1);
    let until = t1 + core::time::Duration::from_secs(60);
    let announces = announces_until(&mut agent, t1, until);
    announces.first().expect("an announce").0
}

/// Viewers of one stream through two CDNs (or with per-viewer tokens in the path) share a
/// swarm when the embedder names it; without a name, the master URL names it.
#[test]
fn an_embedder_named_swarm_overrides_the_master_url() {
    let a = first_announce_hash(Some("show-42"), "https://cdn-a.test/show/master.m3u8");
    let b = first_announce_hash(Some("show-42"), "https://cdn-b.test/show/master.m3u8");
    assert_eq!(a, b);
    let plain_a = first_announce_hash(None, "https://cdn-a.test/show/master.m3u8");
    let plain_b = first_announce_hash(None, "https://cdn-b.test/show/master.m3u8");
    assert_ne!(plain_a, plain_b);
    assert_ne!(a, plain_a);
}

/// Another viewer's offer, as the tracker relays it in the swarm `hash`.
fn relayed_offer(hash: Id20) -> Input {
    Input::TrackerMessage {
        tracker: TrackerId::from_index(0),
        info_hash: Some(hash),
        message: TrackerMessage::Offer {
            peer: [7; 20],
            offer_id: [9; 20],
            sdp: "v=0\r\n".into(),
        },
    }
}

/// The edge hands over every frame it read, with its `info_hash`: offers for another
/// swarm are ignored, ours are taken up, and failures, warnings and unreadable frames
/// reach the page as tracker errors whatever the swarm.
#[test]
fn tracker_messages_for_another_swarm_are_ignored_and_errors_reported() {
    let t0 = Instant::from_micros(1_000);
    let ours = first_announce_hash(Some("show"), "https://cdn.test/show/master.m3u8");
    let mut agent = agent_with_tracker(3, t0);
    agent.name_swarm(t0, "show");
    open_tracker(&mut agent, t0);
    drain(&mut agent);
    let offer = relayed_offer;
    let outputs = |agent: &mut Agent, input| {
        agent.handle_input(t0, input);
        let mut seen = Vec::new();
        loop {
            match agent.poll_output() {
                Output::Timeout(_) => return seen,
                o => seen.push(o),
            }
        }
    };
    let accepts = |seen: &[Output]| {
        seen.iter()
            .filter(|o| matches!(o, Output::AcceptOffer { .. }))
            .count()
    };
    let mut other = ours;
    other[0] ^= 1;
    assert_eq!(accepts(&outputs(&mut agent, offer(other))), 0);
    assert_eq!(accepts(&outputs(&mut agent, offer(ours))), 1);
    for message in [
        TrackerMessage::Failure("Invalid request".into()),
        TrackerMessage::Warning("slow down".into()),
        TrackerMessage::Unreadable("tracker message is not a JSON object".into()),
    ] {
        let seen = outputs(
            &mut agent,
            Input::TrackerMessage {
                tracker: TrackerId::from_index(0),
                info_hash: Some(other),
                message,
            },
        );
        assert!(
            seen.iter()
                .any(|o| matches!(o, Output::Event(Event::TrackerError { .. }))),
            "{seen:?}"
        );
    }
}

/// An announce as sent: its swarm, its event and its offers' ids.
type Announce = (Id20, Option<AnnounceEvent>, Vec<Id20>);

/// Every announce an agent sends until `until`, with each offer it is asked for
/// gathered at once.
fn announces_until(agent: &mut Agent, mut now: Instant, until: Instant) -> Vec<Announce> {
    let mut seen = Vec::new();
    loop {
        let mut offers = Vec::new();
        let next = loop {
            match agent.poll_output() {
                Output::CreateOffer { conn } => offers.push(conn),
                Output::TrackerSend {
                    request:
                        TrackerRequest::Announce {
                            info_hash,
                            event,
                            offers,
                            ..
                        },
                    ..
                } => seen.push((
                    info_hash,
                    event,
                    offers.iter().map(|o| o.offer_id).collect(),
                )),
                Output::Timeout(at) => break at,
                _ => {}
            }
        };
        let gathered = offers.is_empty();
        for conn in offers {
            let sdp = "v=0\r\n".into();
            agent.handle_input(now, Input::OfferCreated { conn, sdp });
        }
        if now >= until && gathered {
            return seen;
        }
        now = next.max(now).min(until);
        agent.handle_input(now, Input::Timeout);
    }
}

/// A VOD title's viewers announce into the swarm of the stretch their playhead is in,
/// so that the tracker hands them neighbours playing near them; moving on, a viewer
/// leaves the stretch's swarm (`stopped`) and joins the next one's. A live stream keeps
/// the title's swarm.
/// A 300-segment VOD title of 2 s segments (with `#EXT-X-ENDLIST` unless `live`), as
/// its media playlist.
fn film(live: bool) -> Input {
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    for sn in 0..300 {
        text += &format!("#EXTINF:2,\nseg{sn}.ts\n");
    }
    if !live {
        text += "#EXT-X-ENDLIST\n";
    }
    playlist("https://cdn.test/film/index.m3u8", &text)
}

/// `secs` seconds into a test, from 1 ms.
fn at(secs: u64) -> Instant {
    Instant::from_micros(1_000 + secs * 1_000_000)
}

/// The player asks for segment `sn` of the film with its playhead at `position`.
fn load(agent: &mut Agent, now: Instant, sn: u64, position: f64) {
    agent.handle_input(
        now,
        Input::Load {
            load: hlsmesh_core::LoadId(sn),
            url: format!("https://cdn.test/film/seg{sn}.ts"),
            range: None,
            playback: hlsmesh_core::Playback {
                position,
                buffered_end: position,
                rate: 1.0,
            },
        },
    )
}

/// A viewer of the film whose first announce is out, at 1 s: its first load is of
/// segment `first`, with the playhead at 0 (where hls.js has it before it seeks).
fn film_viewer(live: bool, first: u64) -> (Agent, Vec<Announce>) {
    let mut agent = agent_with_tracker(4, at(0));
    agent.name_swarm(at(0), "film");
    agent.handle_input(at(0), film(live));
    load(&mut agent, at(0), first, 0.0);
    open_tracker(&mut agent, at(0));
    let first = announces_until(&mut agent, at(0), at(1));
    (agent, first)
}

#[test]
fn a_vod_viewer_announces_into_its_stretch_and_moves_with_the_playhead() {
    let title = swarm_hash("film");
    let stretch = |k| stretch_hash(&title, k);
    for live in [false, true] {
        let (mut agent, first) = film_viewer(live, 0);
        let expect = if live { title } else { stretch(0) };
        assert_eq!(
            first.first().map(|a| (a.0, a.1)),
            Some((expect, Some(AnnounceEvent::Started)))
        );
        // The playhead crosses into the second stretch (a seek would do the same).
        let position = STRETCH + 10.0;
        load(&mut agent, at(2), (position / 2.0) as u64, position);
        let moved = announces_until(&mut agent, at(2), at(3));
        if live {
            assert!(moved.is_empty(), "{moved:?}");
            continue;
        }
        assert_eq!(
            moved.iter().map(|a| (a.0, a.1)).collect::<Vec<_>>(),
            [
                (stretch(0), Some(AnnounceEvent::Stopped)),
                (stretch(1), Some(AnnounceEvent::Started))
            ],
        );
        assert!(moved[0].2.is_empty(), "no offers in a `stopped` announce");
        // Offers relayed in the stretch left behind are not taken up; the new one's are.
        let offer = relayed_offer;
        let accepts = |agent: &mut Agent, input| {
            agent.handle_input(at(3), input);
            let mut n = 0;
            loop {
                match agent.poll_output() {
                    Output::AcceptOffer { .. } => n += 1,
                    Output::Timeout(_) => return n,
                    _ => {}
                }
            }
        };
        assert_eq!(accepts(&mut agent, offer(stretch(0))), 0);
        assert_eq!(accepts(&mut agent, offer(stretch(1))), 1);
        // An answer to an offer made before the move is taken up all the same.
        agent.handle_input(
            at(3),
            Input::TrackerMessage {
                tracker: TrackerId::from_index(0),
                info_hash: Some(stretch(0)),
                message: TrackerMessage::Answer {
                    peer: [8; 20],
                    offer_id: first[0].2[0],
                    sdp: "v=0\r\n".into(),
                },
            },
        );
        let answered = loop {
            match agent.poll_output() {
                Output::AcceptAnswer { .. } => break true,
                Output::Timeout(_) => break false,
                _ => {}
            }
        };
        assert!(
            answered,
            "the answer from the stretch left behind was dropped"
        );
        // Within the stretch, the next segments move nothing.
        load(&mut agent, at(4), 70, 140.0);
        assert!(announces_until(&mut agent, at(4), at(5)).is_empty());
        // Scrubbing through three stretches before the announce is out: one `stopped`
        // for the swarm we were in, one announce into the last, none into those between.
        for (k, sn) in [(2, 125), (3, 185), (4, 245)] {
            load(&mut agent, at(6), sn, k as f64 * STRETCH + 5.0);
        }
        let scrubbed = announces_until(&mut agent, at(6), at(7));
        assert_eq!(
            scrubbed.iter().map(|a| (a.0, a.1)).collect::<Vec<_>>(),
            [
                (stretch(1), Some(AnnounceEvent::Stopped)),
                (stretch(4), Some(AnnounceEvent::Started))
            ],
        );
    }
}

/// hls.js seeks to its start position once the first segment is buffered, so a viewer
/// starting mid-title asks for that segment with its playhead still at 0: the segment,
/// far past the playhead, says which stretch the viewer plays in. Within a forward
/// buffer of the playhead, the playhead decides.
#[test]
fn a_vod_viewer_starting_mid_title_announces_into_the_stretch_it_loads() {
    let title = swarm_hash("film");
    let stretch = |k| stretch_hash(&title, k);
    // Segment 200 starts at 400 s: the fourth stretch.
    let (mut agent, first) = film_viewer(false, 200);
    assert_eq!(
        first.first().map(|a| (a.0, a.1)),
        Some((stretch(3), Some(AnnounceEvent::Started)))
    );
    // Playing there now: the next segments move nothing (announces, if any, are the
    // stretch's own, never a `stopped`).
    let stays = |agent: &mut Agent, from: u64| {
        announces_until(agent, at(from), at(from + 1))
            .iter()
            .all(|a| a.0 == stretch(3) && a.1 != Some(AnnounceEvent::Stopped))
    };
    load(&mut agent, at(2), 201, 400.5);
    assert!(stays(&mut agent, 2));
    // A load 30 s past the playhead, across a stretch's end: the playhead's stretch stays.
    load(&mut agent, at(4), 240, 450.0);
    assert!(stays(&mut agent, 4));
    // The playhead there: the move.
    load(&mut agent, at(6), 241, 481.0);
    assert!(!stays(&mut agent, 6));
}

/// Trackers relay an answer within the swarm it names, to the offerer as a member of
/// it. A VOD viewer that moves to the next stretch's swarm while its answer to an offer
/// from the last one is being built sends it to the swarm that carried the offer, where
/// the offerer is.
#[test]
fn an_answer_goes_to_the_swarm_that_carried_the_offer() {
    let title = swarm_hash("film");
    let (mut agent, _) = film_viewer(false, 0);
    agent.handle_input(at(1), relayed_offer(stretch_hash(&title, 0)));
    let conn = loop {
        match agent.poll_output() {
            Output::AcceptOffer { conn, .. } => break conn,
            Output::Timeout(_) => panic!("the offer was not taken up"),
            _ => {}
        }
    };
    load(&mut agent, at(2), 65, STRETCH + 10.0);
    drain(&mut agent);
    agent.handle_input(
        at(2),
        Input::AnswerCreated {
            conn,
            sdp: "v=0\r\n".into(),
        },
    );
    let to = loop {
        match agent.poll_output() {
            Output::TrackerSend {
                request: TrackerRequest::Answer { info_hash, .. },
                ..
            } => break info_hash,
            Output::Timeout(_) => panic!("no answer sent"),
            _ => {}
        }
    };
    assert_eq!(to, stretch_hash(&title, 0));
}

/// What a viewer nobody answers does over two minutes: its announces (when, how many
/// offers), and the most offers it held open at once. The tracker answers each announce
/// with a swarm of `swarm` members (us included) and an interval of 60 s.
fn looking_for_peers(swarm: u64) -> (Vec<(Instant, usize)>, usize) {
    use core::time::Duration;
    use std::collections::BTreeMap;

    let t0 = Instant::from_micros(1_000);
    let mut agent = live_agent(4, t0);
    open_tracker(&mut agent, t0);
    let until = t0 + Duration::from_secs(120);
    let mut now = t0;
    // Connection → when its offer was asked for, while the edge holds it open.
    let mut open: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut announces: Vec<(Instant, usize)> = Vec::new();
    let mut most_open = 0;
    while now < until {
        let mut gather = Vec::new();
        let mut answered = None;
        let next = loop {
            match agent.poll_output() {
                Output::CreateOffer { conn } => {
                    open.insert(conn.get(), now);
                    gather.push(conn);
                }
                Output::CloseConn { conn } => {
                    let since = open.remove(&conn.get()).expect("closes what it opened");
                    let lived = now.saturating_since(since);
                    assert!(
                        lived >= Duration::from_secs(15),
                        "an offer dropped after {lived:?}"
                    );
                }
                Output::TrackerSend {
                    request:
                        TrackerRequest::Announce {
                            info_hash, offers, ..
                        },
                    ..
                } => {
                    announces.push((now, offers.len()));
                    answered = Some(info_hash);
                }
                Output::Timeout(at) => break at,
                _ => {}
            }
        };
        most_open = most_open.max(open.len());
        let handed = !gather.is_empty() || answered.is_some();
        for conn in gather {
            let sdp = "v=0\r\n".into();
            agent.handle_input(now, Input::OfferCreated { conn, sdp });
        }
        if let Some(hash) = answered {
            let message = TrackerMessage::Announced {
                interval: Some(60),
                complete: Some(swarm),
                incomplete: Some(0),
            };
            let tracker = TrackerId::from_index(0);
            let info_hash = Some(hash);
            agent.handle_input(
                now,
                Input::TrackerMessage {
                    tracker,
                    info_hash,
                    message,
                },
            );
        }
        // What those inputs asked for is read at the same moment.
        if !handed {
            now = next.max(now);
            agent.handle_input(now, Input::Timeout);
        }
    }
    (announces, most_open)
}

/// A viewer nobody answers (a swarm whose members are all full) keeps looking: each
/// announce carries up to ten fresh offers, the next follows within 5 s, and an offer
/// still unanswered after 15 s is closed, so that no more than three announces' offers
/// (30 connections the browser holds open) wait at once.
#[test]
fn a_viewer_short_of_peers_offers_ten_at_a_time_every_five_seconds_and_drops_stale_offers() {
    let (announces, most_open) = looking_for_peers(500);
    assert!(announces.len() >= 20, "{announces:?}");
    assert!(announces.iter().all(|a| a.1 == 10), "{announces:?}");
    for pair in announces.windows(2) {
        let gap = pair[1].0.saturating_since(pair[0].0);
        assert!(
            gap <= core::time::Duration::from_millis(5_100),
            "{gap:?} between announces"
        );
    }
    assert!(
        (20..=30).contains(&most_open),
        "{most_open} unanswered offers open at once"
    );
}

/// Alone in its swarm as the tracker counts it, a viewer short of peers has nobody to
/// offer to: once the tracker has counted the swarm, it announces at the tracker's
/// interval, and newcomers' offers reach it.
#[test]
fn a_viewer_alone_in_its_swarm_announces_at_the_trackers_interval() {
    let (announces, _) = looking_for_peers(1);
    let at: Vec<u64> = announces
        .iter()
        .map(|a| a.0.as_micros() / 1_000_000)
        .collect();
    // The second announce was set before the first count came (5 s: eager).
    assert_eq!(at, [0, 5, 65], "{announces:?}");
}
