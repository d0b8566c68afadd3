//! The WebSocket at `/ws`: subscriptions to jobs, heartbeats, acknowledged messages.
//!
//! Each socket has three kinds of task:
//!
//! - the connection task (the upgrade's future) reads frames and answers them;
//! - one writer task owns the socket's write half and sends what arrives on an mpsc queue, so
//!   replies and job events never interleave inside a frame and a slow client slows only its
//!   own tasks (the queue is bounded);
//! - one forwarding task per subscription sends `subscribed`, the replay and the live events
//!   (`ws/forward.rs`).
//!
//! The forwarding tasks belong to [`Subscriptions`], which aborts them when the connection task
//! ends, however it ends: no task outlives its socket.
//!
//! Before any of that, the upgrade checks the page's origin (403, see [`crate::origin`]) and
//! takes one of the server's `max_connections` places (503 when none is left); a server with a
//! token wants it first (`ws/handshake.rs`). Then the server's limits (see
//! [`crate::Limits`]) close a socket that sends nothing for `idle_timeout_ms` with [`IDLE`],
//! and one whose client does not take a frame within `send_timeout_ms` with
//! [`SLOW_CONSUMER`].

mod forward;
mod handshake;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use jobsocket::core::protocol::{Channel, ClientFrame, ServerFrame};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use self::handshake::UNAUTHORIZED;
use self::handshake::{Token, first_frame_auth, token_of, unauthorized};
use crate::http::ApiError;
use crate::limits::MAX_CLIENT_FRAME_BYTES;
use crate::messages::{self, MAX_ID_BYTES, Refused};
use crate::scope::{Scope, Switch};
use crate::state::AppState;

/// Frames waiting for the writer before senders wait: backpressure from a slow client. The
/// queue is bounded, and a frame the writer cannot hand to the client within
/// `send_timeout_ms` ends the socket, so a client that stops reading holds this much at most.
const OUTBOX_FRAMES: usize = 64;

/// Subscriptions one socket may hold; finished ones are forgotten first.
const MAX_SUBSCRIPTIONS: usize = 1_000;

/// How long a closing socket may take to flush its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The close code of a socket that sent no frame for `idle_timeout_ms`.
pub const IDLE: u16 = 4002;

/// The close code of a socket whose client did not take a frame within `send_timeout_ms`.
pub const SLOW_CONSUMER: u16 = 4008;

/// `GET /ws`: upgrades to a WebSocket; answers 403 to a page of an origin the server does not
/// allow, and 503 while the admin API refuses upgrades or when `max_connections` sockets are
/// open. The query's `token` is checked when the server has one; `requestId` names the socket in
/// the log line of a refused token; `scope` names its fault scope (see [`crate::scope`]);
/// anything else is ignored.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if !state.config().origins.websocket_allowed(&headers) {
        let message = "WebSocket upgrades from this page's origin are not allowed".to_owned();
        return ApiError::Forbidden(message).into_response();
    }
    let query = query.unwrap_or_default();
    let scope = match state.scope(Some(&query)) {
        Ok(scope) => scope,
        Err(error) => return ApiError::from(error).into_response(),
    };
    if scope.switch(Switch::RefuseWs) {
        let message = "WebSocket upgrades are switched off (admin refuse-ws)".to_owned();
        return ApiError::Unavailable(message).into_response();
    }
    let Some(place) = state.admit_socket() else {
        let limit = state.config().limits.max_connections;
        let message = format!("the server has its {limit} sockets open; try again later");
        return ApiError::Busy(message).into_response();
    };
    let token = token_of(&query, state.config().token.as_deref());
    let ws = ws
        .max_message_size(MAX_CLIENT_FRAME_BYTES)
        .max_frame_size(MAX_CLIENT_FRAME_BYTES);
    ws.on_upgrade(move |mut socket| async move {
        // Held until the socket's task ends: its place among `max_connections`.
        let _place: OwnedSemaphorePermit = place;
        let authorized = match (token, &state.config().token) {
            (Token::Given, _) | (Token::Awaited, None) => true,
            (Token::Wrong, _) => false,
            (Token::Awaited, Some(expected)) => {
                let timeout = Duration::from_millis(state.config().limits.auth_timeout_ms);
                first_frame_auth(&mut socket, expected, timeout, &query).await
            }
        };
        if authorized {
            connection(socket, state, scope).await;
        } else {
            unauthorized(socket, scope).await;
        }
    })
}

/// What the writer task sends.
#[derive(Debug)]
enum Outgoing {
    Text(String),
    /// A close frame, after which the writer stops.
    Close {
        code: u16,
        reason: &'static str,
    },
}

/// The writer's side of the queue, as every task that sends holds it.
type Outbox = mpsc::Sender<Outgoing>;

/// The writer stopped: the client is gone.
#[derive(Debug)]
struct Gone;

async fn send(outbox: &Outbox, frame: &ServerFrame) -> Result<(), Gone> {
    send_text(outbox, frame.encode()).await
}

async fn send_text(outbox: &Outbox, text: String) -> Result<(), Gone> {
    outbox.send(Outgoing::Text(text)).await.map_err(|_| Gone)
}

async fn connection(socket: WebSocket, state: AppState, scope: Arc<Scope>) {
    // Held until this function returns: the server waits for it when it stops.
    let mut stopping = state.stopping();
    let _open = scope.socket_opened();
    // Marks the current value seen: only a later `drop_sockets` ends this socket.
    let mut drops = scope.drops();
    let mut dropped = false;
    let limits = &state.config().limits;
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    let send_timeout = Duration::from_millis(limits.send_timeout_ms);
    let (sink, mut stream) = socket.split();
    let (outbox, queue) = mpsc::channel(OUTBOX_FRAMES);
    let mut writer = tokio::spawn(write(sink, queue, send_timeout, scope.clone()));
    let mut writer_done = false;
    let mut idle_at = Instant::now() + idle;
    let mut connection = Connection {
        first_frame: state.config().token.is_none(),
        state,
        scope,
        outbox,
        subscriptions: Subscriptions::default(),
    };

    let connected = ServerFrame::Connected {
        client_id: connection.state.next_client_id(),
        heartbeat_ms: connection.state.config().heartbeat_ms,
    };
    let mut open = send(&connection.outbox, &connected).await.is_ok();
    while open {
        tokio::select! {
            message = stream.next() => {
                idle_at = Instant::now() + idle;
                open = match message {
                    Some(Ok(Message::Text(text))) => connection.handle(text.as_str()).await.is_ok(),
                    Some(Ok(Message::Binary(_))) => connection
                        .error("bad_frame", "binary frames are not part of the protocol".into())
                        .await
                        .is_ok(),
                    // The WebSocket layer answers pings itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => true,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => false,
                };
            }
            () = stopped(&mut stopping) => {
                let close = Outgoing::Close {
                    code: close_code::AWAY,
                    reason: "server shutting down",
                };
                let _ = connection.outbox.send(close).await;
                open = false;
            }
            // An error would mean the state is gone, which this task holds: cannot happen.
            Ok(()) = drops.changed() => {
                dropped = true;
                open = false;
            }
            () = tokio::time::sleep_until(idle_at) => {
                let close = Outgoing::Close {
                    code: IDLE,
                    reason: "idle timeout",
                };
                let _ = connection.outbox.send(close).await;
                open = false;
            }
            // The writer stopped by itself: the client is gone, or too slow.
            _ = &mut writer, if !writer_done => {
                writer_done = true;
                open = false;
            }
        }
    }

    if writer_done {
        return;
    }
    if dropped {
        // Stops the writer before the queue closes, so it sends no close frame; dropping both
        // halves of the socket then drops the TCP connection.
        writer.abort();
        let _ = (&mut writer).await;
        drop(stream);
        return;
    }
    // Aborts the forwarding tasks and drops the last senders, so the writer drains and stops.
    drop(connection);
    if tokio::time::timeout(CLOSE_GRACE, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// Completes once the server is stopping.
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // An error means the server's state is gone, which is stopping too. The returned guard is
    // dropped here, before the select that awaits this moves on.
    let _ = stopping.wait_for(|stopping| *stopping).await;
}

/// The writer task: sends queued frames until the queue closes or a close frame went out.
/// A frame the client does not take within `send_timeout` ends it with [`SLOW_CONSUMER`].
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Outgoing>,
    send_timeout: Duration,
    scope: Arc<Scope>,
) {
    while let Some(outgoing) = queue.recv().await {
        let (message, last) = match outgoing {
            Outgoing::Text(text) => (Message::Text(text.into()), false),
            Outgoing::Close { code, reason } => {
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                (Message::Close(Some(frame)), true)
            }
        };
        match tokio::time::timeout(send_timeout, sink.send(message)).await {
            Ok(Ok(())) if !last => {}
            Ok(_) => break,
            Err(_) => {
                scope.slow_consumer();
                // The frame stays in the socket's buffer, ahead of the close frame: a client
                // that reads again within the grace gets both, one that does not is dropped.
                let frame = CloseFrame {
                    code: SLOW_CONSUMER,
                    reason: "slow consumer".into(),
                };
                let close = sink.send(Message::Close(Some(frame)));
                let _ = tokio::time::timeout(CLOSE_GRACE, close).await;
                return;
            }
        }
    }
    // Completes the closing handshake; the socket may already be gone, which is fine.
    let _ = sink.close().await;
}

/// One socket's state, owned by its connection task.
struct Connection {
    state: AppState,
    /// The fault scope the socket named when it opened.
    scope: Arc<Scope>,
    outbox: Outbox,
    subscriptions: Subscriptions,
    /// True until the first frame on a server without a token, where an `auth` first frame
    /// (from a client that always sends its token) is ignored rather than refused.
    first_frame: bool,
}

impl Connection {
    /// Handles one text frame from the client.
    async fn handle(&mut self, text: &str) -> Result<(), Gone> {
        let frame = match ClientFrame::decode(text) {
            Ok(frame) => frame,
            Err(error) => {
                return self
                    .error("bad_frame", format!("not a client frame: {error}"))
                    .await;
            }
        };
        let first_frame = std::mem::take(&mut self.first_frame);
        match frame {
            ClientFrame::Subscribe { channel, id, since } => {
                self.subscribe(channel, id, since).await
            }
            ClientFrame::Unsubscribe { channel, id } => {
                self.subscriptions.remove(channel, &id);
                Ok(())
            }
            ClientFrame::Join { channel, id, since } => self.join(channel, id, since).await,
            ClientFrame::Leave { channel, id } => {
                self.subscriptions.leave(&channel, &id);
                Ok(())
            }
            // Answered with or without subscriptions; dropped while the admin API mutes pongs.
            ClientFrame::Ping { .. } if self.scope.switch(Switch::MutePongs) => Ok(()),
            ClientFrame::Ping { t } => send(&self.outbox, &ServerFrame::Pong { t }).await,
            ClientFrame::Auth { .. } if first_frame => Ok(()),
            // Only a socket's first frame may carry the token (see [`handshake`]); a later one
            // is a client error.
            ClientFrame::Auth { .. } => {
                let message = "auth is only accepted as the first frame".to_owned();
                self.error("bad_frame", message).await
            }
            ClientFrame::Message { id, .. } => {
                // Not acked when refused: the client resends it, or gives up on a bad one.
                if let Err(refused) = messages::receive(&self.state, &self.scope, &id).await {
                    let code = match refused {
                        Refused::LongId => "bad_frame",
                        Refused::Unrecorded(_) => "unavailable",
                    };
                    return self.error(code, refused.to_string()).await;
                }
                send(&self.outbox, &ServerFrame::Ack { id }).await?;
                self.scope.acked();
                Ok(())
            }
        }
    }

    /// Starts forwarding job `id`, replacing this socket's earlier subscription to it.
    async fn subscribe(
        &mut self,
        channel: Channel,
        id: String,
        since: Option<u64>,
    ) -> Result<(), Gone> {
        let job = match self.state.redis() {
            // Whether Redis knows the job is for the forwarding task to find out.
            Some(_) => None,
            None => match self.state.jobs().get(channel, &id) {
                Some(job) => Some(job),
                None => {
                    let message = format!("no {channel} {id}");
                    return self.job_error(channel, &id, "unknown_job", message).await;
                }
            },
        };
        self.subscriptions.remove(channel, &id);
        if !self.subscriptions.has_room() {
            let message = format!("at most {MAX_SUBSCRIPTIONS} subscriptions per socket");
            return self
                .job_error(channel, &id, "too_many_subscriptions", message)
                .await;
        }
        let outbox = self.outbox.clone();
        let task = match (job, self.state.redis()) {
            (Some(job), _) => tokio::spawn(forward::forward(job, since, outbox)),
            (None, Some(hub)) => {
                let hub = Arc::clone(hub);
                let forward = forward::forward_from_redis(hub, channel, id.clone(), since, outbox);
                tokio::spawn(forward)
            }
            (None, None) => return Ok(()),
        };
        self.subscriptions.insert(channel, id, task);
        Ok(())
    }

    /// Starts forwarding an app channel, replacing this socket's earlier subscription to it.
    async fn join(&mut self, name: String, id: String, since: Option<u64>) -> Result<(), Gone> {
        if name.len() > MAX_ID_BYTES || id.len() > MAX_ID_BYTES {
            let message = format!("channel names and ids are at most {MAX_ID_BYTES} bytes");
            return self.error("bad_frame", message).await;
        }
        self.subscriptions.leave(&name, &id);
        if !self.subscriptions.has_room() {
            let message = format!("at most {MAX_SUBSCRIPTIONS} subscriptions per socket");
            return self.error("too_many_subscriptions", message).await;
        }
        let task = if let Some(hub) = self.state.redis() {
            let hub = Arc::clone(hub);
            let forward = forward::forward_channel_from_redis(
                hub,
                name.clone(),
                id.clone(),
                since,
                self.outbox.clone(),
            );
            tokio::spawn(forward)
        } else {
            let Some(channel) = self.state.channels().get_or_create(&name, &id) else {
                let message = "the server keeps no more channels".to_owned();
                return self.error("too_many_channels", message).await;
            };
            tokio::spawn(forward::forward_channel(
                channel,
                since,
                self.outbox.clone(),
            ))
        };
        self.subscriptions.join(name, id, task);
        Ok(())
    }

    async fn error(&self, code: &str, message: String) -> Result<(), Gone> {
        let frame = ServerFrame::Error {
            code: code.to_owned(),
            message,
            job: None,
        };
        send(&self.outbox, &frame).await
    }

    /// An error about one job, naming it so the client can match it to its subscription.
    async fn job_error(
        &self,
        channel: Channel,
        id: &str,
        code: &str,
        message: String,
    ) -> Result<(), Gone> {
        let frame = ServerFrame::Error {
            code: code.to_owned(),
            message,
            job: Some((channel, id.to_owned())),
        };
        send(&self.outbox, &frame).await
    }
}

/// A socket's forwarding tasks, by job and by app channel. Dropping it aborts them all.
#[derive(Default)]
struct Subscriptions {
    tasks: HashMap<(Channel, String), JoinHandle<()>>,
    channels: HashMap<(String, String), JoinHandle<()>>,
}

impl Subscriptions {
    fn insert(&mut self, channel: Channel, id: String, task: JoinHandle<()>) {
        if let Some(old) = self.tasks.insert((channel, id), task) {
            old.abort();
        }
    }

    fn remove(&mut self, channel: Channel, id: &str) {
        if let Some(task) = self.tasks.remove(&(channel, id.to_owned())) {
            task.abort();
        }
    }

    fn join(&mut self, channel: String, id: String, task: JoinHandle<()>) {
        if let Some(old) = self.channels.insert((channel, id), task) {
            old.abort();
        }
    }

    fn leave(&mut self, channel: &str, id: &str) {
        if let Some(task) = self.channels.remove(&(channel.to_owned(), id.to_owned())) {
            task.abort();
        }
    }

    /// True if another subscription fits, after forgetting those whose job has ended.
    fn has_room(&mut self) -> bool {
        if self.tasks.len() + self.channels.len() >= MAX_SUBSCRIPTIONS {
            self.tasks.retain(|_, task| !task.is_finished());
        }
        self.tasks.len() + self.channels.len() < MAX_SUBSCRIPTIONS
    }
}

impl Drop for Subscriptions {
    /// An app channel's forwarder never ends by itself (a channel has no terminal event), and
    /// each forwarder holds the socket's queue: one left running would be kept forever and would
    /// keep the writer from seeing the queue close.
    fn drop(&mut self) {
        for task in self.tasks.values().chain(self.channels.values()) {
            task.abort();
        }
    }
}
