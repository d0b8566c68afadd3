//! Fetching a job's status endpoint for the polling fallback, with the page's own `fetch`
//! (cookies and all, as the app's own requests would). The answer goes back to the core as
//! `handle_poll_response(request, …)`: the body of a 2xx response, or why there was none.

use std::rc::Weak;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

pub trait PollListener {
    fn on_poll(&self, request: u64, body: Result<String, String>);
}

/// Starts `GET url` and reports to `listener` when it settles.
pub fn fetch<L: PollListener + 'static>(request: u64, url: String, listener: Weak<L>) {
    wasm_bindgen_futures::spawn_local(async move {
        let body = get(&url).await;
        if let Some(listener) = listener.upgrade() {
            listener.on_poll(request, body);
        }
    });
}

async fn get(url: &str) -> Result<String, String> {
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
    let text = response.text().map_err(|error| describe(&error))?;
    JsFuture::from(text)
        .await
        .map_err(|error| describe(&error))?
        .as_string()
        .ok_or_else(|| "the response body is not text".to_owned())
}

fn describe(thrown: &JsValue) -> String {
    thrown
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| thrown.as_string())
        .unwrap_or_else(|| "the request failed".to_owned())
}
