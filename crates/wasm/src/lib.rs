//! hlsmesh in the browser: the sans-IO agent of `hlsmesh-core`, driven by real
//! RTCPeerConnections, fetch, WebSockets and one timer.
//!
//! The JavaScript shim creates one [`Agent`] per player and forwards hls.js's playlist
//! and segment loads to it. Every JS resource lives in a guard that releases it on drop;
//! [`Agent::destroy`] drops them all.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod driver;
mod http;
mod options;
mod rtc;
mod tracker_ws;

/// The heap: a TLSF allocator (constant-time, with in-place reallocation and adjacent
/// memory growths merged; about 1.6 KB of wasm) in place of std's dlmalloc (about 8 KB).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use hlsmesh_core::vecmap::VecMap;
use std::rc::Rc;

use hlsmesh_core::{Config, Input, LoadId, Playback};
use js_sys::Function;
use wasm_bindgen::prelude::*;

use driver::{performance_now, pump, submit, Driver, Shared};
use options::Options;

thread_local! {
    static PANIC_SINK: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Reports a panic to the page as a `panic` event before the module traps, so the shim
/// can hand loading back to hls.js.
fn install_panic_hook(sink: &Function) {
    PANIC_SINK.with(|s| *s.borrow_mut() = Some(sink.clone()));
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        PANIC_SINK.with(|s| {
            if let Ok(sink) = s.try_borrow() {
                if let Some(f) = sink.as_ref() {
                    let mut json = String::new();
                    let mut o = hlsmesh_core::json::ObjectWriter::new(&mut json);
                    o.string("type", "panic").string("message", &message);
                    o.finish();
                    let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&json));
                }
            }
        });
    }));
}

/// One viewer's hlsmesh agent.
#[wasm_bindgen]
pub struct Agent {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl Agent {
    /// Creates an agent. `options` is JSON: `{"trackers": ["wss://…"], "swarmId"?,
    /// "maxPeers"?, "cacheBytes"?, "iceServers"?, "integrity"?, "uploadBytesPerSec"?,
    /// "downloadOnly"?}`. `on_event` receives each event as JSON.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str, on_event: Function) -> Result<Agent, JsError> {
        let opts = Options::parse(options).map_err(|e| JsError::new(&e))?;
        install_panic_hook(&on_event);
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64
            ^ ((js_sys::Math::random() * 4_294_967_296.0) as u64) << 32;
        let defaults = Config::default();
        let config = Config {
            trackers: opts.trackers,
            swarm_id: opts.swarm_id,
            max_peers: opts.max_peers.unwrap_or(defaults.max_peers).clamp(1, 64),
            cache_bytes: opts.cache_bytes.unwrap_or(defaults.cache_bytes),
            seed,
            integrity: opts.integrity,
            upload_bytes_per_sec: opts.upload_bytes_per_sec,
            download_only: opts.download_only,
        };
        let ice_servers = match opts.ice_servers {
            Some(text) => {
                js_sys::JSON::parse(&text).map_err(|_| JsError::new("invalid iceServers"))?
            }
            None => js_sys::Array::new().into(),
        };
        let epoch = performance_now();
        let agent = hlsmesh_core::Agent::new(config, hlsmesh_core::Instant::ZERO);
        let shared = Rc::new(Shared {
            queue: RefCell::new(VecDeque::new()),
            driver: RefCell::new(Driver::new(agent, epoch, ice_servers)),
            loads: RefCell::new(VecMap::new()),
            next_load: Cell::new(1),
            last_stats: RefCell::new("{}".into()),
            on_event,
        });
        submit(&shared, Input::Timeout);
        Ok(Agent { shared })
    }

    /// hls.js loaded a playlist.
    pub fn playlist(&self, url: String, text: String) {
        submit(
            &self.shared,
            Input::Playlist {
                url,
                text: text.into_bytes().into(),
            },
        );
    }

    /// Names the swarm before the first playlist (see `hlsmesh_core::Agent::name_swarm`);
    /// ignored once it is named.
    #[wasm_bindgen(js_name = nameSwarm)]
    pub fn name_swarm(&self, name: String) {
        if let Ok(mut d) = self.shared.driver.try_borrow_mut() {
            let now = d.now();
            d.agent.name_swarm(now, &name);
        }
        submit(&self.shared, Input::Timeout);
    }

    /// hls.js asks for a segment. `callback(error, bytes, source, timingMs)` is called
    /// once, with `error` a string (then load it another way) or `bytes` a `Uint8Array`,
    /// `source` one of `"cache"`, `"peer"`, `"cdn"`, and `timingMs` how long the player's
    /// bandwidth estimator should see the load take. Returns the id for [`Agent::abort`].
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        &self,
        url: String,
        range_start: Option<f64>,
        range_end: Option<f64>,
        position: f64,
        buffered_end: f64,
        rate: f64,
        callback: Function,
    ) -> f64 {
        let id = self.shared.next_load.get();
        self.shared.next_load.set(id + 1);
        let load = LoadId(id);
        self.shared.loads.borrow_mut().insert(load, callback);
        let range = match (range_start, range_end) {
            (Some(s), Some(e)) if s >= 0.0 && e > s => Some((s as u64, e as u64)),
            _ => None,
        };
        submit(
            &self.shared,
            Input::Load {
                load,
                url,
                range,
                playback: Playback {
                    position,
                    buffered_end,
                    rate,
                },
            },
        );
        id as f64
    }

    /// hls.js gave up a load; its callback will not be called.
    pub fn abort(&self, id: f64) {
        let load = LoadId(id as u64);
        self.shared.loads.borrow_mut().remove(&load);
        submit(&self.shared, Input::Abort { load });
    }

    /// Where the player stands.
    pub fn playback(&self, position: f64, buffered_end: f64, rate: f64) {
        submit(
            &self.shared,
            Input::Playback(Playback {
                position,
                buffered_end,
                rate,
            }),
        );
    }

    /// Totals as JSON (`cdnBytes`, `peerBytes`, `uploadedBytes`, `peers`, …).
    pub fn stats(&self) -> String {
        match self.shared.driver.try_borrow() {
            Ok(d) => d.agent.stats().to_json(),
            Err(_) => self.shared.last_stats.borrow().clone(),
        }
    }

    /// The connected peers as JSON: `[{peer, bytesFrom, bytesTo, bytesPerSec}]`.
    pub fn peers(&self) -> String {
        match self.shared.driver.try_borrow() {
            Ok(d) => hlsmesh_core::page::peers_to_json(&d.agent.peers()),
            Err(_) => "[]".into(),
        }
    }

    /// Our peer id, hex.
    #[wasm_bindgen(js_name = peerId)]
    pub fn peer_id(&self) -> String {
        match self.shared.driver.try_borrow() {
            Ok(d) => hlsmesh_core::hex(&d.agent.peer_id()),
            Err(_) => String::new(),
        }
    }

    /// Stops the agent: closes every connection and socket, aborts fetches. Pending
    /// loads are failed so the player loads them another way.
    pub fn destroy(&self) {
        if let Ok(mut d) = self.shared.driver.try_borrow_mut() {
            d.stop();
        }
        let pending: Vec<Function> = self
            .shared
            .loads
            .borrow_mut()
            .drain()
            .map(|(_, f)| f)
            .collect();
        for cb in pending {
            let _ = cb.call3(
                &JsValue::NULL,
                &JsValue::from_str("agent destroyed"),
                &JsValue::NULL,
                &JsValue::from_str(""),
            );
        }
    }

    /// Whether [`Agent::destroy`] was called.
    #[wasm_bindgen(js_name = isDestroyed)]
    pub fn is_destroyed(&self) -> bool {
        self.shared
            .driver
            .try_borrow()
            .map(|d| d.is_stopped())
            .unwrap_or(false)
    }

    /// Test hook: panics inside the agent, as a bug would, to prove the page survives.
    #[wasm_bindgen(js_name = debugPanic)]
    pub fn debug_panic(&self) {
        panic!("hlsmesh debug panic requested");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(mut d) = self.shared.driver.try_borrow_mut() {
            d.stop();
        }
        pump(&self.shared);
    }
}
