//! The token of a socket, on a server that has one (`--token`): in the URL's query
//! (`?token=`), or as the socket's first frame (`auth`), for clients that keep it out of URLs,
//! which proxies and load balancers log.
//!
//! A socket with a wrong `?token=` is closed at once with [`UNAUTHORIZED`]; one without waits
//! at most `auth_timeout_ms` for its first frame, and anything but an `auth` frame with the
//! right token closes it the same way. A browser cannot read the status of a refused upgrade,
//! but it sees a close code; no `connected` frame goes out before the token is right.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use jobsocket::core::protocol::ClientFrame;

use super::CLOSE_GRACE;
use crate::query::query_param;
use crate::scope::Scope;
use crate::secret::same;

/// The close code of a socket without the server's token.
pub const UNAUTHORIZED: u16 = 4001;

/// The longest `requestId` a log line quotes.
const MAX_LOGGED_REQUEST_ID: usize = 100;

/// What the upgrade knows of a socket's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
    /// The server has no token, or the URL carried it.
    Given,
    /// The URL carried another token.
    Wrong,
    /// The URL carried none: the first frame may.
    Awaited,
}

/// Reads the URL's token against the server's `expected` one; logs a wrong one.
pub(super) fn token_of(query: &str, expected: Option<&str>) -> Token {
    let Some(expected) = expected else {
        return Token::Given;
    };
    match query_param(query, "token") {
        None => Token::Awaited,
        Some(given) if same(&given, expected.as_bytes()) => Token::Given,
        Some(_) => {
            log_refused(query, "a wrong token in its URL");
            Token::Wrong
        }
    }
}

/// Waits up to `timeout` for the first frame; true if it is `auth` with the `expected` token.
/// Logs the refusal otherwise.
pub(super) async fn first_frame_auth(
    socket: &mut WebSocket,
    expected: &str,
    timeout: Duration,
    query: &str,
) -> bool {
    let first = tokio::time::timeout(timeout, async {
        loop {
            match socket.recv().await {
                // The WebSocket layer answers pings itself; they are not protocol frames.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Text(text))) => return Some(text),
                _ => return None,
            }
        }
    })
    .await;
    let why = match first {
        Err(_) => "no auth frame in time",
        Ok(None) => "a first frame that is not text",
        Ok(Some(text)) => match ClientFrame::decode(text.as_str()) {
            Ok(ClientFrame::Auth { token }) if same(token.as_bytes(), expected.as_bytes()) => {
                return true;
            }
            Ok(ClientFrame::Auth { .. }) => "a wrong token in its auth frame",
            _ => "a first frame that is not auth",
        },
    };
    log_refused(query, why);
    false
}

/// The one stderr line of a socket refused for its token.
fn log_refused(query: &str, why: &str) {
    match query_param(query, "requestId") {
        Some(id) => {
            let id: String = String::from_utf8_lossy(&id)
                .chars()
                .take(MAX_LOGGED_REQUEST_ID)
                .collect();
            // Debug-quoted: the id comes from the network and must not forge log lines.
            eprintln!("ws: closed a socket with {why} (4001), requestId {id:?}");
        }
        None => eprintln!("ws: closed a socket with {why} (4001), no requestId"),
    }
}

/// A socket without the right token: closed with [`UNAUTHORIZED`], nothing else sent.
pub(super) async fn unauthorized(mut socket: WebSocket, scope: Arc<Scope>) {
    let _open = scope.socket_opened();
    let frame = CloseFrame {
        code: UNAUTHORIZED,
        reason: "unauthorized".into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        // Waits for the client's close frame (or the end), as the closing handshake asks.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = socket.recv().await {}
        })
        .await;
    }
}
