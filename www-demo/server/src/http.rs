//! The REST surface: start simulated jobs, read their snapshots, take messages from clients
//! that cannot keep a socket, draw thumbnails.
//!
//! Request bodies are read as bytes and parsed here rather than by axum's `Json` extractor, so
//! an empty body means "all defaults" whatever its content type, and every refusal is the same
//! JSON error shape the snapshot endpoints use for a 404.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jobsocket::core::protocol::{Channel, ServerFrame};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::jobs::plan::{CompositionSpec, GenerationSpec};
use crate::jobs::{CreateError, Started};
use crate::limits::MAX_CLIENT_FRAME_BYTES;
use crate::messages::{self, Refused};
use crate::redis::api as redis_api;
use crate::redis::runner::{JobSpec, now_ms};
use crate::scope::{ScopeError, Switch};
use crate::state::AppState;

/// Most clips a generation may ask for.
pub const MAX_CLIPS: u64 = 50;
/// Most progress steps per clip, or per composition.
pub const MAX_STEPS: u64 = 100;
/// Longest time between two events of a job: a minute.
pub const MAX_STEP_MS: u64 = 60_000;
/// Most frames a composition may encode.
pub const MAX_FRAMES: u64 = 10_000_000;
/// Longest prompt accepted; the simulation ignores it, but it must not be unbounded.
pub const MAX_PROMPT_CHARS: usize = 2_000;

/// Why a request was refused; answers `{"type":"error","code":…,"message":…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the body is not JSON of the right shape, or a value is out of range.
    BadRequest(String),
    /// 401: no token, or not the server's (see [`crate::auth`]).
    Unauthorized(String),
    /// 403: a page of an origin the server does not allow (see [`crate::origin`]).
    Forbidden(String),
    /// 404: no job with this id on this channel.
    NotFound(String),
    /// 413: a body over its route's limit.
    TooLarge(String),
    /// 503: the job store is full of running jobs.
    Busy(String),
    /// 503: the admin API switched this off on purpose (`fail-polls`, `fail-messages`,
    /// `refuse-ws`), or Redis does not answer.
    Unavailable(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, "bad_request", message),
            ApiError::Unauthorized(message) => (StatusCode::UNAUTHORIZED, "unauthorized", message),
            ApiError::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, "not_found", message),
            ApiError::TooLarge(message) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", message),
            ApiError::Busy(message) => (StatusCode::SERVICE_UNAVAILABLE, "busy", message),
            ApiError::Unavailable(message) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
        };
        let body = ErrorBody {
            kind: "error",
            code,
            message,
        };
        (status, Json(body)).into_response()
    }
}

/// The error body; a struct rather than `json!` so `type` comes first, as in every frame.
#[derive(Serialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'static str,
    message: String,
}

impl From<ScopeError> for ApiError {
    fn from(error: ScopeError) -> ApiError {
        match error {
            ScopeError::BadName => ApiError::BadRequest(error.to_string()),
            ScopeError::TooMany => ApiError::Busy(error.to_string()),
        }
    }
}

impl From<CreateError> for ApiError {
    fn from(error: CreateError) -> ApiError {
        match error {
            CreateError::Full { .. } => ApiError::Busy(error.to_string()),
            CreateError::TooLong { .. } => ApiError::BadRequest(error.to_string()),
        }
    }
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> ApiError {
        match refused {
            Refused::LongId => ApiError::BadRequest(refused.to_string()),
            Refused::Unrecorded(_) => ApiError::Unavailable(refused.to_string()),
        }
    }
}

/// `GET /healthz`: the server is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The body of `POST /api/v1/generations`; every field is optional.
#[derive(Debug, Default, Deserialize)]
struct GenerationRequest {
    clips: Option<u64>,
    steps_per_clip: Option<u64>,
    step_ms: Option<u64>,
    #[serde(default)]
    fail: bool,
    prompt: Option<String>,
}

/// The body of `POST /api/v1/compositions`; every field is optional.
#[derive(Debug, Default, Deserialize)]
struct CompositionRequest {
    total_frames: Option<u64>,
    steps: Option<u64>,
    step_ms: Option<u64>,
    #[serde(default)]
    fail: bool,
}

/// `POST /api/v1/generations`: starts a simulated generation; 201 with its id.
pub async fn create_generation(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: GenerationRequest = parse_body(&body)?;
    if let Some(prompt) = &request.prompt {
        if prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(ApiError::BadRequest(format!(
                "prompt must be at most {MAX_PROMPT_CHARS} characters"
            )));
        }
    }
    let spec = GenerationSpec {
        clips: bounded("clips", request.clips, 3, 1, MAX_CLIPS)? as u32,
        steps_per_clip: bounded("steps_per_clip", request.steps_per_clip, 4, 1, MAX_STEPS)? as u32,
        fail: request.fail,
    };
    let step = step(&state, request.step_ms)?;
    if let Some(hub) = state.redis() {
        let limits = &state.config().limits;
        let spec = JobSpec::Generation(spec);
        let started = redis_api::start_job(hub, spec, step, limits.max_jobs, limits.max_job_ms);
        return Ok(created(started.await?, step));
    }
    let started_at_ms = now_ms();
    let job = state.jobs().start_generation(spec, step)?;
    Ok(created(Started::of(&job, started_at_ms), step))
}

/// The body of `POST /api/v1/channels/{channel}/{id}/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelEventRequest {
    event: Option<String>,
    data: Option<serde_json::Value>,
}

/// `POST /api/v1/channels/{channel}/{id}/events` with `{"event":"approval.created","data":…}`:
/// publishes an event to an app channel (protocol v1's generic channel); 201 with its `seq`.
pub async fn publish_channel_event(
    State(state): State<AppState>,
    Path((channel, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ChannelEventRequest = parse_body(&body)?;
    let event = request
        .event
        .filter(|event| !event.is_empty() && event.len() <= crate::messages::MAX_ID_BYTES)
        .ok_or_else(|| ApiError::BadRequest("event must be a short non-empty string".into()))?;
    if Channel::from_name(&channel).is_some() {
        return Err(ApiError::BadRequest(format!(
            "{channel} is a job channel; publish to a channel of your own"
        )));
    }
    let data = jobsocket::core::protocol::RawJson::new(
        request.data.unwrap_or(serde_json::Value::Null).to_string(),
    )
    .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    if let Some(hub) = state.redis() {
        let seq = redis_api::publish(hub, &channel, &id, &event, &data).await?;
        return Ok((StatusCode::CREATED, Json(json!({ "seq": seq }))).into_response());
    }
    let channel = state
        .channels()
        .get_or_create(&channel, &id)
        .ok_or_else(|| ApiError::Busy("the server keeps no more channels".into()))?;
    let seq = channel.publish(event, data);
    Ok((StatusCode::CREATED, Json(json!({ "seq": seq }))).into_response())
}

/// The body of `POST /api/v1/messages`: a `message` frame without its `type`. Its `data` may be
/// any JSON and is not read (handling a message is counting it); the body as a whole must be
/// JSON all the same.
#[derive(Debug, Deserialize)]
struct MessageRequest {
    id: String,
    /// Required, as in the frame; the demo has nothing to do with it.
    #[serde(rename = "event")]
    _event: String,
}

/// `POST /api/v1/messages` with `{"id":…,"event":…,"data":…}`: an application message from a
/// client that polls because its network blocks WebSockets. It shares the sockets' memory of
/// ids and their counters ([`messages::receive`]), so a message sent here and again over a
/// socket, or the other way round, is handled once; every message taken, a duplicate too, is
/// answered 200 with the `ack` frame a socket would get. Not acked (the client retries): 503
/// while the admin API's `fail-messages` is on or Redis does not answer.
pub async fn post_message(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(unread_body)?;
    let scope = state.scope(query.as_deref())?;
    if scope.switch(Switch::FailMessages) {
        return Err(ApiError::Unavailable(
            "messages over HTTP are switched off (admin fail-messages)".to_owned(),
        ));
    }
    let request: MessageRequest = parse_json(&body)?;
    messages::receive(&state, &scope, &request.id).await?;
    let ack = ServerFrame::Ack { id: request.id }.encode();
    scope.acked();
    Ok(([(header::CONTENT_TYPE, "application/json")], ack).into_response())
}

/// A body axum could not read: 413 past the route's body limit, else 400.
fn unread_body(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!(
            "a message body is at most {MAX_CLIENT_FRAME_BYTES} bytes"
        ))
    } else {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// `POST /api/v1/compositions`: starts a simulated composition; 201 with its id.
pub async fn create_composition(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CompositionRequest = parse_body(&body)?;
    let spec = CompositionSpec {
        total_frames: bounded("total_frames", request.total_frames, 240, 1, MAX_FRAMES)?,
        steps: bounded("steps", request.steps, 8, 1, MAX_STEPS)? as u32,
        fail: request.fail,
    };
    let step = step(&state, request.step_ms)?;
    if let Some(hub) = state.redis() {
        let limits = &state.config().limits;
        let spec = JobSpec::Composition(spec);
        let started = redis_api::start_job(hub, spec, step, limits.max_jobs, limits.max_job_ms);
        return Ok(created(started.await?, step));
    }
    let started_at_ms = now_ms();
    let job = state.jobs().start_composition(spec, step)?;
    Ok(created(Started::of(&job, started_at_ms), step))
}

/// `GET /api/v1/generations/{id}`: the generation's snapshot.
pub async fn generation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    snapshot(&state, Channel::Generation, &id, query.as_deref()).await
}

/// `GET /api/v1/compositions/{id}`: the composition's snapshot.
pub async fn composition(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    snapshot(&state, Channel::Composition, &id, query.as_deref()).await
}

/// `GET /thumbnails/{job}/{n}.svg`: a small generated picture, so the demo's images load. Any
/// job id draws: the picture depends on the id only through its colour.
pub async fn thumbnail(Path((job, file)): Path<(String, String)>) -> Response {
    let clip = file
        .strip_suffix(".svg")
        .and_then(|number| number.parse::<u32>().ok());
    let Some(clip) = clip else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, "image/svg+xml"),
        (header::CACHE_CONTROL, "public, max-age=3600"),
    ];
    (headers, thumbnail_svg(&job, clip)).into_response()
}

/// Counts the request in its scope, fails it while the admin API says so, else answers the
/// snapshot.
async fn snapshot(
    state: &AppState,
    channel: Channel,
    id: &str,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let scope = state.scope(query)?;
    scope.polled();
    if scope.switch(Switch::FailPolls) {
        return Err(ApiError::Unavailable(
            "snapshots are switched off (admin fail-polls)".to_owned(),
        ));
    }
    if let Some(hub) = state.redis() {
        let snapshot = redis_api::snapshot(hub, channel, id).await?;
        return Ok(([(header::CONTENT_TYPE, "application/json")], snapshot).into_response());
    }
    let job = state
        .jobs()
        .get(channel, id)
        .ok_or_else(|| ApiError::NotFound(format!("no {channel} {id}")))?;
    Ok(Json(job.snapshot()).into_response())
}

/// The 201 answer to a created job: its id, and when it started (`startedAt`, ms since the
/// Unix epoch) and its step, from which a client can tell when each event was due.
fn created(job: Started, step: Duration) -> Response {
    let location = format!("/api/v1/{}s/{}", job.channel, job.id);
    let step_ms = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
    let body = json!({
        "id": job.id,
        "status": "queued",
        "startedAt": job.started_at_ms,
        "stepMs": step_ms,
    });
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

/// An empty body asks for every default; anything else must be a JSON object of the request.
pub(crate) fn parse_body<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(body)
}

/// The body as JSON of the request, which has no defaults: an empty body is a 400 too.
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::BadRequest(format!("invalid JSON body: {error}")))
}

fn bounded(
    name: &str,
    value: Option<u64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(value) if (min..=max).contains(&value) => Ok(value),
        Some(value) => Err(ApiError::BadRequest(format!(
            "{name} must be between {min} and {max}, got {value}"
        ))),
    }
}

/// The time between two events: the request's `step_ms`, or the server's `--step-ms`.
fn step(state: &AppState, step_ms: Option<u64>) -> Result<Duration, ApiError> {
    let default = state.config().step_ms;
    let ms = bounded("step_ms", step_ms, default, 0, MAX_STEP_MS)?;
    Ok(Duration::from_millis(ms))
}

/// A rounded rectangle with the clip number on it, its hue picked from the job id and clip
/// number so neighbouring clips look different.
fn thumbnail_svg(job: &str, clip: u32) -> String {
    // FNV-1a: a stable hash in a few lines, unlike std's randomly seeded one.
    let hash = job
        .bytes()
        .chain(clip.to_le_bytes())
        .fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
    let hue = hash % 360;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"160\" height=\"90\" viewBox=\"0 0 160 90\">\
         <rect width=\"160\" height=\"90\" rx=\"8\" fill=\"hsl({hue},60%,45%)\"/>\
         <text x=\"80\" y=\"57\" font-family=\"sans-serif\" font-size=\"32\" text-anchor=\"middle\" \
         fill=\"#fff\">{clip}</text></svg>"
    )
}
