//! One agent alone: properties of its facade.

use hlsmesh_core::{Agent, Config, Input, Instant, Output, TrackerId};

/// Drains the agent; returns the wake-up it asked for.
fn drain(agent: &mut Agent) -> Instant {
    loop {
        if let Output::Timeout(at) = agent.poll_output() {
            return at;
        }
    }
}

/// While the offers of an announce are being gathered (ICE takes tens of milliseconds to
/// seconds in a browser), the agent must not ask to be woken at a time already past:
/// the browser would spin until gathering completes. (Found by the simulator.)
#[test]
fn no_busy_wakeups_while_offers_are_gathered() {
    let config = Config {
        trackers: vec!["wss://tracker.test".into()],
        seed: 1,
        ..Config::default()
    };
    let t0 = Instant::from_micros(1_000);
    let mut agent = Agent::new(config, t0);
    agent.handle_input(
        t0,
        Input::Playlist {
            url: "http://cdn.test/live/index.m3u8".into(),
            text: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n".into(),
        },
    );
    drain(&mut agent);
    let t1 = Instant::from_micros(50_000);
    agent.handle_input(
        t1,
        Input::TrackerOpen {
            tracker: TrackerId::from_index(0),
        },
    );
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
    let config = Config {
        trackers: vec!["wss://tracker.test".into()],
        seed: 2,
        ..Config::default()
    };
    let mut now = Instant::from_micros(10);
    let mut agent = Agent::new(config, now);
    agent.handle_input(
        now,
        Input::Playlist {
            url: "http://cdn.test/v/index.m3u8".into(),
            text: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n".into(),
        },
    );
    let mut at = drain(&mut agent);
    agent.handle_input(
        now,
        Input::TrackerOpen {
            tracker: TrackerId::from_index(0),
        },
    );
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
