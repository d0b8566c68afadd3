//! What the core tells its driver and the app: transmits to carry out, events to deliver, the
//! state snapshot, and the timers it wants to be woken for.

use std::fmt;
use std::ops::Range;

use super::events::JobEvent;
use super::outbox::DropReason;
use super::protocol::{Channel, DecodeError, RawJson};
use super::time::Instant;

/// Identifies one WebSocket the driver opened for the core. Inputs about a socket that is no
/// longer the current one are stale and change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u64);

/// The connection status the app sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Nothing to do: no socket, none wanted.
    Idle,
    /// Fetching a token or opening a socket.
    Connecting,
    /// A socket is open.
    Open,
    /// Waiting for the next attempt after a failure.
    Reconnecting,
    /// The WebSocket cannot work for now: job events come from the REST status endpoints
    /// while the socket is probed in the background.
    Polling,
    /// The browser says there is no network; no attempt is made until it comes back.
    Offline,
    /// Stopped, by the app or for good; see the [`StateReason`].
    Closed,
}

impl Status {
    const ALL: [Status; 7] = [
        Status::Idle,
        Status::Connecting,
        Status::Open,
        Status::Reconnecting,
        Status::Polling,
        Status::Offline,
        Status::Closed,
    ];

    /// The status of a JS API name (another tab's, see [`crate::core::tabs`]).
    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
    }

    /// The name used in the JS API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Connecting => "connecting",
            Status::Open => "open",
            Status::Reconnecting => "reconnecting",
            Status::Polling => "polling",
            Status::Offline => "offline",
            Status::Closed => "closed",
        }
    }
}

/// Why the status changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateReason {
    /// The app called `connect`, or subscribed while idle.
    ConnectRequested,
    /// The app called `reconnect`.
    ReconnectRequested,
    /// The backoff delay ran out; a new attempt starts.
    RetryDue,
    /// The socket opened.
    SocketOpened,
    /// The socket did not open within the connect timeout.
    ConnectTimeout,
    /// The socket closed (or failed to open) without the app asking.
    SocketClosed,
    /// No frame came back within the pong timeout of a ping.
    HeartbeatTimeout,
    /// The token could not be fetched.
    TokenFailed,
    /// The server refused the token twice in a row (close code 4001 or 4003).
    Unauthorized,
    /// No subscription for the idle timeout.
    IdleTimeout,
    /// The browser went offline.
    Offline,
    /// The browser came back online.
    Online,
    /// The page became visible while waiting to retry.
    Visible,
    /// The WebSocket failed too often, keeps dying, or is unavailable: polling instead.
    PollingFallback,
    /// A socket opened and every subscription was confirmed on it: polling stopped.
    WebSocketRestored,
    /// The app called `close`.
    ClosedByApp,
    /// The server ended the session on purpose (Socket.IO's DISCONNECT); the client does not
    /// retry on its own.
    ServerDisconnect,
    /// Neither transport can work: the browser has no WebSocket and polling is off (or the
    /// app allows only the WebSocket). The client stops.
    NoTransport,
}

impl StateReason {
    const ALL: [StateReason; 18] = [
        StateReason::ConnectRequested,
        StateReason::ReconnectRequested,
        StateReason::RetryDue,
        StateReason::SocketOpened,
        StateReason::ConnectTimeout,
        StateReason::SocketClosed,
        StateReason::HeartbeatTimeout,
        StateReason::TokenFailed,
        StateReason::Unauthorized,
        StateReason::IdleTimeout,
        StateReason::Offline,
        StateReason::Online,
        StateReason::Visible,
        StateReason::PollingFallback,
        StateReason::WebSocketRestored,
        StateReason::ClosedByApp,
        StateReason::ServerDisconnect,
        StateReason::NoTransport,
    ];

    /// The reason of a code (another tab's, see [`crate::core::tabs`]).
    pub fn from_name(name: &str) -> Option<StateReason> {
        StateReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == name)
    }

    /// A stable code for logs and the JS API.
    pub fn as_str(self) -> &'static str {
        match self {
            StateReason::ConnectRequested => "connect_requested",
            StateReason::ReconnectRequested => "reconnect_requested",
            StateReason::RetryDue => "retry_due",
            StateReason::SocketOpened => "socket_opened",
            StateReason::ConnectTimeout => "connect_timeout",
            StateReason::SocketClosed => "socket_closed",
            StateReason::HeartbeatTimeout => "heartbeat_timeout",
            StateReason::TokenFailed => "token_failed",
            StateReason::Unauthorized => "unauthorized",
            StateReason::IdleTimeout => "idle_timeout",
            StateReason::Offline => "offline",
            StateReason::Online => "online",
            StateReason::Visible => "visible",
            StateReason::PollingFallback => "polling_fallback",
            StateReason::WebSocketRestored => "websocket_restored",
            StateReason::ClosedByApp => "closed_by_app",
            StateReason::ServerDisconnect => "server_disconnect",
            StateReason::NoTransport => "no_transport",
        }
    }
}

/// A change of [`Status`], with its cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    pub from: Status,
    pub to: Status,
    pub reason: StateReason,
}

/// What the app can read about the connection at any time.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionState {
    pub status: Status,
    /// The reason of the last status change.
    pub reason: Option<StateReason>,
    /// The current attempt in a streak of failures: 0 while healthy, 1 for the first attempt
    /// after a failure, and so on.
    pub attempt: u32,
    /// When the next attempt starts, while reconnecting.
    pub next_retry_at: Option<Instant>,
    /// When the current (or last) socket opened.
    pub connected_at: Option<Instant>,
    /// When the last socket was lost.
    pub disconnected_at: Option<Instant>,
    /// The last error the client reported.
    pub last_error: Option<ClientError>,
    /// The id sent with the current (or last) attempt as the `requestId` query parameter.
    pub request_id: Option<String>,
    /// The id the server gave this client in its `connected` frame.
    pub client_id: Option<String>,
    /// How often the server wants a ping, from its `connected` frame.
    pub server_heartbeat_ms: Option<u64>,
    /// Messages waiting in the outbox for the server's ack.
    pub outbox_size: usize,
    /// The open session resumed the previous one with the events it missed (Socket.IO
    /// connection state recovery); false for other dialects, which resubscribe.
    pub recovered: bool,
    /// Where job events come from now: "websocket", "polling", or none.
    pub transport: Option<&'static str>,
}

/// Something the core wants the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Get a token for the next attempt and answer with `handle_token(request, …)`.
    FetchToken { request: u64 },
    /// Open a WebSocket to `url`; report back with this `socket` id.
    OpenSocket { socket: SocketId, url: String },
    /// Send this text frame on the socket.
    Send { socket: SocketId, text: String },
    /// Close the socket with this code and reason, and forget it.
    CloseSocket {
        socket: SocketId,
        code: u16,
        reason: String,
    },
    /// Fetch `url` (a job's status endpoint) and answer with `handle_poll_response(request, …)`;
    /// with the token as `Authorization: Bearer` when there is one.
    Poll {
        request: u64,
        url: String,
        token: Option<String>,
    },
    /// `POST` `body` (an outbox message as JSON) to `url`, with the token as `Authorization:
    /// Bearer` when there is one, and answer with `handle_message_response(request, …)`.
    PostMessage {
        request: u64,
        url: String,
        body: String,
        token: Option<String>,
    },
    /// Store the outbox's persisted form (and report a failure with `handle_storage_failed`).
    PersistOutbox { text: String },
    /// Tabs: ask for the app's lock and wait in line; answer with `handle_lock_acquired`, and
    /// with `handle_lock_lost` should another tab take it.
    RequestLock,
    /// Tabs: take the lock now from a holder that stopped answering (a frozen tab).
    StealLock,
    /// Tabs: give the lock back, or leave the line for it.
    ReleaseLock,
    /// Tabs: post this text to the app's other tabs (`handle_tab_message` there).
    Broadcast { text: String },
    /// Tabs: store an app message that is not in the shared outbox yet, under a key of its
    /// own (the outbox's key, `:pending:` and `id`), and hand every such text to
    /// `handle_lock_acquired` when this tab takes the lead. A failure is reported with
    /// `handle_pending_storage_failed`.
    StorePending { id: String, text: String },
    /// Tabs: remove the stored message `id` (in the outbox now, or cleared), or every one.
    RemovePending { id: Option<String> },
}

/// Something went wrong that the app should hear about. None of these stops the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientError {
    /// A frame from the server could not be decoded; it was dropped.
    Decode(DecodeError),
    /// A frame longer than `max_frame_bytes` was dropped undecoded. `bytes` is its size; for
    /// a frame the driver refused before copying it out of the browser, its length in UTF-16
    /// units, which its size is at least.
    FrameTooLarge { bytes: usize, limit: usize },
    /// The server sent a binary frame; the protocol is text only.
    BinaryFrame { bytes: usize },
    /// The server reported an error about something the client sent: `code` is the server's
    /// own (any string), `job` the job it named, if any.
    Server {
        code: String,
        message: String,
        job: Option<(Channel, String)>,
    },
    /// The server refused the client at the door (Socket.IO's CONNECT_ERROR, with the
    /// server's message); handled like a refused token.
    ConnectRefused { message: String },
    /// The socket did not open in time.
    ConnectTimeout,
    /// The socket closed without the app asking.
    SocketClosed { code: u16, reason: String },
    /// No frame came back within the pong timeout of a ping: the link is dead.
    HeartbeatTimeout,
    /// The token function failed or returned no string.
    TokenFailed { message: String },
    /// The server refused the token again after a fresh one: the client stops.
    Unauthorized { code: u16 },
    /// The message endpoint refused the token again after a fresh one (HTTP `status`): the
    /// message waits and is tried again, as any failed send.
    MessageUnauthorized { status: u16 },
    /// The message endpoint refused message `id` (HTTP `status`, a 4xx): it was dropped.
    MessageRejected { id: String, status: u16 },
    /// Several attempts in a row failed; the client keeps trying.
    ReconnectFailing { failures: u32 },
    /// A job's status endpoint failed after every retry; polling goes on.
    PollFailed {
        channel: Channel,
        job_id: String,
        reason: String,
    },
    /// The outbox could not be stored; it keeps working in memory.
    StorageDegraded { reason: String },
    /// The stored outbox was unreadable or of another version; it was discarded.
    StorageCorrupt { reason: String },
    /// The browser has no WebSocket and polling is not allowed: the client stopped.
    NoTransport,
    /// The server ended the session on purpose (Socket.IO's DISCONNECT): the client stopped
    /// until `connect` or `reconnect`.
    ServerDisconnected,
    /// Events of an app channel are missing between two delivered ones.
    ChannelSequenceGap {
        channel: String,
        id: String,
        expected: u64,
        received: u64,
    },
    /// Events of a job are missing between two delivered ones (the server no longer had
    /// them); the events after the gap are still delivered.
    SequenceGap {
        channel: Channel,
        job_id: String,
        expected: u64,
        received: u64,
    },
    /// A job's event came with a `seq` below the expected one that cannot be a duplicate (a
    /// restarted server, or a bogus `seq` before it): the numbering went back. The job was
    /// subscribed again to replay from `received`, so what follows is delivered, not
    /// dropped as duplicates. Seqs delivered before the jump may come again: they are the
    /// server's numbering now.
    SequenceBackward {
        channel: Channel,
        job_id: String,
        expected: u64,
        received: u64,
        /// Whether the job was subscribed again to replay from `received` (a seq the app
        /// never had); otherwise the event was dropped (the app has one of that number).
        resubscribed: bool,
    },
    /// An error another tab's client reported (see [`crate::core::tabs`]): its code, its
    /// text, and for an error the server reported, the server's own code and the job.
    Relayed {
        code: &'static str,
        message: String,
        server_code: Option<String>,
        job: Option<(Channel, String)>,
    },
    /// [`ClientError::SequenceBackward`] for an app channel.
    ChannelSequenceBackward {
        channel: String,
        id: String,
        expected: u64,
        received: u64,
        resubscribed: bool,
    },
}

impl ClientError {
    /// The same error with its secrets hidden: the query of every URL in its text (see
    /// [`crate::core::url::hide_url_queries`]), since the token travels in a WebSocket URL's
    /// query and browsers and servers quote URLs in their messages; and `token` itself,
    /// wherever a message quotes it otherwise.
    pub fn with_secrets_hidden(mut self, token: Option<&str>) -> Self {
        use super::url::{hide_secret, hide_url_queries};
        match &mut self {
            ClientError::Server { message: text, .. }
            | ClientError::ConnectRefused { message: text }
            | ClientError::SocketClosed { reason: text, .. }
            | ClientError::TokenFailed { message: text }
            | ClientError::PollFailed { reason: text, .. }
            | ClientError::StorageDegraded { reason: text }
            | ClientError::StorageCorrupt { reason: text } => {
                let hidden = hide_url_queries(text);
                *text = match token {
                    Some(token) => hide_secret(&hidden, token),
                    None => hidden,
                };
            }
            _ => {}
        }
        self
    }

    /// A stable, machine-readable code, one of a closed set (the `ErrorCode` type of the JS
    /// API): an error the server reported is "server_error" whatever the server's own code,
    /// so an app can match on every code the client has.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Decode(error) => error.code(),
            ClientError::FrameTooLarge { .. } => "frame_too_large",
            ClientError::BinaryFrame { .. } => "binary_frame",
            ClientError::Server { .. } => "server_error",
            ClientError::ConnectRefused { .. } => "connect_error",
            ClientError::ConnectTimeout => "connect_timeout",
            ClientError::SocketClosed { .. } => "socket_closed",
            ClientError::HeartbeatTimeout => "heartbeat_timeout",
            ClientError::TokenFailed { .. } => "token_failed",
            ClientError::Unauthorized { .. } | ClientError::MessageUnauthorized { .. } => {
                "unauthorized"
            }
            ClientError::MessageRejected { .. } => "message_rejected",
            ClientError::ReconnectFailing { .. } => "reconnect_failing",
            ClientError::SequenceGap { .. } | ClientError::ChannelSequenceGap { .. } => {
                "sequence_gap"
            }
            ClientError::SequenceBackward { .. } | ClientError::ChannelSequenceBackward { .. } => {
                "sequence_backward"
            }
            ClientError::PollFailed { .. } => "poll_failed",
            ClientError::StorageDegraded { .. } => "storage_degraded",
            ClientError::StorageCorrupt { .. } => "storage_corrupt",
            ClientError::NoTransport => "no_transport",
            ClientError::ServerDisconnected => "server_disconnect",
            ClientError::Relayed { code, .. } => code,
        }
    }

    /// The code of another tab's error as one of [`ClientError::code`]'s: a code this
    /// version does not know (a tab running another version) reads as "server_error".
    pub fn known_code(code: &str) -> &'static str {
        const CODES: [&str; 29] = [
            "malformed_frame",
            "unknown_frame",
            "missing_field",
            "unknown_event",
            "invalid_payload",
            "frame_too_large",
            "batch_too_large",
            "binary_frame",
            "unknown_namespace",
            "binary_packet",
            "server_error",
            "connect_timeout",
            "socket_closed",
            "heartbeat_timeout",
            "token_failed",
            "unauthorized",
            "reconnect_failing",
            "connect_error",
            "server_disconnect",
            "no_transport",
            "sequence_gap",
            "sequence_backward",
            "poll_failed",
            "message_rejected",
            "storage_degraded",
            "storage_corrupt",
            "handler_error",
            "setup_failed",
            "invalid_options",
        ];
        CODES
            .into_iter()
            .find(|known| *known == code)
            .unwrap_or("server_error")
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Decode(error) => write!(f, "{error}"),
            ClientError::FrameTooLarge { bytes, limit } => {
                write!(
                    f,
                    "dropped a {bytes}-byte frame: the limit is {limit} bytes"
                )
            }
            ClientError::BinaryFrame { bytes } => {
                write!(
                    f,
                    "dropped a {bytes}-byte binary frame: the protocol is JSON text"
                )
            }
            ClientError::Server {
                code,
                message,
                job: None,
            } => write!(f, "server error {code}: {message}"),
            ClientError::Server {
                code,
                message,
                job: Some((channel, id)),
            } => write!(f, "server error {code} about {channel} {id}: {message}"),
            ClientError::ConnectRefused { message } => {
                write!(f, "the server refused the connection: {message}")
            }
            ClientError::ConnectTimeout => write!(f, "the WebSocket did not open in time"),
            ClientError::SocketClosed { code, reason } if reason.is_empty() => {
                write!(f, "the WebSocket closed (code {code})")
            }
            ClientError::SocketClosed { code, reason } => {
                write!(f, "the WebSocket closed (code {code}: {reason})")
            }
            ClientError::HeartbeatTimeout => {
                write!(f, "no answer to a ping: the connection is dead")
            }
            ClientError::TokenFailed { message } => write!(f, "could not get a token: {message}"),
            ClientError::Unauthorized { code } => write!(
                f,
                "the server refused the token twice (close code {code}); the client stopped"
            ),
            ClientError::MessageUnauthorized { status } => write!(
                f,
                "the message endpoint refused the token twice (HTTP {status}); the message waits"
            ),
            ClientError::MessageRejected { id, status } => write!(
                f,
                "the message endpoint refused message {id} (HTTP {status}); it was dropped"
            ),
            ClientError::ReconnectFailing { failures } => {
                write!(
                    f,
                    "{failures} connection attempts in a row failed; still trying"
                )
            }
            ClientError::PollFailed {
                channel,
                job_id,
                reason,
            } => write!(f, "polling {channel} {job_id} failed: {reason}"),
            ClientError::StorageDegraded { reason } => {
                write!(
                    f,
                    "the outbox cannot be stored ({reason}); it is kept in memory"
                )
            }
            ClientError::StorageCorrupt { reason } => {
                write!(f, "the stored outbox was discarded: {reason}")
            }
            ClientError::ChannelSequenceGap {
                channel,
                id,
                expected,
                received,
            } => write!(
                f,
                "{channel} {id}: events {expected} to {} are missing",
                received.saturating_sub(1)
            ),
            ClientError::Relayed { message, .. } => f.write_str(message),
            ClientError::ServerDisconnected => write!(
                f,
                "the server ended the session; the client stopped until connect() or reconnect()"
            ),
            ClientError::NoTransport => write!(
                f,
                "this browser has no WebSocket and polling is off: the client stopped"
            ),
            ClientError::SequenceGap {
                channel,
                job_id,
                expected,
                received,
            } => write!(
                f,
                "{channel} {job_id}: events {expected} to {} are missing",
                received.saturating_sub(1)
            ),
            ClientError::SequenceBackward {
                channel,
                job_id,
                expected,
                received,
                resubscribed,
            } => write_backward(
                f,
                &format_args!("{channel} {job_id}"),
                (*expected, *received),
                *resubscribed,
            ),
            ClientError::ChannelSequenceBackward {
                channel,
                id,
                expected,
                received,
                resubscribed,
            } => write_backward(
                f,
                &format_args!("{channel} {id}"),
                (*expected, *received),
                *resubscribed,
            ),
        }
    }
}

/// The message of a jump backward in the numbering of `what` (a job or an app channel).
fn write_backward(
    f: &mut fmt::Formatter<'_>,
    what: &fmt::Arguments<'_>,
    (expected, received): (u64, u64),
    resubscribed: bool,
) -> fmt::Result {
    write!(
        f,
        "{what}: event {received} came where {expected} was expected: the server's numbering \
         went back; "
    )?;
    if resubscribed {
        write!(f, "subscribed again to replay from {received}")
    } else {
        f.write_str("the app already had an event of that number, so it was dropped")
    }
}

/// One job event delivered to the app, in `seq` order, once.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDelivery {
    pub job_id: String,
    pub seq: u64,
    pub event: JobEvent,
    /// Where the event's `data` lies, in bytes, in the text frame just handled, so a driver can
    /// give the app the server's own JSON instead of re-encoding `event`. `None` for events
    /// that did not come from a frame.
    pub payload: Option<Range<usize>>,
}

/// One event of an app's own channel, or of a name the app listens to, delivered once.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelDelivery {
    /// The channel's name and id, when the wire says (protocol v1); `None` for events the wire
    /// tags with no channel (a Socket.IO server's own rooms, plain JSON).
    pub channel: Option<(String, String)>,
    /// The channel's `seq` where the wire numbers its events; otherwise the client numbers them
    /// on arrival (per channel, or across untagged events).
    pub seq: u64,
    pub event: String,
    pub data: RawJson,
}

/// What the core tells the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    StateChanged(StateChange),
    Job(JobDelivery),
    /// An event of an app channel or of a listened name.
    Channel(ChannelDelivery),
    /// A job's subscription ended by itself after its terminal event; the app's handlers for
    /// it can be released.
    SubscriptionEnded {
        channel: Channel,
        job_id: String,
    },
    /// A message left the outbox without an ack.
    OutboxDropped {
        id: String,
        reason: DropReason,
    },
    /// The number of messages waiting in the outbox changed (or may have).
    OutboxSize(usize),
    Error(ClientError),
}

/// The timers the core may ask to be woken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The attempt in progress (token, then socket) must succeed by then.
    ConnectTimeout,
    /// The backoff delay runs out: the next attempt starts.
    Reconnect,
    /// Time to ping the open connection.
    Ping,
    /// A frame must have arrived since the last ping by then.
    PongDeadline,
    /// The connection has been open for the minimum uptime: the failure streak resets.
    Stable,
    /// No subscription for the idle timeout: close and go idle.
    Idle,
    /// The oldest outbox message reaches its time to live.
    OutboxExpiry,
    /// A held-back progress event may go out.
    ProgressRelease,
    /// A job's status endpoint is due.
    Poll,
    /// A message that failed over HTTP is tried again.
    MessageRetry,
    /// Tabs: the leader tells the others it is alive; a follower says what it watches.
    TabHeartbeat,
    /// Tabs: the leader has been silent for `tab_timeout`; its lock is taken over.
    LeaderSilent,
}
