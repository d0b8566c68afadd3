//! The driver's HTTP requests, with the page's own `fetch` (cookies and all, as the app's own
//! requests would): a job's status endpoint for the polling fallback, answered to the core as
//! `handle_poll_response(request, …)` (the body of a 2xx response, or why there was none);
//! and an outbox message `POST`ed while polling, answered as `handle_message_response(request,
//! …)` (the HTTP status, or why no response came). Both carry the token as `Authorization:
//! Bearer` when the core gives one.
//!
//! A body is held to `max_frame_bytes` like a frame, and refused before it is copied into wasm
//! memory: by its `Content-Length` when the server sends one, else by its length in UTF-16
//! units once read (at most its size in bytes); the core checks the exact size of the rest.

use std::rc::Weak;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use crate::core::body_too_large;

pub trait PollListener {
    fn on_poll(&self, request: u64, body: Result<String, String>);
    fn on_message_posted(&self, request: u64, status: Result<u16, String>);
}

/// Starts `GET url` and reports to `listener` when it settles.
pub fn fetch<L: PollListener + 'static>(
    request: u64,
    url: String,
    token: Option<String>,
    max_bytes: usize,
    listener: Weak<L>,
) {
    wasm_bindgen_futures::spawn_local(async move {
        let body = get(&url, token.as_deref(), max_bytes).await;
        if let Some(listener) = listener.upgrade() {
            listener.on_poll(request, body);
        }
    });
}

/// Starts `POST url` with a JSON `body` and reports the response's status to `listener`.
pub fn post<L: PollListener + 'static>(
    request: u64,
    url: String,
    body: String,
    token: Option<String>,
    listener: Weak<L>,
) {
    wasm_bindgen_futures::spawn_local(async move {
        let status = send(&url, Some(&body), token.as_deref())
            .await
            .map(|response| response.status());
        if let Some(listener) = listener.upgrade() {
            listener.on_message_posted(request, status);
        }
    });
}

#[wasm_bindgen(module = "/src/web/http.js")]
extern "C" {
    /// `fetch`: a `GET`, or a `POST` of JSON when there is a body; the token as a bearer.
    #[wasm_bindgen(js_name = httpRequest, catch)]
    fn http_request(url: &str, body: Option<&str>, token: Option<&str>)
    -> Result<Promise, JsValue>;
}

/// One request, settled: the response, or why none came.
async fn send(url: &str, body: Option<&str>, token: Option<&str>) -> Result<Response, String> {
    let promise = http_request(url, body, token).map_err(|error| describe(&error))?;
    JsFuture::from(promise)
        .await
        .map_err(|error| describe(&error))?
        .dyn_into()
        .map_err(|_| "fetch resolved to no response".to_owned())
}

async fn get(url: &str, token: Option<&str>, max_bytes: usize) -> Result<String, String> {
    let response = send(url, None, token).await?;
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
