//! The panic hook of builds with the standard panic runtime (tests, and
//! `HLSMESH_PANIC_MESSAGES=1 make wasm`).

use std::cell::RefCell;

use wasm_bindgen::JsValue;

use crate::Function;

thread_local! {
    static PANIC_SINK: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Reports a panic's message to the page (`sink(message)`) before the module traps, so
/// the shim can say why it handed loading back to hls.js. The shipped build panics with
/// `immediate-abort` (no message, no formatter in the wasm; see scripts/build-wasm.sh),
/// where there is nothing to report and the shim names the trap instead.
pub(crate) fn install(sink: &Function) {
    PANIC_SINK.with(|s| *s.borrow_mut() = Some(sink.clone()));
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        PANIC_SINK.with(|s| {
            if let Ok(sink) = s.try_borrow() {
                if let Some(f) = sink.as_ref() {
                    let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&message));
                }
            }
        });
    }));
}
