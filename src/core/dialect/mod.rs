//! Dialects: what the client's intents and the server's frames look like on the wire.
//!
//! The state machine speaks in protocol-neutral words: it subscribes, unsubscribes, pings and
//! sends messages ([`ClientFrame`]), and it hears that the session is ready, that an event of a
//! job arrived (with a `seq` when the wire has one), that a message was acked, that the server
//! pinged or refused the client ([`Incoming`]). A dialect turns one into the other for one kind
//! of server, with no IO of its own, so it is tested like the core: frames in, expectations out.
//!
//! - [`v1`]: jobsocket's own protocol (the default); seqs, replay, acks, client pings.
//! - [`socket_io`]: Socket.IO v4 over Engine.IO v4 WebSocket; server pings, acks, connection
//!   state recovery.
//! - [`plain_json`]: a flat JSON WebSocket server, mapped declaratively.
//!
//! What each can guarantee follows from what its wire carries; see the README's table.

mod config;
pub mod foreign;
pub mod plain_json;
pub mod socket_io;
pub mod template;

use std::ops::Range;
use std::time::Duration;

use super::events::JobEvent;
use super::job_view::Snapshot;
use super::json;
use super::protocol::{Channel, ClientFrame, DecodeError, Decoded, RawJson, ServerFrame};
use super::url::with_query;

pub use config::DialectConfig;

/// How the liveness of an open link is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The client pings every `ping_interval`; any frame within `pong_timeout` proves the link.
    ClientPings,
    /// The server pings; with no frame for `window` (its interval plus its timeout), the link
    /// is dead. The client sends no pings.
    ServerPings { window: Duration },
    /// Nothing checks the link but the socket's own close.
    Unchecked,
}

/// What one frame from the server means, in the words of the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Text to send back at once: an Engine.IO pong, the namespace CONNECT after the open
    /// packet.
    Reply(String),
    /// The session is ready for subscriptions and messages; `recovered` when the server resumed
    /// the previous session and sent what it missed.
    Ready { recovered: bool },
    /// Who the server says the client is, and how often it wants pings.
    Hello {
        client_id: String,
        heartbeat_ms: Option<u64>,
    },
    /// An event of a job. `seq` when the wire carries one; `payload` where the event's data
    /// lies in the frame when it is the typed event's own JSON (protocol v1).
    Event {
        channel: Channel,
        id: String,
        seq: Option<u64>,
        event: JobEvent,
        payload: Option<Range<usize>>,
    },
    /// The server answered a subscribe.
    Subscribed { channel: Channel, id: String },
    /// An event of an app's own channel, or an event by name only (`approval.created` from a
    /// Socket.IO room the server joined, a plain-JSON frame type outside the event map):
    /// `channel` and `id` when the wire names them, `seq` when it numbers them.
    ChannelEvent {
        channel: Option<(String, String)>,
        seq: Option<u64>,
        event: String,
        data: RawJson,
    },
    /// The server answered the subscribe of an app's own channel.
    Joined { channel: String, id: String },
    /// The server handled the outbox message with this id.
    Ack { id: String },
    /// The server reported an error about something the client sent.
    ServerError {
        code: String,
        message: String,
        job: Option<(Channel, String)>,
    },
    /// The server refused the client at the door (Socket.IO's CONNECT_ERROR): like a refused
    /// token.
    Refused { message: String },
    /// The server ended the session on purpose (Socket.IO's DISCONNECT): not retried unless
    /// the app asks.
    Disconnected,
    /// A frame that could not be understood; it is dropped and the link kept.
    Invalid(DecodeError),
}

/// The dialect a client speaks, with its per-socket state.
#[derive(Debug)]
pub enum Dialect {
    V1,
    SocketIo(socket_io::SocketIo),
    PlainJson(plain_json::PlainJson),
}

impl Dialect {
    /// The dialect the options describe.
    pub fn new(config: &DialectConfig) -> Dialect {
        match config {
            DialectConfig::V1 => Dialect::V1,
            DialectConfig::SocketIo(options) => {
                Dialect::SocketIo(socket_io::SocketIo::new(options.clone()))
            }
            DialectConfig::PlainJson(options) => {
                Dialect::PlainJson(plain_json::PlainJson::new(options.clone()))
            }
        }
    }

    /// The URL of a new socket to `base`, and the start of its session: the token is kept for
    /// a handshake that carries it.
    pub fn open(&mut self, base: &str, token: Option<&str>, request_id: &str) -> String {
        match self {
            Dialect::V1 => {
                let mut parameters = Vec::with_capacity(2);
                if let Some(token) = token {
                    parameters.push(("token", token));
                }
                parameters.push(("requestId", request_id));
                with_query(base, &parameters)
            }
            Dialect::SocketIo(dialect) => dialect.open(base, token),
            Dialect::PlainJson(dialect) => dialect.open(base, token),
        }
    }

    /// Whether the session needs frames from the server before it is ready
    /// ([`Incoming::Ready`]); otherwise it is ready once the socket opens.
    pub fn has_handshake(&self) -> bool {
        matches!(self, Dialect::SocketIo(_))
    }

    /// Whether the server answers subscribes ([`Incoming::Subscribed`]); otherwise a
    /// subscription counts as answered once sent.
    pub fn answers_subscribes(&self) -> bool {
        matches!(self, Dialect::V1)
    }

    /// Whether the server acks outbox messages; otherwise a message leaves the outbox once
    /// written to an open socket.
    pub fn acks_messages(&self) -> bool {
        !matches!(self, Dialect::PlainJson(_))
    }

    /// Whether events carry a per-job `seq`, so a new socket can ask for a replay.
    pub fn replays(&self) -> bool {
        matches!(self, Dialect::V1)
    }

    /// How the open link's liveness is checked.
    pub fn heartbeat(&self) -> Heartbeat {
        match self {
            Dialect::V1 => Heartbeat::ClientPings,
            Dialect::SocketIo(dialect) => dialect.heartbeat(),
            Dialect::PlainJson(dialect) => dialect.heartbeat(),
        }
    }

    /// The text of an intent, or `None` when this dialect sends nothing for it (a server that
    /// joins rooms itself, a dialect without client pings).
    pub fn encode(&mut self, frame: &ClientFrame) -> Option<String> {
        match self {
            Dialect::V1 => Some(frame.encode()),
            Dialect::SocketIo(dialect) => dialect.encode(frame),
            Dialect::PlainJson(dialect) => dialect.encode(frame),
        }
    }

    /// What a text frame says, appended to `out`.
    pub fn decode(&mut self, text: &str, out: &mut Vec<Incoming>) {
        match self {
            Dialect::V1 => decode_v1(text, out),
            Dialect::SocketIo(dialect) => dialect.decode(text, out),
            Dialect::PlainJson(dialect) => dialect.decode(text, out),
        }
    }

    /// A status endpoint's body: jobsocket's snapshot for protocol v1, the field mapping's
    /// reading for the others.
    pub fn decode_snapshot(&self, channel: Channel, body: &str) -> Result<Snapshot, String> {
        match self {
            Dialect::V1 => Snapshot::decode(channel, body),
            Dialect::SocketIo(dialect) => dialect.fields().snapshot(channel, body),
            Dialect::PlainJson(dialect) => dialect.fields().snapshot(channel, body),
        }
    }

    /// Whether the session was recovered (Socket.IO connection state recovery).
    pub fn recovered(&self) -> bool {
        match self {
            Dialect::SocketIo(dialect) => dialect.recovered(),
            _ => false,
        }
    }
}

/// A foreign server's event `name` with its payload object, as the typed event of `channel`
/// the event map says it is: the job id and the event read with the field renames.
fn foreign_event(
    fields: &foreign::FieldNames,
    (channel, kind): (Channel, foreign::TypedKind),
    name: &str,
    payload: &json::Value<'_>,
) -> Incoming {
    let invalid = |reason: String| {
        Incoming::Invalid(DecodeError::ForeignPayload {
            event: name.to_owned(),
            reason,
        })
    };
    let Some(id) = fields.job_id(payload) else {
        return invalid(format!("no job id in field \"{}\"", fields.job_id));
    };
    match fields.typed_event(channel, kind, payload) {
        Ok(event) => Incoming::Event {
            channel,
            id,
            seq: None,
            event,
            payload: None,
        },
        Err(reason) => invalid(reason),
    }
}

/// The invalid elements of one batch, pushed to `out` from `start` on, folded into one
/// [`Incoming::Invalid`] where the first of them was, so that a batch reports one error
/// however many of its `elements` are bad; the others keep their order.
fn report_invalid_once(out: &mut Vec<Incoming>, start: usize, elements: usize) {
    let invalid = out[start..]
        .iter()
        .filter(|incoming| matches!(incoming, Incoming::Invalid(_)))
        .count();
    if invalid < 2 {
        return;
    }
    let decoded: Vec<Incoming> = out.drain(start..).collect();
    let mut first = None;
    for incoming in decoded {
        match incoming {
            Incoming::Invalid(error) if first.is_none() => {
                first = Some(out.len());
                out.push(Incoming::Invalid(DecodeError::InvalidElements {
                    invalid,
                    total: elements,
                    first: Box::new(error),
                }));
            }
            Incoming::Invalid(_) => {}
            other => out.push(other),
        }
    }
}

/// Protocol v1: frames (or a batch of them) straight from [`ServerFrame`].
fn decode_v1(text: &str, out: &mut Vec<Incoming>) {
    let start = out.len();
    let frames = ServerFrame::decode_spanned(text);
    let elements = frames.len();
    for decoded in frames {
        out.push(match decoded {
            Ok(Decoded { frame, payload }) => match frame {
                ServerFrame::Connected {
                    client_id,
                    heartbeat_ms,
                } => Incoming::Hello {
                    client_id,
                    heartbeat_ms: Some(heartbeat_ms),
                },
                ServerFrame::Subscribed { channel, id, .. } => Incoming::Subscribed { channel, id },
                ServerFrame::Event { id, seq, event } => Incoming::Event {
                    channel: event.channel(),
                    id,
                    seq: Some(seq),
                    event,
                    payload,
                },
                ServerFrame::Joined { channel, id, .. } => Incoming::Joined { channel, id },
                ServerFrame::ChannelEvent {
                    channel,
                    id,
                    seq,
                    event,
                    data,
                } => Incoming::ChannelEvent {
                    channel: Some((channel, id)),
                    seq: Some(seq),
                    event,
                    data,
                },
                ServerFrame::Pong { .. } => continue,
                ServerFrame::Ack { id } => Incoming::Ack { id },
                ServerFrame::Error { code, message, job } => {
                    Incoming::ServerError { code, message, job }
                }
            },
            Err(error) => Incoming::Invalid(error),
        });
    }
    report_invalid_once(out, start, elements);
}
