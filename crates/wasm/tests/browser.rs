//! The wasm surface in a real browser: what the TypeScript shim hands `Core` and what it
//! gets back, kind by kind (crates/wasm/src/lib.rs, `mod input` and `mod output`).
//!
//! The shim's side of the same contract, with real RTCPeerConnections, trackers and an
//! origin, is tested by the end-to-end suites (tests/e2e). Run by `make test-wasm`.
#![cfg(target_arch = "wasm32")]

use hlsmesh_wasm::{event, input, output, query, tracker, Core};
use js_sys::{Array, Function, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MASTER: &str = "https://cdn.test/live/master.m3u8";
const MEDIA: &str = "https://cdn.test/live/v0/index.m3u8";
const SEGMENT: &str = "https://cdn.test/live/v0/seg7.ts";

/// An agent with these trackers (one per line) and swarm name (named as the shim names
/// it: a `NAME_SWARM` input first), the rest defaults.
fn core(trackers: &str, swarm_id: Option<&str>) -> Core {
    let mut c = Core::new(
        trackers,
        -1.0,
        -1.0,
        false,
        -1.0,
        false,
        1.0,
        Function::new_with_args("message", "").unchecked_into(),
    );
    if let Some(name) = swarm_id {
        c.input(0.0, input::NAME_SWARM, 0.0, 0.0, Some(name.into()), None);
    }
    c
}

/// Polls until an output of `kind` (panics after 1,000 outputs without one).
fn next(core: &mut Core, kind: u8) -> Array {
    for _ in 0..1000 {
        let out = core.poll().unchecked_into::<Array>();
        if out.get(0).as_f64() == Some(f64::from(kind)) {
            return out;
        }
    }
    panic!("no output of kind {kind}");
}

/// All outputs up to the round's closing `TIMEOUT`.
fn round(core: &mut Core) -> Vec<Array> {
    let mut outs = Vec::new();
    loop {
        let out = core.poll().unchecked_into::<Array>();
        if out.get(0).as_f64() == Some(f64::from(output::TIMEOUT)) {
            return outs;
        }
        outs.push(out);
    }
}

/// hls.js asks for `SEGMENT` (this byte range) as load `id`, at the start of playback.
fn load(c: &mut Core, now: f64, id: f64, range: Option<(f64, f64)>) {
    let (start, end) = range.unwrap_or((-1.0, -1.0));
    let numbers = f64s(&[start, end, 0.0, 0.0, 1.0]);
    c.input(
        now,
        input::LOAD,
        id,
        0.0,
        Some(SEGMENT.into()),
        Some(numbers.into()),
    );
}

/// Tracker 0's frame said `kind` (no interval or counts), with this `info_hash` and these
/// ids, packed as the shim packs them.
fn heard(
    c: &mut Core,
    now: f64,
    kind: u8,
    hash: Option<&[u8]>,
    ids: Option<&[u8]>,
    text: Option<String>,
) {
    let mut data = f64s(&[-1.0, -1.0, -1.0]);
    data.extend(hash.unwrap_or_default());
    data.extend(ids.unwrap_or_default());
    c.input(
        now,
        input::TRACKER,
        0.0,
        f64::from(kind),
        text,
        Some(data.into()),
    );
}

/// The tracker announces of the rounds up to the first that carries offers (each offer
/// the agent asks for is gathered at once, at `now`), in order.
fn announces(c: &mut Core, now: f64) -> Vec<Array> {
    let mut seen = Vec::new();
    for _ in 0..20 {
        for out in round(c) {
            match out.get(0).as_f64().map(|k| k as u8) {
                Some(output::CREATE_OFFER) => {
                    let conn = out.get(1).as_f64().unwrap();
                    let sdp = Some("v=0\r\n".into());
                    c.input(now, input::OFFER_CREATED, conn, 0.0, sdp, None);
                }
                Some(output::TRACKER_ANNOUNCE) => seen.push(out),
                _ => {}
            }
        }
        if seen.last().is_some_and(|a| a.length() > 8) {
            return seen;
        }
        c.input(now, input::TIMEOUT, 0.0, 0.0, None, None);
    }
    panic!("no announce with offers: {seen:?}");
}

/// Numbers as the shim packs them (a `Float64Array`'s bytes).
fn f64s(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|n| n.to_le_bytes()).collect()
}

/// The master playlist with one variant, `MEDIA`, as the shim's reader hands it over.
fn master(core: &mut Core) {
    let text = format!("{MASTER}\n{MEDIA}\n");
    core.input(
        0.0,
        input::MASTER,
        0.0,
        1.0,
        Some(text),
        Some(f64s(&[800_000.0]).into()),
    );
}

/// `MEDIA` with these segments (URL, duration, byte range or `-1, -1`), numbered from 7.
fn media(core: &mut Core, end_list: bool, hashes: &str, segments: &[(&str, f64, f64, f64)]) {
    let mut text = format!("{MEDIA}\n{hashes}");
    let mut numbers = vec![2.0, f64::from(u8::from(end_list)), 7.0];
    for &(url, duration, start, end) in segments {
        text.push('\n');
        text.push_str(url);
        numbers.extend([duration, start, end]);
    }
    let n = segments.len() as f64;
    core.input(
        1.0,
        input::MEDIA,
        0.0,
        n,
        Some(text),
        Some(f64s(&numbers).into()),
    );
}

/// The master and its media playlist (segments 7 and 8).
fn with_playlists(core: &mut Core) {
    master(core);
    let seg8 = "https://cdn.test/live/v0/seg8.ts";
    media(
        core,
        false,
        "",
        &[(SEGMENT, 2.0, -1.0, -1.0), (seg8, 2.0, -1.0, -1.0)],
    );
    round(core);
}

/// An agent with integrity checks on, after the master and `media`: the first
/// `FETCH_HASHES` (the sidecar's fetch id and URL), if any.
fn sidecar_fetched(media: impl FnOnce(&mut Core)) -> (Core, Option<(f64, String)>) {
    let mut c = Core::new(
        "",
        -1.0,
        -1.0,
        true,
        -1.0,
        false,
        1.0,
        Function::new_with_args("message", "").unchecked_into(),
    );
    master(&mut c);
    media(&mut c);
    let fetch = round(&mut c)
        .iter()
        .find(|o| o.get(0).as_f64() == Some(f64::from(output::FETCH_HASHES)))
        .map(|o| (o.get(1).as_f64().unwrap(), o.get(2).as_string().unwrap()));
    (c, fetch)
}

#[wasm_bindgen_test]
fn a_media_playlist_is_taken_in_and_its_named_sidecar_asked_for() {
    let named = "https://cdn.test/hashes/v0.txt";
    let (_, fetch) = sidecar_fetched(|c| media(c, true, named, &[(SEGMENT, 2.0, 0.0, 1000.0)]));
    assert_eq!(fetch.map(|f| f.1).as_deref(), Some(named));
    let (_, fetch) = sidecar_fetched(|c| media(c, true, "", &[]));
    assert_eq!(
        fetch.map(|f| f.1),
        Some(format!("{MEDIA}.hashes")),
        "the default location"
    );
}

#[wasm_bindgen_test]
fn media_lines_and_numbers_that_disagree_are_not_taken_in() {
    // Two URLs for one segment's numbers: nothing happens (no sidecar is asked for), as
    // for any call the shim's reader would not make.
    let (_, fetch) = sidecar_fetched(|c| {
        let text = format!("{MEDIA}\n\n{SEGMENT}\n{SEGMENT}");
        let numbers = f64s(&[2.0, 1.0, 7.0, 2.0, -1.0, -1.0]);
        c.input(
            1.0,
            input::MEDIA,
            0.0,
            1.0,
            Some(text),
            Some(numbers.into()),
        );
    });
    assert_eq!(fetch, None);
}

/// A segment's bytes from a peer are checked against a list the shim read: loads of
/// segment 7 go to the CDN and the page hears no `hash list:` error for a good list, and
/// hears the reason for a refused one.
#[wasm_bindgen_test]
fn a_hash_list_the_shim_read_is_taken_or_its_reason_reported() {
    let playlist_error = |outs: &[Array]| {
        outs.iter()
            .filter(|o| o.get(0).as_f64() == Some(f64::from(output::EVENT)))
            .filter(|o| o.get(2).as_f64() == Some(f64::from(event::PLAYLIST_ERROR)))
            .filter_map(|o| o.get(4).as_string())
            .collect::<Vec<_>>()
    };
    let (mut c, fetch) = sidecar_fetched(|c| media(c, true, "", &[(SEGMENT, 2.0, -1.0, -1.0)]));
    let (id, _) = fetch.expect("the sidecar is asked for");
    let mut data = f64s(&[7.0, 752.0]);
    data.extend([9u8; 32]);
    c.input(
        5.0,
        input::HASHES,
        id,
        1.0,
        Some("seg7.ts".into()),
        Some(data.into()),
    );
    assert_eq!(playlist_error(&round(&mut c)), Vec::<String>::new());

    let (mut c, fetch) = sidecar_fetched(|c| media(c, true, "", &[(SEGMENT, 2.0, -1.0, -1.0)]));
    let (id, _) = fetch.expect("the sidecar is asked for");
    c.input(
        5.0,
        input::HASHES,
        id,
        -1.0,
        Some("HTTP status 404".into()),
        None,
    );
    assert_eq!(
        playlist_error(&round(&mut c)),
        ["hash list: HTTP status 404"]
    );
}

#[wasm_bindgen_test]
fn the_peer_id_is_a_string_of_hex() {
    let id = core("", None)
        .query(query::PEER_ID)
        .unchecked_into::<Array>()
        .get(0)
        .as_string()
        .expect("a string");
    // "-HM0001-" then twelve more bytes, hex.
    assert_eq!(id.len(), 40);
    assert!(id.starts_with("2d484d303030312d"), "{id}");
}

#[wasm_bindgen_test]
fn a_byte_range_the_playlist_places_is_known_and_cached_as_its_segment() {
    let mut c = core("", None);
    master(&mut c);
    media(
        &mut c,
        true,
        "",
        &[(SEGMENT, 2.0, 0.0, 752.0), (SEGMENT, 2.0, 752.0, 1504.0)],
    );
    round(&mut c);
    // hls.js asks for the second range: segment 8, fetched as that range and cached, so
    // asking again is answered from the cache (an unknown range would be fetched again).
    let body: Vec<u8> = (0..752)
        .map(|i| if i % 188 == 0 { 0x47 } else { i as u8 })
        .collect();
    for (id, at) in [(1.0, 10.0), (2.0, 30.0)] {
        load(&mut c, at, id, Some((752.0, 1504.0)));
        let first = round(&mut c)
            .into_iter()
            .find(|o| {
                [output::FETCH, output::DELIVER]
                    .map(f64::from)
                    .contains(&o.get(0).as_f64().unwrap_or(-1.0))
            })
            .expect("a fetch or a delivery");
        if id == 1.0 {
            assert_eq!(first.get(0).as_f64(), Some(f64::from(output::FETCH)));
            assert_eq!(
                (first.get(3).as_f64(), first.get(4).as_f64()),
                (Some(752.0), Some(1504.0))
            );
            let id = first.get(1).as_f64().unwrap();
            c.input(
                at + 5.0,
                input::HTTP_DONE,
                id,
                206.0,
                None,
                Some(body.clone().into()),
            );
            next(&mut c, output::DELIVER);
            round(&mut c);
        } else {
            assert_eq!(first.get(0).as_f64(), Some(f64::from(output::DELIVER)));
        }
    }
}

#[wasm_bindgen_test]
fn a_load_goes_out_as_a_fetch_and_comes_back_as_a_delivery() {
    let mut c = core("", None);
    with_playlists(&mut c);
    load(&mut c, 10.0, 7.0, None);
    let fetch = next(&mut c, output::FETCH);
    assert_eq!(fetch.get(2).as_string().as_deref(), Some(SEGMENT));
    // No range: both ends and the open-ended start are -1.
    assert_eq!(
        (
            fetch.get(3).as_f64(),
            fetch.get(4).as_f64(),
            fetch.get(5).as_f64()
        ),
        (Some(-1.0), Some(-1.0), Some(-1.0))
    );
    let body: Vec<u8> = (0..188 * 4)
        .map(|i| if i % 188 == 0 { 0x47 } else { i as u8 })
        .collect();
    let id = fetch.get(1).as_f64().unwrap();
    c.input(
        40.0,
        input::HTTP_DONE,
        id,
        200.0,
        None,
        Some(body.clone().into()),
    );
    let outs = round(&mut c);
    let of = |kind: u8| {
        outs.iter()
            .find(|o| o.get(0).as_f64() == Some(f64::from(kind)))
            .cloned()
            .unwrap_or_else(|| panic!("no output of kind {kind}"))
    };
    let deliver = of(output::DELIVER);
    assert_eq!(deliver.get(1).as_f64(), Some(7.0), "the shim's load number");
    let bytes: Uint8Array = deliver.get(2).dyn_into().unwrap();
    assert_eq!(bytes.to_vec(), body);
    assert_eq!(deliver.get(3).as_f64(), Some(2.0), "source: CDN");
    assert!(deliver.get(4).as_f64().unwrap() >= 0.0, "a timing in ms");
    let stats: Vec<f64> = c
        .query(query::STATS)
        .unchecked_into::<Array>()
        .iter()
        .map(|n| n.as_f64().unwrap())
        .collect();
    assert_eq!(stats.len(), 11, "eleven totals");
    assert_eq!(stats[0], body.len() as f64, "CDN bytes first: {stats:?}");
    assert_eq!(stats[4], 1.0, "one segment delivered: {stats:?}");
    let loaded = of(output::EVENT);
    assert_eq!(
        loaded.get(2).as_f64(),
        Some(f64::from(event::SEGMENT_LOADED))
    );
    assert_eq!(loaded.get(3).as_string().as_deref(), Some(SEGMENT));
    assert_eq!(loaded.get(4).as_f64(), Some(2.0), "source: CDN");
    assert_eq!(loaded.get(5).as_f64(), Some(body.len() as f64));
}

#[wasm_bindgen_test]
fn a_range_load_carries_its_byte_range() {
    let mut c = core("", None);
    with_playlists(&mut c);
    load(&mut c, 10.0, 1.0, Some((100.0, 300.0)));
    let fetch = next(&mut c, output::FETCH);
    assert_eq!(
        (fetch.get(3).as_f64(), fetch.get(4).as_f64()),
        (Some(100.0), Some(300.0))
    );
}

#[wasm_bindgen_test]
fn a_refused_or_failed_fetch_fails_the_load_for_the_shim_to_retry() {
    let mut c = core("", None);
    with_playlists(&mut c);
    load(&mut c, 10.0, 1.0, None);
    let id = next(&mut c, output::FETCH).get(1).as_f64().unwrap();
    c.input(
        20.0,
        input::HTTP_DONE,
        id,
        404.0,
        None,
        Some(Vec::new().into()),
    );
    let fail = next(&mut c, output::FAIL);
    assert_eq!(fail.get(1).as_f64(), Some(1.0));
    assert_eq!(fail.get(2).as_string().as_deref(), Some("HTTP status 404"));

    load(&mut c, 30.0, 2.0, None);
    let id = next(&mut c, output::FETCH).get(1).as_f64().unwrap();
    c.input(
        40.0,
        input::HTTP_FAILED,
        id,
        0.0,
        Some("Failed to fetch".into()),
        None,
    );
    let fail = next(&mut c, output::FAIL);
    assert_eq!(fail.get(1).as_f64(), Some(2.0));
}

#[wasm_bindgen_test]
fn a_tracker_is_dialled_and_hears_an_announce_once_open() {
    let mut c = core("ws://127.0.0.1:1/announce", Some("wasm-test"));
    c.input(0.0, input::TIMEOUT, 0.0, 0.0, None, None);
    let connect = next(&mut c, output::TRACKER_CONNECT);
    assert_eq!(connect.get(1).as_f64(), Some(0.0));
    assert_eq!(
        connect.get(2).as_string().as_deref(),
        Some("ws://127.0.0.1:1/announce")
    );
    with_playlists(&mut c);
    c.input(5.0, input::TRACKER_OPEN, 0.0, 0.0, None, None);
    // [6, tracker, infoHash, peerId, event, uploaded, downloaded, offerIds, sdp…]
    let announce = announces(&mut c, 6.0).pop().expect("an announce");
    let hash = Uint8Array::from(announce.get(2)).to_vec();
    assert_eq!(
        hash,
        hlsmesh_core::swarm_hash("wasm-test"),
        "the swarm named by NAME_SWARM"
    );
    assert_eq!(Uint8Array::from(announce.get(3)).length(), 20, "peer id");
    assert_eq!(announce.get(4).as_f64(), Some(1.0), "started");
    let offers = Uint8Array::from(announce.get(7)).to_vec();
    let sdps = announce.length() - 8;
    assert!(sdps >= 1, "offers carried");
    assert_eq!(offers.len() as u32, 20 * sdps, "one id per SDP");
    assert_eq!(announce.get(8).as_string().as_deref(), Some("v=0\r\n"));
    // The tracker's response for our swarm is taken; an offer relayed from another
    // viewer is answered through the same tracker once the answer is gathered.
    let peer_and_offer: Vec<u8> = [[7u8; 20], [9u8; 20]].concat();
    heard(
        &mut c,
        6.5,
        tracker::OFFER,
        Some(&hash),
        Some(&peer_and_offer),
        Some("v=0 remote\r\n".into()),
    );
    let accept = next(&mut c, output::ACCEPT_OFFER);
    assert_eq!(accept.get(2).as_string().as_deref(), Some("v=0 remote\r\n"));
    let conn = accept.get(1).as_f64().unwrap();
    c.input(
        6.6,
        input::ANSWER_CREATED,
        conn,
        0.0,
        Some("v=0 ours\r\n".into()),
        None,
    );
    // [14, tracker, infoHash, peerId, toPeerId, offerId, sdp]
    let answer = next(&mut c, output::TRACKER_ANSWER);
    assert_eq!(Uint8Array::from(answer.get(2)).to_vec(), hash);
    assert_eq!(Uint8Array::from(answer.get(4)).to_vec(), vec![7u8; 20]);
    assert_eq!(Uint8Array::from(answer.get(5)).to_vec(), vec![9u8; 20]);
    assert_eq!(answer.get(6).as_string().as_deref(), Some("v=0 ours\r\n"));
    // An offer whose ids are not two 20-byte ids (which the shim never sends: it reports
    // such a frame as `UNREADABLE` with its own reason) is unreadable, not answered.
    heard(
        &mut c,
        6.7,
        tracker::OFFER,
        Some(&hash),
        Some(&peer_and_offer[..39]),
        Some("v=0 remote\r\n".into()),
    );
    let outs = round(&mut c);
    assert!(
        !outs
            .iter()
            .any(|o| o.get(0).as_f64() == Some(f64::from(output::ACCEPT_OFFER))),
        "a short id was answered"
    );
    let short = outs
        .iter()
        .find(|o| o.get(0).as_f64() == Some(f64::from(output::EVENT)))
        .expect("a tracker error");
    assert_eq!(short.get(2).as_f64(), Some(f64::from(event::TRACKER_ERROR)));
    assert_eq!(short.get(4).as_string().as_deref(), Some("v=0 remote\r\n"));
    // A frame the shim could not read reaches the page as a tracker error.
    heard(
        &mut c,
        6.8,
        tracker::UNREADABLE,
        None,
        None,
        Some("tracker message is not JSON".into()),
    );
    let unreadable = next(&mut c, output::EVENT);
    assert_eq!(
        unreadable.get(2).as_f64(),
        Some(f64::from(event::TRACKER_ERROR))
    );
    assert_eq!(
        unreadable.get(4).as_string().as_deref(),
        Some("tracker message is not JSON")
    );
    // A tracker that goes away is reported as an event, and dialled again later.
    c.input(
        7.0,
        input::TRACKER_CLOSED,
        0.0,
        0.0,
        Some("closed (1006)".into()),
        None,
    );
    let error = next(&mut c, output::EVENT);
    assert_eq!(error.get(2).as_f64(), Some(f64::from(event::TRACKER_ERROR)));
    assert_eq!(
        error.get(3).as_string().as_deref(),
        Some("ws://127.0.0.1:1/announce")
    );
    assert_eq!(error.get(4).as_string().as_deref(), Some("closed (1006)"));
}

/// Loads segment 7 twice, the first fetch answered from the "CDN"; the second load's
/// first output kind (a `FETCH` again, or a `DELIVER` from the cache).
/// A VOD viewer's announces go to the swarm of the stretch its playhead is in; entering
/// the next, it leaves (`stopped`, no offers) and announces into the new one at once.
#[wasm_bindgen_test]
fn a_vod_viewer_entering_the_next_stretch_leaves_its_swarm_and_joins_the_next() {
    let mut c = core("ws://127.0.0.1:1/announce", Some("wasm-test"));
    master(&mut c);
    let seg8 = "https://cdn.test/live/v0/seg8.ts";
    media(
        &mut c,
        true,
        "",
        &[(SEGMENT, 2.0, -1.0, -1.0), (seg8, 2.0, -1.0, -1.0)],
    );
    c.input(2.0, input::TIMEOUT, 0.0, 0.0, None, None);
    round(&mut c);
    c.input(5.0, input::TRACKER_OPEN, 0.0, 0.0, None, None);
    // [6, tracker, infoHash, peerId, event, uploaded, downloaded, offerIds, sdp…]
    let hash = |a: &Array| Uint8Array::from(a.get(2)).to_vec();
    let event = |a: &Array| a.get(4).as_f64();
    let title = hlsmesh_core::swarm_hash("wasm-test");
    let first = announces(&mut c, 6.0);
    assert_eq!(first.len(), 1);
    assert_eq!(hash(&first[0]), title, "no load yet: the title's swarm");
    // The first load tells the agent where the playhead is: in stretch 0.
    load(&mut c, 7.0, 1.0, None);
    let moved = announces(&mut c, 8.0);
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert_eq!(hash(&moved[0]), title);
    assert_eq!(event(&moved[0]), Some(2.0), "stopped");
    assert_eq!(moved[0].length(), 8, "no offers when leaving");
    assert_eq!(hash(&moved[1]), hlsmesh_core::stretch_hash(&title, 0));
    assert_eq!(event(&moved[1]), Some(1.0), "started");
    // A seek past the stretch's end.
    let position = hlsmesh_core::STRETCH + 10.0;
    let numbers = f64s(&[-1.0, -1.0, position, position, 1.0]);
    c.input(
        9.0,
        input::LOAD,
        2.0,
        0.0,
        Some(seg8.into()),
        Some(numbers.into()),
    );
    let moved = announces(&mut c, 10.0);
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert_eq!(hash(&moved[0]), hlsmesh_core::stretch_hash(&title, 0));
    assert_eq!(event(&moved[0]), Some(2.0), "stopped");
    assert_eq!(hash(&moved[1]), hlsmesh_core::stretch_hash(&title, 1));
}

fn second_load_of_a_segment(c: &mut Core) -> u8 {
    with_playlists(c);
    load(c, 10.0, 1.0, None);
    let id = next(c, output::FETCH).get(1).as_f64().unwrap();
    let body: Vec<u8> = (0..188 * 4)
        .map(|i| if i % 188 == 0 { 0x47 } else { i as u8 })
        .collect();
    c.input(20.0, input::HTTP_DONE, id, 200.0, None, Some(body.into()));
    next(c, output::DELIVER);
    round(c);
    load(c, 30.0, 2.0, None);
    round(c)
        .iter()
        .filter_map(|o| o.get(0).as_f64().map(|k| k as u8))
        .find(|k| [output::FETCH, output::DELIVER].contains(k))
        .expect("a fetch or a delivery")
}

#[wasm_bindgen_test]
fn the_cache_bound_is_the_pages_and_out_of_range_peer_counts_are_accepted() {
    // Default cache: the second load is served from it.
    let mut c = core("", None);
    assert_eq!(second_load_of_a_segment(&mut c), output::DELIVER);
    // `cacheBytes: 0` keeps nothing; a peer count far over the cap is clamped, not refused.
    let mut c = Core::new(
        "",
        1e9,
        0.0,
        false,
        -1.0,
        true,
        2.0,
        Function::new_with_args("m", "").unchecked_into(),
    );
    assert_eq!(second_load_of_a_segment(&mut c), output::FETCH);
    assert_eq!(
        c.query(query::STATS)
            .unchecked_into::<Array>()
            .get(8)
            .as_f64(),
        Some(0.0),
        "no peers"
    );
}
