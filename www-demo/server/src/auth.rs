//! Who may call the HTTP routes: the API wants the server's token when it has one (`--token`),
//! the admin routes want the admin key.
//!
//! The token comes as `Authorization: Bearer TOKEN` or as the query parameter `token` (for a
//! client whose polling URL is a template it cannot add headers to). The admin key comes in the
//! `x-admin-key` header only: a page of another site can send neither that header (the admin
//! routes answer no CORS preflight) nor read the key, so it cannot work the admin API of a
//! server on the user's machine.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::ApiError;
use crate::query::query_param;
use crate::secret::same;
use crate::state::AppState;

/// The header that carries the admin key.
pub const ADMIN_KEY_HEADER: &str = "x-admin-key";

/// Middleware of the API routes: 401 without the server's token, when it has one.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = &state.config().token {
        if !carries_token(request.headers(), request.uri().query(), token) {
            let message = "this server wants its token: Authorization: Bearer TOKEN or ?token=";
            return ApiError::Unauthorized(message.to_owned()).into_response();
        }
    }
    next.run(request).await
}

/// Middleware of the admin routes: 401 without the admin key.
pub async fn require_admin_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let given = request.headers().get(ADMIN_KEY_HEADER);
    let authorized = match (given, state.admin_key()) {
        (Some(given), Some(key)) => same(given.as_bytes(), key.as_bytes()),
        _ => false,
    };
    if !authorized {
        let message = format!("the admin API wants the admin key in {ADMIN_KEY_HEADER}");
        return ApiError::Unauthorized(message).into_response();
    }
    next.run(request).await
}

/// True if the request carries `token` as a bearer token or in its query.
fn carries_token(headers: &HeaderMap, query: Option<&str>, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
        .is_some_and(|given| same(given, token.as_bytes()));
    bearer
        || query
            .and_then(|query| query_param(query, "token"))
            .is_some_and(|given| same(&given, token.as_bytes()))
}
