//! The WebSocket at `/ws`: subscriptions to jobs, heartbeats, acknowledged messages.
//!
//! Each socket has three kinds of task:
//!
//! - the connection task (the upgrade's future) reads frames and answers them;
//! - one writer task owns the socket's write half and sends what arrives on an mpsc queue, so
//!   replies and job events never interleave inside a frame and a slow client slows only its
//!   own tasks (the queue is bounded);
//! - one forwarding task per subscription sends `subscribed`, the replay and the live events.
//!
//! The forwarding tasks belong to [`Subscriptions`], which aborts them when the connection task
//! ends, however it ends: no task outlives its socket.
//!
//! With a `token` in the server's configuration, a socket whose URL lacks `?token=` with that
//! value is accepted and at once closed with code [`UNAUTHORIZED`] (a browser cannot read the
//! status of a refused upgrade, but it sees a close code), before any `connected` frame.

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
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::channels::{AppChannel, ChannelLogged, ChannelWatch};
use crate::http::ApiError;
use crate::jobs::{Job, Logged, Watch};
use crate::messages::MAX_ID_BYTES;
use crate::query::query_param;
use crate::scope::{Scope, Switch};
use crate::secret::same;
use crate::state::AppState;

/// Largest frame a client may send; protocol frames are a few hundred bytes.
const MAX_CLIENT_FRAME_BYTES: usize = 1 << 20;

/// Frames waiting for the writer before senders wait: backpressure from a slow client.
const OUTBOX_FRAMES: usize = 64;

/// Events per replay frame. A replay goes out as one batch; only a very long log is split, so
/// no frame comes near the client's 1 MiB `maxFrameBytes` (an event is a few hundred bytes).
const REPLAY_BATCH: usize = 500;

/// Subscriptions one socket may hold; finished ones are forgotten first.
const MAX_SUBSCRIPTIONS: usize = 1_000;

/// How long a closing socket may take to flush its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The close code of a socket without the server's token.
pub const UNAUTHORIZED: u16 = 4001;

/// The longest `requestId` a log line quotes.
const MAX_LOGGED_REQUEST_ID: usize = 100;

/// `GET /ws`: upgrades to a WebSocket, or answers 503 while the admin API refuses upgrades.
/// The query's `token` is checked when the server has one; `requestId` names the socket in
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
    let authorized = match &state.config().token {
        None => true,
        Some(token) => {
            let given = query_param(&query, "token");
            let authorized = given
                .as_deref()
                .is_some_and(|given| same(given, token.as_bytes()));
            if !authorized {
                log_refused(&query, given.is_some());
            }
            authorized
        }
    };
    let ws = ws
        .max_message_size(MAX_CLIENT_FRAME_BYTES)
        .max_frame_size(MAX_CLIENT_FRAME_BYTES);
    if authorized {
        ws.on_upgrade(move |socket| connection(socket, state, scope))
    } else {
        ws.on_upgrade(move |socket| unauthorized(socket, scope))
    }
}

/// The one stderr line of a socket refused for its token.
fn log_refused(query: &str, had_token: bool) {
    let why = if had_token { "a wrong" } else { "no" };
    match query_param(query, "requestId") {
        Some(id) => {
            let id: String = String::from_utf8_lossy(&id)
                .chars()
                .take(MAX_LOGGED_REQUEST_ID)
                .collect();
            // Debug-quoted: the id comes from the network and must not forge log lines.
            eprintln!("ws: closed a socket with {why} token (4001), requestId {id:?}");
        }
        None => eprintln!("ws: closed a socket with {why} token (4001), no requestId"),
    }
}

/// A socket without the right token: closed with [`UNAUTHORIZED`], nothing else sent.
async fn unauthorized(mut socket: WebSocket, scope: Arc<Scope>) {
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
    let (sink, mut stream) = socket.split();
    let (outbox, queue) = mpsc::channel(OUTBOX_FRAMES);
    let mut writer = tokio::spawn(write(sink, queue));
    let mut connection = Connection {
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
        }
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
async fn write(mut sink: SplitSink<WebSocket, Message>, mut queue: mpsc::Receiver<Outgoing>) {
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
        if sink.send(message).await.is_err() || last {
            break;
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
            // Only a socket's first frame may carry the token; a later one is a client error.
            ClientFrame::Auth { .. } => {
                let message = "auth is only accepted as the first frame".to_owned();
                self.error("bad_frame", message).await
            }
            ClientFrame::Message { id, .. } => {
                if id.len() > MAX_ID_BYTES {
                    let message = format!("message id longer than {MAX_ID_BYTES} bytes");
                    return self.error("bad_frame", message).await;
                }
                // Handling a message is counting it: the demo has no application messages yet.
                if self.state.first_time_message(&id) {
                    self.scope.handled();
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
        let Some(job) = self.state.jobs().get(channel, &id) else {
            return self
                .job_error(channel, &id, "unknown_job", format!("no {channel} {id}"))
                .await;
        };
        self.subscriptions.remove(channel, &id);
        if !self.subscriptions.has_room() {
            let message = format!("at most {MAX_SUBSCRIPTIONS} subscriptions per socket");
            return self
                .job_error(channel, &id, "too_many_subscriptions", message)
                .await;
        }
        let task = tokio::spawn(forward(job, since, self.outbox.clone()));
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
        let Some(channel) = self.state.channels().get_or_create(&name, &id) else {
            let message = "the server keeps no more channels".to_owned();
            return self.error("too_many_channels", message).await;
        };
        let task = tokio::spawn(forward_channel(channel, since, self.outbox.clone()));
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
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

/// A forwarding task: `subscribed`, then the events after `since` in one batch, then the live
/// events, each `seq` exactly once and in order, until the job's terminal event.
async fn forward(job: Arc<Job>, since: Option<u64>, outbox: Outbox) {
    let Watch {
        mut live,
        backlog,
        last_seq,
    } = job.watch(since);
    let subscribed = ServerFrame::Subscribed {
        channel: job.channel(),
        id: job.id().to_owned(),
        seq: last_seq,
    };
    if send(&outbox, &subscribed).await.is_err() {
        return;
    }
    let mut cursor = Cursor {
        last: since.unwrap_or(0),
        done: false,
    };
    if cursor.deliver(&job, backlog, &outbox).await.is_err() {
        return;
    }
    while !cursor.done {
        let events = match live.recv().await {
            Ok(logged) if logged.seq <= cursor.last => continue,
            Ok(logged) if logged.seq == cursor.last + 1 => vec![logged],
            // A lagging receiver skipped events (and a gap cannot happen while jobs emit under
            // their lock): the log has every one of them.
            Ok(_) | Err(RecvError::Lagged(_)) => job.events_after(cursor.last),
            // The job is gone; it has nothing more to say.
            Err(RecvError::Closed) => return,
        };
        if cursor.deliver(&job, events, &outbox).await.is_err() {
            return;
        }
    }
}

/// A forwarding task of an app channel: `subscribed`, the events after `since`, then the live
/// ones, each `seq` exactly once and in order, until the socket goes or unsubscribes.
async fn forward_channel(channel: Arc<AppChannel>, since: Option<u64>, outbox: Outbox) {
    let ChannelWatch {
        mut live,
        backlog,
        last_seq,
    } = channel.watch(since);
    let joined = ServerFrame::Joined {
        channel: channel.name().to_owned(),
        id: channel.id().to_owned(),
        seq: last_seq,
    };
    if send(&outbox, &joined).await.is_err() {
        return;
    }
    let mut last = since.unwrap_or(0);
    let mut events = backlog;
    loop {
        for logged in events {
            if logged.seq <= last {
                continue;
            }
            last = logged.seq;
            if send(&outbox, &channel_event(&channel, logged))
                .await
                .is_err()
            {
                return;
            }
        }
        events = match live.recv().await {
            Ok(logged) if logged.seq <= last => Vec::new(),
            Ok(logged) if logged.seq == last + 1 => vec![logged],
            // A lagging receiver skipped events: the log has them.
            Ok(_) | Err(RecvError::Lagged(_)) => channel.events_after(last),
            Err(RecvError::Closed) => return,
        };
    }
}

fn channel_event(channel: &AppChannel, logged: ChannelLogged) -> ServerFrame {
    ServerFrame::ChannelEvent {
        channel: channel.name().to_owned(),
        id: channel.id().to_owned(),
        seq: logged.seq,
        event: logged.event,
        data: logged.data,
    }
}

/// How far a forwarding task has got.
struct Cursor {
    /// The last `seq` sent, or the client's `since`.
    last: u64,
    /// The job's terminal event was sent.
    done: bool,
}

impl Cursor {
    /// Sends the events after `self.last`: one alone as one frame, several as batch frames.
    async fn deliver(
        &mut self,
        job: &Job,
        events: Vec<Logged>,
        outbox: &Outbox,
    ) -> Result<(), Gone> {
        let fresh: Vec<Logged> = events
            .into_iter()
            .filter(|logged| logged.seq > self.last)
            .collect();
        for chunk in fresh.chunks(REPLAY_BATCH) {
            let frames: Vec<ServerFrame> = chunk
                .iter()
                .map(|logged| ServerFrame::Event {
                    id: job.id().to_owned(),
                    seq: logged.seq,
                    event: logged.event.clone(),
                })
                .collect();
            let text = match frames.as_slice() {
                [frame] => frame.encode(),
                frames => ServerFrame::encode_batch(frames),
            };
            send_text(outbox, text).await?;
            if let Some(last) = chunk.last() {
                self.last = last.seq;
            }
            self.done |= chunk.iter().any(|logged| logged.event.is_terminal());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::jobs::snapshot::Snapshot;
    use jobsocket::core::events::{CompositionEvent, JobEvent, JobFailure};

    fn failure(recoverable: bool) -> JobEvent {
        JobEvent::Composition(CompositionEvent::Error(JobFailure {
            code: "encoding_failed".to_owned(),
            message: "test".to_owned(),
            recoverable,
        }))
    }

    fn seqs(outgoing: Outgoing) -> Vec<u64> {
        let Outgoing::Text(text) = outgoing else {
            panic!("expected a text frame, got {outgoing:?}");
        };
        ServerFrame::decode_all(&text)
            .into_iter()
            .map(|frame| match frame {
                Ok(ServerFrame::Event { seq, .. }) => seq,
                other => panic!("expected an event, got {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_lagging_subscriber_catches_up_from_the_log_without_gaps() {
        let job = Arc::new(Job::new(
            "comp_1".to_owned(),
            Channel::Composition,
            Snapshot::composition("comp_1", 1),
            crate::jobs::MAX_LOG_EVENTS,
        ));
        // A one-frame outbox nobody reads yet: the forwarder blocks, as for a slow client.
        let (outbox, mut queue) = mpsc::channel(1);
        let forwarder = tokio::spawn(forward(job.clone(), None, outbox));
        assert!(
            matches!(queue.recv().await, Some(Outgoing::Text(text)) if text.contains("subscribed"))
        );

        // Far more events than the broadcast holds, before the forwarder runs again.
        for _ in 0..200 {
            job.emit(failure(true));
        }
        job.emit(failure(false));

        let mut received = Vec::new();
        while let Some(outgoing) = queue.recv().await {
            received.extend(seqs(outgoing));
        }
        assert_eq!(received, (1..=201).collect::<Vec<_>>());
        assert!(
            forwarder.is_finished(),
            "the forwarder ends after the terminal event"
        );
    }
}
