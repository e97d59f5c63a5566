//! The glue in a real browser: two agents in one page find each other through a real
//! WebTorrent tracker, connect over a real RTCDataChannel and move a segment that one
//! of them fetched from a real HTTP origin.
//!
//! Run by `make test-wasm`, which starts the tracker and the origin inside a
//! loopback-only network namespace and passes their addresses at build time.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::future::sleep;
use hlsmesh_wasm::Agent;
use js_sys::{Array, Function, Promise, Uint8Array};
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn endpoints() -> (&'static str, &'static str) {
    match (
        option_env!("HLSMESH_TEST_TRACKER"),
        option_env!("HLSMESH_TEST_ORIGIN"),
    ) {
        (Some(t), Some(o)) => (t, o),
        _ => panic!("build with HLSMESH_TEST_TRACKER and HLSMESH_TEST_ORIGIN set (make test-wasm)"),
    }
}

async fn fetch_text(url: &str) -> String {
    let window = web_sys::window().unwrap();
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .unwrap()
        .dyn_into()
        .unwrap();
    assert_eq!(resp.status(), 200, "origin did not serve {url}");
    JsFuture::from(resp.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap()
}

/// Calls `agent.load` and waits for its callback: (error, bytes, source).
async fn load(agent: &Agent, url: &str, buffered_ahead: f64) -> (JsValue, Vec<u8>, String) {
    let mut resolve: Option<Function> = None;
    let promise = Promise::new(&mut |res, _| resolve = Some(res));
    let resolve = resolve.unwrap();
    let cb = Closure::once_into_js(move |err: JsValue, data: JsValue, source: JsValue| {
        resolve
            .call1(&JsValue::NULL, &Array::of3(&err, &data, &source))
            .unwrap();
    });
    agent.load(
        url.into(),
        None,
        None,
        0.0,
        buffered_ahead,
        1.0,
        cb.unchecked_into(),
    );
    let result: Array = JsFuture::from(promise).await.unwrap().unchecked_into();
    let bytes = result
        .get(1)
        .dyn_into::<Uint8Array>()
        .map(|a| a.to_vec())
        .unwrap_or_default();
    (
        result.get(0),
        bytes,
        result.get(2).as_string().unwrap_or_default(),
    )
}

fn new_agent(tracker: &str, swarm: &str, events: Rc<RefCell<Vec<String>>>) -> Agent {
    let on_event = Closure::<dyn FnMut(String)>::new(move |e: String| events.borrow_mut().push(e));
    let options = format!(r#"{{"trackers":["{tracker}"],"swarmId":"{swarm}"}}"#);
    // Handed to JS: the page's garbage collector owns the handler from here on.
    Agent::new(&options, on_event.into_js_value().unchecked_into()).unwrap()
}

#[wasm_bindgen_test]
async fn two_agents_move_a_segment_over_a_real_data_channel() {
    let (tracker, origin) = endpoints();
    let playlist_url = format!("{origin}/media/vod/v0/index.m3u8");
    let playlist = fetch_text(&playlist_url).await;
    let first_segment = playlist
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .expect("playlist lists a segment")
        .trim()
        .to_string();
    let seg_url = format!("{origin}/media/vod/v0/{first_segment}");
    let swarm = format!("wasm-test-{}", js_sys::Math::random());

    let events_a = Rc::new(RefCell::new(Vec::new()));
    let a = new_agent(tracker, &swarm, events_a.clone());
    a.playlist(playlist_url.clone(), playlist.clone());
    let (err, from_cdn, source) = load(&a, &seg_url, 0.0).await;
    assert!(err.is_null(), "first load failed: {err:?}");
    assert_eq!(source, "cdn");
    assert!(!from_cdn.is_empty());

    // Let A's first announce reach the tracker before B offers.
    sleep(Duration::from_millis(500)).await;
    let events_b = Rc::new(RefCell::new(Vec::new()));
    let b = new_agent(tracker, &swarm, events_b.clone());
    b.playlist(playlist_url, playlist);
    let mut waited = 0;
    while !b.stats().contains("\"peers\":1") {
        assert!(
            waited < 150,
            "no peer connection after 15 s; events: {:?}",
            events_b.borrow()
        );
        sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    let (err, from_peer, source) = load(&b, &seg_url, 10.0).await;
    assert!(err.is_null(), "peer load failed: {err:?}");
    assert_eq!(source, "peer", "events: {:?}", events_b.borrow());
    assert_eq!(from_peer, from_cdn, "bytes differ between peer and origin");
    assert!(a
        .stats()
        .contains(&format!("\"uploadedBytes\":{}", from_cdn.len())));

    a.destroy();
    b.destroy();
    assert!(a.is_destroyed() && b.is_destroyed());
}

#[wasm_bindgen_test]
async fn a_load_the_origin_refuses_fails_cleanly_for_the_shim_to_retry() {
    let (tracker, origin) = endpoints();
    let agent = new_agent(
        tracker,
        "wasm-test-missing",
        Rc::new(RefCell::new(Vec::new())),
    );
    let (err, bytes, _) = load(&agent, &format!("{origin}/media/does-not-exist.ts"), 0.0).await;
    assert_eq!(err.as_string().as_deref(), Some("HTTP status 404"));
    assert!(bytes.is_empty());
    agent.destroy();
}
