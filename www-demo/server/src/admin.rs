//! The admin API, under `/admin/` when the server runs with `--admin`: faults a test turns on
//! and off to watch a client cope, and counters to check what the client did.
//!
//! Every route answers `{"ok":true}`, but `stats`, which answers [`Stats`]. A switch takes
//! `{"on":true}` or `{"on":false}`; anything else is a 400 `bad_request`, like the job routes.
//!
//! Every route acts on the fault scope its `scope` query parameter names (`/admin/drop?scope=t1`
//! drops the sockets opened with `/ws?scope=t1` only), or on the unnamed scope without one: see
//! [`crate::scope`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::http::{ApiError, parse_body};
use crate::scope::{Stats, Switch};
use crate::state::AppState;

/// The body of a switch.
#[derive(Debug, Deserialize)]
struct Toggle {
    on: bool,
}

/// `POST /admin/drop`: drops the TCP connection of every open socket of the scope, without a
/// close frame. The jobs go on; a client that reconnects resubscribes with `since`. The body,
/// if any, must be a JSON object; its fields are ignored.
pub async fn drop_sockets(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    parse_body::<Map<String, Value>>(&body)?;
    state.scope(query.as_deref())?.drop_sockets();
    Ok(ok())
}

/// `POST /admin/mute-pongs {"on":bool}`: while on, `ping` frames go unanswered (they are not
/// answered later either); everything else, job events included, still flows.
pub async fn mute_pongs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set(&state, query.as_deref(), Switch::MutePongs, &body)
}

/// `POST /admin/refuse-ws {"on":bool}`: while on, WebSocket upgrades answer 503; open sockets
/// are not touched.
pub async fn refuse_ws(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set(&state, query.as_deref(), Switch::RefuseWs, &body)
}

/// `POST /admin/fail-polls {"on":bool}`: while on, the snapshot endpoints answer 503
/// `unavailable`.
pub async fn fail_polls(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set(&state, query.as_deref(), Switch::FailPolls, &body)
}

/// `POST /admin/fail-messages {"on":bool}`: while on, `POST /api/v1/messages` answers 503
/// `unavailable` and handles nothing, so a test can watch a client keep a message it could not
/// deliver over HTTP. A switch of its own rather than part of `fail-polls`: a test may want the
/// polls to fail and the messages to go, or the other way round. Sockets' messages still go.
pub async fn fail_messages(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    set(&state, query.as_deref(), Switch::FailMessages, &body)
}

/// `GET /admin/stats` (or `POST`): the scope's counters.
pub async fn stats(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Stats>, ApiError> {
    Ok(Json(state.scope(query.as_deref())?.stats()))
}

/// Any `/admin/` path while the admin API is off: as if the route did not exist.
pub async fn absent() -> StatusCode {
    StatusCode::NOT_FOUND
}

fn set(
    state: &AppState,
    query: Option<&str>,
    switch: Switch,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let toggle: Toggle = serde_json::from_slice(body).map_err(|error| {
        ApiError::BadRequest(format!(
            "expected {{\"on\":true}} or {{\"on\":false}}: {error}"
        ))
    })?;
    state.scope(query)?.set_switch(switch, toggle.on);
    Ok(ok())
}

fn ok() -> Json<Value> {
    Json(json!({"ok": true}))
}
