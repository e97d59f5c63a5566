//! The pump: JS callbacks queue an [`Input`]; the pump feeds the queue to the agent and
//! carries out every [`Output`], re-arming the agent's one timer when its deadline moves.
//!
//! Callbacks never touch the agent directly. A callback that fires while the pump is
//! running (a page handler calling back into the agent) only queues; the running pump
//! drains it before returning.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use hlsmesh_core::vecmap::VecMap;
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use hlsmesh_core::{Agent, ConnId, FetchId, Input, Instant, LoadId, Output, Source, TrackerId};
use js_sys::{Function, Uint8Array};
use wasm_bindgen::JsValue;

use crate::http::HttpFetch;
use crate::rtc::PeerConn;
use crate::tracker_ws::TrackerSocket;

/// What every callback holds (weakly): the input queue and the driver.
pub(crate) struct Shared {
    pub queue: RefCell<VecDeque<Input>>,
    pub driver: RefCell<Driver>,
    pub loads: RefCell<VecMap<LoadId, Function>>,
    pub next_load: Cell<u64>,
    pub last_stats: RefCell<String>,
    pub on_event: Function,
}

/// The agent and the JS resources it asked for, each in a guard that cleans up on drop.
pub(crate) struct Driver {
    pub agent: Agent,
    epoch_ms: f64,
    conns: VecMap<ConnId, PeerConn>,
    fetches: VecMap<FetchId, HttpFetch>,
    trackers: VecMap<TrackerId, TrackerSocket>,
    timer: Option<(Instant, Timeout)>,
    ice_servers: JsValue,
    stopped: bool,
}

/// Milliseconds from the page's time origin.
pub(crate) fn performance_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

impl Driver {
    pub(crate) fn new(agent: Agent, epoch_ms: f64, ice_servers: JsValue) -> Driver {
        Driver {
            agent,
            epoch_ms,
            conns: VecMap::new(),
            fetches: VecMap::new(),
            trackers: VecMap::new(),
            timer: None,
            ice_servers,
            stopped: false,
        }
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::from_millis_f64(performance_now() - self.epoch_ms)
    }

    /// Drops every JS resource: sockets close, connections close, fetches abort.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
        self.conns.clear();
        self.fetches.clear();
        self.trackers.clear();
        self.timer = None;
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Carries out outputs until the agent asks to be woken.
    fn drain(&mut self, shared: &Rc<Shared>) {
        let weak = Rc::downgrade(shared);
        loop {
            match self.agent.poll_output() {
                Output::Timeout(at) => {
                    self.arm_timer(at, &weak);
                    return;
                }
                Output::Deliver {
                    load,
                    data,
                    source,
                    timing,
                } => {
                    let bytes = Uint8Array::from(&data[..]);
                    let ms = timing.as_secs_f64() * 1000.0;
                    finish_load(
                        shared,
                        load,
                        JsValue::NULL,
                        bytes.into(),
                        source_name(source),
                        ms,
                    );
                }
                Output::Fail { load, reason } => {
                    finish_load(
                        shared,
                        load,
                        JsValue::from_str(&reason),
                        JsValue::NULL,
                        "",
                        0.0,
                    );
                }
                Output::Fetch {
                    fetch,
                    url,
                    range,
                    from,
                } => match HttpFetch::start(fetch, &url, range, from, weak.clone()) {
                    Ok(guard) => {
                        self.fetches.insert(fetch, guard);
                    }
                    Err(e) => queue(
                        shared,
                        Input::HttpDone {
                            fetch,
                            result: Err(describe(&e)),
                        },
                    ),
                },
                Output::CancelFetch { fetch } => {
                    self.fetches.remove(&fetch);
                }
                Output::TrackerConnect { tracker, url } => {
                    self.trackers.remove(&tracker);
                    match TrackerSocket::open(tracker, &url, weak.clone()) {
                        Ok(sock) => {
                            self.trackers.insert(tracker, sock);
                        }
                        Err(e) => queue(
                            shared,
                            Input::TrackerClosed {
                                tracker,
                                reason: describe(&e),
                            },
                        ),
                    }
                }
                Output::TrackerSend { tracker, text } => {
                    if let Some(sock) = self.trackers.get(&tracker) {
                        if let Err(e) = sock.send(&text) {
                            queue(
                                shared,
                                Input::TrackerClosed {
                                    tracker,
                                    reason: describe(&e),
                                },
                            );
                        }
                    }
                }
                Output::TrackerClose { tracker } => {
                    self.trackers.remove(&tracker);
                }
                Output::CreateOffer { conn } => {
                    self.open_conn(shared, conn, None);
                }
                Output::AcceptOffer { conn, sdp } => {
                    self.open_conn(shared, conn, Some(sdp));
                }
                Output::AcceptAnswer { conn, sdp } => {
                    if let Some(pc) = self.conns.get(&conn) {
                        pc.accept_answer(sdp);
                    }
                }
                Output::Transmit { conn, data } => {
                    if let Some(pc) = self.conns.get(&conn) {
                        match pc.send(&data) {
                            Ok(buffered) => {
                                queue(shared, Input::ChannelBuffered { conn, buffered })
                            }
                            Err(e) => queue(
                                shared,
                                Input::ConnClosed {
                                    conn,
                                    reason: describe(&e),
                                },
                            ),
                        }
                    }
                }
                Output::CloseConn { conn } => {
                    self.conns.remove(&conn);
                }
                Output::Event(ev) => {
                    let _ = shared
                        .on_event
                        .call1(&JsValue::NULL, &JsValue::from_str(&ev.to_json()));
                }
                _ => {}
            }
        }
    }

    fn open_conn(&mut self, shared: &Rc<Shared>, conn: ConnId, remote_offer: Option<String>) {
        let weak = Rc::downgrade(shared);
        match PeerConn::new(conn, &self.ice_servers, weak) {
            Ok(pc) => {
                match remote_offer {
                    None => pc.make_offer(),
                    Some(sdp) => pc.make_answer(sdp),
                }
                self.conns.insert(conn, pc);
            }
            Err(e) => queue(
                shared,
                Input::ConnClosed {
                    conn,
                    reason: describe(&e),
                },
            ),
        }
    }

    /// One timer per agent, re-armed only when the deadline changes.
    fn arm_timer(&mut self, at: Instant, weak: &Weak<Shared>) {
        if self.timer.as_ref().is_some_and(|(t, _)| *t == at) {
            return;
        }
        if at.as_micros() == u64::MAX {
            self.timer = None;
            return;
        }
        let delay_ms = at
            .saturating_since(self.now())
            .as_millis()
            .min(u128::from(u32::MAX / 2)) as u32;
        let weak = weak.clone();
        let timeout = Timeout::new(delay_ms, move || {
            if let Some(shared) = weak.upgrade() {
                if let Ok(mut d) = shared.driver.try_borrow_mut() {
                    d.timer = None;
                }
                submit(&shared, Input::Timeout);
            }
        });
        self.timer = Some((at, timeout));
    }

    /// Forgets the guard of a fetch that finished (dropping it later would abort nothing).
    fn settle(&mut self, input: &Input) {
        match input {
            Input::HttpDone { fetch, .. } => {
                self.fetches.remove(fetch);
            }
            Input::TrackerClosed { tracker, .. } => {
                self.trackers.remove(tracker);
            }
            Input::ConnClosed { conn, .. } => {
                self.conns.remove(conn);
            }
            _ => {}
        }
    }
}

fn source_name(s: Source) -> &'static str {
    match s {
        Source::Cache => "cache",
        Source::Peer => "peer",
        Source::Cdn => "cdn",
    }
}

/// Calls a load's callback once: `(error, bytes, source, timingMs)`.
fn finish_load(
    shared: &Rc<Shared>,
    load: LoadId,
    err: JsValue,
    data: JsValue,
    source: &str,
    timing_ms: f64,
) {
    let cb = shared.loads.borrow_mut().remove(&load);
    if let Some(cb) = cb {
        let args = js_sys::Array::of4(
            &err,
            &data,
            &JsValue::from_str(source),
            &JsValue::from_f64(timing_ms),
        );
        let _ = cb.apply(&JsValue::NULL, &args);
    }
}

/// A readable message from a JS exception.
pub(crate) fn describe(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    js_sys::Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// Queues an input without pumping (used while the pump runs).
pub(crate) fn queue(shared: &Shared, input: Input) {
    shared.queue.borrow_mut().push_back(input);
}

/// Queues an input and pumps, from a JS callback.
pub(crate) fn submit_weak(weak: &Weak<Shared>, input: Input) {
    if let Some(shared) = weak.upgrade() {
        submit(&shared, input);
    }
}

/// Queues an input and pumps.
pub(crate) fn submit(shared: &Rc<Shared>, input: Input) {
    queue(shared, input);
    pump(shared);
}

/// Feeds queued inputs to the agent and carries out its outputs, until the queue is empty.
/// Re-entrant calls return at once; the running pump picks up what they queued.
pub(crate) fn pump(shared: &Rc<Shared>) {
    let Ok(mut driver) = shared.driver.try_borrow_mut() else {
        return;
    };
    if driver.stopped {
        shared.queue.borrow_mut().clear();
        return;
    }
    let mut handled = false;
    loop {
        let next = shared.queue.borrow_mut().pop_front();
        let Some(input) = next else { break };
        driver.settle(&input);
        let now = driver.now();
        driver.agent.handle_input(now, input);
        driver.drain(shared);
        handled = true;
    }
    if handled {
        *shared.last_stats.borrow_mut() = driver.agent.stats().to_json();
    }
}
