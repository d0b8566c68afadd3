//! Conversions between the core's Rust values and the plain JS objects the API promises.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsError, JsValue};

use crate::core::{
    ClientError, CompositionEvent, ConnectionState, GenerationEvent, Instant, JobEvent, JobFailure,
    JobResult, StateChange,
};

#[wasm_bindgen(module = "/src/bindings/deliver.js")]
extern "C" {
    /// A progress payload built in one call (see deliver.js).
    #[wasm_bindgen(js_name = progressData)]
    fn progress_data(
        step: &str,
        clip_number: u32,
        total_clips: u32,
        percentage: f64,
        message: &str,
    ) -> JsValue;

    /// An encoding-progress payload built in one call.
    #[wasm_bindgen(js_name = encodingProgressData)]
    fn encoding_progress_data(
        percentage: f64,
        frames_processed: f64,
        total_frames: f64,
        estimated_remaining: f64,
    ) -> JsValue;
}

/// Builds a plain object from (key, value) pairs.
pub fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in entries {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&object, &JsValue::from_str(key), value);
    }
    object.into()
}

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn number(value: f64) -> JsValue {
    JsValue::from_f64(value)
}

fn result(data: &JobResult) -> JsValue {
    object(&[
        ("video_url", text(&data.video_url)),
        ("thumbnail_url", text(&data.thumbnail_url)),
        ("duration", number(data.duration)),
    ])
}

fn failure(data: &JobFailure) -> JsValue {
    object(&[
        ("code", text(&data.code)),
        ("message", text(&data.message)),
        ("recoverable", JsValue::from_bool(data.recoverable)),
    ])
}

/// The event's payload as a plain object, exactly as in `docs/PROTOCOL.md`. Used for events
/// that did not arrive in a frame; those that did are handed over as the server's own JSON.
pub fn event_data(event: &JobEvent) -> JsValue {
    match event {
        JobEvent::Generation(event) => match event {
            GenerationEvent::Queued(data) => {
                object(&[("position", number(f64::from(data.position)))])
            }
            GenerationEvent::Progress(data) => progress_data(
                &data.step,
                data.clip_number,
                data.total_clips,
                data.percentage,
                &data.message,
            ),
            GenerationEvent::ClipCompleted(data) => object(&[
                ("clip_id", text(&data.clip_id)),
                ("thumbnail_url", text(&data.thumbnail_url)),
                ("duration", number(data.duration)),
            ]),
            GenerationEvent::StatusChange(data) => object(&[
                ("old_status", text(data.old_status.as_str())),
                ("new_status", text(data.new_status.as_str())),
                ("message", text(&data.message)),
            ]),
            GenerationEvent::Completed(data) => result(data),
            GenerationEvent::Error(data) => failure(data),
        },
        JobEvent::Composition(event) => match event {
            CompositionEvent::EncodingProgress(data) => encoding_progress_data(
                data.percentage,
                data.frames_processed as f64,
                data.total_frames as f64,
                data.estimated_remaining,
            ),
            CompositionEvent::Completed(data) => result(data),
            CompositionEvent::Error(data) => failure(data),
        },
    }
}

/// `ConnectionState` in JS: `{ status, reason, attempt, nextRetryAt, connectedAt,
/// disconnectedAt, lastError, requestId, clientId, outboxSize, recovered, transport,
/// serverHeartbeatMs }`, times in epoch milliseconds. Which `transport` and `nextRetryAt` go
/// with which `status` is the core's to say; types.rs declares the pairs it produces.
pub fn state(state: &ConnectionState, epoch_millis: impl Fn(Instant) -> f64) -> JsValue {
    let optional_text = |value: Option<&str>| value.map_or(JsValue::NULL, JsValue::from_str);
    let time = |value: Option<Instant>| {
        value.map_or(JsValue::NULL, |instant| number(epoch_millis(instant)))
    };
    object(&[
        ("status", text(state.status.as_str())),
        ("reason", optional_text(state.reason.map(|r| r.as_str()))),
        ("attempt", number(f64::from(state.attempt))),
        ("nextRetryAt", time(state.next_retry_at)),
        ("connectedAt", time(state.connected_at)),
        ("disconnectedAt", time(state.disconnected_at)),
        (
            "lastError",
            state
                .last_error
                .as_ref()
                .map_or(JsValue::NULL, client_error),
        ),
        ("requestId", optional_text(state.request_id.as_deref())),
        ("clientId", optional_text(state.client_id.as_deref())),
        ("outboxSize", number(state.outbox_size as f64)),
        ("recovered", JsValue::from_bool(state.recovered)),
        ("transport", optional_text(state.transport)),
        (
            "serverHeartbeatMs",
            state
                .server_heartbeat_ms
                .map_or(JsValue::NULL, |ms| number(ms as f64)),
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

/// `JobSocketError` in JS. An error the server reported has the code "server_error" and the
/// server's own code as `serverCode`, so `code` stays a closed set an app can switch on; when
/// it is about one job, it names it (`channel`, `jobId`).
pub fn client_error(failure: &ClientError) -> JsValue {
    let mut entries = vec![
        ("code", JsValue::from_str(failure.code())),
        ("message", JsValue::from_str(&failure.to_string())),
    ];
    if let ClientError::Server { code, job, .. } = failure {
        entries.push(("serverCode", JsValue::from_str(code)));
        if let Some((channel, id)) = job {
            entries.push(("channel", JsValue::from_str(channel.as_str())));
            entries.push(("jobId", JsValue::from_str(id)));
        }
    }
    object(&entries)
}

/// `error` with a `code` property added: the JobSocket constructor's option errors carry
/// "invalid_options", so an app can tell them from other failures without parsing messages.
pub fn coded(error: JsError, code: &str) -> JsValue {
    let error = JsValue::from(error);
    // `JsError` is a JS `Error`, an ordinary extensible object: setting a property cannot fail.
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error
}
