//! One tracker WebSocket, in a guard that unhooks its handlers and closes it on drop.

use std::rc::Weak;

use hlsmesh_core::{Input, TrackerId};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::driver::{submit_weak, Shared};

type Handler = Closure<dyn FnMut(Event)>;

/// An open (or opening) tracker socket.
pub(crate) struct TrackerSocket {
    ws: WebSocket,
    _handlers: [Handler; 4],
}

impl TrackerSocket {
    pub(crate) fn open(
        tracker: TrackerId,
        url: &str,
        weak: Weak<Shared>,
    ) -> Result<TrackerSocket, JsValue> {
        let ws = WebSocket::new(url)?;
        let w = weak.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_| {
            submit_weak(&w, Input::TrackerOpen { tracker })
        });
        let w = weak.clone();
        let on_message = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
            let Ok(msg) = e.dyn_into::<MessageEvent>() else {
                return;
            };
            if let Some(text) = msg.data().as_string() {
                submit_weak(&w, Input::TrackerMessage { tracker, text });
            }
        });
        let w = weak.clone();
        let on_close = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
            let reason = match e.dyn_into::<CloseEvent>() {
                Ok(c) => format!("closed ({})", c.code()),
                Err(_) => "closed".into(),
            };
            submit_weak(&w, Input::TrackerClosed { tracker, reason });
        });
        let w = weak;
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_| {
            submit_weak(
                &w,
                Input::TrackerClosed {
                    tracker,
                    reason: "connection error".into(),
                },
            )
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(TrackerSocket {
            ws,
            _handlers: [on_open, on_message, on_close, on_error],
        })
    }

    pub(crate) fn send(&self, text: &str) -> Result<(), JsValue> {
        self.ws.send_with_str(text)
    }
}

impl Drop for TrackerSocket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}
