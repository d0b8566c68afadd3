//! Conversions between the core's Rust values and the plain JS objects the API promises.

use js_sys::{Object, Reflect};
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::core::{
    ClientError, CompositionEvent, ConnectionState, GenerationEvent, JobEvent, StateChange,
};

/// Builds a plain object from (key, value) pairs.
pub fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in entries {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

fn plain<T: Serialize>(value: &T) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    // Payloads are structs of strings, numbers and booleans: serializing them cannot fail.
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

/// The event's payload as a plain object, exactly as in `docs/PROTOCOL.md`.
pub fn event_data(event: &JobEvent) -> JsValue {
    match event {
        JobEvent::Generation(event) => match event {
            GenerationEvent::Queued(data) => plain(data),
            GenerationEvent::Progress(data) => plain(data),
            GenerationEvent::ClipCompleted(data) => plain(data),
            GenerationEvent::StatusChange(data) => plain(data),
            GenerationEvent::Completed(data) => plain(data),
            GenerationEvent::Error(data) => plain(data),
        },
        JobEvent::Composition(event) => match event {
            CompositionEvent::EncodingProgress(data) => plain(data),
            CompositionEvent::Completed(data) => plain(data),
            CompositionEvent::Error(data) => plain(data),
        },
    }
}

/// `ConnectionState` in JS: `{ status, reason, clientId, serverHeartbeatMs }`.
pub fn state(state: &ConnectionState) -> JsValue {
    let optional_string = |value: Option<&str>| value.map_or(JsValue::NULL, JsValue::from_str);
    object(&[
        ("status", JsValue::from_str(state.status.as_str())),
        ("reason", optional_string(state.reason.map(|r| r.as_str()))),
        ("clientId", optional_string(state.client_id.as_deref())),
        (
            "serverHeartbeatMs",
            state
                .server_heartbeat_ms
                .map_or(JsValue::NULL, |ms| JsValue::from_f64(ms as f64)),
        ),
    ])
}

/// `StateChangeEvent` in JS: `{ status, previous, reason }`.
pub fn state_change(change: &StateChange) -> JsValue {
    object(&[
        ("status", JsValue::from_str(change.to.as_str())),
        ("previous", JsValue::from_str(change.from.as_str())),
        ("reason", JsValue::from_str(change.reason.as_str())),
    ])
}

/// `JobSocketError` in JS: `{ code, message }`.
pub fn error(code: &str, message: &str) -> JsValue {
    object(&[
        ("code", JsValue::from_str(code)),
        ("message", JsValue::from_str(message)),
    ])
}

pub fn client_error(failure: &ClientError) -> JsValue {
    error(failure.code(), &failure.to_string())
}
