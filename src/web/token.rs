//! The app's `token` option: a string, or a function returning a string or a promise of one,
//! called before every connection attempt. The answer goes back to the core as
//! `handle_token(request, …)`; a late answer for an abandoned attempt is ignored there.

use std::rc::Weak;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Receives the answer to a token request.
pub trait TokenListener {
    fn on_token(&self, request: u64, token: Result<String, String>);
}

/// Where tokens come from.
pub enum TokenSource {
    Fixed(String),
    Function(Function),
}

impl TokenSource {
    /// Reads the `token` option: `undefined` means no auth.
    pub fn from_option(value: JsValue) -> Result<Option<TokenSource>, String> {
        if value.is_undefined() || value.is_null() {
            Ok(None)
        } else if let Some(token) = value.as_string() {
            Ok(Some(TokenSource::Fixed(token)))
        } else if let Some(function) = value.dyn_ref::<Function>() {
            Ok(Some(TokenSource::Function(function.clone())))
        } else {
            Err("token must be a string or a function returning one (or a promise of one)".into())
        }
    }

    /// Gets a token and hands it to `listener`: at once for a string or a function that
    /// returns one, after the promise settles otherwise.
    pub fn fetch<L: TokenListener + 'static>(&self, request: u64, listener: Weak<L>) {
        let answer = |token: Result<String, String>| {
            if let Some(listener) = listener.upgrade() {
                listener.on_token(request, token);
            }
        };
        let function = match self {
            TokenSource::Fixed(token) => return answer(Ok(token.clone())),
            TokenSource::Function(function) => function,
        };
        let returned = match function.call0(&JsValue::UNDEFINED) {
            Ok(returned) => returned,
            Err(thrown) => return answer(Err(describe(&thrown))),
        };
        if let Some(token) = returned.as_string() {
            return answer(Ok(token));
        }
        // Any thenable, not only this realm's `Promise`: a token function from an iframe
        // returns that frame's promises.
        let thenable = returned.is_object()
            && Reflect::get(&returned, &JsValue::from_str("then"))
                .is_ok_and(|then| then.is_function());
        if !thenable {
            return answer(Err(
                "the token function returned neither a string nor a promise".into(),
            ));
        }
        let promise = Promise::resolve(&returned);
        wasm_bindgen_futures::spawn_local(async move {
            let token = match JsFuture::from(promise).await {
                Ok(value) => value
                    .as_string()
                    .ok_or_else(|| "the token promise resolved to a non-string".to_owned()),
                Err(thrown) => Err(describe(&thrown)),
            };
            if let Some(listener) = listener.upgrade() {
                listener.on_token(request, token);
            }
        });
    }
}

fn describe(thrown: &JsValue) -> String {
    thrown
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| thrown.as_string())
        .unwrap_or_else(|| "the token function failed".to_owned())
}
