//! Fetching a job's status endpoint for the polling fallback, with the page's own `fetch`
//! (cookies and all, as the app's own requests would). The answer goes back to the core as
//! `handle_poll_response(request, …)`: the body of a 2xx response, or why there was none.
//!
//! A body is held to `max_frame_bytes` like a frame, and refused before it is copied into wasm
//! memory: by its `Content-Length` when the server sends one, else by its length in UTF-16
//! units once read (at most its size in bytes); the core checks the exact size of the rest.

use std::rc::Weak;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use crate::core::body_too_large;

pub trait PollListener {
    fn on_poll(&self, request: u64, body: Result<String, String>);
}

/// Starts `GET url` and reports to `listener` when it settles.
pub fn fetch<L: PollListener + 'static>(
    request: u64,
    url: String,
    max_bytes: usize,
    listener: Weak<L>,
) {
    wasm_bindgen_futures::spawn_local(async move {
        let body = get(&url, max_bytes).await;
        if let Some(listener) = listener.upgrade() {
            listener.on_poll(request, body);
        }
    });
}

async fn get(url: &str, max_bytes: usize) -> Result<String, String> {
    let global = js_sys::global();
    let fetch = Reflect::get(&global, &JsValue::from_str("fetch"))
        .ok()
        .and_then(|fetch| fetch.dyn_into::<Function>().ok())
        .ok_or_else(|| "this runtime has no fetch".to_owned())?;
    let promise: Promise = fetch
        .call1(&global, &JsValue::from_str(url))
        .map_err(|error| describe(&error))?
        .dyn_into()
        .map_err(|_| "fetch returned no promise".to_owned())?;
    let response: Response = JsFuture::from(promise)
        .await
        .map_err(|error| describe(&error))?
        .dyn_into()
        .map_err(|_| "fetch resolved to no response".to_owned())?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let declared = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|length| length.trim().parse::<usize>().ok());
    if let Some(bytes) = declared.filter(|bytes| *bytes > max_bytes) {
        return Err(body_too_large(bytes, max_bytes));
    }
    let text = response.text().map_err(|error| describe(&error))?;
    let body = JsFuture::from(text)
        .await
        .map_err(|error| describe(&error))?;
    if let Some(units) = body
        .dyn_ref::<js_sys::JsString>()
        .map(|text| text.length() as usize)
        .filter(|units| *units > max_bytes)
    {
        return Err(body_too_large(units, max_bytes));
    }
    body.as_string()
        .ok_or_else(|| "the response body is not text".to_owned())
}

fn describe(thrown: &JsValue) -> String {
    thrown
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| thrown.as_string())
        .unwrap_or_else(|| "the request failed".to_owned())
}
