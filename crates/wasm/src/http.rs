//! One HTTP fetch, in a guard that aborts it when dropped.

use std::rc::Weak;

use hlsmesh_core::{FetchId, HttpResponse, Input};
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, Headers, RequestInit, Response};

use crate::driver::{describe, submit_weak, Shared};

/// A fetch in flight.
pub(crate) struct HttpFetch {
    controller: AbortController,
}

impl HttpFetch {
    /// Starts `GET url` (with a Range header for `range`, end exclusive, or `from..`);
    /// reports [`Input::HttpDone`].
    pub(crate) fn start(
        fetch: FetchId,
        url: &str,
        range: Option<(u64, u64)>,
        from: Option<u64>,
        weak: Weak<Shared>,
    ) -> Result<HttpFetch, JsValue> {
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
        let controller = AbortController::new()?;
        let init = RequestInit::new();
        init.set_method("GET");
        init.set_signal(Some(&controller.signal()));
        let header = match (range, from) {
            (Some((start, end)), _) if end > start => Some(format!("bytes={start}-{}", end - 1)),
            (_, Some(start)) => Some(format!("bytes={start}-")),
            _ => None,
        };
        if let Some(h) = header {
            let headers = Headers::new()?;
            headers.set("Range", &h)?;
            init.set_headers(&headers);
        }
        let promise = window.fetch_with_str_and_init(url, &init);
        spawn_local(async move {
            let result = async {
                let resp: Response = JsFuture::from(promise).await?.dyn_into()?;
                let status = resp.status();
                let buf = JsFuture::from(resp.array_buffer()?).await?;
                Ok::<_, JsValue>(HttpResponse {
                    status,
                    body: Uint8Array::new(&buf).to_vec().into(),
                })
            }
            .await;
            submit_weak(
                &weak,
                Input::HttpDone {
                    fetch,
                    result: result.map_err(|e| describe(&e)),
                },
            );
        });
        Ok(HttpFetch { controller })
    }
}

impl Drop for HttpFetch {
    fn drop(&mut self) {
        // Aborting a finished fetch is a no-op.
        self.controller.abort();
    }
}
